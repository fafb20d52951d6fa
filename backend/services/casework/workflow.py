"""The case state machine: the only place that writes `Case.status`.

    pending ──route/dispatch──▶ dispatched ──accept──▶ processing ──reply──▶ replied ──close/rate──▶ closed
       ▲                            │                      ▲  │                 │
       └──────────return────────────┴──────────────────────┼──┘                 │
                                                           └──────rework────────┘
    pending/dispatched ──reject──▶ rejected

No status is a dead end. A deactivated unit's staff cannot sign in, so a case whose lead unit is inactive
("orphaned") is the dispatcher's: deactivation recalls the unit's dispatched/processing cases to `pending`;
should one still be found at an inactive unit (a dispatch racing the deactivation, older data), dispatchers
may re-dispatch or reject it from `processing` too, and supervision recalls it instead of escalating. A
`replied` case stays replied (the unit's work is done; close, rate and auto-close need no unit), and a rework
of it goes back to `pending` for a dispatcher to pick who redoes it instead of to the inactive unit.

Each transition checks the actor, appends a timeline event and flushes. Concurrent transitions on one
case are caught by the version column: the loser's flush raises StaleDataError (→ 409).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from backend.errors import Conflict, Forbidden, ValidationFailed
from backend.extensions import db
from backend.models import (
    ActorKind,
    Case,
    CaseEvent,
    CaseStatus,
    EventType,
    Rating,
    RoutingStatus,
    Unit,
)
from backend.models.types import utcnow
from backend.services.actors import Actor
from backend.services.casework import deadlines
from backend.services.media import photos
from backend.services.notifications import notify
from backend.services.rewards import claims as reward_claims
from backend.services.stats import ledger
from workers.queues import enqueue_after_commit, route_case_job

S = CaseStatus


def _is_system(actor: Actor, case: Case) -> bool:
    return actor.kind == ActorKind.SYSTEM


def _is_dispatcher(actor: Actor, case: Case) -> bool:
    return actor.is_dispatcher


def _is_assigned_unit(actor: Actor, case: Case) -> bool:
    return actor.is_unit_staff and actor.unit_id == case.unit_id


def _is_reporter(actor: Actor, case: Case) -> bool:
    return actor.kind == ActorKind.CITIZEN and actor.user_id == case.reporter_id


@dataclass(frozen=True)
class Transition:
    sources: frozenset[CaseStatus]
    target: CaseStatus
    event: EventType
    allowed: Callable[[Actor, Case], bool]
    # further sources, and another target, when the case's lead unit is deactivated (`orphaned`)
    orphan_sources: frozenset[CaseStatus] = frozenset()
    orphan_target: CaseStatus | None = None

    def sources_for(self, case: Case) -> frozenset[CaseStatus]:
        return self.sources | self.orphan_sources if orphaned(case) else self.sources

    def target_for(self, case: Case) -> CaseStatus:
        return (self.orphan_target or self.target) if orphaned(case) else self.target


def orphaned(case: Case) -> bool:
    """The case's lead unit is deactivated: nobody there can act on it any more."""
    return case.unit is not None and not case.unit.active


