"""Photos: accept an upload, make the derived copies, sign the URLs that serve them."""

import contextlib
import hashlib
import hmac
import io
import logging
import time
import uuid
from collections.abc import Iterator

from flask import current_app, url_for
from redis.exceptions import RedisError
from werkzeug.datastructures import FileStorage

from backend.errors import NotFound, PayloadTooLarge, ServiceUnavailable, UploadRejected, ValidationFailed
from backend.extensions import db, redis_store
from backend.models import ActorKind, Photo, PhotoStatus
from backend.models.types import utcnow
from backend.services.actors import Actor
from backend.services.media import images, uploads
from backend.storage import get_storage
from workers.queues import enqueue_after_commit, enqueue_unique, process_photo_job

log = logging.getLogger(__name__)

VARIANTS = ("display", "thumb")
PROCESSING_RETRY_AFTER_SECONDS = 2  # the worker makes both copies of a 12 MP photo in well under a second
EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "HEIF": "heic"}  # by images.inspect format


def _read_limited(upload: FileStorage, limit: int) -> bytes:
    stream = upload.stream
    # backend.request parses uploads into memory: take those bytes as they are instead of copying them
    data = stream.getvalue() if isinstance(stream, io.BytesIO) and stream.tell() == 0 else stream.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge()
    return data


def accept_upload(upload: FileStorage | None, uploader: Actor) -> Photo:
    """Check headers and structure (no pixel is decoded here) and store the private original.

    The worker decodes it, makes the copies, or marks the photo failed if the data turns out damaged.
    """
    photo = store_original(upload, uploader, within_quota=True)
    with discarded_on_failure([photo]):
        db.session.add(photo)
        db.session.flush()
    enqueue_after_commit(db.session, process_photo_job(photo.id))
    return photo


def store_original(upload: FileStorage | None, uploader: Actor, *, within_quota: bool) -> Photo:
    """The checks of an upload and the stored original, as a Photo not yet in the session.

    within_quota: count it against the uploader's unattached bytes (an upload a report takes at once does not).
    The caller adds the photo and enqueues its job, or calls `discard` if its transaction does not commit.
    """
    if upload is None or (not upload.filename and not upload.content_length):
        raise ValidationFailed("请选择要上传的图片", fields={"file": ["缺少文件字段 file"]})
    config = current_app.config
    data = _read_limited(upload, config["MAX_PHOTO_BYTES"])
    if not data:
        raise UploadRejected("图片是空的，请重新选择", code="empty_file")
    if within_quota:
        uploads.ensure_quota(uploader, len(data))
    try:
        info = images.inspect(data, config["MAX_PHOTO_PIXELS"], config["MAX_PHOTO_SIDE"])
    except images.BadImage as exc:
        current_app.logger.info("upload rejected: %s", exc)
        raise UploadRejected() from exc

    now = utcnow()
    key = f"originals/{now:%Y/%m}/{uuid.uuid4().hex}.{EXTENSIONS[info.format]}"
    get_storage().save(key, data)
    return Photo(
        uploader_user_id=uploader.user_id if uploader.kind == ActorKind.CITIZEN else None,
        uploader_staff_id=uploader.staff_id if uploader.kind == ActorKind.STAFF else None,
        format=info.format,
        byte_size=len(data),
        width=info.width,
        height=info.height,
        sha256=hashlib.sha256(data).hexdigest(),
        taken_at=info.taken_at,
        original_key=key,
        created_at=now,
    )


def discard(photo: Photo) -> None:
    """Delete the stored original of a photo whose transaction was rolled back (nothing else refers to it)."""
    get_storage().delete(photo.original_key)


@contextlib.contextmanager
def discarded_on_failure(stored: list[Photo]) -> Iterator[list[Photo]]:
    """If the block fails, its transaction is rolled back and the originals of `stored` (photos it stored, or
    appends as it stores them) are deleted, even if the rollback itself fails (a database gone): their rows
    never were, so neither the quota nor the purge would ever see the files. The error goes on.

    A failure of the caller's later COMMIT is not covered, on purpose: its outcome can be unknown (connection
    lost after the server committed), and an orphaned file costs disk where a deleted one would lose a photo.
    """
    try:
        yield stored
    except BaseException:
        try:
            db.session.rollback()
        finally:
            for photo in stored:
                discard(photo)
        raise


def process(photo_id: int) -> Photo | None:
    """Make the display copy and thumbnail (worker only). Idempotent: a photo already done is left alone."""
    photo = db.session.get(Photo, photo_id)
    if photo is None:
        return None
    storage = get_storage()
    if photo.status == PhotoStatus.READY and storage.exists(photo.display_key) and storage.exists(photo.thumb_key):
        return photo
    config = current_app.config
    try:
        rendered = images.render(
            storage.read(photo.original_key),
            config["PHOTO_DISPLAY_MAX_PX"],
            config["PHOTO_THUMB_MAX_PX"],
            config["MAX_PHOTO_PIXELS"],
            config["MAX_PHOTO_SIDE"],
        )
    except images.BadImage as exc:
        current_app.logger.warning("photo %s could not be rendered: %s", photo_id, exc)
        photo.status = PhotoStatus.FAILED
        db.session.flush()
        return photo
    photo.display_key = f"display/{photo.id}.jpg"
    photo.thumb_key = f"thumbs/{photo.id}.jpg"
    storage.save(photo.display_key, rendered.display)
    storage.save(photo.thumb_key, rendered.thumb)
    photo.phash = rendered.phash
    photo.status = PhotoStatus.READY
    photo.processed_at = utcnow()
    db.session.flush()
    return photo


