"""The assignment ledger: one `CaseAssignment` row per 派遣, kept up to date by the state machine.

`workflow._finish` hands every case event to `record` in the same transaction, so the ledger never
disagrees with case_events. Attribution follows the events: a 派遣 opens a row for the unit it names; a
退单 by that unit closes the row as `returned`; a recall, a re-dispatch before sign-off or a 不予受理
closes it as `withdrawn`; 签收, 反馈, 返工, 结案, 评价, 督办 and 延期 land on the open row — the row of the
unit that replied, since only the assigned unit can reply.
"""

from backend.extensions import db
from backend.models import ActorKind, AssignmentEnd, Case, CaseAssignment, CaseEvent, EventType, Rating
from backend.services import deadlines, region_index


def open_assignment(case: Case) -> CaseAssignment | None:
    """The case's current row: the latest one not ended (a closed case keeps its row open)."""
    for obj in db.session.new:  # opened earlier in this flush
        if isinstance(obj, CaseAssignment) and obj.case_id == case.id and obj.end is None:
            return obj
    return db.session.scalar(
        db.select(CaseAssignment)
        .where(CaseAssignment.case_id == case.id, CaseAssignment.end.is_(None))
        .order_by(CaseAssignment.id.desc())
        .limit(1)
    )


def _finest_region_id(case: Case) -> int | None:
    hits = region_index.current().containing(case.lat, case.lng, str(case.coord), case.wgs84_lat, case.wgs84_lng)
    return hits[0].region_id if hits else None


def _end(row: CaseAssignment | None, event: CaseEvent, how: AssignmentEnd) -> None:
    if row is not None:
        row.end, row.ended_at = how, event.at


def _open(case: Case, event: CaseEvent) -> None:
    _end(open_assignment(case), event, AssignmentEnd.WITHDRAWN)  # re-dispatched before sign-off
    db.session.add(
        CaseAssignment(
            case_id=case.id,
            unit_id=case.unit_id,
            category_id=case.category_id,
            region_id=_finest_region_id(case),
            assigned_at=event.at,
            signoff_due_at=case.signoff_deadline_at,
            deadline_at=case.deadline_at,
            replies=0,
            reworks=0,
            extensions_requested=0,
            extensions_granted=0,
            escalation_level=0,
        )
    )


def record(case: Case, event: CaseEvent) -> None:
    """Apply one case event to the ledger (called for every event, before the flush)."""
    if event.type == EventType.DISPATCHED:
        _open(case, event)
        return
    row = open_assignment(case)
    if row is None:
        return
    match event.type:
        case EventType.ACCEPTED:
            row.accepted_at = row.accepted_at or event.at
        case EventType.RETURNED:
            by_unit = event.actor_kind == ActorKind.STAFF
            _end(row, event, AssignmentEnd.RETURNED if by_unit else AssignmentEnd.WITHDRAWN)
        case EventType.REJECTED:
            _end(row, event, AssignmentEnd.WITHDRAWN)
        case EventType.REPLIED:
            row.replies += 1
            row.replied_at = event.at
            row.deadline_at = case.deadline_at
            on_time = case.deadline_at is not None and event.at <= case.deadline_at
            row.replied_on_time = on_time and row.replied_on_time is not False
            calendar = deadlines.calendar()
            if not on_time and case.deadline_at is not None:
                row.late_hours = round(calendar.working_hours_between(case.deadline_at, event.at), 2)
            row.handling_hours = round(calendar.working_hours_between(row.assigned_at, event.at), 2)
        case EventType.REWORKED:
            row.reworks += 1
            row.deadline_at = case.deadline_at  # the clock starts again
        case EventType.CLOSED:
            row.closed_at = row.closed_at or event.at
        case EventType.RATED:
            row.rating = Rating(event.data["rating"])
        case EventType.OVERDUE:
            row.escalation_level = max(row.escalation_level, int(event.data.get("level", 1)))
        case EventType.EXTENSION_REQUESTED:
            row.extensions_requested += 1
        case EventType.EXTENSION_APPROVED:
            row.extensions_granted += 1
            row.deadline_at = case.deadline_at
