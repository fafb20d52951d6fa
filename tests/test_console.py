"""The staff web console through the Flask test client: login, CSRF, CSP, each role's pages and actions."""

import io
import re
from html.parser import HTMLParser

import pytest

from backend.extensions import db
from backend.models import Photo
from backend.services.responsibility.demo_district import DEMO_PASSWORD
from tests.helpers import OUTSIDE, Console, jpeg_bytes


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
    response = console.client.get("/console/dispatch/pending")
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
    assert console.client.get("/console/dispatch/pending").status_code == 302  # back to the login page


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
            "next": "/console/dispatch/pending",
            "csrf_token": console.csrf(),
        },
    )
    assert response.headers["Location"] == "/console/dispatch/pending"
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
    assert console.client.get("/console/dispatch/pending").status_code == 302


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
    assert console.client.get("/console/dispatch/pending").status_code == 200
    with app.app_context():
        db.session.execute(db.update(Staff).where(Staff.username == "dispatcher").values(active=False))
        db.session.commit()
    response = console.client.get("/console/dispatch/pending")
    assert response.status_code == 302 and "/console/login" in response.headers["Location"]


def test_session_expires(console, app):
    console.login_ok("dispatcher")
    app.config["CONSOLE_SESSION_TTL"] = -1
    assert console.client.get("/console/dispatch/pending").status_code == 302


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


# --- pages of each role ---------------------------------------------------------------------------------------------

UNIT_PAGES = ["/console/unit/cases", "/console/unit/cases?status=closed", "/console/unit/stats"]
DISPATCH_PAGES = [
    "/console/dispatch/pending",
    "/console/dispatch/verify",
    "/console/dispatch/supervision",
    "/console/dispatch/notifications",
    "/console/dispatch/cases",
    "/console/dispatch/cases?status=replied",
]


@pytest.fixture
def routed(api, run_jobs):
    """A report routed to 大河中路街道 (dahezhonglu), and one outside every region, waiting for a dispatcher."""
    citizen = api.login_citizen("console-reporter")
    routed = api.submit_ok(citizen)
    pending = api.submit_ok(citizen, location=OUTSIDE, category="dust")
    run_jobs()
    return routed["id"], pending["id"]


def _case_pages(case_id):
    return [f"/console/unit/cases/{case_id}"], [f"/console/dispatch/cases/{case_id}"]


def test_each_role_sees_its_pages_and_not_the_others(app, routed):
    case_id, pending_id = routed
    unit_case, dispatch_case = _case_pages(case_id)
    expectations = {
        "dahezhonglu": (UNIT_PAGES + unit_case, DISPATCH_PAGES + dispatch_case),
        "dispatcher": (DISPATCH_PAGES + dispatch_case + [f"/console/dispatch/cases/{pending_id}"], UNIT_PAGES),
        "admin": (DISPATCH_PAGES, UNIT_PAGES),
        "leader": ([], UNIT_PAGES + DISPATCH_PAGES),
    }
    for username, (allowed, refused) in expectations.items():
        console = Console(app.test_client()).login_ok(username)
        for path in allowed:
            response = console.client.get(path)
            assert response.status_code == 200, (username, path)
            assert_csp(response)
            assert_no_inline_code(response.get_data(as_text=True))
        for path in refused:
            assert console.client.get(path).status_code == 403, (username, path)
    anonymous = Console(app.test_client())
    for path in UNIT_PAGES + DISPATCH_PAGES + ["/console/map/regions.json"]:
        response = anonymous.client.get(path)
        assert response.status_code == 302 and "/console/login" in response.headers["Location"]


def test_home_is_the_first_page_of_the_role(app):
    unit = Console(app.test_client())
    assert unit.login("dahezhonglu").headers["Location"] == "/console/unit/cases"
    dispatcher = Console(app.test_client())
    assert dispatcher.login("dispatcher").headers["Location"] == "/console/dispatch/pending"


