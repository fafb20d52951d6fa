"""Per-object access: a unit sees only its cases, a citizen only their reports; staff never see the reporter."""

import json
from urllib.parse import urlsplit

import pytest

from tests.helpers import DAHEZHONGLU, RENHE_TOWN, jpeg_bytes


@pytest.fixture
def routed(api, run_jobs):
    """A report by one citizen, routed to 大河中路街道."""
    citizen = api.login_citizen("reporter-openid-123")
    report = api.submit_ok(citizen, location=DAHEZHONGLU, category="illegal_ad")
    run_jobs()
    return citizen, report["id"]


def test_a_citizen_sees_only_their_own_reports(api, routed):
    owner, case_id = routed
    other = api.login_citizen("someone-else")
    response = api.get(f"/api/v1/reports/{case_id}", other)
    assert response.status_code == 404 and response.json["error"]["code"] == "case_not_found"
    assert api.get("/api/v1/reports/mine", other).json["total"] == 0
    assert api.post(f"/api/v1/reports/{case_id}/rating", other, json={"rating": "satisfied"}).status_code == 404
    assert api.get(f"/api/v1/reports/{case_id}", owner).status_code == 200
    assert api.get("/api/v1/reports/999999", owner).status_code == 404


def test_a_unit_sees_only_its_own_cases(api, routed):
    _, case_id = routed
    other_unit = api.login_staff("renhe-town")
    assert api.get("/api/v1/unit/cases", other_unit).json["total"] == 0
    assert api.get(f"/api/v1/unit/cases/{case_id}", other_unit).status_code == 404
    for action, body in (("accept", None), ("return", {"reason": "x"}), ("reply", {"content": "x"})):
        assert api.post(f"/api/v1/unit/cases/{case_id}/{action}", other_unit, json=body).status_code == 404
    owner_unit = api.login_staff("dahezhonglu")
    assert api.get("/api/v1/unit/cases", owner_unit).json["total"] == 1


def test_unit_list_filters_by_status(api, routed):
    unit = api.login_staff("dahezhonglu")
    assert api.get("/api/v1/unit/cases?status=dispatched", unit).json["total"] == 1
    assert api.get("/api/v1/unit/cases?status=closed", unit).json["total"] == 0
    assert api.get("/api/v1/unit/cases?status=bogus", unit).status_code == 422


