"""Abuse and resource limits (OWASP API4): rate limits answered 429 with Retry-After, the staff lock-out an admin
lifts, the per-account quota of unattached uploads and their purge, and a login whose timing tells nothing."""

import time
from datetime import timedelta

import pytest
from limits import parse_many

import config
from backend import create_app
from backend.extensions import db
from backend.models import AuditEntry, Photo, Staff
from backend.models.types import utcnow
from backend.services.responsibility.demo_district import DEMO_PASSWORD
from tests.helpers import Api, jpeg_bytes
from workers.scheduler import enqueue_due, periodic_table


def _login(api, username, password=DEMO_PASSWORD, headers=None):
    return api.post("/api/v1/auth/staff", json={"username": username, "password": password}, headers=headers)


def _assert_429(response, code):
    assert response.status_code == 429, response.json
    assert response.json["error"]["code"] == code
    assert response.json["error"]["message"]
    assert int(response.headers["Retry-After"]) >= 1


# --- staff login: lock-out per username, failures per client address -------------------------------------------


def test_thirty_wrong_passwords_then_the_right_one_fails(api):
    answers = [_login(api, "dispatcher", "wrong-password").status_code for _ in range(30)]
    assert answers[:10] == [401] * 10 and set(answers[10:]) == {429}
    locked = _login(api, "dispatcher")  # the right password, during the lock-out
    _assert_429(locked, "account_locked")
    assert "token" not in locked.json
    assert int(locked.headers["Retry-After"]) <= 15 * 60
    # the lock is the username's, not the address's: a colleague logs in from the same address
    assert _login(api, "admin").status_code == 200


def test_unknown_usernames_lock_like_known_ones(api):
    answers = [_login(api, "nobody-here", "x").status_code for _ in range(11)]
    assert answers == [401] * 10 + [429]


def test_a_successful_login_starts_the_failure_count_again(api):
    for _ in range(2):
        for _ in range(9):
            assert _login(api, "dispatcher", "wrong-password").status_code == 401
        assert _login(api, "dispatcher").status_code == 200


def test_an_admin_unlocks_a_locked_account_and_it_is_audited(api, app):
    for _ in range(10):
        _login(api, "dispatcher", "wrong-password")
    assert _login(api, "dispatcher").status_code == 429
    with app.app_context():
        dispatcher_id = db.session.scalar(db.select(Staff.id).where(Staff.username == "dispatcher"))

    unit_officer = api.login_staff("dahezhonglu")
    assert api.post(f"/api/v1/admin/staff/{dispatcher_id}/unlock", unit_officer).status_code == 403
    admin = api.login_staff("admin")
    assert api.post("/api/v1/admin/staff/999999/unlock", admin).json["error"]["code"] == "staff_not_found"

    response = api.post(f"/api/v1/admin/staff/{dispatcher_id}/unlock", admin)
    assert response.status_code == 200, response.json
    assert response.json["staff"]["username"] == "dispatcher"
    assert response.json["was_locked"] is True and response.json["failed_attempts"] == 10
    assert _login(api, "dispatcher").status_code == 200
    with app.app_context():
        entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "unlock"))
        assert entry.entity == "staff" and entry.entity_id == dispatcher_id
        assert entry.changes["locked"] == {"from": True, "to": False}
        assert entry.staff.username == "admin"
    listed = api.get("/api/v1/admin/audit?entity=staff", api.login_staff("dispatcher")).json["items"]
    assert [(item["action"], item["entity_id"]) for item in listed] == [("unlock", dispatcher_id)]


def test_failed_staff_logins_are_limited_per_client_address(api, app):
    app.config["STAFF_LOGIN_IP_LIMIT"] = "5 per minute"
    for _ in range(8):  # successful logins do not count
        assert _login(api, "admin").status_code == 200
    for username in ("a", "b", "c", "d", "e"):  # spraying many usernames, each below its own lock-out
        assert _login(api, username, "guess").status_code == 401
    refused = _login(api, "f", "guess")
    _assert_429(refused, "rate_limited")
    assert refused.json["error"]["message"] == "登录失败次数过多，请稍后再试"
    assert int(refused.headers["Retry-After"]) <= 60
    assert _login(api, "admin").status_code == 429