def test_a_unit_cannot_open_or_act_on_another_units_case(app, routed):
    case_id, pending_id = routed
    other = Console(app.test_client()).login_ok("renhe-town")
    for path in (f"/console/unit/cases/{case_id}", f"/console/unit/cases/{pending_id}", "/console/unit/cases/999999"):
        response = other.client.get(path)
        assert response.status_code == 404
        assert "内容不存在" in response.get_data(as_text=True) or "案件不存在" in response.get_data(as_text=True)
    for action in ("accept", "return", "reply", "comment", "extension"):
        assert other.post(f"/console/unit/cases/{case_id}/{action}", {"reason": "x", "content": "x"}).status_code == 404
    own = Console(app.test_client()).login_ok("dahezhonglu")
    assert own.client.get(f"/console/unit/cases/{case_id}").status_code == 200


def test_no_page_shows_the_reporters_identity(app, api, routed, run_jobs):
    from backend.extensions import db
    from backend.models import User

    case_id, pending_id = routed
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.openid == "dev-console-reporter"))
        user.unionid = "union-of-the-reporter"
        db.session.commit()
        # a user row holds openid and unionid (no name or phone): neither, nor the login name, may appear
        secrets = {user.openid, user.unionid, "console-reporter"}
        user_id = user.id
    unit = Console(app.test_client()).login_ok("dahezhonglu")
    dispatcher = Console(app.test_client()).login_ok("dispatcher")
    pages = [(unit, p) for p in [*UNIT_PAGES, f"/console/unit/cases/{case_id}"]]
    pages += [(dispatcher, p) for p in [*DISPATCH_PAGES, f"/console/dispatch/cases/{case_id}"]]
    pages += [(dispatcher, f"/console/dispatch/cases/{pending_id}")]
    for console, path in pages:
        html = console.client.get(path).get_data(as_text=True)
        for secret in secrets:
            assert secret not in html, (path, secret)
        assert "reporter" not in html and f"用户 {user_id}" not in html


# --- the day's work through the forms ------------------------------------------------------------------------------


