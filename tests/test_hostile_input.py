"""Hostile JSON and a database that is down: always a clear 4xx or 503 in the error envelope, never a 500."""

import json

import pytest

import config
from backend import create_app
from backend.auth import CITIZEN, STAFF, issue_token
from tests.helpers import DAHEZHONGLU


def _raw(api, path, token, text: str):
    """POST a JSON text as it is (the test client's json= would refuse a lone surrogate)."""
    return api.client.post(
        path, headers={**api.auth(token), "Content-Type": "application/json"}, data=text.encode("utf-8")
    )


def _report_text(photo_id: int, **changes) -> str:
    body = {
        "category": "street_vendor",
        "description": "人行道上有流动摊贩",
        "location": dict(DAHEZHONGLU),
        "address": "大河中路",
        "photo_ids": [photo_id],
    }
    body.update(changes)
    return json.dumps(body)  # ensure_ascii: a lone surrogate is written as the escape "\ud800"


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deeply_nested_json_is_400_invalid_json(api, depth):
    citizen = api.login_citizen()
    for text in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth):
        response = _raw(api, "/api/v1/reports", citizen, text)
        assert response.status_code == 400, response.data[:200]
        assert response.json["error"]["code"] == "invalid_json"


def test_json_nested_within_the_limit_still_reaches_validation(api):
    citizen = api.login_citizen()
    response = _raw(api, "/api/v1/reports", citizen, _report_text(1, location={"lat": {"x": [[[1]]]}}))
    assert response.status_code == 422
    assert "location" in response.json["error"]["fields"]


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"description": "\ud800"}, ["description"]),
        ({"address": "大河中路\udfff"}, ["address"]),
        ({"category": "\ud800"}, ["category"]),
        ({"description": "a\x00b"}, ["description"]),
        ({"address": "\x00"}, ["address"]),
        ({"location": {"lat": 26.5, "lng": 101.7, "coord": "gcj\x0002"}}, ["location", "coord"]),
        ({"\ud800": 1}, ["\ufffd"]),
        ({"loc\x00": 1}, ["loc\\u0000"]),
    ],
)
def test_lone_surrogates_and_nul_bytes_are_422_on_the_field(api, app, changes, path):
    citizen = api.login_citizen()
    response = _raw(api, "/api/v1/reports", citizen, _report_text(api.upload_ok(citizen), **changes))
    assert response.status_code == 422, response.data[:300]
    error = response.json["error"]
    assert error["code"] == "validation_failed"
    node = error["fields"]
    for key in path:
        node = node[key]
    assert node == ["不能包含空字符或无效的 Unicode 字符"]


def test_a_nul_byte_or_surrogate_inside_a_list_names_the_item(api):
    citizen = api.login_citizen()
    response = _raw(api, "/api/v1/subscriptions", citizen, json.dumps({"template_ids": ["ok", "bad\ud800"]}))
    assert response.status_code == 422
    assert response.json["error"]["fields"] == {"template_ids": {"1": ["不能包含空字符或无效的 Unicode 字符"]}}


@pytest.mark.parametrize(
    "query",
    ["category=%00", "category=a%00b", "status=%00", "%00=1"],
)
def test_a_nul_byte_in_a_query_string_is_422(api, query):
    dispatcher = api.login_staff("dispatcher")
    response = api.get(f"/api/v1/admin/cases?{query}", dispatcher)
    if query.startswith("%00"):  # an unknown parameter is ignored, whatever its name
        assert response.status_code == 200
        return
    assert response.status_code == 422, response.json
    assert list(response.json["error"]["fields"].values()) == [["不能包含空字符或无效的 Unicode 字符"]]


def test_a_nul_byte_in_a_staff_login_is_a_422_not_a_404(api):
    response = api.client.post("/api/v1/auth/staff", json={"username": "dispatcher\x00", "password": "x"})
    assert response.status_code == 422
    assert response.json["error"]["fields"] == {"username": ["不能包含空字符或无效的 Unicode 字符"]}


