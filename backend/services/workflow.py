"""The case state machine: the only place that writes `Case.status`.

    pending ──route/dispatch──▶ dispatched ──accept──▶ processing ──reply──▶ replied ──close/rate──▶ closed
       ▲                            │                      ▲  │                 │
       └──────────return────────────┴──────────────────────┼──┘                 │
                                                           └──────rework────────┘
    pending/dispatched ──reject──▶ rejected

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
from backend.services import deadlines, photos
from backend.services.actors import Actor
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


TRANSITIONS: dict[str, Transition] = {
    "route": Transition(frozenset({S.PENDING}), S.DISPATCHED, EventType.DISPATCHED, _is_system),
    "dispatch": Transition(frozenset({S.PENDING, S.DISPATCHED}), S.DISPATCHED, EventType.DISPATCHED, _is_dispatcher),
    "accept": Transition(frozenset({S.DISPATCHED}), S.PROCESSING, EventType.ACCEPTED, _is_assigned_unit),
    "return": Transition(frozenset({S.DISPATCHED, S.PROCESSING}), S.PENDING, EventType.RETURNED, _is_assigned_unit),
    "reply": Transition(frozenset({S.PROCESSING}), S.REPLIED, EventType.REPLIED, _is_assigned_unit),
    "close": Transition(frozenset({S.REPLIED}), S.CLOSED, EventType.CLOSED, _is_dispatcher),
    "rework": Transition(frozenset({S.REPLIED}), S.PROCESSING, EventType.REWORKED, _is_dispatcher),
    "reject": Transition(frozenset({S.PENDING, S.DISPATCHED}), S.REJECTED, EventType.REJECTED, _is_dispatcher),
    # the unit was deactivated: its open cases go back to the dispatcher's queue
    "recall": Transition(frozenset({S.DISPATCHED, S.PROCESSING}), S.PENDING, EventType.RETURNED, _is_system),
    "close_by_rating": Transition(frozenset({S.REPLIED}), S.CLOSED, EventType.CLOSED, _is_reporter),
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


def allowed_actions(case: Case) -> list[str]:
    return [name for name, t in TRANSITIONS.items() if case.status in t.sources]


def _apply(case: Case, action: str, actor: Actor, note: str = "", data: dict | None = None) -> CaseEvent:
    transition = TRANSITIONS[action]
    if not transition.allowed(actor, case):
        if actor.is_unit_staff:
            raise Forbidden("只有牵头单位可以办理此案件，配合单位可查看和留言", code="not_lead_unit")
        raise Forbidden()
    if case.status not in transition.sources:
        raise Conflict(
            f"案件当前状态为“{STATUS_NAMES[case.status]}”，不能执行此操作",
            code="invalid_transition",
        )
    event = CaseEvent(
        type=transition.event,
        at=utcnow(),
        actor_kind=actor.kind,
        staff_id=actor.staff_id,
        unit_id=actor.unit_id,
        from_status=case.status,
        to_status=transition.target,
        note=note,
        data=data or {},
    )
    case.status = transition.target
    case.events.append(event)
    return event


def record_submission(case: Case, actor: Actor) -> None:
    case.events.append(CaseEvent(type=EventType.SUBMITTED, at=utcnow(), actor_kind=actor.kind, note="", data={}))


def _assign(case: Case, unit: Unit, co_units: list[Unit], now: datetime) -> None:
    case.unit_id = unit.id
    case.unit = unit
    case.co_units = [u for u in co_units if u.id != unit.id]
    case.deadline_at = deadlines.due_at(case.category, now)


def _unassign(case: Case) -> None:
    case.unit_id = None
    case.unit = None
    case.co_units = []
    case.deadline_at = None


def route(
    case: Case, unit: Unit, co_units: list[Unit], region_id: int | None, rule_id: int | None, reason: str
) -> Case:
    """自动派遣: the routing job assigns the unit the rules picked, and the co-units."""
    data = {"rule_id": rule_id, "reason": reason, "co_unit_ids": [u.id for u in co_units]}
    event = _apply(case, "route", Actor.system(), note=f"已派遣至{unit.name}", data=data)
    event.unit_id = unit.id
    _assign(case, unit, co_units, event.at)
    case.region_id = region_id
    case.routing_rule_id = rule_id
    case.routing_status = RoutingStatus.ROUTED
    db.session.flush()
    return case


def mark_unrouted(case: Case, reason: str) -> Case:
    """No rule matched: the case waits in the dispatcher's queue."""
    case.routing_status = RoutingStatus.UNMATCHED
    case.events.append(
        CaseEvent(type=EventType.ROUTING_UNMATCHED, at=utcnow(), actor_kind=ActorKind.SYSTEM, note=reason, data={})
    )
    db.session.flush()
    return case


