"""Uploads as wx.uploadFile sends them; hostile files get a clear 4xx and leave nothing behind."""

import io
import struct
import zlib
from urllib.parse import urlsplit

import pytest
from PIL import Image

from backend.services.media import images  # noqa: F401 - registers the HEIF opener and saver used below
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


def _queued_photo_jobs(redis) -> list[str]:
    from rq import Queue

    return Queue("photos", connection=redis).job_ids


def test_photo_url_never_renders_in_the_web_process(api, app, redis, run_jobs, media_root):
    """Was: a URL loaded before the worker ran decoded and resized a 12 MP original on the web request."""
    citizen = api.login_citizen()
    body = api.upload(citizen, jpeg_bytes(4000, 3000)).json
    redis.flushdb()  # the worker is behind, and even lost the job
    for url in (body["url"], body["thumb_url"]):
        response = api.client.get(_local(url))
        assert response.status_code == 503 and response.is_json
        assert response.json["error"]["code"] == "photo_processing"
        assert response.json["error"]["message"]
        assert response.headers["Retry-After"] == "2"
    assert not (media_root / "display").exists() and not (media_root / "thumbs").exists()
    with app.app_context():
        from backend.extensions import db
        from backend.models import Photo

        assert db.session.get(Photo, body["id"]).status == "received"
    assert _queued_photo_jobs(redis) == [f"process-photo-{body['id']}"]  # asked again, once
    run_jobs()
    response = api.client.get(_local(body["url"]))
    assert response.status_code == 200 and response.mimetype == "image/jpeg"


def test_display_url_serves_the_thumbnail_while_the_display_copy_is_missing(api, redis, run_jobs, media_root):
    citizen = api.login_citizen()
    body = api.upload(citizen, jpeg_bytes(1200, 900)).json
    run_jobs()
    display = media_root / "display" / f"{body['id']}.jpg"
    display.unlink()  # lost from storage
    response = api.client.get(_local(body["url"]))
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert max(Image.open(io.BytesIO(response.data)).size) <= 360
    assert _queued_photo_jobs(redis) == [f"process-photo-{body['id']}"]
    run_jobs()
    assert display.is_file()
    assert max(Image.open(io.BytesIO(api.client.get(_local(body["url"])).data)).size) == 1200


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


def _encoded(fmt: str, width=640, height=480, **options) -> bytes:
    image = Image.new("RGB", (width, height), (200, 30, 30))
    image.paste((30, 30, 200), (0, 0, width // 2, height // 2))
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def _cut(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _damaged(data: bytes, marker: bytes, skip: int = 16) -> bytes:
    """The same bytes with the compressed data after `marker` overwritten: every header still reads."""
    start = data.index(marker) + skip
    return data[:start] + b"\x55" * (len(data) - start - 16) + data[-16:]


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
        (_huge_png(1, 60_000_000), "invalid_image"),  # under the pixel cap, far over the side cap
        (_huge_png(20_001, 2), "invalid_image"),
        (_cut(png_bytes(640, 480)), "invalid_image"),
        (_cut(_encoded("WEBP")), "invalid_image"),
        (_encoded("WEBP")[:-2], "invalid_image"),  # RIFF length says 2 bytes more
        (_cut(_encoded("HEIF", quality=50)), "invalid_image"),
        (_gif(), "invalid_image"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "invalid_image"),
        (b"", "empty_file"),
    ],
    ids=[
        "text",
        "pdf",
        "header-only",
        "truncated",
        "bomb",
        "zero-width",
        "1x60M",
        "side-over-cap",
        "truncated-png",
        "truncated-webp",
        "riff-length",
        "truncated-heic",
        "gif",
        "svg",
        "empty",
    ],
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


@pytest.fixture
def no_decoding(monkeypatch):
    """Any pixel decode fails the test: Pillow's, the WebP plugin's and pillow-heif's load()."""
    from PIL import ImageFile, WebPImagePlugin
    from pillow_heif import as_plugin

    def refuse(self, *args, **kwargs):
        raise AssertionError(f"{self.format} decoded on the request path")

    for cls in (ImageFile.ImageFile, WebPImagePlugin.WebPImageFile, as_plugin._LibHeifImageFile):
        monkeypatch.setattr(cls, "load", refuse)


@pytest.mark.parametrize(
    ("data", "fmt", "size"),
    [
        (jpeg_bytes(4000, 3000, orientation=6), "JPEG", (3000, 4000)),
        (png_bytes(3000, 2000), "PNG", (3000, 2000)),
        (_encoded("WEBP", 4000, 3000, quality=10), "WEBP", (4000, 3000)),
        (_encoded("HEIF", 1024, 768, quality=30), "HEIF", (1024, 768)),
    ],
    ids=["jpeg", "png", "webp", "heic"],
)
def test_upload_decodes_no_pixels(api, app, no_decoding, data, fmt, size):
    citizen = api.login_citizen()
    response = api.upload(citizen, data)
    assert response.status_code == 201, response.json
    assert (response.json["width"], response.json["height"]) == size
    with app.app_context():
        from backend.extensions import db
        from backend.models import Photo

        assert db.session.get(Photo, response.json["id"]).format == fmt


@pytest.mark.parametrize(
    "data",
    [
        _damaged(png_bytes(640, 480), b"IDAT"),
        _damaged(_encoded("WEBP"), b"VP8 "),
        _damaged(_encoded("HEIF", quality=50), b"mdat", skip=4),  # the first NAL unit length, too
        # sampling factors 0 in SOF: only the decoder looks at them
        (lambda j: j[: j.index(b"\xff\xc0") + 11] + b"\x00" + j[j.index(b"\xff\xc0") + 12 :])(jpeg_bytes()),
    ],
    ids=["png-idat", "webp-vp8", "heic-mdat", "jpeg-sof"],
)
def test_damage_the_headers_hide_is_caught_by_the_worker(api, app, run_jobs, data):
    citizen = api.login_citizen()
    uploaded = api.upload(citizen, data)
    assert uploaded.status_code == 201, uploaded.json
    run_jobs()
    with app.app_context():
        from backend.extensions import db
        from backend.models import Photo

        assert db.session.get(Photo, uploaded.json["id"]).status == "failed"
    for url in (uploaded.json["url"], uploaded.json["thumb_url"]):
        response = api.client.get(_local(url))
        assert response.status_code == 404 and response.json["error"]["code"] == "photo_unavailable"
    report = api.submit(citizen, photo_ids=[uploaded.json["id"]])
    assert report.status_code == 422
    assert report.json["error"]["fields"]["photo_ids"] == [f"图片 {uploaded.json['id']} 无法处理，请重新上传"]


def test_caps_hold_whatever_pillows_own_limit_is(api, app, run_jobs, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # as some libraries set it, process-wide
    citizen = api.login_citizen()
    assert api.upload(citizen, _huge_png(50_000, 50_000)).json["error"]["code"] == "invalid_image"
    photo_id = api.upload_ok(citizen, jpeg_bytes(400, 300))
    app.config["MAX_PHOTO_PIXELS"] = 100_000  # lowered after the upload: the worker checks again
    run_jobs()
    with app.app_context():
        from backend.extensions import db
        from backend.models import Photo

        assert db.session.get(Photo, photo_id).status == "failed"
