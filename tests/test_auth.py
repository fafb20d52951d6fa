"""WeChat login against a local fake of api.weixin.qq.com, staff login, tokens."""

import pytest
from itsdangerous import URLSafeTimedSerializer

import config
from backend import create_app


@pytest.fixture
def wechat(app, httpserver):
    app.config["WECHAT_API_BASE"] = httpserver.url_for("/").rstrip("/")
    return httpserver


def _expect_code2session(wechat, code, answer):
    wechat.expect_request(
        "/sns/jscode2session",
        method="GET",
        query_string={
            "appid": "wx-test-appid",
            "secret": "wx-test-secret",
            "js_code": code,
            "grant_type": "authorization_code",
        },
    ).respond_with_json(answer)


def test_wechat_login_exchanges_the_code_and_issues_our_token(api, wechat):
    _expect_code2session(wechat, "code-1", {"openid": "o-abc", "session_key": "secret-session-key"})
    response = api.post("/api/v1/auth/wechat", json={"code": "code-1"})
    assert response.status_code == 200
    body = response.json
    assert set(body) == {"token", "expires_in", "user"}
    assert "secret-session-key" not in response.get_data(as_text=True)
    assert api.get("/api/v1/reports/mine", body["token"]).status_code == 200

    _expect_code2session(wechat, "code-2", {"openid": "o-abc", "session_key": "k2"})
    again = api.post("/api/v1/auth/wechat", json={"code": "code-2"}).json
    assert again["user"]["id"] == body["user"]["id"]


@pytest.mark.parametrize("errcode", [40029, 40163, 40226])
def test_wechat_error_is_401(api, wechat, errcode):
    _expect_code2session(wechat, "bad", {"errcode": errcode, "errmsg": "invalid code"})
    response = api.post("/api/v1/auth/wechat", json={"code": "bad"})
    assert response.status_code == 401
    assert response.json["error"]["code"] == "wechat_login_failed"


def test_wechat_busy_is_503_not_401(api, wechat):
    _expect_code2session(wechat, "c", {"errcode": -1, "errmsg": "system error"})
    response = api.post("/api/v1/auth/wechat", json={"code": "c"})
    assert response.status_code == 503
    assert response.json["error"]["code"] == "wechat_busy"


def test_wechat_unreachable_is_503(api, app):
    app.config["WECHAT_API_BASE"] = "http://127.0.0.1:9"
    response = api.post("/api/v1/auth/wechat", json={"code": "c"})
    assert response.status_code == 503


@pytest.mark.parametrize("body", [{}, {"code": ""}, {"code": 123}, ["code"]])
def test_wechat_login_validates_input(api, body):
    response = api.post("/api/v1/auth/wechat", json=body)
    assert response.status_code in (400, 422)
    assert "error" in response.json


def test_staff_login(api):
    response = api.post("/api/v1/auth/staff", json={"username": "dahezhonglu", "password": "renhe-demo-2026"})
    assert response.status_code == 200
    staff = response.json["staff"]
    assert staff["role"] == "unit_staff"
    assert staff["unit"]["code"] == "dahezhonglu"
    dispatcher = api.post("/api/v1/auth/staff", json={"username": "dispatcher", "password": "renhe-demo-2026"})
    assert dispatcher.json["staff"]["unit"] is None


def test_staff_login_wrong_password(api):
    response = api.post("/api/v1/auth/staff", json={"username": "dispatcher", "password": "nope"})
    assert response.status_code == 401
    assert response.json["error"]["code"] == "invalid_credentials"


@pytest.mark.parametrize(
    "header", ["", "Bearer", "Bearer not-a-token", "Basic abc", "Bearer eyJrIjoiY2l0aXplbiIsImlkIjoxfQ.x.y"]
)
def test_bad_tokens_are_401(api, header):
    response = api.client.get("/api/v1/reports/mine", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.json["error"]["code"] in {"unauthorized", "invalid_token"}


def test_expired_token_is_401_token_expired(api, app):
    token = api.login_citizen()
    app.config["CITIZEN_TOKEN_TTL"] = -1
    response = api.get("/api/v1/reports/mine", token)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "token_expired"


def test_token_signed_with_another_key_is_rejected(api):
    forged = URLSafeTimedSerializer("another-key", salt="api-token").dumps({"k": "staff", "id": 1})
    assert api.get("/api/v1/admin/cases", forged).status_code == 401


def test_citizen_token_cannot_reach_staff_endpoints(api):
    citizen = api.login_citizen()
    assert api.get("/api/v1/unit/cases", citizen).status_code == 403
    assert api.get("/api/v1/admin/cases", citizen).status_code == 403


def test_unit_staff_cannot_reach_dispatcher_endpoints(api):
    unit = api.login_staff("dahezhonglu")
    assert api.get("/api/v1/admin/cases", unit).status_code == 403
    dispatcher = api.login_staff("dispatcher")
    assert api.get("/api/v1/unit/cases", dispatcher).status_code == 403
    assert api.post("/api/v1/reports", dispatcher, json={}).status_code == 403


def test_dev_login_is_off_unless_enabled(api, app):
    app.config["DEV_LOGIN_ENABLED"] = False
    assert api.post("/api/v1/auth/dev", json={"openid": "x"}).status_code == 404


def test_production_refuses_default_secret_and_dev_login(monkeypatch):
    monkeypatch.setattr(config.ProductionConfig, "SECRET_KEY", "")
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(config.ProductionConfig)


def test_production_requires_database_and_redis(monkeypatch):
    monkeypatch.setattr(config.ProductionConfig, "SECRET_KEY", "x" * 40)
    monkeypatch.setattr(config.ProductionConfig, "REDIS_URL", "")
    monkeypatch.setattr(config.ProductionConfig, "SQLALCHEMY_DATABASE_URI", "")
    with pytest.raises(RuntimeError) as error:
        create_app(config.ProductionConfig)
    assert "DATABASE_URL" in str(error.value) and "REDIS_URL" in str(error.value)
