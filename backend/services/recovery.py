"""The sweep: anything committed but never picked up (Redis was down, a worker died) is enqueued again:
reports waiting for routing, photos waiting for their copies, notifications waiting for delivery."""

from datetime import timedelta

from flask import current_app

from backend.extensions import db, redis_store
from backend.models import (
    Case,
    CaseStatus,
    Category,
    DeliveryStatus,
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
from backend.services.notify import deliver_job
from backend.services.payouts import send_job
from backend.services.rewards import reward_claim_job
from workers.queues import enqueue_unique, process_photo_job, route_case_job

BATCH = 500


def sweep_stuck() -> dict:
    cutoff = utcnow() - timedelta(seconds=current_app.config["SWEEP_GRACE_SECONDS"])
    case_ids = db.session.scalars(
        db.select(Case.id)
        .where(
            Case.status == CaseStatus.PENDING,
            Case.routing_status == RoutingStatus.QUEUED,
            Case.created_at <= cutoff,
        )
        .order_by(Case.id)
        .limit(BATCH)
    ).all()
    photo_ids = db.session.scalars(
        db.select(Photo.id)
        .where(Photo.status == PhotoStatus.RECEIVED, Photo.created_at <= cutoff)
        .order_by(Photo.id)
        .limit(BATCH)
    ).all()
    # pending notifications whose retry time has passed (or that never got a job)
    notification_ids = db.session.scalars(
        db.select(Notification.id)
        .where(
            Notification.status == DeliveryStatus.PENDING,
            Notification.created_at <= cutoff,
            db.or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= utcnow()),
        )
        .order_by(Notification.id)
        .limit(BATCH)
    ).all()
    payout_item_ids = db.session.scalars(
        db.select(PayoutItem.id)
        .join(PayoutItem.batch)
        .where(
            PayoutItem.status == PayoutItemStatus.PENDING,
            PayoutBatch.method == PayoutMethod.WECHAT,
            PayoutBatch.created_at <= cutoff,
        )
        .order_by(PayoutItem.id)
        .limit(BATCH)
    ).all()
    # closed cases whose reward check never ran (the rewards job takes the rest from there)
    rule_categories = db.select(RewardRule.category_id).where(RewardRule.active.is_(True))
    sub_categories = db.select(Category.id).where(Category.parent_id.in_(rule_categories))
    unconsidered = db.session.scalars(
        db.select(Case.id)
        .where(
            Case.status == CaseStatus.CLOSED,
            Case.closed_at.between(utcnow() - timedelta(days=2), cutoff),
            # only categories with a reward rule (their own or their parent's) can have a claim
            db.or_(Case.category_id.in_(rule_categories), Case.category_id.in_(sub_categories)),
            ~db.exists().where(RewardClaim.case_id == Case.id),
        )
        .order_by(Case.closed_at, Case.id)  # along ix_cases_status_closed (by id, PostgreSQL walks every case)
        .limit(BATCH)
    ).all()
    connection = redis_store.client
    requeued_cases = sum(enqueue_unique(connection, route_case_job(i)) is not None for i in case_ids)
    requeued_photos = sum(enqueue_unique(connection, process_photo_job(i)) is not None for i in photo_ids)
    requeued_notifications = sum(enqueue_unique(connection, deliver_job(i)) is not None for i in notification_ids)
    requeued_payouts = sum(enqueue_unique(connection, send_job(i)) is not None for i in payout_item_ids)
    reward_checks = sum(enqueue_unique(connection, reward_claim_job(i)) is not None for i in unconsidered)
    return {
        "cases": requeued_cases,
        "photos": requeued_photos,
        "notifications": requeued_notifications,
        "payouts": requeued_payouts,
        "reward_checks": reward_checks,
    }