def _walk_keys(value):
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from _walk_keys(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _walk_keys(inner)


@pytest.mark.parametrize("who", ["unit", "dispatcher"])
def test_staff_views_never_identify_the_reporter(api, app, routed, who):
    _, case_id = routed
    token = api.login_staff("dahezhonglu" if who == "unit" else "dispatcher")
    path = f"/api/v1/unit/cases/{case_id}" if who == "unit" else f"/api/v1/admin/cases/{case_id}"
    detail = api.get(path, token)
    listing = api.get(path.rsplit("/", 1)[0], token)
    for response in (detail, listing):
        text = response.get_data(as_text=True)
        assert "reporter-openid-123" not in text
        keys = set(_walk_keys(json.loads(text)))
        assert not keys & {"reporter", "reporter_id", "user_id", "openid", "phone", "name_of_reporter", "user"}
    with app.app_context():
        from backend.extensions import db
        from backend.models import Case

        reporter_id = db.session.get(Case, case_id).reporter_id
    assert f'"reporter_id": {reporter_id}' not in detail.get_data(as_text=True)


def test_filters_on_the_dispatcher_list(api, routed, run_jobs):
    citizen, _ = routed
    api.submit_ok(citizen, category="dust", location=RENHE_TOWN)
    run_jobs()
    dispatcher = api.login_staff("dispatcher")
    assert api.get("/api/v1/admin/cases", dispatcher).json["total"] == 2
    assert api.get("/api/v1/admin/cases?category=dust", dispatcher).json["total"] == 1
    units = api.get("/api/v1/admin/units", dispatcher).json["items"]
    ecology = next(u for u in units if u["code"] == "renhe-ecology")
    assert {"id", "code", "name", "kind"} <= set(ecology)
    assert api.get(f"/api/v1/admin/cases?unit_id={ecology['id']}", dispatcher).json["total"] == 1
    paged = api.get("/api/v1/admin/cases?per_page=1&page=2", dispatcher).json
    assert paged["total"] == 2 and len(paged["items"]) == 1 and paged["page"] == 2 and paged["per_page"] == 1
    assert api.get("/api/v1/admin/cases?per_page=101", dispatcher).status_code == 422
    assert api.get("/api/v1/admin/cases?page=0", dispatcher).status_code == 422


def _path_and_query(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_photo_urls_are_signed_and_serve_only_exif_free_copies(api, routed, run_jobs):
    _, case_id = routed
    unit = api.login_staff("dahezhonglu")
    photo = api.get(f"/api/v1/unit/cases/{case_id}", unit).json["photos"][0]
    url = _path_and_query(photo["url"])
    response = api.client.get(url)  # no Authorization header, like <image>
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert b"Exif" not in response.data and b"GPS" not in response.data

    tampered = url.replace("sig=", "sig=0")
    assert api.client.get(tampered).status_code == 404
    other_photo = url.replace(f"/photos/{photo['id']}/", f"/photos/{photo['id'] + 1}/")
    assert api.client.get(other_photo).status_code == 404
    original = url.replace("/display.jpg", "/original.jpg")
    assert api.client.get(original).status_code == 404


def test_expired_photo_url_is_refused(api, app):
    citizen = api.login_citizen()
    uploaded = api.upload(citizen, jpeg_bytes()).json
    app.config["PHOTO_URL_TTL"] = -7200
    with app.test_request_context():
        from backend.extensions import db
        from backend.models import Photo
        from backend.services.media import photos

        expired = photos.signed_url(db.session.get(Photo, uploaded["id"]), "display")
    response = api.client.get(_path_and_query(expired))
    assert response.status_code == 404 and response.json["error"]["code"] == "link_expired"


def test_someone_elses_photo_cannot_be_attached(api):
    owner = api.login_citizen()
    thief = api.login_citizen()
    photo_id = api.upload_ok(owner)
    response = api.submit(thief, photo_ids=[photo_id])
    assert response.status_code == 422 and "photo_ids" in response.json["error"]["fields"]


def test_a_photo_cannot_be_used_twice(api):
    citizen = api.login_citizen()
    photo_id = api.upload_ok(citizen)
    api.submit_ok(citizen, photo_ids=[photo_id])
    response = api.submit(citizen, photo_ids=[photo_id])
    assert response.status_code == 422


STAFF_ROUTES = [
    ("GET", "/api/v1/unit/cases", {"unit_staff"}),
    ("GET", "/api/v1/unit/cases/{id}", {"unit_staff"}),
    ("POST", "/api/v1/unit/cases/{id}/accept", {"unit_staff"}),
    ("POST", "/api/v1/unit/cases/{id}/return", {"unit_staff"}),
    ("POST", "/api/v1/unit/cases/{id}/reply", {"unit_staff"}),
    ("GET", "/api/v1/admin/cases", {"dispatcher", "admin"}),
    ("GET", "/api/v1/admin/cases/{id}", {"dispatcher", "admin"}),
    ("GET", "/api/v1/admin/units", {"dispatcher", "admin"}),
    ("GET", "/api/v1/admin/health", {"dispatcher", "admin"}),
    ("POST", "/api/v1/admin/cases/{id}/dispatch", {"dispatcher", "admin"}),
    ("POST", "/api/v1/admin/cases/{id}/close", {"dispatcher", "admin"}),
    ("POST", "/api/v1/admin/cases/{id}/rework", {"dispatcher", "admin"}),
    ("POST", "/api/v1/admin/cases/{id}/reject", {"dispatcher", "admin"}),
    ("POST", "/api/v1/admin/cases/{id}/comment", {"dispatcher", "admin"}),
    ("POST", "/api/v1/unit/cases/{id}/comment", {"unit_staff"}),
    ("POST", "/api/v1/admin/units", {"dispatcher", "admin"}),
    ("GET", "/api/v1/admin/units/1", {"dispatcher", "admin"}),
    ("PATCH", "/api/v1/admin/units/1", {"dispatcher", "admin"}),
    ("GET", "/api/v1/admin/categories", {"dispatcher", "admin"}),
    ("POST", "/api/v1/admin/categories", {"dispatcher", "admin"}),
    ("PATCH", "/api/v1/admin/categories/1", {"dispatcher", "admin"}),
    ("GET", "/api/v1/admin/rules", {"dispatcher", "admin"}),
    ("POST", "/api/v1/admin/rules", {"dispatcher", "admin"}),
    ("PATCH", "/api/v1/admin/rules/1", {"dispatcher", "admin"}),
    ("DELETE", "/api/v1/admin/rules/1", {"dispatcher", "admin"}),
    ("GET", "/api/v1/admin/audit", {"dispatcher", "admin"}),
    ("GET", "/api/v1/admin/routing/explain?lat=26.5&lng=101.7&category=dust", {"dispatcher", "admin"}),
    ("POST", "/api/v1/unit/cases/{id}/extension", {"unit_staff"}),
    ("GET", "/api/v1/unit/notifications", {"unit_staff"}),
    ("POST", "/api/v1/unit/notifications/1/read", {"unit_staff"}),
    ("GET", "/api/v1/admin/supervision", {"dispatcher", "admin"}),
    ("GET", "/api/v1/admin/extensions", {"dispatcher", "admin"}),
    ("POST", "/api/v1/admin/extensions/1/approve", {"dispatcher", "admin"}),
    ("POST", "/api/v1/admin/extensions/1/deny", {"dispatcher", "admin"}),
    ("GET", "/api/v1/admin/notifications", {"dispatcher", "admin"}),
    ("POST", "/api/v1/admin/notifications/1/retry", {"dispatcher", "admin"}),
    ("GET", "/api/v1/admin/inbox", {"dispatcher", "admin"}),
    ("POST", "/api/v1/admin/inbox/1/read", {"dispatcher", "admin"}),
    ("GET", "/api/v1/admin/calendar?year=2026", {"dispatcher", "admin"}),
    ("PUT", "/api/v1/admin/calendar/2027-01-04", {"dispatcher", "admin"}),
    ("DELETE", "/api/v1/admin/calendar/2027-01-04", {"dispatcher", "admin"}),
    ("GET", "/api/v1/admin/regions", {"dispatcher", "admin"}),
    ("GET", "/api/v1/admin/regions/export", {"dispatcher", "admin"}),
    ("GET", "/api/v1/reward-admin/rules", {"reward_admin", "admin"}),
    ("POST", "/api/v1/reward-admin/rules", {"reward_admin", "admin"}),
    ("PATCH", "/api/v1/reward-admin/rules/1", {"reward_admin", "admin"}),
    ("GET", "/api/v1/reward-admin/claims", {"reward_admin", "admin"}),
    ("GET", "/api/v1/reward-admin/claims/1", {"reward_admin", "admin"}),
    ("POST", "/api/v1/reward-admin/claims/1/approve", {"reward_admin", "admin"}),
    ("POST", "/api/v1/reward-admin/claims/1/reject", {"reward_admin", "admin"}),
    ("POST", "/api/v1/reward-admin/claims/bulk", {"reward_admin", "admin"}),
    ("GET", "/api/v1/reward-admin/citizens/1?purpose=check", {"reward_admin", "admin"}),
    ("POST", "/api/v1/reward-admin/citizens/1/suspend", {"reward_admin", "admin"}),
    ("POST", "/api/v1/reward-admin/citizens/1/unsuspend", {"reward_admin", "admin"}),
    ("GET", "/api/v1/reward-admin/payouts", {"reward_admin", "admin"}),
    ("POST", "/api/v1/reward-admin/payouts", {"reward_admin", "admin"}),
    ("GET", "/api/v1/reward-admin/payouts/1", {"reward_admin", "admin"}),
    ("POST", "/api/v1/reward-admin/payouts/1/offline-paid", {"reward_admin", "admin"}),
    ("GET", "/api/v1/reward-admin/payouts/1/export.csv", {"reward_admin", "admin"}),
    ("GET", "/api/v1/reward-admin/stats", {"reward_admin", "admin"}),
    ("GET", "/api/v1/admin/stats/units", {"dispatcher", "admin", "leader"}),
    ("GET", "/api/v1/admin/stats/ranking", {"dispatcher", "admin", "leader"}),
    ("GET", "/api/v1/admin/stats/trend", {"dispatcher", "admin", "leader"}),
    ("GET", "/api/v1/admin/stats/hotspots", {"dispatcher", "admin", "leader"}),
    ("GET", "/api/v1/admin/briefings", {"dispatcher", "admin", "leader"}),
    ("POST", "/api/v1/admin/briefings", {"dispatcher", "admin"}),
    ("GET", "/api/v1/admin/briefings/1", {"dispatcher", "admin", "leader"}),
    ("GET", "/api/v1/admin/briefings/1/xlsx", {"dispatcher", "admin", "leader"}),
    ("GET", "/api/v1/admin/briefings/1/docx", {"dispatcher", "admin", "leader"}),
    ("GET", "/api/v1/admin/cases/export.csv", {"dispatcher", "admin", "leader"}),
    ("GET", "/api/v1/admin/cases/export.xlsx", {"dispatcher", "admin", "leader"}),
    ("GET", "/api/v1/unit/stats", {"unit_staff"}),
]
CITIZEN_ROUTES = [
    ("GET", "/api/v1/rewards/mine"),
    ("GET", "/api/v1/subscriptions"),
    ("POST", "/api/v1/subscriptions"),
    ("GET", "/api/v1/reports/mine"),
    ("GET", "/api/v1/reports/{id}"),
    ("POST", "/api/v1/reports"),
    ("POST", "/api/v1/reports/{id}/rating"),
]


@pytest.mark.parametrize(("method", "path", "allowed"), STAFF_ROUTES)
def test_staff_routes_refuse_other_roles_and_anonymous(api, app, routed, method, path, allowed):
    _, case_id = routed
    url = path.format(id=case_id)
    with app.app_context():
        from backend.services import accounts

        accounts.create_staff("finance", "renhe-demo-2026", "reward_admin")
        from backend.extensions import db

        db.session.commit()
    callers = {
        "citizen": api.login_citizen(),
        "unit_staff": api.login_staff("renhe-town"),
        "dispatcher": api.login_staff("dispatcher"),
        "admin": api.login_staff("admin"),
        "reward_admin": api.login_staff("finance"),
        "leader": api.login_staff("leader"),
    }
    assert api.client.open(url, method=method).status_code == 401
    for role, token in callers.items():
        if role in allowed:
            continue
        response = api.client.open(url, method=method, headers=api.auth(token), json={})
        assert response.status_code == 403, (role, response.json)


def test_the_leader_role_changes_nothing(api, app, routed):
    """领导 reads figures and briefings; every route that writes refuses it (those needing no login aside)."""
    _, case_id = routed
    leader = api.auth(api.login_staff("leader"))
    checked = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        url = rule.rule
        for name in rule.arguments:
            url = url.replace(f"<int:{name}>", str(case_id)).replace(f"<{name}>", "x")
        for method in sorted(rule.methods - {"GET", "HEAD", "OPTIONS"}):
            if api.client.open(url, method=method, json={}).status_code != 401:
                continue  # a public route (login, WeChat Pay's callback)
            response = api.client.open(url, method=method, headers=leader, json={})
            assert response.status_code == 403, (method, url, response.json)
            checked.append((method, url))
    assert len(checked) > 30


@pytest.mark.parametrize(("method", "path"), CITIZEN_ROUTES)
def test_citizen_routes_refuse_staff_and_anonymous(api, routed, method, path):
    _, case_id = routed
    url = path.format(id=case_id)
    assert api.client.open(url, method=method).status_code == 401
    for username in ("dispatcher", "dahezhonglu", "admin"):
        response = api.client.open(url, method=method, headers=api.auth(api.login_staff(username)), json={})
        assert response.status_code == 403


def test_absurd_paging_is_422_not_500(api):
    dispatcher = api.login_staff("dispatcher")
    response = api.get("/api/v1/admin/cases?page=" + "9" * 400, dispatcher)
    assert response.status_code == 422


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/reports/99999999999999999999999",
        "/api/v1/unit/cases/99999999999999999999999",
        "/media/photos/1/display.jpg?expires=²&sig=x",
    ],
)
def test_absurd_ids_are_404_not_500(api, path):
    token = api.login_staff("dahezhonglu") if "/unit/" in path else api.login_citizen()
    assert api.get(path, token).status_code == 404
