"""Uploads no report or reply uses (yet): a quota of stored bytes per account, and their expiry.

A photo is uploaded first and attached when the report (or the unit's reply) is submitted; one that is never
attached only costs disk. Each account may keep UNATTACHED_PHOTO_QUOTA_BYTES of them, and a periodic job deletes
those older than UNATTACHED_PHOTO_MAX_AGE_SECONDS (rows and files).
"""

from datetime import timedelta

from flask import current_app
from sqlalchemy import func

from backend.errors import TooManyRequests
from backend.extensions import db
from backend.models import ActorKind, Photo
from backend.models.types import utcnow
from backend.services.actors import Actor
from backend.storage import get_storage

PURGE_BATCH = 500


def unattached():
    return db.and_(Photo.case_id.is_(None), Photo.event_id.is_(None))


def uploaded_by(uploader: Actor):
    if uploader.kind == ActorKind.CITIZEN:
        return Photo.uploader_user_id == uploader.user_id
    return Photo.uploader_staff_id == uploader.staff_id


def ensure_quota(uploader: Actor, new_bytes: int) -> None:
    """Refuse an upload that would take the uploader's unattached photos past the quota."""
    quota = current_app.config["UNATTACHED_PHOTO_QUOTA_BYTES"]
    used, oldest = db.session.execute(
        db.select(func.coalesce(func.sum(Photo.byte_size), 0), func.min(Photo.created_at)).where(
            uploaded_by(uploader), unattached()
        )
    ).one()
    if used + new_bytes <= quota:
        return
    # the oldest unattached upload frees its room when it expires (or sooner, when a report uses it)
    max_age = timedelta(seconds=current_app.config["UNATTACHED_PHOTO_MAX_AGE_SECONDS"])
    wait = (oldest + max_age - utcnow()).total_seconds() if oldest else None
    raise TooManyRequests(
        "未提交的图片太多，请先提交举报，或稍后再上传",
        code="upload_quota_exceeded",
        retry_after=max(wait, 60) if wait is not None else None,
    )


def purge_unattached(now=None) -> int:
    """Delete uploads never attached and older than the maximum age: rows first, then their files.

    Guarded like `photos.claim`: a photo a report takes at the same moment is either attached (and kept) or
    deleted before the report sees it (which then answers 422 for that photo id), never both.
    """
    cutoff = (now or utcnow()) - timedelta(seconds=current_app.config["UNATTACHED_PHOTO_MAX_AGE_SECONDS"])
    storage = get_storage()
    deleted = 0
    while True:
        ids = db.session.scalars(
            db.select(Photo.id)
            .where(unattached(), Photo.created_at < cutoff)
            .order_by(Photo.created_at)
            .limit(PURGE_BATCH)
        ).all()
        if not ids:
            return deleted
        gone = db.session.execute(
            db.delete(Photo)
            .where(Photo.id.in_(ids), unattached(), Photo.created_at < cutoff)
            .returning(Photo.original_key, Photo.display_key, Photo.thumb_key)
            .execution_options(synchronize_session=False)
        ).all()
        db.session.commit()
        for keys in gone:
            for key in keys:
                if key:
                    storage.delete(key)
        deleted += len(gone)
