"""The staff web console through the Flask test client: login, CSRF, CSP, each role's pages and actions."""

import re
from html.parser import HTMLParser

import pytest

from tests.helpers import Console


@pytest.fixture
def console(app) -> Console:
    return Console(app.test_client())


def other_console(app) -> Console:
    return Console(app.test_client())


class _Scripts(HTMLParser):
    """Every <script> (with its src and body), <style>, style= and on*= attribute of a page."""

    def __init__(self):
        super().__init__()
        self.inline_scripts, self.srcs, self.styles, self.handlers = [], [], [], []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self._in_script = True
            if attrs.get("src"):
                self.srcs.append(attrs["src"])
        if tag == "style":
            self.styles.append(tag)
        for name in attrs:
            if name.startswith("on"):
                self.handlers.append((tag, name))
            if name == "style":
                self.styles.append((tag, name))

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline_scripts.append(data)


def assert_no_inline_code(html: str) -> None:
    parser = _Scripts()
    parser.feed(html)
    assert parser.inline_scripts == []
    assert parser.handlers == []
    assert parser.styles == []
    assert all(src.startswith("/console/static/") for src in parser.srcs), parser.srcs


def assert_csp(response) -> None:
    policy = response.headers["Content-Security-Policy"]
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
    ):
        assert directive in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


# --- login, logout, session ---------------------------------------------------------------------------------------


def test_login_page_carries_a_csrf_token_and_the_policy(console):
    response = console.client.get("/console/login")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'name="csrf_token"' in html
    assert "工作人员登录" in html
    assert_csp(response)
    assert_no_inline_code(html)


def test_console_root_leads_to_login_then_home(console):
    assert console.client.get("/console/").headers["Location"].endswith("/console/login")
    response = console.client.get("/console/welcome")
    assert response.status_code == 302
    assert "/console/login?next=" in response.headers["Location"]


def test_login_sets_a_hardened_session_cookie_and_logout_ends_it(console, app):
    response = console.login("dispatcher")
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{app.config['SESSION_COOKIE_NAME']}=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # testing; production sets it (test_production_cookie_is_secure)
    home = console.client.get(response.headers["Location"])
    assert home.status_code == 200
    assert "dispatcher" in home.get_data(as_text=True)

    logout = console.post("/console/logout")
    assert logout.status_code == 302
    assert console.client.get("/console/welcome").status_code == 302  # back to the login page


def test_production_cookie_is_secure():
    import config

    assert config.ProductionConfig.SESSION_COOKIE_SECURE is True
    assert config.Config.SESSION_COOKIE_HTTPONLY is True
    assert config.Config.SESSION_COOKIE_SAMESITE == "Lax"


def test_login_goes_back_to_the_page_asked_for_but_never_off_site(console):
    response = console.client.post(
        "/console/login",
        data={
            "username": "dispatcher",
            "password": "renhe-demo-2026",
            "next": "/console/welcome",
            "csrf_token": console.csrf(),
        },
    )
    assert response.headers["Location"] == "/console/welcome"
    console.post("/console/logout")
    for evil in ("https://evil.example/", "//evil.example/console", "/api/v1/admin/cases"):
        response = console.client.post(
            "/console/login",
            data={"username": "dispatcher", "password": "renhe-demo-2026", "next": evil, "csrf_token": console.csrf()},
        )
        assert "evil" not in response.headers["Location"] and "/api/" not in response.headers["Location"]
        console.post("/console/logout")


def test_wrong_password_is_refused_in_chinese(console):
    response = console.login("dispatcher", "wrong-password")
    assert response.status_code == 401
    html = response.get_data(as_text=True)
    assert "用户名或密码错误" in html
    assert console.client.get("/console/welcome").status_code == 302


def test_lock_out_after_repeated_failures_shared_with_the_api(console, app, api):
    app.config["STAFF_LOGIN_LOCKOUT"] = "3 per 15 minutes"
    for _ in range(2):
        assert console.login("dispatcher", "wrong").status_code == 401
    # the API's failures count towards the same lock
    assert api.post("/api/v1/auth/staff", json={"username": "dispatcher", "password": "wrong"}).status_code == 401
    locked = console.login("dispatcher")  # even the right password
    assert locked.status_code == 429
    assert "锁定" in locked.get_data(as_text=True)
    right = {"username": "dispatcher", "password": "renhe-demo-2026"}
    assert api.post("/api/v1/auth/staff", json=right).status_code == 429


def test_per_address_limit_on_failed_logins(console, app):
    app.config["STAFF_LOGIN_IP_LIMIT"] = "2 per minute"
    assert console.login("nobody-1", "x").status_code == 401
    assert console.login("nobody-2", "x").status_code == 401
    limited = console.login("dispatcher")
    assert limited.status_code == 429
    assert "登录失败次数过多" in limited.get_data(as_text=True)


def test_post_without_csrf_token_is_400(console):
    response = console.client.post("/console/login", data={"username": "dispatcher", "password": "renhe-demo-2026"})
    assert response.status_code == 400
    assert "text/html" in response.content_type
    console.login_ok("dispatcher")
    assert console.client.post("/console/logout").status_code == 400
    assert console.client.post("/console/logout", data={"csrf_token": "forged"}).status_code == 400


def test_the_token_changes_at_login(console):
    before = console.csrf()
    console.login_ok("dispatcher")
    assert console.csrf() != before


def test_deactivated_staff_is_logged_out_on_the_next_request(console, app):
    from backend.extensions import db
    from backend.models import Staff

    console.login_ok("dispatcher")
    assert console.client.get("/console/welcome").status_code == 200
    with app.app_context():
        db.session.execute(db.update(Staff).where(Staff.username == "dispatcher").values(active=False))
        db.session.commit()
    response = console.client.get("/console/welcome")
    assert response.status_code == 302 and "/console/login" in response.headers["Location"]


def test_session_expires(console, app):
    console.login_ok("dispatcher")
    app.config["CONSOLE_SESSION_TTL"] = -1
    assert console.client.get("/console/welcome").status_code == 302


def test_unknown_console_address_is_an_html_404(console):
    response = console.client.get("/console/no-such-page")
    assert response.status_code == 404
    assert "text/html" in response.content_type
    assert_csp(response)


def test_the_api_keeps_its_json_errors(api):
    response = api.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
    assert "Content-Security-Policy" not in response.headers


def test_tile_host_is_allowed_in_the_policy(app, console):
    app.config["CONSOLE_TILE_URL"] = "https://t{s}.tianditu.gov.cn/vec_w/wmts?x={x}&y={y}&l={z}"
    policy = console.client.get("/console/login").headers["Content-Security-Policy"]
    assert re.search(r"img-src [^;]*https://\*\.tianditu\.gov\.cn", policy)
