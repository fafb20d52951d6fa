"""Uploads as wx.uploadFile sends them; hostile files get a clear 4xx and leave nothing behind."""

import io
import struct
import zlib
from urllib.parse import urlsplit

import pytest
from PIL import Image

from tests.helpers import jpeg_bytes, png_bytes


def _photo_count(app) -> int:
    with app.app_context():
        from backend.extensions import db
        from backend.models import Photo

        return db.session.scalar(db.select(db.func.count(Photo.id)))


def _huge_png(width: int, height: int) -> bytes:
    """A tiny file declaring a huge image: a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1024))
        + chunk(b"IEND", b"")
    )


def test_upload_returns_displayed_size_and_signed_urls(api):
    citizen = api.login_citizen()
    response = api.upload(citizen, jpeg_bytes(640, 480, orientation=6, gps=True))
    assert response.status_code == 201
    body = response.json
    assert (body["width"], body["height"]) == (480, 640)  # EXIF orientation 6 is a quarter turn
    assert "sig=" in body["url"] and "expires=" in body["thumb_url"]


def test_display_copy_is_upright_small_and_without_exif(api, run_jobs):
    citizen = api.login_citizen()
    body = api.upload(citizen, jpeg_bytes(3000, 2000, orientation=6, gps=True)).json
    run_jobs()
    display = Image.open(io.BytesIO(api.client.get(_local(body["url"])).data))
    thumb = Image.open(io.BytesIO(api.client.get(_local(body["thumb_url"])).data))
    assert display.height > display.width and max(display.size) <= 2048
    assert max(thumb.size) <= 360
    for image in (display, thumb):
        assert dict(image.getexif()) == {}
        assert "exif" not in image.info


def test_urls_work_before_the_worker_has_run(api):
    citizen = api.login_citizen()
    body = api.upload(citizen, jpeg_bytes()).json
    response = api.client.get(_local(body["thumb_url"]))
    assert response.status_code == 200 and response.mimetype == "image/jpeg"


def test_png_with_transparency_is_accepted(api, run_jobs):
    citizen = api.login_citizen()
    response = api.upload(citizen, png_bytes(), filename="a.png", content_type="image/png")
    assert response.status_code == 201
    run_jobs()
    assert api.client.get(_local(response.json["url"])).status_code == 200


def test_staff_can_upload_reply_photos(api):
    unit = api.login_staff("dahezhonglu")
    assert api.upload(unit, jpeg_bytes()).status_code == 201


def _local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _truncated_jpeg() -> bytes:
    data = jpeg_bytes(800, 600, quality=95)
    return data[: len(data) // 2]


def _gif() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, "GIF")
    return out.getvalue()


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"hello, this is not an image", "invalid_image"),
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj", "invalid_image"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 100, "invalid_image"),  # a JPEG header and nothing else
        (_truncated_jpeg(), "invalid_image"),
        (_huge_png(50_000, 50_000), "invalid_image"),
        (_huge_png(0, 10), "invalid_image"),
        (_gif(), "invalid_image"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "invalid_image"),
        (b"", "empty_file"),
    ],
    ids=["text", "pdf", "header-only", "truncated", "bomb", "zero-width", "gif", "svg", "empty"],
)
def test_hostile_uploads_are_rejected_cleanly(api, app, payload, code):
    citizen = api.login_citizen()
    response = api.upload(citizen, payload)
    assert response.status_code == 400, response.json
    assert response.json["error"]["code"] == code
    assert response.json["error"]["message"]
    assert _photo_count(app) == 0


def test_oversized_upload_is_413(api, app):
    citizen = api.login_citizen()
    big = jpeg_bytes(64, 64) + b"\0" * (20 * 1024 * 1024)
    response = api.upload(citizen, big)
    assert response.status_code == 413
    assert response.json["error"]["code"] == "file_too_large"
    assert _photo_count(app) == 0


def test_a_request_body_far_over_the_limit_is_413(api):
    citizen = api.login_citizen()
    response = api.client.post(
        "/api/v1/photos",
        headers={**api.auth(citizen), "Content-Type": "multipart/form-data; boundary=x"},
        data=b"x" * (21 * 1024 * 1024),
    )
    assert response.status_code == 413 and response.is_json


def test_missing_file_field(api):
    citizen = api.login_citizen()
    response = api.client.post(
        "/api/v1/photos",
        headers=api.auth(citizen),
        data={"image": (io.BytesIO(jpeg_bytes()), "a.jpg")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422 and "file" in response.json["error"]["fields"]
    json_body = api.post("/api/v1/photos", citizen, json={"file": "abc"})
    assert json_body.status_code == 422


def test_upload_needs_login(api):
    response = api.client.post(
        "/api/v1/photos", data={"file": (io.BytesIO(jpeg_bytes()), "a.jpg")}, content_type="multipart/form-data"
    )
    assert response.status_code == 401


def test_photo_job_is_idempotent(api, app, run_jobs, media_root):
    citizen = api.login_citizen()
    photo_id = api.upload_ok(citizen)
    run_jobs()
    display = media_root / "display" / f"{photo_id}.jpg"
    first = display.stat().st_mtime_ns
    with app.app_context():
        from workers.jobs.photos import process_photo

        assert process_photo(photo_id) == "ready"
    assert display.stat().st_mtime_ns == first
