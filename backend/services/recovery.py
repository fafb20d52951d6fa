"""The sweep: anything committed but never picked up (Redis was down, a worker died) is enqueued again."""

from datetime import timedelta

from flask import current_app

from backend.extensions import db, redis_store
from backend.models import Case, CaseStatus, Photo, PhotoStatus, RoutingStatus
from backend.models.types import utcnow
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
    connection = redis_store.client
    requeued_cases = sum(enqueue_unique(connection, route_case_job(i)) is not None for i in case_ids)
    requeued_photos = sum(enqueue_unique(connection, process_photo_job(i)) is not None for i in photo_ids)
    return {"cases": requeued_cases, "photos": requeued_photos}