def _signature(photo_id: int, variant: str, expires: int) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    message = f"photo:{photo_id}:{variant}:{expires}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def signed_url(photo: Photo, variant: str) -> str:
    ttl = current_app.config["PHOTO_URL_TTL"]
    # Expiry rounded to the hour so repeated reads give the same URL and the client can cache it.
    expires = (int(time.time()) // 3600 + 1) * 3600 + ttl
    # The query string is written here, not by url_for: both values are URL-safe, and a list of 50 cases signs
    # about 100 URLs per request.
    path = url_for("media.photo", photo_id=photo.id, variant=variant, _external=True)
    return f"{path}?expires={expires}&sig={_signature(photo.id, variant, expires)}"


def file_for_signed_request(photo_id: int, variant: str, expires: str, sig: str) -> str:
    """The storage path of a variant, if the signature is valid and unexpired; otherwise NotFound.

    Never renders (images are decoded in workers only). A display copy not made yet is answered with the
    thumbnail if that exists; with neither, a 503 ``photo_processing`` with Retry-After, after making sure
    the photo's job is enqueued (idempotent: a job already waiting or running is left alone).
    """
    if variant not in VARIANTS or not (expires.isascii() and expires.isdigit()):
        raise NotFound()
    if int(expires) < time.time() or not hmac.compare_digest(_signature(photo_id, variant, int(expires)), sig):
        raise NotFound("链接已失效", code="link_expired")
    photo = db.session.get(Photo, photo_id)
    if photo is None:
        raise NotFound()
    if photo.status == PhotoStatus.FAILED:
        raise NotFound("图片无法显示", code="photo_unavailable")
    storage = get_storage()
    candidates = (photo.display_key, photo.thumb_key) if variant == "display" else (photo.thumb_key,)
    found = next((key for key in candidates if storage.exists(key)), None)
    if found is None or found != candidates[0]:  # not made yet, or lost from storage: the worker (re)makes it
        _request_processing(photo.id)
    if found is None:
        raise ServiceUnavailable(
            "图片正在处理，请稍后再试", code="photo_processing", retry_after=PROCESSING_RETRY_AFTER_SECONDS
        )
    return str(storage.path(found))


def _request_processing(photo_id: int) -> None:
    try:
        enqueue_unique(redis_store.client, process_photo_job(photo_id))
    except RedisError:
        log.warning("redis unavailable; photo %s left for the sweep", photo_id, exc_info=True)


def _owned_by(photo: Photo, uploader: Actor) -> bool:
    if uploader.kind == ActorKind.CITIZEN:
        return photo.uploader_user_id == uploader.user_id
    return photo.uploader_staff_id == uploader.staff_id


def _problems(
    unique_ids: list[int], by_id: dict[int, Photo], uploader: Actor, taken: frozenset[int] = frozenset()
) -> list:
    """Why photos cannot be attached; `taken`: ids this transaction has just attached itself."""
    problems = []
    for photo_id in unique_ids:
        photo = by_id.get(photo_id)
        if photo is None or not _owned_by(photo, uploader):
            problems.append(f"图片 {photo_id} 不存在")
        elif photo.attached and photo_id not in taken:
            problems.append(f"图片 {photo_id} 已被使用")
        elif photo.status == PhotoStatus.FAILED:
            problems.append(f"图片 {photo_id} 无法处理，请重新上传")
    return problems


def claim(
    photo_ids: list[int], uploader: Actor, *, case_id: int | None = None, event_id: int | None = None
) -> list[Photo]:
    """Check and attach the uploader's photos to a case (a report's) or an event (a reply's after-photos) in one
    guarded UPDATE … RETURNING; ordered by id.

    Only photos of this uploader, attached to nothing and not failed, are taken, so two submissions racing for
    one photo cannot both win. If any is refused, a read explains why (the caller's transaction is then rolled
    back by the error).
    """
    unique_ids = list(dict.fromkeys(photo_ids))
    if not unique_ids:
        return []
    claimed = db.session.scalars(
        db.update(Photo)
        .where(
            Photo.id.in_(unique_ids),
            uploads.uploaded_by(uploader),
            uploads.unattached(),
            Photo.status != PhotoStatus.FAILED,
        )
        .values(case_id=case_id, event_id=event_id)
        .returning(Photo)
        .execution_options(synchronize_session=False)
    ).all()
    if len(claimed) == len(unique_ids):
        return sorted(claimed, key=lambda photo: photo.id)
    taken = frozenset(photo.id for photo in claimed)
    by_id = {photo.id: photo for photo in db.session.scalars(db.select(Photo).where(Photo.id.in_(unique_ids)))}
    raise ValidationFailed(fields={"photo_ids": _problems(unique_ids, by_id, uploader, taken) or ["图片已被使用"]})
