"""Report submission: validation, Idempotency-Key (also under concurrent retries)."""

import pytest

from tests.helpers import DAHEZHONGLU, concurrently


def _case_count(app) -> int:
    with app.app_context():
        from backend.extensions import db
        from backend.models import Case

        return db.session.scalar(db.select(db.func.count(Case.id)))


def _body(photo_id, **changes):
    body = {
        "category": "street_vendor",
        "description": "人行道上有流动摊贩",
        "location": dict(DAHEZHONGLU),
        "address": "大河中路",
        "photo_ids": [photo_id],
    }
    body.update(changes)
    return body


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"category": None}, "category"),
        ({"category": "ufo_sighting"}, "category"),
        ({"location": None}, "location"),
        ({"location": {"lat": 91, "lng": 101.7, "coord": "gcj02"}}, "location"),
        ({"location": {"lat": 26.5, "lng": -181, "coord": "gcj02"}}, "location"),
        ({"location": {"lat": "north", "lng": 101.7, "coord": "gcj02"}}, "location"),
        ({"location": {"lat": 26.5, "lng": 101.7, "coord": "bd09"}}, "location"),
        ({"location": {"lat": 26.5, "lng": 101.7}}, "location"),
        ({"photo_ids": []}, "photo_ids"),
        ({"photo_ids": ["1"]}, "photo_ids"),
        ({"photo_ids": list(range(1, 11))}, "photo_ids"),
        ({"photo_ids": [424242]}, "photo_ids"),
        ({"description": "长" * 1001}, "description"),
        ({"category": 7}, "category"),
    ],
)
def test_bad_reports_are_422_with_fields_and_create_nothing(api, app, changes, field):
    citizen = api.login_citizen()
    body = _body(api.upload_ok(citizen), **changes)
    body = {k: v for k, v in body.items() if v is not None}
    response = api.post("/api/v1/reports", citizen, json=body)
    assert response.status_code == 422, response.json
    assert field in response.json["error"]["fields"]
    assert _case_count(app) == 0


def test_non_json_bodies(api):
    citizen = api.login_citizen()
    response = api.client.post("/api/v1/reports", headers=api.auth(citizen), data="not json")
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid_json"
    response = api.post("/api/v1/reports", citizen, json=[1, 2])
    assert response.status_code == 400


def test_nan_coordinates_are_rejected(api):
    citizen = api.login_citizen()
    photo_id = api.upload_ok(citizen)
    raw = (
        f'{{"category": "dust", "location": {{"lat": NaN, "lng": 101.7, "coord": "gcj02"}}, "photo_ids": [{photo_id}]}}'
    )
    response = api.client.post(
        "/api/v1/reports", headers={**api.auth(citizen), "Content-Type": "application/json"}, data=raw
    )
    assert response.status_code in (400, 422)


def test_stores_the_phone_point_and_a_wgs84_point(api, app):
    citizen = api.login_citizen()
    report = api.submit_ok(citizen, location={"lat": 26.5, "lng": 101.7, "coord": "gcj02"})
    assert report["location"] == {"lat": 26.5, "lng": 101.7, "coord": "gcj02"}
    with app.app_context():
        from backend.extensions import db
        from backend.models import Case

        case = db.session.get(Case, report["id"])
        # GCJ-02 is offset a few hundred metres from WGS-84 here
        assert 0.001 < abs(case.wgs84_lng - 101.7) < 0.01 and 0.0001 < abs(case.wgs84_lat - 26.5) < 0.01


def test_idempotency_key_returns_the_same_report(api, app):
    citizen = api.login_citizen()
    photo_id = api.upload_ok(citizen)
    first = api.post("/api/v1/reports", citizen, json=_body(photo_id), headers={"Idempotency-Key": "k-1"})
    again = api.post("/api/v1/reports", citizen, json=_body(photo_id), headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 201 and again.status_code == 200
    assert first.json["id"] == again.json["id"]
    assert _case_count(app) == 1


def test_the_same_key_from_two_citizens_makes_two_reports(api, app):
    one, two = api.login_citizen(), api.login_citizen()
    api.submit_ok(one, key="shared-key")
    api.submit_ok(two, key="shared-key")
    assert _case_count(app) == 2


def test_concurrent_retries_with_one_key_create_exactly_one_report(api, app, redis):
    citizen = api.login_citizen()
    body = _body(api.upload_ok(citizen))
    headers = {"Authorization": f"Bearer {citizen}", "Idempotency-Key": "retry-key"}

    def submit():
        response = app.test_client().post("/api/v1/reports", json=body, headers=headers)
        return response.status_code, response.json.get("id")

    answers = concurrently(*[submit] * 5)
    codes = sorted(code for code, _ in answers)
    assert codes.count(201) == 1, answers
    assert set(codes) <= {200, 201}, answers
    assert len({case_id for _, case_id in answers}) == 1
    assert _case_count(app) == 1


def test_validation_messages_are_in_chinese(api):
    citizen = api.login_citizen()
    body = {"location": {"lat": 95, "lng": "东", "coord": "gcj02"}, "photo_ids": ["x"], "colour": "red"}
    fields = api.post("/api/v1/reports", citizen, json=body).json["error"]["fields"]
    assert fields["category"] == ["必填"]
    assert fields["location"]["lat"] == ["取值范围为 -90 至 90"]
    assert fields["location"]["lng"] == ["必须是数字"]
    assert fields["photo_ids"] == {"0": ["必须是整数"]}
    assert fields["colour"] == ["不支持的字段"]