TRANSITIONS: dict[str, Transition] = {
    "route": Transition(frozenset({S.PENDING}), S.DISPATCHED, EventType.DISPATCHED, _is_system),
    "dispatch": Transition(
        frozenset({S.PENDING, S.DISPATCHED}),
        S.DISPATCHED,
        EventType.DISPATCHED,
        _is_dispatcher,
        orphan_sources=frozenset({S.PROCESSING}),
    ),
    "accept": Transition(frozenset({S.DISPATCHED}), S.PROCESSING, EventType.ACCEPTED, _is_assigned_unit),
    "return": Transition(frozenset({S.DISPATCHED, S.PROCESSING}), S.PENDING, EventType.RETURNED, _is_assigned_unit),
    "reply": Transition(frozenset({S.PROCESSING}), S.REPLIED, EventType.REPLIED, _is_assigned_unit),
    "close": Transition(frozenset({S.REPLIED}), S.CLOSED, EventType.CLOSED, _is_dispatcher),
    "rework": Transition(
        frozenset({S.REPLIED}), S.PROCESSING, EventType.REWORKED, _is_dispatcher, orphan_target=S.PENDING
    ),
    "reject": Transition(
        frozenset({S.PENDING, S.DISPATCHED}),
        S.REJECTED,
        EventType.REJECTED,
        _is_dispatcher,
        orphan_sources=frozenset({S.PROCESSING}),
    ),
    # the unit was deactivated: its open cases go back to the dispatcher's queue
    "recall": Transition(frozenset({S.DISPATCHED, S.PROCESSING}), S.PENDING, EventType.RETURNED, _is_system),
    "close_by_rating": Transition(frozenset({S.REPLIED}), S.CLOSED, EventType.CLOSED, _is_reporter),
    # nobody rated a replied case within AUTO_CLOSE_DAYS
    "auto_close": Transition(frozenset({S.REPLIED}), S.CLOSED, EventType.CLOSED, _is_system),
}

STATUS_NAMES = {
    S.PENDING: "待派遣",
    S.DISPATCHED: "已派遣",
    S.PROCESSING: "处置中",
    S.REPLIED: "已反馈",
    S.CLOSED: "已办结",
    S.REJECTED: "不予受理",
    S.MERGED: "已合并",
}


def permitted(case: Case, action: str, actor: Actor) -> bool:
    """Whether `actor` may take `action` on the case now (what _apply checks, without raising)."""
    transition = TRANSITIONS[action]
    return transition.allowed(actor, case) and case.status in transition.sources_for(case)


def _apply(case: Case, action: str, actor: Actor, note: str = "", data: dict | None = None) -> CaseEvent:
    transition = TRANSITIONS[action]
    if not transition.allowed(actor, case):
        if actor.is_unit_staff:
            raise Forbidden("只有牵头单位可以办理此案件，配合单位可查看和留言", code="not_lead_unit")
        raise Forbidden()
    if case.status not in transition.sources_for(case):
        raise Conflict(
            f"案件当前状态为“{STATUS_NAMES[case.status]}”，不能执行此操作",
            code="invalid_transition",
        )
    target = transition.target_for(case)
    event = CaseEvent(
        type=transition.event,
        at=utcnow(),
        actor_kind=actor.kind,
        staff_id=actor.staff_id,
        unit_id=actor.unit_id,
        from_status=case.status,
        to_status=target,
        note=note,
        data=data or {},
    )
    case.status = target
    case.events.append(event)
    return event


def record_submission(case: Case, actor: Actor) -> None:
    case.events.append(CaseEvent(type=EventType.SUBMITTED, at=utcnow(), actor_kind=actor.kind, note="", data={}))


def _start_clock(case: Case, now: datetime, deadline_hours: int | None = None) -> None:
    """A fresh deadline, and supervision starts over for it."""
    case.deadline_at = deadlines.due_at(case.category, now, deadline_hours)
    case.reminded_at = None
    case.escalation_level = 0
    case.escalated_at = None


def _assign(case: Case, unit: Unit, co_units: list[Unit], now: datetime, deadline_hours: int | None = None) -> None:
    case.unit_id = unit.id
    case.unit = unit
    case.co_units = [u for u in co_units if u.id != unit.id]
    _start_clock(case, now, deadline_hours)
    case.signoff_deadline_at = deadlines.signoff_due_at(case.category, now)
    case.signoff_overdue_at = None


def _assignment_deadline_hours(case: Case) -> int | None:
    """The 处置时限 override of the current assignment: the routing rule's when routing assigned the unit (a rule
    that routed a case cannot be deleted), none after a dispatch by hand (the category's then applies)."""
    if case.routing_status == RoutingStatus.ROUTED and case.routing_rule is not None:
        return case.routing_rule.deadline_hours
    return None


def _unassign(case: Case) -> None:
    case.unit_id = None
    case.unit = None
    case.co_units = []
    case.deadline_at = None
    case.signoff_deadline_at = None