def test_a_nul_byte_in_a_region_import_is_422(api):
    dispatcher = api.login_staff("dispatcher")
    feature = {
        "type": "Feature",
        "properties": {"code": "grid-\x00", "name": "网格", "unit_code": "dahezhonglu"},
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[101.7, 26.5], [101.71, 26.5], [101.71, 26.51], [101.7, 26.5]]],
        },
    }
    response = api.post(
        "/api/v1/admin/regions/import", dispatcher, json={"type": "FeatureCollection", "features": [feature]}
    )
    assert response.status_code == 422
    assert response.json["error"]["fields"]["features"]["0"]["properties"]["code"] == [
        "不能包含空字符或无效的 Unicode 字符"
    ]


def test_an_idempotency_key_with_a_nul_byte_is_422(api, app):
    citizen = api.login_citizen()
    response = api.submit(citizen, key="key\x00")
    assert response.status_code == 422, response.json
    assert response.json["error"]["fields"] == {"Idempotency-Key": ["不能包含空字符或无效的 Unicode 字符"]}


def test_an_answer_never_fails_to_encode_a_lone_surrogate(app):
    with app.test_request_context():
        response = app.json.response({"name": "a\ud800b", "城市": "攀枝花"})
    text = response.get_data(as_text=True)
    assert "\\ud800" in text and json.loads(text) == {"name": "a\ud800b", "城市": "攀枝花"}
    with app.test_request_context():
        assert "攀枝花" in app.json.response({"城市": "攀枝花"}).get_data(as_text=True)


def _unreachable_database_url(database_url: str) -> str:
    if database_url.startswith("postgresql"):
        return "postgresql+psycopg://postgres@127.0.0.1:1/nothing_listens_here?connect_timeout=2"
    return "sqlite:////nonexistent-directory/suishoupai.db"


@pytest.fixture
def down_app(database_url, redis_url, tmp_path):
    app = create_app(
        config.TestingConfig,
        {
            "SQLALCHEMY_DATABASE_URI": _unreachable_database_url(database_url),
            "REDIS_URL": redis_url,
            "MEDIA_ROOT": str(tmp_path / "media"),
        },
    )
    yield app
    with app.app_context():
        from backend.extensions import db

        db.engine.dispose()


@pytest.mark.parametrize(
    ("method", "path", "kind"),
    [
        ("GET", "/api/v1/categories", None),
        ("POST", "/api/v1/auth/staff", None),
        ("POST", "/api/v1/auth/dev", None),
        ("GET", "/api/v1/reports/mine", CITIZEN),
        ("GET", "/api/v1/admin/cases", STAFF),
        ("GET", "/api/v1/admin/health", STAFF),
    ],
)
def test_database_down_is_503_with_retry_after(down_app, method, path, kind):
    with down_app.app_context():
        token = issue_token(kind, 1) if kind else None
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = {"username": "dispatcher", "password": "x"} if path.endswith("staff") else {"openid": "o-1"}
    json_body = body if method == "POST" else None
    response = down_app.test_client().open(path, method=method, headers=headers, json=json_body)
    assert response.status_code == 503, response.json
    assert response.json["error"]["code"] == "service_unavailable"
    assert int(response.headers["Retry-After"]) > 0


@pytest.mark.parametrize("value", [2**31, 2**63, 7545453960210019774365696, -(2**31) - 1])
def test_an_integer_no_column_can_hold_is_422_not_404(api, value):
    """Found by the fuzz run: such ids reached the database (DataError / OverflowError) and answered 404."""
    dispatcher = api.login_staff("dispatcher")
    response = api.get(f"/api/v1/admin/audit?entity=unit&entity_id={value}", dispatcher)
    assert response.status_code == 422, response.json
    assert response.json["error"]["fields"] == {"entity_id": ["数值过大"]}
    response = api.get(f"/api/v1/admin/cases?unit_id={value}", dispatcher)
    assert response.status_code == 422 and response.json["error"]["fields"] == {"unit_id": ["数值过大"]}
    response = api.post("/api/v1/admin/cases/1/dispatch", dispatcher, json={"unit_id": 1, "co_unit_ids": [2, value]})
    assert response.status_code == 422 and response.json["error"]["fields"] == {"co_unit_ids": {"1": ["数值过大"]}}


