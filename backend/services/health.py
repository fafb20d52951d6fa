"""What an operator checks first: is the database up, is Redis up, are workers draining the queues."""

from redis.exceptions import RedisError
from rq import Queue
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from sqlalchemy.exc import SQLAlchemyError

from backend.extensions import db, redis_store
from backend.models import Case, CaseStatus, Photo, PhotoStatus, RoutingStatus
from backend.services import recovery
from workers.queues import ALL_QUEUES, live_worker_count


def report() -> dict:
    result: dict = {"database": "ok", "redis": "ok", "queues": {}, "workers": 0, "backlog": {}}
    try:
        result["backlog"] = {
            "cases_waiting_for_routing": db.session.scalar(
                db.select(db.func.count(Case.id)).where(
                    Case.status == CaseStatus.PENDING, Case.routing_status == RoutingStatus.QUEUED
                )
            ),
            "cases_waiting_for_manual_dispatch": db.session.scalar(
                db.select(db.func.count(Case.id)).where(
                    Case.status == CaseStatus.PENDING, Case.routing_status != RoutingStatus.QUEUED
                )
            ),
            "photos_waiting_for_processing": db.session.scalar(
                db.select(db.func.count(Photo.id)).where(Photo.status == PhotoStatus.RECEIVED)
            ),
        }
        result["over_attempt_cap"] = recovery.over_attempt_cap()
    except SQLAlchemyError:
        db.session.rollback()
        result["database"] = "unavailable"
    try:
        connection = redis_store.client
        for name in ALL_QUEUES:
            result["queues"][name] = {
                "queued": Queue(name, connection=connection).count,
                "started": StartedJobRegistry(name, connection=connection).count,
                "scheduled": ScheduledJobRegistry(name, connection=connection).count,
                "failed": FailedJobRegistry(name, connection=connection).count,
            }
        result["workers"] = live_worker_count(connection)
    except RedisError:
        result["redis"] = "unavailable"
    return result
