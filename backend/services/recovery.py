"""The sweep: anything committed but never done (Redis was down or wiped, a worker died) gets its job again:
reports waiting for routing, photos waiting for their copies, notifications waiting for delivery, payout
items waiting for their transfer, closed cases waiting for their reward check.

The database says what is not done; Redis only says whether a job for it is really alive (in a queue's
list, scheduled for a retry, or running in a live worker). Whatever a job's hash claims otherwise, the job
is made anew. Each re-creation counts as an attempt of that object; past SWEEP_MAX_ATTEMPTS the sweep
stops, `GET /admin/health` lists the object and a dispatcher can retry it.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute

from backend.errors import Conflict, NotFound, ServiceUnavailable
from backend.extensions import db, redis_store
from backend.models import (
    Case,
    CaseStatus,
    Category,
    DeliveryStatus,
    JobAttempt,
    Notification,
    PayoutBatch,
    PayoutItem,
    PayoutItemStatus,
    PayoutMethod,
    Photo,
    PhotoStatus,
    RewardClaim,
    RewardRule,
    RoutingStatus,
)
from backend.models.types import utcnow
from backend.services.notifications.notify import deliver_job
from backend.services.rewards.claims import reward_claim_job
from backend.services.rewards.payouts import send_job
from workers.queues import JobRequest, live_job_ids, process_photo_job, recreate, route_case_job

PAGE = 500  # objects per query; a pass pages through every one of them
STUCK_LISTED = 100  # objects over the cap shown by the health report


@dataclass(frozen=True)
class SweptKind:
    name: str  # stable, in job_attempts.kind and the retry URL
    result_key: str  # in the sweep's summary
    id_column: InstrumentedAttribute
    not_done: Callable[[datetime], object]  # cutoff → a select of the ids whose work is not done
    job: Callable[[int], JobRequest]


def _cases_to_route(cutoff: datetime):
    return db.select(Case.id).where(
        Case.status == CaseStatus.PENDING, Case.routing_status == RoutingStatus.QUEUED, Case.created_at <= cutoff
    )


def _photos_to_process(cutoff: datetime):
    return db.select(Photo.id).where(Photo.status == PhotoStatus.RECEIVED, Photo.created_at <= cutoff)


def _notifications_to_deliver(cutoff: datetime):
    # pending notifications whose retry time has passed (or that never got a job)
    return db.select(Notification.id).where(
        Notification.status == DeliveryStatus.PENDING,
        Notification.created_at <= cutoff,
        db.or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= utcnow()),
    )


def _payout_items_to_send(cutoff: datetime):
    return (
        db.select(PayoutItem.id)
        .join(PayoutItem.batch)
        .where(
            PayoutItem.status == PayoutItemStatus.PENDING,
            PayoutBatch.method == PayoutMethod.WECHAT,
            PayoutBatch.created_at <= cutoff,
        )
    )


def _reward_checks_to_run(cutoff: datetime):
    # closed cases whose reward check never ran, or ran before a rule last changed (a rule created or
    # activated within 2 days after a close still rewards that report); a check is done otherwise, with or
    # without a claim, so a case no rule in force covers is checked once, not on every sweep
    active_rules = db.select(RewardRule.category_id).where(RewardRule.active.is_(True))
    sub_categories = db.select(Category.id).where(Category.parent_id.in_(active_rules))
    rules_changed_at = db.select(db.func.max(RewardRule.updated_at)).where(RewardRule.active.is_(True))
    return db.select(Case.id).where(
        Case.status == CaseStatus.CLOSED,
        db.or_(Case.reward_checked_at.is_(None), Case.reward_checked_at < rules_changed_at.scalar_subquery()),
        Case.closed_at.between(utcnow() - timedelta(days=2), cutoff),
        # only categories with a reward rule (their own or their parent's) can have a claim
        db.or_(Case.category_id.in_(active_rules), Case.category_id.in_(sub_categories)),
        ~db.exists().where(RewardClaim.case_id == Case.id),
    )


KINDS = {
    kind.name: kind
    for kind in (
        SweptKind("route_case", "cases", Case.id, _cases_to_route, route_case_job),
        SweptKind("process_photo", "photos", Photo.id, _photos_to_process, process_photo_job),
        SweptKind("deliver_notification", "notifications", Notification.id, _notifications_to_deliver, deliver_job),
        SweptKind("send_payout_item", "payouts", PayoutItem.id, _payout_items_to_send, send_job),
        SweptKind("reward_check", "reward_checks", Case.id, _reward_checks_to_run, reward_claim_job),
    )
}


def sweep_stuck() -> dict:
    """One pass over every kind, paging through all that is not done (not the first N of them)."""
    cutoff = utcnow() - timedelta(seconds=current_app.config["SWEEP_GRACE_SECONDS"])
    cap = current_app.config["SWEEP_MAX_ATTEMPTS"]
    connection = redis_store.client
    result: dict = {"over_attempt_cap": 0}
    for kind in KINDS.values():
        live = live_job_ids(connection)  # fresh per kind: a pass over a big backlog takes a while
        requeued = 0
        after = 0
        while True:
            ids = db.session.scalars(
                kind.not_done(cutoff).where(kind.id_column > after).order_by(kind.id_column).limit(PAGE)
            ).all()
            if not ids:
                break
            after = ids[-1]
            attempts = dict(
                db.session.execute(
                    db.select(JobAttempt.object_id, JobAttempt.attempts).where(
                        JobAttempt.kind == kind.name, JobAttempt.object_id.in_(ids)
                    )
                ).all()
            )
            enqueued = []
            for object_id in ids:
                request = kind.job(object_id)
                if request.job_id in live:
                    continue
                if attempts.get(object_id, 0) >= cap:
                    result["over_attempt_cap"] += 1
                    continue
                if recreate(connection, request, live) is not None:
                    enqueued.append(object_id)
            _count_attempts(kind.name, enqueued)
            db.session.commit()
            requeued += len(enqueued)
        result[kind.result_key] = requeued
    return result


def _count_attempts(kind: str, object_ids: list[int]) -> None:
    if not object_ids:
        return
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    now = utcnow()
    statement = dialect.insert(JobAttempt).values(
        [{"kind": kind, "object_id": i, "attempts": 1, "last_attempt_at": now} for i in object_ids]
    )
    statement = statement.on_conflict_do_update(
        index_elements=[JobAttempt.kind, JobAttempt.object_id],
        set_={"attempts": JobAttempt.attempts + 1, "last_attempt_at": statement.excluded.last_attempt_at},
    )
    db.session.execute(statement)


def over_attempt_cap() -> dict:
    """What the sweep gave up on: objects still not done whose job it re-created SWEEP_MAX_ATTEMPTS times."""
    cap = current_app.config["SWEEP_MAX_ATTEMPTS"]
    now = utcnow()
    total = 0
    items: list[dict] = []
    for kind in KINDS.values():
        still = kind.not_done(now).where(kind.id_column == JobAttempt.object_id)
        query = db.select(JobAttempt).where(JobAttempt.kind == kind.name, JobAttempt.attempts >= cap, still.exists())
        total += db.session.scalar(db.select(db.func.count()).select_from(query.subquery()))
        for row in db.session.scalars(query.order_by(JobAttempt.object_id).limit(STUCK_LISTED - len(items))):
            items.append(
                {
                    "kind": kind.name,
                    "id": row.object_id,
                    "attempts": row.attempts,
                    "last_attempt_at": row.last_attempt_at.isoformat(),
                }
            )
    return {"count": total, "items": items}


def retry(kind_name: str, object_id: int) -> dict:
    """A dispatcher's "try again": the attempt count starts over and the job is made anew."""
    kind = KINDS.get(kind_name)
    if kind is None:
        raise NotFound("没有这种后台任务", "job_kind_not_found")
    if db.session.scalar(kind.not_done(utcnow()).where(kind.id_column == object_id)) is None:
        raise Conflict("该任务已完成或对象不存在，无需重试", "not_stuck")
    db.session.execute(db.delete(JobAttempt).where(JobAttempt.kind == kind.name, JobAttempt.object_id == object_id))
    db.session.commit()
    request = kind.job(object_id)
    try:
        connection = redis_store.client
        recreate(connection, request, live_job_ids(connection))
    except RedisError as exc:  # the count starts over anyway: the next sweep makes the job
        raise ServiceUnavailable("任务队列暂不可用，稍后会自动重试") from exc
    return {"kind": kind.name, "id": object_id, "job_id": request.job_id, "queued": True}
