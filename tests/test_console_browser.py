"""The staff console in a real headless Chromium (Debian's `chromium`, driven by Playwright): a unit accepts and
replies with a photo uploaded from the page, a dispatcher verifies (before and after side by side) and closes, a
unit cannot open another unit's case, no page shows who reported, and nothing breaks the Content-Security-Policy.

The app runs in a werkzeug server thread on 127.0.0.1 (the suite's database and embedded Redis); jobs are drained
with the suite's real RQ worker. Skipped when no chromium is installed, except under CI, where it fails.
CONSOLE_SCREENSHOTS=1 saves 1366×768 screenshots of the main pages to docs/console/ (README, "Staff console").
"""

import os
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from backend.services.responsibility.demo_district import DEMO_PASSWORD
from tests.helpers import OUTSIDE, jpeg_bytes

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parent.parent / "docs" / "console"
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        path = None
    if path is None:
        reason = "no chromium (apt-get install chromium) or no playwright (pip install -r requirements-dev.txt)"
        if os.environ.get("CI"):
            pytest.fail(f"browser tests cannot run under CI: {reason}")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module")
def browser():
    executable = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def server(app):
    """The app on a free port of 127.0.0.1, served by werkzeug in a thread."""
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}"
    http.shutdown()
    thread.join(timeout=5)


class Session:
    """One staff member's browser tab; records every CSP violation and failed script."""

    def __init__(self, browser, base: str, viewport=DESKTOP):
        self.context = browser.new_context(viewport=viewport, locale="zh-CN")
        self.page = self.context.new_page()
        self.base = base
        self.problems: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on("dialog", lambda dialog: dialog.accept())

    def _console(self, message):
        if message.type == "error" and ("Content Security Policy" in message.text or "Refused" in message.text):
            self.problems.append(message.text)

    def go(self, path: str):
        self.page.goto(self.base + path)
        return self.page

    def login(self, username: str):
        page = self.go("/console/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        assert "/console/login" not in page.url, page.content()
        return self

    def shot(self, name: str, full_page: bool = True) -> None:
        if os.environ.get("CONSOLE_SCREENSHOTS"):
            SHOTS.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)

    def assert_clean(self, *secrets: str) -> None:
        assert self.problems == []
        html = self.page.content()
        for secret in secrets:
            assert secret not in html

    def close(self):
        self.context.close()


@pytest.fixture
def reports(api, run_jobs):
    """Two routed reports at 大河中路街道, one outside every region waiting for a dispatcher; the reporter's openid."""
    citizen = api.login_citizen("browser-reporter")
    routed = [api.submit_ok(citizen)["id"], api.submit_ok(citizen, category="street_vendor")["id"]]
    pending = api.submit_ok(citizen, location=OUTSIDE, category="dust")["id"]
    run_jobs()
    return routed, pending, "dev-browser-reporter"


def _images_loaded(page, selector: str, at_least: int = 1) -> int:
    """How many of the images are loaded, once at least `at_least` are (they load lazily)."""
    loaded = "els => els.filter(e => e.complete && e.naturalWidth > 0).length"
    script = f"([sel, n]) => ({loaded})([...document.querySelectorAll(sel)]) >= n"
    page.wait_for_function(script, arg=[selector, at_least], timeout=10_000)
    return page.eval_on_selector_all(selector, loaded)


def test_a_unit_accepts_and_replies_with_a_photo_from_the_page(browser, server, reports, run_jobs, tmp_path):
    (case_id, _), _, openid = reports
    unit = Session(browser, server).login("dahezhonglu")
    page = unit.page
    assert page.url.endswith("/console/unit/cases")
    assert page.locator(f"tr[data-case-id='{case_id}']").count() == 1
    assert _images_loaded(page, "#queue img") >= 1
    unit.shot("unit-queue")

    page.click(f"tr[data-case-id='{case_id}'] a")
    page.wait_for_selector("#case-map[data-ready='1']")
    assert page.locator("#case-map path.leaflet-interactive").count() >= 2  # regions and the pin
    unit.shot("unit-case")
    # the full-size viewer shows the display copy
    page.click(".photos a[data-viewer]")
    assert (
        page.locator(".viewer img")
        .get_attribute("src")
        .endswith(page.locator(".photos a").first.get_attribute("href")[-20:])
    )
    page.keyboard.press("Escape")

    page.click("#accept")
    page.wait_for_load_state()
    assert "已签收" in page.locator(".flashes").inner_text()

    photo = tmp_path / "after.jpg"
    photo.write_bytes(jpeg_bytes())
    page.fill("#reply-form textarea[name=content]", "已清除小广告 12 处")
    page.set_input_files("#reply-form input[type=file]", str(photo))
    page.wait_for_selector("#reply-preview img")  # the preview before sending
    page.click("#reply-form button[type=submit]")
    page.wait_for_load_state()
    assert "已提交处置反馈" in page.locator(".flashes").inner_text()
    run_jobs()  # the photo worker makes the display copy and thumbnail
    page.reload()
    assert "已清除小广告 12 处" in page.content()
    assert _images_loaded(page, ".photos img", 2) >= 2  # the report's photo and the after-photo

    page.goto(server + "/console/unit/stats")
    assert "综合得分" in page.content()
    unit.shot("unit-stats")
    unit.assert_clean(openid)
    unit.close()

    phone = Session(browser, server, viewport=PHONE).login("dahezhonglu")
    phone.go(f"/console/unit/cases/{case_id}")
    phone.page.wait_for_selector("#case-map[data-ready='1']")
    # nothing wider than the phone's screen
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.shot("unit-case-phone")
    phone.assert_clean(openid)
    phone.close()


