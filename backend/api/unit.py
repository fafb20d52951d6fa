from flask import Blueprint

from backend.api.common import actor, json_body, query_args, staff_case
from backend.api.spec import Page, doc
from backend.auth import current_principal, unit_staff_required
from backend.extensions import db
from backend.schemas.case import CommentIn, ReasonIn, ReplyIn, StaffCaseOut, StaffCaseSummaryOut, UnitCaseArgs
from backend.schemas.common import page_of
from backend.schemas.supervision import ExtensionIn, ExtensionOut, InboxArgs, InboxItemOut
from backend.services.casework import cases, extensions, workflow
from backend.services.notifications import inbox

bp = Blueprint("unit", __name__, url_prefix="/unit")


def _own_case(case_id: int):
    return cases.for_unit(case_id, current_principal().unit_id)


@bp.get("/cases")
@doc(query=UnitCaseArgs, response=Page(StaffCaseSummaryOut))
@unit_staff_required
def list_cases():
    args = query_args(UnitCaseArgs())
    return page_of(StaffCaseSummaryOut(), cases.list_for_unit(current_principal().unit_id, **args))


@bp.get("/cases/<int:case_id>")
@doc(response=StaffCaseOut, errors={404: "case_not_found"})
@unit_staff_required
def get_case(case_id: int):
    return StaffCaseOut().dump(_own_case(case_id))


@bp.post("/cases/<int:case_id>/comment")
@doc(body=CommentIn, response=StaffCaseOut, errors={404: "case_not_found"})
@unit_staff_required
def comment_case(case_id: int):
    workflow.comment(_own_case(case_id), actor(), json_body(CommentIn())["content"])
    db.session.commit()
    return staff_case(case_id)


@bp.post("/cases/<int:case_id>/accept")
@doc(response=StaffCaseOut, errors={403: "not_lead_unit", 404: "case_not_found", 409: "invalid_transition"})
@unit_staff_required
def accept_case(case_id: int):
    workflow.accept(_own_case(case_id), actor())
    db.session.commit()
    return staff_case(case_id)


@bp.post("/cases/<int:case_id>/return")
@doc(
    body=ReasonIn,
    response=StaffCaseOut,
    errors={403: "not_lead_unit", 404: "case_not_found", 409: "invalid_transition"},
)
@unit_staff_required
def return_case(case_id: int):
    data = json_body(ReasonIn())
    workflow.return_case(_own_case(case_id), actor(), data["reason"])
    db.session.commit()
    return staff_case(case_id)


@bp.post("/cases/<int:case_id>/reply")
@doc(
    body=ReplyIn, response=StaffCaseOut, errors={403: "not_lead_unit", 404: "case_not_found", 409: "invalid_transition"}
)
@unit_staff_required
def reply_case(case_id: int):
    data = json_body(ReplyIn())
    workflow.reply(_own_case(case_id), actor(), data["content"], data["photo_ids"])
    db.session.commit()
    return staff_case(case_id)


@bp.post("/cases/<int:case_id>/extension")
@doc(
    body=ExtensionIn,
    response=ExtensionOut,
    status=201,
    errors={403: "not_lead_unit", 404: "case_not_found", 409: "invalid_transition extension_pending"},
)
@unit_staff_required
def request_extension(case_id: int):
    """延期申请."""
    data = json_body(ExtensionIn())
    extension = extensions.request(_own_case(case_id), actor(), data["reason"], data["extra_working_hours"])
    db.session.commit()
    return ExtensionOut().dump(extension), 201


@bp.get("/notifications")
@doc(query=InboxArgs, response=Page(InboxItemOut))
@unit_staff_required
def list_notifications():
    return page_of(InboxItemOut(), inbox.listing(current_principal().unit_id, **query_args(InboxArgs())))


@bp.post("/notifications/<int:notification_id>/read")
@doc(response=InboxItemOut, errors={404: "notification_not_found"})
@unit_staff_required
def read_notification(notification_id: int):
    notification = inbox.mark_read(notification_id, current_principal().unit_id)
    db.session.commit()
    return InboxItemOut().dump(notification)