def test_behind_a_proxy_the_forwarded_address_is_the_client(app, database_url, redis_url, tmp_path):
    proxied = create_app(
        config.TestingConfig,
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "REDIS_URL": redis_url,
            "MEDIA_ROOT": str(tmp_path / "media"),
            "BEHIND_PROXY": True,
            "STAFF_LOGIN_IP_LIMIT": "2 per minute",
        },
    )
    api = Api(proxied.test_client())
    one, other = {"X-Forwarded-For": "203.0.113.7"}, {"X-Forwarded-For": "198.51.100.9"}
    assert [_login(api, f"u{i}", "x", one).status_code for i in range(3)] == [401, 401, 429]
    assert _login(api, "u9", "x", other).status_code == 401
    with proxied.app_context():
        db.session.remove()
        db.engine.dispose()


# --- citizen logins per address; uploads and reports per account ---------------------------------------------------


def test_wechat_and_dev_logins_are_limited_per_client_address(api, app, httpserver):
    app.config["CITIZEN_LOGIN_IP_LIMIT"] = "2 per minute"
    app.config["WECHAT_API_BASE"] = httpserver.url_for("/").rstrip("/")
    httpserver.expect_request("/sns/jscode2session").respond_with_json({"openid": "o-1", "session_key": "k"})
    assert [api.post("/api/v1/auth/wechat", json={"code": f"c{i}"}).status_code for i in range(2)] == [200, 200]
    refused = api.post("/api/v1/auth/wechat", json={"code": "c3"})
    _assert_429(refused, "rate_limited")
    assert refused.json["error"]["message"] == "登录太频繁，请稍后再试"
    assert len(httpserver.log) == 2  # refused before WeChat is asked

    assert [api.post("/api/v1/auth/dev", json={"openid": f"o{i}"}).status_code for i in range(3)] == [200, 200, 429]


def test_uploads_are_limited_per_account(api, app):
    app.config["PHOTO_UPLOAD_LIMIT"] = "2 per minute; 100 per day"
    citizen, neighbour = api.login_citizen(), api.login_citizen()
    assert [api.upload(citizen, jpeg_bytes(64, 48)).status_code for _ in range(3)] == [201, 201, 429]
    refused = api.upload(citizen, jpeg_bytes(64, 48))
    _assert_429(refused, "rate_limited")
    assert refused.json["error"]["message"] == "上传图片太频繁，请稍后再试"
    assert api.upload(neighbour, jpeg_bytes(64, 48)).status_code == 201
    assert api.upload(api.login_staff("dahezhonglu"), jpeg_bytes(64, 48)).status_code == 201


def test_the_counts_live_in_the_shared_redis(api, app, redis):
    """Every gunicorn worker and host counts in the same Redis (the tests' one: a unix socket)."""
    assert app.config["RATELIMIT_STORAGE_URI"].startswith(("redis://", "redis+unix://", "rediss://"))
    api.upload_ok(api.login_citizen())
    _login(api, "dispatcher", "wrong-password")
    keys = [key.decode() for key in redis.keys("LIMITS:LIMITER/ssp-limits/*")]
    assert any("PHOTO_UPLOAD_LIMIT" in key for key in keys), keys
    assert any("staff-login-failures" in key for key in keys), keys


def test_reports_are_limited_per_citizen_per_day(api, app):
    app.config["REPORT_SUBMIT_LIMIT"] = "10 per minute; 2 per day"
    citizen = api.login_citizen()
    photos = [api.upload_ok(citizen) for _ in range(3)]
    assert [api.submit(citizen, photo_ids=[p]).status_code for p in photos] == [201, 201, 429]
    refused = api.submit(citizen, photo_ids=[photos[2]])
    _assert_429(refused, "rate_limited")
    assert int(refused.headers["Retry-After"]) > 3600  # the day's window, not the minute's
    assert api.submit(api.login_citizen()).status_code == 201


def test_an_honest_citizen_never_meets_the_default_limits(api, app):
    """Ten reports a day, each with the most photos a report takes (9, at most 20 MB each)."""
    defaults = config.Config
    for name in ("PHOTO_UPLOAD_LIMIT", "REPORT_SUBMIT_LIMIT", "UNATTACHED_PHOTO_QUOTA_BYTES"):
        app.config[name] = getattr(defaults, name)
    per_day = {str(item.GRANULARITY.name): item.amount for item in parse_many(defaults.PHOTO_UPLOAD_LIMIT)}
    assert per_day["minute"] >= 9 and per_day["day"] >= 10 * 9
    reports = {str(item.GRANULARITY.name): item.amount for item in parse_many(defaults.REPORT_SUBMIT_LIMIT)}
    assert reports["day"] >= 10
    assert defaults.UNATTACHED_PHOTO_QUOTA_BYTES >= 9 * defaults.MAX_PHOTO_BYTES

    citizen = api.login_citizen()
    for _ in range(9):  # all ten within one minute: nine with a photo each, one with nine photos
        api.submit_ok(citizen)
    api.submit_ok(citizen, photo_ids=[api.upload_ok(citizen) for _ in range(9)])


