"""延期申请: the lead unit asks for more time; a dispatcher approves (a new deadline) or denies."""

from sqlalchemy.orm import selectinload

from backend.errors import Conflict, Forbidden
from backend.extensions import db
from backend.models import HANDLED_BY_UNIT, Case, CaseEvent, EventType, ExtensionRequest, ExtensionStatus
from backend.models.types import local_time, utcnow
from backend.services.actors import Actor
from backend.services.casework import deadlines, workflow
from backend.services.lookup import get_or_404
from backend.services.notifications import notify
from backend.services.paging import paginate


def request(case: Case, actor: Actor, reason: str, extra_working_hours: int) -> ExtensionRequest:
    if not (actor.is_unit_staff and actor.unit_id == case.unit_id):
        raise Forbidden("只有牵头单位可以申请延期", code="not_lead_unit")
    if case.status not in HANDLED_BY_UNIT or case.deadline_at is None:
        raise Conflict("案件当前状态不能申请延期", code="invalid_transition")
    pending = db.session.scalar(
        db.select(ExtensionRequest).where(
            ExtensionRequest.case_id == case.id, ExtensionRequest.status == ExtensionStatus.PENDING
        )
    )
    if pending is not None and _of_current_assignment(pending, case):
        raise Conflict("已有待审批的延期申请", code="extension_pending")
    if pending is not None:
        _lapse(pending, case)
    extension = ExtensionRequest(
        case_id=case.id,
        unit_id=case.unit_id,
        requested_by_id=actor.staff_id,
        reason=reason,
        extra_working_hours=extra_working_hours,
        old_deadline_at=case.deadline_at,
    )
    db.session.add(extension)
    db.session.flush()
    note = f"申请延期 {extra_working_hours} 个工作小时：{reason}"
    workflow.record_extension(case, EventType.EXTENSION_REQUESTED, actor, note, {"extension_id": extension.id})
    notify.to_dispatch_center("extension_requested", case, f"extension-{extension.id}:requested", note)
    return extension


def get(extension_id: int) -> ExtensionRequest:
    return get_or_404(ExtensionRequest, extension_id, "延期申请不存在", "extension_not_found")


def _of_current_assignment(extension: ExtensionRequest, case: Case) -> bool:
    """Made against the 处置时限 in force: every dispatch (even back to the same unit) and every 返工 starts a
    new one, so a request from before them lapses. (Read from the timeline: the deadlines themselves can be
    equal, e.g. two dispatches in one night both run from the next morning.)"""
    restarted = db.session.scalar(
        db.select(CaseEvent.id)
        .where(
            CaseEvent.case_id == case.id,
            CaseEvent.type.in_([EventType.DISPATCHED, EventType.REWORKED]),
            CaseEvent.at > extension.created_at,
        )
        .limit(1)
    )
    return restarted is None


def _lapse(extension: ExtensionRequest, case: Case) -> None:
    """Close a request of an earlier assignment: nobody can approve it any more."""
    note = "处置时限已重新计算（重新派遣或返工），原延期申请失效"
    extension.status, extension.decided_at, extension.decision_note = ExtensionStatus.DENIED, utcnow(), note
    workflow.record_extension(case, EventType.EXTENSION_DENIED, Actor.system(), note, {"extension_id": extension.id})


def _decidable(extension: ExtensionRequest, approving: bool) -> Case:
    """A pending request; approval also needs the case still open at the requesting unit, in the assignment the
    request was made in (a request left behind by a returned, replied or re-dispatched case can still be denied,
    so it never blocks the queue)."""
    # Decisions on one case queue up on its row, taken before anything is written: approve and deny used to
    # write the extension and the case in opposite orders and deadlocked. The request is then read again, as
    # the decision before this one left it.
    case = db.session.get(Case, extension.case_id, with_for_update=True, populate_existing=True)
    db.session.refresh(extension)
    if extension.status != ExtensionStatus.PENDING:
        raise Conflict("该延期申请已处理", code="extension_decided")
    if approving and (case.status not in HANDLED_BY_UNIT or case.unit_id != extension.unit_id):
        raise Conflict("案件已不在申请单位办理中，只能不予批准", code="invalid_transition")
    if approving and not _of_current_assignment(extension, case):
        raise Conflict("处置时限已重新计算（重新派遣或返工），该申请已失效，只能不予批准", code="invalid_transition")
    return case


def approve(extension: ExtensionRequest, actor: Actor, note: str, extra_working_hours: int | None) -> ExtensionRequest:
    case = _decidable(extension, approving=True)
    hours = extra_working_hours or extension.extra_working_hours
    extension.new_deadline_at = deadlines.extended(case.deadline_at, hours)
    extension.status, extension.decided_by_id, extension.decided_at = ExtensionStatus.APPROVED, actor.staff_id, utcnow()
    extension.decision_note = note
    workflow.extend_deadline(case, extension.new_deadline_at)
    text = f"同意延期 {hours} 个工作小时，新的处置时限 {local_time(extension.new_deadline_at)}"
    workflow.record_extension(
        case, EventType.EXTENSION_APPROVED, actor, f"{text}。{note}".rstrip("。"), {"extension_id": extension.id}
    )
    notify.to_unit(case.unit, "extension_decided", case, f"extension-{extension.id}:decided", text)
    return extension


def deny(extension: ExtensionRequest, actor: Actor, note: str) -> ExtensionRequest:
    case = _decidable(extension, approving=False)
    extension.status, extension.decided_by_id, extension.decided_at = ExtensionStatus.DENIED, actor.staff_id, utcnow()
    extension.decision_note = note
    text = f"不同意延期：{note}"
    workflow.record_extension(case, EventType.EXTENSION_DENIED, actor, text, {"extension_id": extension.id})
    notify.to_unit(extension.unit, "extension_decided", case, f"extension-{extension.id}:decided", text)
    return extension


def pending(page: int, per_page: int) -> dict:
    query = db.select(ExtensionRequest).where(ExtensionRequest.status == ExtensionStatus.PENDING)
    return paginate(query, page, per_page, ExtensionRequest.id, options=(selectinload(ExtensionRequest.unit),))