def test_a_dispatcher_verifies_side_by_side_and_closes(browser, server, api, reports, run_jobs):
    (case_id, _), pending_id, openid = reports
    token = api.login_staff("dahezhonglu")
    api.post(f"/api/v1/unit/cases/{case_id}/accept", token)
    after = api.upload_ok(token)
    reply = api.post(f"/api/v1/unit/cases/{case_id}/reply", token, json={"content": "已清理完毕", "photo_ids": [after]})
    assert reply.status_code == 200
    run_jobs()

    desk = Session(browser, server).login("dispatcher")
    page = desk.page
    assert page.url.endswith("/console/dispatch/pending")
    assert page.locator(f"[data-case-id='{pending_id}']").count() == 1
    assert "位置不在任何已划分的辖区内" in page.content()
    desk.shot("dispatch-pending")

    page.click("nav a:has-text('待核查')")
    # measured once the page is laid out as shown: its stylesheet applied (until it is, the columns stack, which
    # is what a measurement under load used to catch) and the lazy photos loaded
    page.wait_for_load_state("load")
    card = page.locator(f".verify-case[data-case-id='{case_id}']")
    assert _images_loaded(page, ".verify-case img", 2) >= 2
    # side by side: one grid row of two columns, the headings on one line, the after-photo right of the before-photo
    columns = card.locator(".compare").evaluate("e => getComputedStyle(e).gridTemplateColumns.split(' ').length")
    assert columns == 2
    before_column, after_column = card.locator(".before").bounding_box(), card.locator(".after").bounding_box()
    assert before_column["y"] == after_column["y"]
    assert after_column["x"] >= before_column["x"] + before_column["width"]
    before_head, after_head = card.locator(".before h3").bounding_box(), card.locator(".after h3").bounding_box()
    assert abs(before_head["y"] - after_head["y"]) < 1 and before_head["height"] == after_head["height"]
    before_box = card.locator(".before img").first.bounding_box()
    after_box = card.locator(".after img").first.bounding_box()
    assert after_box["x"] >= before_box["x"] + before_box["width"]
    desk.shot("dispatch-verify")
    card.locator("button:has-text('核查通过')").click()
    page.wait_for_load_state()
    assert "已结案" in page.locator(".flashes").inner_text()
    assert api.get(f"/api/v1/admin/cases/{case_id}", api.login_staff("dispatcher")).json["status"] == "closed"

    # one-click manual dispatch of the pending case
    page.goto(server + "/console/dispatch/pending")
    pending = page.locator(f"[data-case-id='{pending_id}']")
    pending.locator("select[name=unit_id]").select_option(label="区生态环境局")
    pending.locator("button:has-text('派遣')").last.click()
    page.wait_for_load_state()
    assert "已派遣至区生态环境局" in page.locator(".flashes").inner_text()

    for path, name in (
        ("/console/dispatch/supervision", "dispatch-supervision"),
        ("/console/dispatch/notifications", "dispatch-notifications"),
        (f"/console/dispatch/cases/{case_id}", "dispatch-case"),
    ):
        page.goto(server + path)
        page.wait_for_load_state()
        desk.shot(name)
    page.wait_for_selector("#case-map[data-ready='1']")
    desk.assert_clean(openid)
    desk.close()

    login = Session(browser, server)
    login.go("/console/login")
    login.shot("login", full_page=False)
    login.close()


def test_a_unit_cannot_open_another_units_case(browser, server, reports):
    (case_id, _), pending_id, openid = reports
    other = Session(browser, server).login("renhe-town")
    for path in (f"/console/unit/cases/{case_id}", f"/console/unit/cases/{pending_id}"):
        response = other.page.goto(server + path)
        assert response.status == 404
        assert "内容不存在" in other.page.content() or "案件不存在" in other.page.content()
    assert other.page.goto(server + "/console/dispatch/pending").status == 403
    other.assert_clean(openid)
    other.close()