def test_limits_fail_open_when_their_store_is_unreachable(database_url, tmp_path):
    app = create_app(
        config.TestingConfig,
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "REDIS_URL": "redis://127.0.0.1:1",
            "MEDIA_ROOT": str(tmp_path / "media"),
            "RATELIMIT_STORAGE_OPTIONS": {"socket_connect_timeout": 0.2},
        },
    )
    api = Api(app.test_client())
    assert _login(api, "dispatcher").status_code == 200
    assert _login(api, "dispatcher", "wrong").status_code == 401
    assert api.post("/api/v1/auth/dev", json={"openid": "o"}).status_code == 200
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_malformed_limit_setting_fails_at_start(database_url):
    with pytest.raises(RuntimeError, match="PHOTO_UPLOAD_LIMIT"):
        create_app(config.TestingConfig, {"SQLALCHEMY_DATABASE_URI": database_url, "PHOTO_UPLOAD_LIMIT": "lots"})


# --- unattached uploads: quota and purge -------------------------------------------------------------------------


def test_unattached_uploads_have_a_quota_per_account(api, app):
    photo = jpeg_bytes(64, 48)
    app.config["UNATTACHED_PHOTO_QUOTA_BYTES"] = 2 * len(photo) + 10
    citizen = api.login_citizen()
    first, second = api.upload_ok(citizen, photo), api.upload_ok(citizen, photo)
    refused = api.upload(citizen, photo)
    _assert_429(refused, "upload_quota_exceeded")
    assert int(refused.headers["Retry-After"]) <= app.config["UNATTACHED_PHOTO_MAX_AGE_SECONDS"]
    assert api.upload(api.login_citizen(), photo).status_code == 201  # another citizen has their own room

    api.submit_ok(citizen, photo_ids=[first, second])  # attached photos leave the quota
    assert api.upload(citizen, photo).status_code == 201
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Photo.id))) == 4


def test_uploads_never_attached_are_purged_after_a_day(api, app, redis, run_jobs, media_root):
    citizen = api.login_citizen()
    attached, old, fresh = api.upload_ok(citizen), api.upload_ok(citizen), api.upload_ok(citizen)
    api.submit_ok(citizen, photo_ids=[attached])
    run_jobs()  # the copies of every photo are made
    with app.app_context():
        db.session.execute(
            db.update(Photo).where(Photo.id.in_([attached, old])).values(created_at=utcnow() - timedelta(days=2))
        )
        db.session.commit()
        old_files = [
            media_root / key
            for key in db.session.execute(
                db.select(Photo.original_key, Photo.display_key, Photo.thumb_key).where(Photo.id == old)
            ).one()
        ]
    assert all(path.is_file() for path in old_files)

    enqueued = enqueue_due(redis, periodic_table(app.config), time.time())
    assert any(job_id.startswith("periodic-purge-uploads-") for job_id in enqueued)
    run_jobs()
    with app.app_context():
        assert set(db.session.scalars(db.select(Photo.id))) == {attached, fresh}
    assert not any(path.exists() for path in old_files)
    with app.app_context():
        from workers.jobs.uploads import purge_unattached_photos

        assert purge_unattached_photos() == 0  # nothing left to do; running twice is harmless


# --- login timing (issue 10 #7) -------------------------------------------------------------------------------------


@pytest.fixture
def password_checks(monkeypatch):
    """Every password verification the staff login makes, as the hash it was checked against."""
    from backend.services import accounts

    checked = []
    real = accounts.password_matches

    def spy(password_hash, password):
        checked.append(password_hash)
        return real(password_hash, password)

    monkeypatch.setattr(accounts, "password_matches", spy)
    return checked


@pytest.mark.parametrize("username", ["nobody-here", "dispatcher"])
def test_unknown_and_known_usernames_cost_one_password_check_of_the_same_method(api, app, password_checks, username):
    assert _login(api, username, "wrong-password").status_code == 401
    method = app.config["PASSWORD_HASH_METHOD"]
    assert len(password_checks) == 1
    assert password_checks[0].startswith(method + "$")