def route(
    case: Case,
    unit: Unit,
    co_units: list[Unit],
    region_id: int | None,
    rule_id: int | None,
    reason: str,
    deadline_hours: int | None = None,
) -> Case:
    """自动派遣: the routing job assigns the unit the rules picked, and the co-units."""
    data = {"rule_id": rule_id, "reason": reason, "co_unit_ids": [u.id for u in co_units]}
    event = _apply(case, "route", Actor.system(), note=f"已派遣至{unit.name}", data=data)
    event.unit_id = unit.id
    _assign(case, unit, co_units, event.at, deadline_hours)
    case.region_id = region_id
    case.routing_rule_id = rule_id
    case.routing_status = RoutingStatus.ROUTED
    return _finish(case, event)


def _record(case: Case, event_type: EventType, actor: Actor, note: str = "", data: dict | None = None) -> CaseEvent:
    """A timeline event that does not change the status (comments, ratings, reminders, 督办 …)."""
    event = CaseEvent(
        type=event_type,
        at=utcnow(),
        actor_kind=actor.kind,
        staff_id=actor.staff_id,
        unit_id=actor.unit_id,
        note=note,
        data=data or {},
    )
    case.events.append(event)
    case.updated_at = event.at
    return event


def _finish(case: Case, *events: CaseEvent) -> Case:
    """Record the events in the assignment ledger, flush, then write the outbox rows announcing them,
    all in the same transaction."""
    for event in events:
        ledger.record(case, event)
    db.session.flush()
    for event in events:
        notify.announce(case, event)
        if event.type == EventType.CLOSED:
            # 有奖举报: the claim and its abuse checks are made by a job, off the request path
            enqueue_after_commit(db.session, reward_claims.reward_claim_job(case.id))
    return case


def mark_unrouted(case: Case, reason: str) -> Case:
    """No rule matched: the case waits in the dispatcher's queue."""
    case.routing_status = RoutingStatus.UNMATCHED
    return _finish(case, _record(case, EventType.ROUTING_UNMATCHED, Actor.system(), reason))


def dispatch(case: Case, unit: Unit, actor: Actor, co_units: list[Unit] = ()) -> Case:
    """派遣 by hand, optionally with co-units."""
    if not unit.active or any(not u.active for u in co_units):
        raise ValidationFailed("该单位已停用", fields={"unit_id": ["该单位已停用"]})
    co_units = [u for u in co_units if u.id != unit.id]  # the lead unit is never its own co-unit
    data = {"unit_id": unit.id, "co_unit_ids": [u.id for u in co_units]}
    event = _apply(case, "dispatch", actor, note=f"已派遣至{unit.name}", data=data)
    event.unit_id = unit.id
    _assign(case, unit, co_units, event.at)
    case.routing_status = RoutingStatus.MANUAL
    return _finish(case, event)


def accept(case: Case, actor: Actor) -> Case:
    """签收."""
    return _finish(case, _apply(case, "accept", actor, note="已签收，正在处置"))


def return_case(case: Case, actor: Actor, reason: str) -> Case:
    """退单: not this unit's responsibility. Routing tries the next candidate that has not returned
    it; when none is left the case waits for manual dispatch."""
    event = _apply(case, "return", actor, note=reason, data={"unit_id": case.unit_id})
    _unassign(case)
    case.routing_status = RoutingStatus.QUEUED
    enqueue_after_commit(db.session, route_case_job(case.id))
    return _finish(case, event)


def recall(case: Case) -> Case:
    """The assigned unit was deactivated: the case goes back to the dispatcher's queue."""
    note = f"{case.unit.name}已停用，案件退回调度中心"
    event = _apply(case, "recall", Actor.system(), note=note, data={"unit_id": case.unit_id})
    _unassign(case)
    case.routing_status = RoutingStatus.MANUAL
    return _finish(case, event)


def comment(case: Case, actor: Actor, content: str) -> Case:
    """A note from the lead unit, a co-unit or a dispatcher; internal, the status does not change."""
    return _finish(case, _record(case, EventType.COMMENTED, actor, content))


