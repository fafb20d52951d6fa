"""POST /reports as one multipart request (wx.uploadFile): the report and its first photo together."""

import io

import pytest
from PIL import Image

from backend.extensions import db
from backend.models import Case, Photo, PhotoStatus
from tests.helpers import concurrently, jpeg_bytes

FORM = {
    "category": "illegal_ad",
    "description": "电线杆上贴满了小广告",
    "lat": "26.5",
    "lng": "101.7",
    "coord": "gcj02",
    "address": "大河中路 88 号",
}


def _create(api, token, photo: bytes | None = None, key: str | None = None, client=None, **fields):
    form = {**FORM, **fields}
    if photo is not None:
        form["file"] = (io.BytesIO(photo), "photo.jpg", "image/jpeg")
    headers = {**api.auth(token), **({"Idempotency-Key": key} if key else {})}
    return (client or api.client).post(
        "/api/v1/reports", headers=headers, data=form, content_type="multipart/form-data"
    )


def _originals(media_root) -> list:
    return sorted((media_root / "originals").rglob("*.*")) if (media_root / "originals").exists() else []


def _counts(app) -> tuple[int, int]:
    with app.app_context():
        return db.session.query(Case).count(), db.session.query(Photo).count()


def test_one_request_creates_the_report_with_its_photo_routed_and_rendered(api, app, run_jobs, media_root):
    citizen = api.login_citizen()
    created = _create(api, citizen, jpeg_bytes(800, 600, orientation=6, gps=True), key="one-shot")

    assert created.status_code == 201, created.json
    report = created.json
    assert report["status"] == "pending"
    assert report["category"]["code"] == "illegal_ad"
    assert report["location"] == {"lat": 26.5, "lng": 101.7, "coord": "gcj02"}
    assert report["address"] == "大河中路 88 号"
    assert [event["type"] for event in report["timeline"]] == ["submitted"]
    assert len(report["photos"]) == 1
    assert api.get(f"/api/v1/reports/{report['id']}", citizen).json == report  # the answer is what was stored

    run_jobs()
    again = api.get(f"/api/v1/reports/{report['id']}", citizen).json
    assert again["status"] == "dispatched" and again["unit"] is not None
    display = api.client.get(again["photos"][0]["url"].split("localhost", 1)[-1])
    assert display.status_code == 200
    shown = Image.open(io.BytesIO(display.data))
    assert shown.size == (600, 800)  # upright
    assert not shown.getexif()  # no EXIF or GPS of the reporter's phone
    with app.app_context():
        photo = db.session.get(Photo, report["photos"][0]["id"])
        assert photo.case_id == report["id"] and photo.status == PhotoStatus.READY


def test_more_photos_uploaded_before_join_the_one_sent_with_the_report(api, run_jobs):
    citizen = api.login_citizen()
    earlier = [api.upload_ok(citizen), api.upload_ok(citizen)]
    created = _create(api, citizen, jpeg_bytes(), photo_ids=f"{earlier[0]}, {earlier[1]}")
    assert created.status_code == 201, created.json
    ids = [photo["id"] for photo in created.json["photos"]]
    assert len(ids) == 3 and ids[:2] == earlier and ids == sorted(ids)


def test_the_same_key_again_answers_the_same_report_and_stores_no_second_photo(api, app, media_root):
    citizen = api.login_citizen()
    first = _create(api, citizen, jpeg_bytes(), key="retry")
    stored = _originals(media_root)
    again = _create(api, citizen, jpeg_bytes(320, 240), key="retry")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json["id"] == first.json["id"]
    assert again.json["photos"] == first.json["photos"]
    assert _originals(media_root) == stored
    assert _counts(app) == (1, 1)


def test_concurrent_retries_make_one_report_and_leave_no_stray_file(api, app, media_root):
    citizen = api.login_citizen()
    photo = jpeg_bytes()

    def submit():
        response = _create(api, citizen, photo, key="race", client=app.test_client())
        return response.status_code, response.json.get("id")

    answers = concurrently(*[submit] * 4)
    codes = sorted(code for code, _ in answers)
    assert codes.count(201) == 1 and set(codes) <= {200, 201}, answers
    assert len({case_id for _, case_id in answers}) == 1
    assert _counts(app) == (1, 1)
    assert len(_originals(media_root)) == 1  # the losers' files were deleted with their transactions