def dispatch(case: Case, unit: Unit, actor: Actor, co_units: list[Unit] = ()) -> Case:
    """派遣 by hand, optionally with co-units."""
    if not unit.active or any(not u.active for u in co_units):
        raise ValidationFailed("该单位已停用", fields={"unit_id": ["该单位已停用"]})
    data = {"unit_id": unit.id, "co_unit_ids": [u.id for u in co_units]}
    event = _apply(case, "dispatch", actor, note=f"已派遣至{unit.name}", data=data)
    event.unit_id = unit.id
    _assign(case, unit, list(co_units), event.at)
    case.routing_status = RoutingStatus.MANUAL
    db.session.flush()
    return case


def accept(case: Case, actor: Actor) -> Case:
    """签收."""
    _apply(case, "accept", actor, note="已签收，正在处置")
    db.session.flush()
    return case


def return_case(case: Case, actor: Actor, reason: str) -> Case:
    """退单: not this unit's responsibility. Routing tries the next candidate that has not returned
    it; when none is left the case waits for manual dispatch."""
    _apply(case, "return", actor, note=reason, data={"unit_id": case.unit_id})
    _unassign(case)
    case.routing_status = RoutingStatus.QUEUED
    db.session.flush()
    enqueue_after_commit(db.session, route_case_job(case.id))
    return case


def recall(case: Case, reason: str) -> Case:
    """The assigned unit was deactivated: the case goes back to the dispatcher's queue."""
    _apply(case, "recall", Actor.system(), note=reason, data={"unit_id": case.unit_id})
    _unassign(case)
    case.routing_status = RoutingStatus.MANUAL
    db.session.flush()
    return case


def comment(case: Case, actor: Actor, content: str) -> Case:
    """A note from the lead unit, a co-unit or a dispatcher; internal, the status does not change."""
    case.events.append(
        CaseEvent(
            type=EventType.COMMENTED,
            at=utcnow(),
            actor_kind=actor.kind,
            staff_id=actor.staff_id,
            unit_id=actor.unit_id,
            note=content,
            data={},
        )
    )
    case.updated_at = utcnow()
    db.session.flush()
    return case


def reply(case: Case, actor: Actor, content: str, photo_ids: list[int]) -> Case:
    """反馈: the unit reports what it did, with after-photos it uploaded."""
    after_photos = photos.claimable(photo_ids, actor)
    event = _apply(case, "reply", actor, note=content)
    db.session.flush()
    photos.attach(after_photos, event_id=event.id)
    return case


def close(case: Case, actor: Actor, note: str = "") -> Case:
    """结案 after verification (核查)."""
    _apply(case, "close", actor, note=note or "已办结")
    case.closed_at = utcnow()
    case.needs_review = False
    db.session.flush()
    return case


def rework(case: Case, actor: Actor, reason: str) -> Case:
    """返工: verification failed; the unit handles it again."""
    event = _apply(case, "rework", actor, note=reason)
    case.deadline_at = deadlines.due_at(case.category, event.at)
    case.needs_review = False
    db.session.flush()
    return case


def reject(case: Case, actor: Actor, reason: str) -> Case:
    """不予受理: not a valid report."""
    _apply(case, "reject", actor, note=reason)
    case.closed_at = utcnow()
    case.deadline_at = None
    db.session.flush()
    return case


def rate(case: Case, actor: Actor, rating: Rating, comment: str) -> Case:
    """评价. satisfied/basic closes a replied case; unsatisfied flags it for the dispatcher."""
    if not _is_reporter(actor, case):
        raise Forbidden()
    if case.status not in (S.REPLIED, S.CLOSED):
        raise Conflict("案件办理完成后才能评价", code="invalid_transition")
    if case.rating is not None:
        raise Conflict("已经评价过了", code="already_rated")
    now = utcnow()
    case.rating = rating
    case.rating_comment = comment
    case.rated_at = now
    case.events.append(
        CaseEvent(
            type=EventType.RATED, at=now, actor_kind=ActorKind.CITIZEN, note=comment, data={"rating": rating.value}
        )
    )
    if rating == Rating.UNSATISFIED:
        case.needs_review = case.status == S.REPLIED
    elif case.status == S.REPLIED:
        _apply(case, "close_by_rating", actor, note="市民评价后办结")
        case.closed_at = now
    db.session.flush()
    return case