def test_the_largest_integer_a_column_holds_is_still_accepted(api):
    dispatcher = api.login_staff("dispatcher")
    response = api.get(f"/api/v1/admin/audit?entity=unit&entity_id={2**31 - 1}", dispatcher)
    assert response.status_code == 200 and response.json["items"] == []


FAR_DAYS = ["0001-01-01", "1999-12-31", "2101-01-01", "9999-12-31"]
DAY_RANGE = ["取值范围为 2000-01-01 至 2100-12-31"]


@pytest.mark.parametrize("day", FAR_DAYS)
@pytest.mark.parametrize(
    ("who", "path", "field"),
    [
        ("dispatcher", "/api/v1/admin/cases?created_from={}", "created_from"),
        ("dispatcher", "/api/v1/admin/cases?created_to={}", "created_to"),
        ("leader", "/api/v1/admin/cases/export.csv?created_from={}", "created_from"),
        ("leader", "/api/v1/admin/cases/export.xlsx?created_to={}", "created_to"),
        ("leader", "/api/v1/admin/stats/units?from={}", "from"),
        ("leader", "/api/v1/admin/stats/units?to={}", "to"),
        ("leader", "/api/v1/admin/stats/units?period=week&date={}", "date"),
        ("leader", "/api/v1/admin/stats/ranking?from={}", "from"),
        ("leader", "/api/v1/admin/stats/trend?to={}", "to"),
        ("leader", "/api/v1/admin/stats/hotspots?period=day&date={}", "date"),
    ],
)
def test_a_day_outside_2000_to_2100_is_422_on_its_field(api, who, path, field, day):
    """Found by a defect hunt: year 1 answered 500 (the day's start overflowed inside the database driver's
    conversion), year 9999 answered 404 not_found on a list. Every day the API takes lies in 2000–2100."""
    response = api.get(path.format(day), api.login_staff(who))
    assert response.status_code == 422, (response.status_code, response.data[:300])
    assert response.json["error"]["fields"] == {field: DAY_RANGE}


@pytest.mark.parametrize("day", FAR_DAYS)
def test_a_briefing_or_reward_rule_outside_2000_to_2100_is_422(api, day):
    dispatcher = api.login_staff("dispatcher")
    response = api.post("/api/v1/admin/briefings", dispatcher, json={"kind": "monthly", "date": day})
    assert response.status_code == 422 and response.json["error"]["fields"] == {"date": DAY_RANGE}
    rule = {"category_id": 1, "amount_fen": 500, "ends_on": day}
    response = api.post("/api/v1/reward-admin/rules", api.login_staff("admin"), json=rule)
    assert response.status_code == 422 and response.json["error"]["fields"] == {"ends_on": DAY_RANGE}


def test_the_first_and_last_day_of_the_range_are_accepted(api):
    dispatcher = api.login_staff("dispatcher")
    for query in ("created_from=2000-01-01", "created_to=2100-12-31"):
        response = api.get(f"/api/v1/admin/cases?{query}", dispatcher)
        assert response.status_code == 200, response.json
    response = api.get("/api/v1/admin/stats/units?from=2100-12-01&to=2100-12-31", api.login_staff("leader"))
    assert response.status_code == 200, response.json


@pytest.mark.parametrize("sqlstate", ["40P01", "40001"])
def test_a_deadlock_or_serialization_failure_is_409_not_an_outage(app, sqlstate):
    """PostgreSQL gives up one of two transactions that wanted the same rows: that request lost a race (409
    concurrent_update, reload and retry), the database is not down (503)."""
    from sqlalchemy.exc import OperationalError

    class Orig(Exception):
        pass

    orig = Orig("deadlock detected")
    orig.sqlstate = sqlstate

    def lose_a_race():
        raise OperationalError("UPDATE cases …", {}, orig)

    app.add_url_rule("/api/v1/test-race", "test_race", lose_a_race)
    response = app.test_client().get("/api/v1/test-race")
    assert response.status_code == 409 and response.json["error"]["code"] == "concurrent_update"
