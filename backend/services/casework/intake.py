"""受理: a citizen's report comes in, is committed, then routed by a worker."""

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from werkzeug.datastructures import FileStorage

from backend.errors import ValidationFailed
from backend.extensions import db
from backend.models import Case, Category, Photo
from backend.services.actors import Actor
from backend.services.casework import cases, workflow
from backend.services.media import photos
from backend.services.responsibility import geo
from workers.queues import enqueue_after_commit, process_photo_job, route_case_job


def submit_report(
    actor: Actor, payload: dict, idempotency_key: str | None, upload: FileStorage | None = None
) -> tuple[Case, bool]:
    """Create the case, or return the one this Idempotency-Key already created.

    Returns (case, created), either ready for the citizen's view without another read: a new case carries its
    category, photos and timeline as written, a replayed one is loaded with them. Concurrent retries with one key
    meet at the unique constraint on (reporter_id, idempotency_key), or at the photos the winner has just
    attached: one insert wins, the others read the winner's case.

    upload: a photo sent with the report in the same request (one wx.uploadFile call); it is checked and stored
    like POST /photos and attached by the same transaction. A replay stores nothing; a failure here deletes the
    file again (photos.discarded_on_failure).
    """
    if idempotency_key:
        existing = cases.by_idempotency_key(actor.user_id, idempotency_key)
        if existing is not None:
            return existing, False
    new_photo = photos.store_original(upload, actor, within_quota=False) if upload is not None else None
    try:
        with photos.discarded_on_failure([new_photo] if new_photo else []):
            return _create(actor, payload, idempotency_key, new_photo), True
    except BaseException as exc:
        if not idempotency_key or not isinstance(exc, (IntegrityError, ValidationFailed)):
            raise
        existing = cases.by_idempotency_key(actor.user_id, idempotency_key)
        if existing is None:
            raise
        return existing, False


def _create(actor: Actor, payload: dict, idempotency_key: str | None, new_photo: Photo | None) -> Case:
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
    if new_photo is not None:
        new_photo.case = case
        db.session.add(new_photo)
    db.session.flush()
    # checks and attaches the photos in one statement; the answer shows them and the timeline as written
    attached = photos.claim(payload["photo_ids"], actor, case_id=case.id)
    if new_photo is not None:
        enqueue_after_commit(db.session, process_photo_job(new_photo.id))
        attached = sorted([*attached, new_photo], key=lambda photo: photo.id)
    set_committed_value(case, "photos", attached)
    for event in case.events:
        set_committed_value(event, "photos", [])
    enqueue_after_commit(db.session, route_case_job(case.id))
    return case
