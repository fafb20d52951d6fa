"""受理: a citizen's report comes in, is committed, then routed by a worker."""

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from backend.errors import ValidationFailed
from backend.extensions import db
from backend.models import Case, Category
from backend.services import cases, geo, photos, workflow
from backend.services.actors import Actor
from workers.queues import enqueue_after_commit, route_case_job


def submit_report(actor: Actor, payload: dict, idempotency_key: str | None) -> tuple[Case, bool]:
    """Create the case, or return the one this Idempotency-Key already created.

    Returns (case, created), either ready for the citizen's view without another read: a new case carries its
    category, photos and timeline as written, a replayed one is loaded with them. Concurrent retries with one key
    meet at the unique constraint on (reporter_id, idempotency_key), or at the photos the winner has just
    attached: one insert wins, the others read the winner's case.
    """
    if idempotency_key:
        existing = cases.by_idempotency_key(actor.user_id, idempotency_key)
        if existing is not None:
            return existing, False
    try:
        return _create(actor, payload, idempotency_key), True
    except (IntegrityError, ValidationFailed):
        if not idempotency_key:
            raise
        db.session.rollback()
        existing = cases.by_idempotency_key(actor.user_id, idempotency_key)
        if existing is None:
            raise
        return existing, False


def _create(actor: Actor, payload: dict, idempotency_key: str | None) -> Case:
    category = db.session.scalar(
        db.select(Category).where(Category.code == payload["category"], Category.active.is_(True))
    )
    if category is None:
        raise ValidationFailed(fields={"category": ["不支持的问题类型"]})

    location = payload["location"]
    wgs84_lat, wgs84_lng = geo.to_wgs84(location["lat"], location["lng"], location["coord"])
    case = Case(
        reporter_id=actor.user_id,
        idempotency_key=idempotency_key,
        category=category,
        description=payload.get("description", ""),
        lat=location["lat"],
        lng=location["lng"],
        coord=location["coord"],
        wgs84_lat=wgs84_lat,
        wgs84_lng=wgs84_lng,
        address=payload.get("address", ""),
    )
    workflow.record_submission(case, actor)
    db.session.add(case)
    db.session.flush()
    # checks and attaches the photos in one statement; the answer shows them and the timeline as written
    set_committed_value(case, "photos", photos.claim(payload["photo_ids"], actor, case_id=case.id))
    for event in case.events:
        set_committed_value(event, "photos", [])
    enqueue_after_commit(db.session, route_case_job(case.id))
    return case
