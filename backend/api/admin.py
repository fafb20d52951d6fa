from flask import Blueprint

from backend.api.common import actor, json_body, query_args
from backend.auth import dispatcher_required
from backend.extensions import db
from backend.schemas.case import AdminCaseArgs, DispatchIn, ReasonIn, StaffCaseOut
from backend.schemas.catalogue import UnitOut
from backend.schemas.common import page_of
from backend.services import cases, health, workflow

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _fresh(case_id: int):
    return StaffCaseOut().dump(cases.for_dispatcher(case_id))


@bp.get("/cases")
@dispatcher_required
def list_cases():
    args = query_args(AdminCaseArgs())
    return page_of(StaffCaseOut(), cases.list_for_dispatcher(**args))


@bp.get("/cases/<int:case_id>")
@dispatcher_required
def get_case(case_id: int):
    return _fresh(case_id)


@bp.get("/units")
@dispatcher_required
def list_units():
    return {"items": UnitOut(many=True).dump(cases.list_units())}


@bp.get("/health")
@dispatcher_required
def service_health():
    status = health.report()
    healthy = status["database"] == "ok" and status["redis"] == "ok"
    return status, 200 if healthy else 503


@bp.post("/cases/<int:case_id>/dispatch")
@dispatcher_required
def dispatch_case(case_id: int):
    data = json_body(DispatchIn())
    workflow.dispatch(cases.for_dispatcher(case_id), cases.get_unit(data["unit_id"]), actor())
    db.session.commit()
    return _fresh(case_id)


@bp.post("/cases/<int:case_id>/close")
@dispatcher_required
def close_case(case_id: int):
    workflow.close(cases.for_dispatcher(case_id), actor())
    db.session.commit()
    return _fresh(case_id)


@bp.post("/cases/<int:case_id>/rework")
@dispatcher_required
def rework_case(case_id: int):
    data = json_body(ReasonIn())
    workflow.rework(cases.for_dispatcher(case_id), actor(), data["reason"])
    db.session.commit()
    return _fresh(case_id)


@bp.post("/cases/<int:case_id>/reject")
@dispatcher_required
def reject_case(case_id: int):
    data = json_body(ReasonIn())
    workflow.reject(cases.for_dispatcher(case_id), actor(), data["reason"])
    db.session.commit()
    return _fresh(case_id)