def test_a_unit_accepts_and_replies_with_a_photo(app, api, routed, run_jobs):
    case_id, _ = routed
    unit = Console(app.test_client()).login_ok("dahezhonglu")
    queue = unit.page("/console/unit/cases")
    assert f'data-case-id="{case_id}"' in queue and "待签收" in queue

    response = unit.post(f"/console/unit/cases/{case_id}/accept")
    assert response.status_code == 302 and response.headers["Location"] == f"/console/unit/cases/{case_id}"
    page = unit.page(f"/console/unit/cases/{case_id}")
    assert "已签收" in page and "处置中" in page
    assert "csrf_token" in page and 'enctype="multipart/form-data"' in page

    # accepting again is refused with the state machine's reason, flashed on the case page
    unit.post(f"/console/unit/cases/{case_id}/accept")
    assert "不能执行此操作" in unit.page(f"/console/unit/cases/{case_id}")

    # an empty reply is refused before anything is stored
    unit.post(f"/console/unit/cases/{case_id}/reply", {"content": ""})
    assert "内容" in unit.page(f"/console/unit/cases/{case_id}")

    response = unit.post(
        f"/console/unit/cases/{case_id}/reply",
        {"content": "已清除小广告 12 处", "photos": [(io.BytesIO(jpeg_bytes()), "after.jpg", "image/jpeg")]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    run_jobs()
    staff_view = api.get(f"/api/v1/admin/cases/{case_id}", api.login_staff("dispatcher")).json
    assert staff_view["status"] == "replied"
    assert staff_view["reply"]["content"] == "已清除小广告 12 处"
    assert len(staff_view["reply"]["photos"]) == 1
    page = unit.page(f"/console/unit/cases/{case_id}")
    assert "处置反馈" in page and "/media/photos/" in page and "/display.jpg" in page


def test_a_unit_returns_a_case_with_a_reason_and_asks_for_more_time(app, api, routed, run_jobs):
    case_id, _ = routed
    unit = Console(app.test_client()).login_ok("dahezhonglu")
    unit.post(f"/console/unit/cases/{case_id}/accept")
    unit.post(f"/console/unit/cases/{case_id}/extension", {"extra_working_hours": "8", "reason": "需协调城管联合执法"})
    assert "延期申请已提交" in unit.page(f"/console/unit/cases/{case_id}")
    unit.post(f"/console/unit/cases/{case_id}/comment", {"content": "已联系物业"})
    assert "已联系物业" in unit.page(f"/console/unit/cases/{case_id}")

    unit.post(f"/console/unit/cases/{case_id}/return", {"reason": ""})
    assert "原因" in unit.page(f"/console/unit/cases/{case_id}")  # refused: a reason is required
    response = unit.post(f"/console/unit/cases/{case_id}/return", {"reason": "不属于本辖区"})
    assert response.headers["Location"] == "/console/unit/cases"
    run_jobs()
    staff_view = api.get(f"/api/v1/admin/cases/{case_id}", api.login_staff("dispatcher")).json
    assert staff_view["unit"] is None or staff_view["unit"]["code"] != "dahezhonglu"
    assert unit.client.get(f"/console/unit/cases/{case_id}").status_code == 404


def test_the_dispatcher_dispatches_rejects_closes_and_reworks(app, api, routed, run_jobs):
    case_id, pending_id = routed
    dispatcher = Console(app.test_client()).login_ok("dispatcher")
    pending = dispatcher.page("/console/dispatch/pending")
    assert f'data-case-id="{pending_id}"' in pending
    assert "位置不在任何已划分的辖区内" in pending  # the routing explanation

    with app.app_context():
        from backend.extensions import db
        from backend.models import Unit

        ecology = db.session.scalar(db.select(Unit).where(Unit.code == "renhe-ecology")).id
    response = dispatcher.post(
        f"/console/dispatch/cases/{pending_id}/dispatch", {"unit_id": str(ecology), "from": "pending"}
    )
    assert response.headers["Location"] == "/console/dispatch/pending"
    assert "已派遣至区生态环境局" in dispatcher.page("/console/dispatch/pending")
    assert api.get(f"/api/v1/admin/cases/{pending_id}", api.login_staff("dispatcher")).json["status"] == "dispatched"

    # reject: another report outside the regions
    citizen = api.login_citizen("console-reporter")
    other = api.submit_ok(citizen, location=OUTSIDE)["id"]
    run_jobs()
    dispatcher.post(f"/console/dispatch/cases/{other}/reject", {"reason": ""})
    assert "原因" in dispatcher.page(f"/console/dispatch/cases/{other}")
    dispatcher.post(f"/console/dispatch/cases/{other}/reject", {"reason": "重复举报"})
    assert api.get(f"/api/v1/admin/cases/{other}", api.login_staff("dispatcher")).json["status"] == "rejected"

    # the unit replies; the dispatcher reworks, the unit replies again, the dispatcher closes
    unit_token = api.login_staff("dahezhonglu")
    api.post(f"/api/v1/unit/cases/{case_id}/accept", unit_token)
    api.post(f"/api/v1/unit/cases/{case_id}/reply", unit_token, json={"content": "已清理"})
    verify = dispatcher.page("/console/dispatch/verify")
    assert f'data-case-id="{case_id}"' in verify and "处置前" in verify and "处置后" in verify
    dispatcher.post(f"/console/dispatch/cases/{case_id}/rework", {"reason": "仍有残留", "from": "verify"})
    assert api.get(f"/api/v1/admin/cases/{case_id}", api.login_staff("dispatcher")).json["status"] == "processing"
    api.post(f"/api/v1/unit/cases/{case_id}/reply", unit_token, json={"content": "已彻底清理"})
    response = dispatcher.post(f"/console/dispatch/cases/{case_id}/close", {"from": "verify"})
    assert response.headers["Location"] == "/console/dispatch/verify"
    assert api.get(f"/api/v1/admin/cases/{case_id}", api.login_staff("dispatcher")).json["status"] == "closed"
    # closing twice: the state machine refuses, the page says why
    dispatcher.post(f"/console/dispatch/cases/{case_id}/close")
    assert "不能执行此操作" in dispatcher.page(f"/console/dispatch/cases/{case_id}")


def test_the_dispatcher_decides_an_extension(app, api, routed):
    case_id, _ = routed
    unit = Console(app.test_client()).login_ok("dahezhonglu")
    unit.post(f"/console/unit/cases/{case_id}/extension", {"extra_working_hours": "8", "reason": "需要协调"})
    dispatcher = Console(app.test_client()).login_ok("dispatcher")
    board = dispatcher.page("/console/dispatch/supervision")
    found = re.search(r'data-extension-id="(\d+)"', board)
    assert found and "需要协调" in board
    response = dispatcher.post(f"/console/dispatch/extensions/{found.group(1)}/approve", {"extra_working_hours": "8"})
    assert response.headers["Location"].startswith("/console/dispatch/supervision")
    assert "已批准延期" in dispatcher.page("/console/dispatch/supervision")


def test_the_dispatcher_resends_a_failed_notification(app, api, routed):
    from backend.extensions import db
    from backend.models import DeliveryStatus, Notification

    with app.app_context():
        notification = db.session.scalars(db.select(Notification).order_by(Notification.id)).first()
        notification.status = DeliveryStatus.FAILED
        notification.attempts = 6
        notification.last_error = "webhook answered 500"
        db.session.commit()
        notification_id = notification.id
    dispatcher = Console(app.test_client()).login_ok("dispatcher")
    page = dispatcher.page("/console/dispatch/notifications")
    assert f'data-notification-id="{notification_id}"' in page and "webhook answered 500" in page
    response = dispatcher.post(f"/console/dispatch/notifications/{notification_id}/retry")
    assert response.headers["Location"].startswith("/console/dispatch/notifications")
    with app.app_context():
        assert db.session.get(Notification, notification_id).status == DeliveryStatus.PENDING
    dispatcher.post(f"/console/dispatch/notifications/{notification_id}/retry")
    assert "只有发送失败的通知可以重发" in dispatcher.page("/console/dispatch/notifications")


def test_regions_for_the_map_in_the_tiles_coordinate_system(app, routed):
    dispatcher = Console(app.test_client()).login_ok("dispatcher")
    collection = dispatcher.client.get("/console/map/regions.json").json
    assert collection["features"] and {f["properties"]["coord"] for f in collection["features"]} == {"gcj02"}
    app.config["CONSOLE_TILE_COORD"] = "wgs84"
    converted = dispatcher.client.get("/console/map/regions.json").json
    assert {f["properties"]["coord"] for f in converted["features"]} == {"wgs84"}
    before = collection["features"][0]["geometry"]["coordinates"][0][0]
    after = converted["features"][0]["geometry"]["coordinates"][0][0]
    assert before != after and abs(before[0] - after[0]) < 0.01  # GCJ-02 is a few hundred metres off WGS-84


def test_a_filter_day_out_of_range_is_a_422_page_not_a_500(app):
    """Found by a defect hunt: year 1 in the dispatcher's date filter answered 500."""
    console = Console(app.test_client()).login_ok("dispatcher")
    for query in ("created_from=0001-01-01", "created_to=9999-12-31"):
        response = console.client.get(f"/console/dispatch/cases?{query}")
        assert response.status_code == 422, response.status_code
    assert console.client.get("/console/dispatch/cases?created_from=2000-01-01").status_code == 200


def _files_under(root) -> set:
    return {p for p in root.rglob("*") if p.is_file()}


def test_a_refused_reply_keeps_none_of_its_photos(app, api, routed, media_root):
    """Found by a defect hunt: a reply refused by the state machine (here: not signed off yet) rolled back its
    photo rows but left their files on disk, where neither the quota nor the purge would ever see them."""
    case_id, _ = routed
    unit = Console(app.test_client()).login_ok("dahezhonglu")
    before = _files_under(media_root)
    two = [(io.BytesIO(jpeg_bytes()), f"after-{n}.jpg", "image/jpeg") for n in range(2)]
    response = unit.post(
        f"/console/unit/cases/{case_id}/reply", {"content": "已清除", "photos": two}, content_type="multipart/form-data"
    )
    assert response.status_code == 302
    assert "不能执行此操作" in unit.page(f"/console/unit/cases/{case_id}")
    assert _files_under(media_root) == before
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Photo)) == 2  # the two reports' own


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/console/dispatch/cases/{case_id}/dispatch", {"unit_id": "²"}),
        ("/console/calendar/seed", {"year": "²"}),
        ("/console/rewards/rules", {"category_id": "1", "amount_yuan": "1e999999"}),
    ],
)
def test_unicode_digits_and_huge_amounts_in_a_form_are_refused_not_a_500(app, routed, path, data):
    """Found by a defect hunt: "²" passed str.isdigit() and failed int(); 1e999999 overflowed Decimal."""
    case_id, _ = routed
    console = Console(app.test_client()).login_ok("admin")
    response = console.post(path.format(case_id=case_id), data)
    assert response.status_code == 302, response.status_code


