"""The assignment ledger: one `CaseAssignment` row per 派遣, kept up to date by the state machine.

`workflow._finish` hands every case event to `record` in the same transaction, so the ledger never
disagrees with case_events. Attribution follows the events: a 派遣 opens a row for the unit it names; a
退单 by that unit closes the row as `returned`; a recall, a re-dispatch before sign-off or a 不予受理
closes it as `withdrawn`; 签收, 反馈, 返工, 结案, 评价, 督办 and 延期 land on the open row — the row of the
unit that replied, since only the assigned unit can reply.
"""

from backend.extensions import db
from backend.models import (
    ActorKind,
    AssignmentEnd,
    Case,
    CaseAssignment,
    CaseEvent,
    Category,
    EventType,
    ExtensionRequest,
    Rating,
    RoutingRule,
)
from backend.services.casework import deadlines
from backend.services.responsibility import region_index


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
    if row is not None:
        _update(row, event.type, event.at, event.data or {}, event.actor_kind, case.deadline_at)


def _update(row: CaseAssignment, kind: EventType, at, data: dict, actor_kind, deadline_at) -> None:
    """One event on the open row; `deadline_at` is the case's 处置时限 right after the event."""
    match kind:
        case EventType.ACCEPTED:
            row.accepted_at = row.accepted_at or at
        case EventType.RETURNED:
            by_unit = actor_kind == ActorKind.STAFF
            row.end, row.ended_at = AssignmentEnd.RETURNED if by_unit else AssignmentEnd.WITHDRAWN, at
        case EventType.REJECTED:
            row.end, row.ended_at = AssignmentEnd.WITHDRAWN, at
        case EventType.REPLIED:
            row.replies = (row.replies or 0) + 1
            row.replied_at = at
            row.deadline_at = deadline_at
            on_time = deadline_at is not None and at <= deadline_at
            row.replied_on_time = on_time and row.replied_on_time is not False
            calendar = deadlines.calendar()
            if not on_time and deadline_at is not None:
                row.late_hours = round(calendar.working_hours_between(deadline_at, at), 2)
            row.handling_hours = round(calendar.working_hours_between(row.assigned_at, at), 2)
        case EventType.REWORKED:
            row.reworks = (row.reworks or 0) + 1
            row.deadline_at = deadline_at  # the clock starts again
        case EventType.CLOSED:
            row.closed_at = row.closed_at or at
        case EventType.RATED:
            row.rating = Rating(data["rating"])
        case EventType.OVERDUE:
            row.escalation_level = max(row.escalation_level or 0, int(data.get("level", 1)))
        case EventType.EXTENSION_REQUESTED:
            row.extensions_requested = (row.extensions_requested or 0) + 1
        case EventType.EXTENSION_APPROVED:
            row.extensions_granted = (row.extensions_granted or 0) + 1
            row.deadline_at = deadline_at


REPLAYED = (
    EventType.DISPATCHED,
    EventType.ACCEPTED,
    EventType.RETURNED,
    EventType.REJECTED,
    EventType.REPLIED,
    EventType.REWORKED,
    EventType.CLOSED,
    EventType.RATED,
    EventType.OVERDUE,
    EventType.EXTENSION_REQUESTED,
    EventType.EXTENSION_APPROVED,
)
_COLUMNS = [c.key for c in CaseAssignment.__table__.columns if c.key != "id"]


def rebuild(chunk: int = 5000) -> int:
    """Rebuild the whole ledger from case_events (after an upgrade, or for data loaded around the state
    machine). Deadlines are recomputed as the state machine sets them: the category's (or the routing rule's)
    处置时限 from each 派遣 and 返工 in today's work calendar, an approved 延期's new deadline. Commits per chunk
    of cases; returns the number of rows written."""
    db.session.execute(db.delete(CaseAssignment))
    db.session.commit()
    categories = {c.id: c for c in db.session.scalars(db.select(Category))}
    rule_hours = dict(db.session.execute(db.select(RoutingRule.id, RoutingRule.deadline_hours)).all())
    new_deadlines = dict(db.session.execute(db.select(ExtensionRequest.id, ExtensionRequest.new_deadline_at)).all())
    index = region_index.current()
    cases = db.select(
        Case.id, Case.category_id, Case.lat, Case.lng, Case.coord, Case.wgs84_lat, Case.wgs84_lng
    ).order_by(Case.id)
    written, pending = 0, []
    last_id = 0
    while True:
        batch = db.session.execute(cases.where(Case.id > last_id).limit(chunk)).all()
        if not batch:
            break
        last_id = batch[-1].id
        events = db.session.execute(
            db.select(
                CaseEvent.case_id, CaseEvent.type, CaseEvent.at, CaseEvent.actor_kind, CaseEvent.unit_id, CaseEvent.data
            )
            .where(CaseEvent.case_id.between(batch[0].id, last_id), CaseEvent.type.in_(REPLAYED))
            .order_by(CaseEvent.case_id, CaseEvent.id)
        ).all()
        by_case: dict[int, list] = {}
        for event in events:
            by_case.setdefault(event.case_id, []).append(event)
        for case in batch:
            pending.extend(_replay(case, by_case.get(case.id, []), categories, rule_hours, new_deadlines, index))
        if pending:
            db.session.execute(db.insert(CaseAssignment), [{k: getattr(r, k) for k in _COLUMNS} for r in pending])
            written += len(pending)
            pending = []
        db.session.commit()
    return written


def _replay(case, events, categories, rule_hours, new_deadlines, index) -> list[CaseAssignment]:
    category = categories[case.category_id]
    hits = index.containing(case.lat, case.lng, str(case.coord), case.wgs84_lat, case.wgs84_lng)
    region_id = hits[0].region_id if hits else None
    rows: list[CaseAssignment] = []
    row, deadline = None, None
    for event in events:
        data = event.data or {}
        if event.type == EventType.DISPATCHED:
            if row is not None and row.end is None:
                row.end, row.ended_at = AssignmentEnd.WITHDRAWN, event.at
            deadline = deadlines.due_at(category, event.at, rule_hours.get(data.get("rule_id")))
            row = CaseAssignment(
                case_id=case.id,
                unit_id=event.unit_id,
                category_id=case.category_id,
                region_id=region_id,
                assigned_at=event.at,
                signoff_due_at=deadlines.signoff_due_at(category, event.at),
                deadline_at=deadline,
                replies=0,
                reworks=0,
                extensions_requested=0,
                extensions_granted=0,
                escalation_level=0,
            )
            rows.append(row)
            continue
        if row is None or row.end is not None:
            continue
        if event.type == EventType.REWORKED:
            deadline = deadlines.due_at(category, event.at)
        elif event.type == EventType.EXTENSION_APPROVED:
            deadline = new_deadlines.get(data.get("extension_id")) or deadline
        _update(row, event.type, event.at, data, event.actor_kind, deadline)
    return [r for r in rows if r.unit_id is not None]