def reply(case: Case, actor: Actor, content: str, photo_ids: list[int]) -> Case:
    """反馈: the unit reports what it did, with after-photos it uploaded."""
    event = _apply(case, "reply", actor, note=content)
    case.replied_at = event.at
    db.session.flush()
    photos.claim(photo_ids, actor, event_id=event.id)  # a refused photo: 422, and the transaction rolls back
    return _finish(case, event)


def close(case: Case, actor: Actor, note: str = "") -> Case:
    """结案 after verification (核查)."""
    event = _apply(case, "close", actor, note=note or "已办结")
    case.closed_at = event.at
    case.needs_review = False
    return _finish(case, event)


def auto_close(case: Case, days: int) -> Case:
    """Nobody rated the reply within `days`: the case closes (回访 found no objection)."""
    event = _apply(case, "auto_close", Actor.system(), note=f"反馈后{days}天未评价，自动办结")
    case.closed_at = event.at
    return _finish(case, event)


def rework(case: Case, actor: Actor, reason: str) -> Case:
    """返工: verification failed; the unit handles it again — or, when that unit has been deactivated, the
    case goes back to the dispatcher's queue (`pending`) to be dispatched to whoever redoes it."""
    event = _apply(case, "rework", actor, note=reason)
    if case.status == S.PENDING:
        _unassign(case)
        case.routing_status = RoutingStatus.MANUAL
    else:
        _start_clock(case, event.at, _assignment_deadline_hours(case))
    case.needs_review = False
    return _finish(case, event)


def reject(case: Case, actor: Actor, reason: str) -> Case:
    """不予受理: not a valid report."""
    event = _apply(case, "reject", actor, note=reason)
    case.closed_at = event.at
    case.deadline_at = None
    case.signoff_deadline_at = None
    return _finish(case, event)


def rate(case: Case, actor: Actor, rating: Rating, comment: str) -> Case:
    """评价. satisfied/basic closes a replied case; unsatisfied flags it for the dispatcher."""
    if not _is_reporter(actor, case):
        raise Forbidden()
    if case.status not in (S.REPLIED, S.CLOSED):
        raise Conflict("案件办理完成后才能评价", code="invalid_transition")
    if case.rating is not None:
        raise Conflict("已经评价过了", code="already_rated")
    rated = _record(case, EventType.RATED, actor, comment, {"rating": rating.value})
    case.rating, case.rating_comment, case.rated_at = rating, comment, rated.at
    events = [rated]
    if rating == Rating.UNSATISFIED:
        case.needs_review = case.status == S.REPLIED
    elif case.status == S.REPLIED:
        events.append(_apply(case, "close_by_rating", actor, note="市民评价后办结"))
        case.closed_at = rated.at
    return _finish(case, *events)


def remind(case: Case, text: str) -> Case:
    """临期提醒 to the lead unit, once per deadline."""
    case.reminded_at = utcnow()
    return _finish(case, _record(case, EventType.REMINDED, Actor.system(), text))


def escalate(case: Case, level: int, text: str) -> Case:
    """超期 → 督办 (level 1), and a second level if it stays overdue."""
    now = utcnow()
    if level == 1:
        case.overdue_at = case.overdue_at or now
    case.escalation_level = level
    case.escalated_at = now
    return _finish(case, _record(case, EventType.OVERDUE, Actor.system(), text, {"level": level}))


def record_signoff_overdue(case: Case, text: str) -> Case:
    case.signoff_overdue_at = utcnow()
    return _finish(case, _record(case, EventType.REMINDED, Actor.system(), text, {"signoff": True}))


def record_extension(case: Case, event_type: EventType, actor: Actor, note: str, data: dict) -> CaseEvent:
    event = _record(case, event_type, actor, note, data)
    _finish(case, event)
    return event


def extend_deadline(case: Case, new_deadline: datetime) -> None:
    """An approved 延期: the new deadline, and supervision starts over for it."""
    case.deadline_at = new_deadline
    case.reminded_at = None
    case.escalation_level = 0
    case.escalated_at = None