def test_a_password_with_a_nul_byte_is_refused_as_the_api_refuses_it(app):
    """Found by a defect hunt: the console accepted a NUL in a new password, which the API's login then refused
    for good; and a NUL in the login form's username reached the database (a JSON 404 on PostgreSQL)."""
    console = Console(app.test_client()).login_ok("dispatcher")
    response = console.post(
        "/console/account/password", {"current_password": DEMO_PASSWORD, "new_password": "a\x00bcdefghijk"}
    )
    assert response.status_code == 302
    assert "空字符" in console.page("/console/account/password")
    assert Console(app.test_client()).login("dispatcher").status_code == 302  # the old password still works
    refused = Console(app.test_client()).login("dispatcher\x00x")
    assert refused.status_code == 422 and "text/html" in refused.content_type


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("dahezhonglu", "/console/unit/cases?status=xx"),
        ("dahezhonglu", "/console/unit/cases?page=abc"),
        ("dahezhonglu", "/console/unit/cases?per_page=1000"),
        ("dispatcher", "/console/dispatch/cases/99999999999999999999"),
        ("admin", "/console/calendar?year=1999"),
    ],
)
def test_a_bad_address_in_the_console_is_an_html_page_not_json(app, who, path):
    """Found by a defect hunt: a bad query parameter (marshmallow's error) or an id no column holds reached the
    app's handlers, which answered the API's JSON envelope on a console page."""
    console = Console(app.test_client()).login_ok(who)
    response = console.client.get(path)
    assert 400 <= response.status_code < 500, response.status_code
    assert response.content_type.startswith("text/html"), (response.content_type, response.data[:200])