@pytest.mark.parametrize(
    ("photo", "fields", "status", "code", "field"),
    [
        (None, {}, 422, "validation_failed", "file"),
        (b"", {}, 400, "empty_file", None),
        (b"not an image at all", {}, 400, "invalid_image", None),
        (jpeg_bytes()[:-200], {}, 400, "invalid_image", None),
        (jpeg_bytes(), {"lat": "95"}, 422, "validation_failed", "lat"),
        (jpeg_bytes(), {"lng": "东"}, 422, "validation_failed", "lng"),
        (jpeg_bytes(), {"lat": "nan"}, 422, "validation_failed", "lat"),
        (jpeg_bytes(), {"coord": "bd09"}, 422, "validation_failed", "coord"),
        (jpeg_bytes(), {"category": "no_such_thing"}, 422, "validation_failed", "category"),
        (jpeg_bytes(), {"photo_ids": "1,x"}, 422, "validation_failed", "photo_ids"),
        (jpeg_bytes(), {"photo_ids": "99999999999"}, 422, "validation_failed", "photo_ids"),
        (jpeg_bytes(), {"photo_ids": "9" * 5000}, 422, "validation_failed", "photo_ids"),
        (jpeg_bytes(), {"photo_ids": "424242"}, 422, "validation_failed", "photo_ids"),
        (jpeg_bytes(), {"photo_ids": ",".join(["1"] * 9)}, 422, "validation_failed", "photo_ids"),
        (jpeg_bytes(), {"description": "x\x00y"}, 422, "validation_failed", "description"),
        (jpeg_bytes(), {"colour": "red"}, 422, "validation_failed", "colour"),
    ],
)
def test_a_refused_create_stores_nothing(api, app, media_root, photo, fields, status, code, field):
    citizen = api.login_citizen()
    answer = _create(api, citizen, photo, **fields)
    assert answer.status_code == status, answer.json
    assert answer.json["error"]["code"] == code
    if field:
        assert field in answer.json["error"]["fields"]
    assert _counts(app) == (0, 0)
    assert _originals(media_root) == []


def test_a_field_or_photo_sent_twice_is_refused_not_dropped(api, app, media_root):
    citizen = api.login_citizen()
    earlier = [api.upload_ok(citizen), api.upload_ok(citizen)]
    before = _originals(media_root)
    form = {
        **FORM,
        "photo_ids": [str(earlier[0]), str(earlier[1])],
        "file": [(io.BytesIO(jpeg_bytes()), "a.jpg", "image/jpeg"), (io.BytesIO(jpeg_bytes()), "b.jpg", "image/jpeg")],
    }
    answer = api.client.post(
        "/api/v1/reports", headers=api.auth(citizen), data=form, content_type="multipart/form-data"
    )
    assert answer.status_code == 422, answer.json
    assert answer.json["error"]["fields"] == {"photo_ids": ["只能有一个值"], "file": ["只能有一个值"]}
    assert _originals(media_root) == before
    assert _counts(app) == (0, 2)


def test_form_text_that_is_not_utf8_is_refused_not_stored_garbled(api, app):
    citizen = api.login_citizen()
    boundary = "b0undary"
    fields = {**FORM, "description": "电线".encode("gbk")}
    body = b"".join(
        b'--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
        % (boundary.encode(), name.encode(), value if isinstance(value, bytes) else value.encode())
        for name, value in fields.items()
    )
    body += (
        b'--%s\r\nContent-Disposition: form-data; name="file"; filename="p.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
        % boundary.encode()
    )
    body += jpeg_bytes() + b"\r\n--%s--\r\n" % boundary.encode()
    answer = api.client.post(
        "/api/v1/reports",
        headers=api.auth(citizen),
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert answer.status_code == 422, answer.json
    assert answer.json["error"]["fields"] == {"description": ["不是有效的 UTF-8 文本"]}
    assert _counts(app) == (0, 0)


def test_a_text_field_named_file_is_not_a_photo(api, app):
    citizen = api.login_citizen()
    answer = _create(api, citizen, file="just text")
    assert answer.status_code == 422
    assert answer.json["error"]["fields"]["file"] == ["缺少文件字段 file"]
    assert _counts(app) == (0, 0)


def test_a_photo_sent_as_a_text_field_gets_a_form_error_not_the_20_mb_one(api, app):
    citizen = api.login_citizen()
    big_text = "x" * (600 * 1024)  # over werkzeug's 500 KB per text part, far under the body limit
    answer = _create(api, citizen, description=big_text)
    assert answer.status_code == 413
    assert answer.json["error"]["code"] == "form_too_large"
    upload = api.client.post(
        "/api/v1/photos", headers=api.auth(citizen), data={"file": big_text}, content_type="multipart/form-data"
    )
    assert upload.status_code == 413 and upload.json["error"]["code"] == "form_too_large"
    assert _counts(app) == (0, 0)


def test_a_photo_of_someone_else_is_refused_and_the_sent_photo_is_not_kept(api, app, media_root):
    owner, other = api.login_citizen(), api.login_citizen()
    theirs = api.upload_ok(owner)
    before = _originals(media_root)
    answer = _create(api, other, jpeg_bytes(), photo_ids=str(theirs))
    assert answer.status_code == 422
    assert answer.json["error"]["fields"]["photo_ids"] == [f"图片 {theirs} 不存在"]
    assert _originals(media_root) == before
    assert _counts(app) == (0, 1)


def test_staff_cannot_create_a_report_this_way(api):
    staff = api.login_staff("dispatcher")
    assert _create(api, staff, jpeg_bytes()).status_code == 403
