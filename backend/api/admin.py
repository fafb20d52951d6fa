from flask import Blueprint

from backend.api.common import actor, json_body, query_args, staff_case
from backend.api.spec import Items, Page, doc
from backend.auth import dispatcher_required
from backend.extensions import db
from backend.schemas.case import AdminCaseArgs, CommentIn, DispatchIn, ReasonIn, StaffCaseOut, StaffCaseSummaryOut
from backend.schemas.common import page_of
from backend.schemas.map import UnitArgs, UnitDetailOut
from backend.schemas.shapes import HealthOut
from backend.services import health, recovery
from backend.services.casework import cases, workflow
from backend.services.responsibility import categories, units

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/cases")
@doc(query=AdminCaseArgs, response=Page(StaffCaseSummaryOut))
@dispatcher_required
def list_cases():
    args = query_args(AdminCaseArgs())
    return page_of(StaffCaseSummaryOut(), cases.list_for_dispatcher(**args))


@bp.get("/cases/<int:case_id>")
@doc(response=StaffCaseOut, errors={404: "case_not_found"})
@dispatcher_required
def get_case(case_id: int):
    return staff_case(case_id)


@bp.get("/units")
@doc(query=UnitArgs, response=Items(UnitDetailOut))
@dispatcher_required
def list_units():
    return {"items": UnitDetailOut(many=True).dump(units.list_all(**query_args(UnitArgs())))}


@bp.get("/health")
@doc(response=HealthOut, errors={503: "service_unavailable"})
@dispatcher_required
def service_health():
    status = health.report()
    healthy = status["database"] == "ok" and status["redis"] == "ok"
    return status, 200 if healthy else 503


@bp.post("/health/stuck/<kind>/<int:object_id>/retry")
@doc(response={"type": "object"}, status=202, errors={404: "job_kind_not_found", 409: "not_stuck"})
@dispatcher_required
def retry_stuck_job(kind: str, object_id: int):
    return recovery.retry(kind, object_id), 202


@bp.post("/cases/<int:case_id>/dispatch")
@doc(body=DispatchIn, response=StaffCaseOut, errors={404: "case_not_found unit_not_found", 409: "invalid_transition"})
@dispatcher_required
def dispatch_case(case_id: int):
    data = json_body(DispatchIn())
    co_units = categories.active_units(data["co_unit_ids"], "co_unit_ids")
    workflow.dispatch(cases.for_dispatcher(case_id), units.get(data["unit_id"]), actor(), co_units)
    db.session.commit()
    return staff_case(case_id)


@bp.post("/cases/<int:case_id>/comment")
@doc(body=CommentIn, response=StaffCaseOut, errors={404: "case_not_found"})
@dispatcher_required
def comment_case(case_id: int):
    workflow.comment(cases.for_dispatcher(case_id), actor(), json_body(CommentIn())["content"])
    db.session.commit()
    return staff_case(case_id)


@bp.post("/cases/<int:case_id>/close")
@doc(response=StaffCaseOut, errors={404: "case_not_found", 409: "invalid_transition"})
@dispatcher_required
def close_case(case_id: int):
    workflow.close(cases.for_dispatcher(case_id), actor())
    db.session.commit()
    return staff_case(case_id)


@bp.post("/cases/<int:case_id>/rework")
@doc(body=ReasonIn, response=StaffCaseOut, errors={404: "case_not_found", 409: "invalid_transition"})
@dispatcher_required
def rework_case(case_id: int):
    data = json_body(ReasonIn())
    workflow.rework(cases.for_dispatcher(case_id), actor(), data["reason"])
    db.session.commit()
    return staff_case(case_id)


@bp.post("/cases/<int:case_id>/reject")
@doc(body=ReasonIn, response=StaffCaseOut, errors={404: "case_not_found", 409: "invalid_transition"})
@dispatcher_required
def reject_case(case_id: int):
    data = json_body(ReasonIn())
    workflow.reject(cases.for_dispatcher(case_id), actor(), data["reason"])
    db.session.commit()
    return staff_case(case_id)