def test_a_bad_period_on_the_leader_dashboard_is_flashed_and_the_default_shown(app):
    console = Console(app.test_client()).login_ok("leader")
    for query in ("period=2026-12", "from=1999-01-01"):
        response = console.client.get(f"/console/stats?{query}")
        assert response.status_code == 200 and response.content_type.startswith("text/html"), query


def test_the_calendar_links_no_year_outside_its_range(app):
    console = Console(app.test_client()).login_ok("admin")
    assert "year=1999" not in console.page("/console/calendar?year=2000")
    assert "year=2101" not in console.page("/console/calendar?year=2100")


def test_a_session_cookie_copied_before_logout_no_longer_lets_anyone_in(app, routed):
    """Found by a defect hunt: logging out only cleared the browser's signed cookie; a copy taken before still
    worked for the session's whole TTL, and could post a comment."""
    case_id, _ = routed
    console = Console(app.test_client()).login_ok("dahezhonglu")
    name = app.config["SESSION_COOKIE_NAME"]
    copied = console.client.get_cookie(name).value
    token = console.csrf()
    assert console.client.get("/console/unit/cases").status_code == 200
    assert console.post("/console/logout").status_code == 302

    console.client.set_cookie(name, copied)
    response = console.client.get("/console/unit/cases")
    assert response.status_code == 302 and "/console/login" in response.headers["Location"]
    comment = console.client.post(f"/console/unit/cases/{case_id}/comment", data={"content": "x", "csrf_token": token})
    assert comment.status_code in (302, 400) and "/console/unit/cases" not in comment.headers.get("Location", "")
    # another session of the same account is not affected
    other = Console(app.test_client()).login_ok("dahezhonglu")
    assert other.client.get("/console/unit/cases").status_code == 200


def test_with_redis_down_the_console_still_works_and_logs_out(app):
    """A review finding: the logout check read Redis on every console request, so a Redis outage made every
    console page a 503 and logout itself failed. The console goes on (as the rate limits and lock-out do)."""
    from backend import create_app
    from config import TestingConfig

    down = create_app(
        TestingConfig,
        {
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "REDIS_URL": "redis://127.0.0.1:1/0",
            "MEDIA_ROOT": app.config["MEDIA_ROOT"],
            "SECRET_KEY": app.config["SECRET_KEY"],
        },
    )
    console = Console(down.test_client()).login_ok("dahezhonglu")
    assert console.client.get("/console/unit/cases").status_code == 200
    assert console.post("/console/logout").status_code == 302
    response = console.client.get("/console/unit/cases")
    assert response.status_code == 302 and "/console/login" in response.headers["Location"]
