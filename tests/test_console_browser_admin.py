"""The leader, reward and map administration pages in a real headless Chromium, with the harness of
tests/test_console_browser.py (the app on a werkzeug thread, Debian's chromium through Playwright; skipped without
it, failing under CI): a leader downloads the month's briefing, a reward administrator approves a claim, the
routing explanation answers a click on the map; no page shows who reported and nothing breaks the CSP.
CONSOLE_SCREENSHOTS=1 saves the screenshots shown in the README (docs/console/)."""

import pytest

from tests.helpers import DAHEZHONGLU, RENHE_TOWN
from tests.test_console_browser import PHONE, Session, browser, server  # noqa: F401 - fixtures
from tests.test_rewards import closed_case, finance, rule  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser

OPENID = "dev-browser-admin-reporter"


@pytest.fixture
def month(app, api, run_jobs):
    """A few routed cases this month and the month's briefing, made by the dispatch centre."""
    app.config["STATS_RANK_MIN_CASES"] = 1
    citizen = api.login_citizen("browser-admin-reporter")
    for location, category in ((DAHEZHONGLU, "illegal_ad"), (DAHEZHONGLU, "street_vendor"), (RENHE_TOWN, "dust")):
        api.submit_ok(citizen, location=location, category=category)
    run_jobs()
    made = api.post("/api/v1/admin/briefings", api.login_staff("dispatcher"), json={"kind": "monthly"})
    assert made.status_code == 201
    return made.json


def test_a_leader_reads_the_figures_and_downloads_the_months_briefing(browser, server, month):  # noqa: F811
    leader = Session(browser, server).login("leader")
    page = leader.page
    assert page.url.endswith("/console/stats")
    assert page.locator("svg.chart").count() == 3
    assert page.locator("#unit-figures tbody tr").count() >= 2
    leader.shot("leader-dashboard")

    page.click("nav a:has-text('热点地图')")
    page.wait_for_selector("#hotspot-map[data-hotspots-ready]")
    assert int(page.get_attribute("#hotspot-map", "data-hotspots-ready")) >= 3
    assert page.locator("#hotspot-map path.leaflet-interactive").count() >= 3
    leader.shot("leader-hotspots")

    page.click("nav a:has-text('通报与导出')")
    assert page.locator("#generate-form").count() == 0  # the leader changes nothing
    row = page.locator(f"tr[data-briefing-id='{month['id']}']")
    with page.expect_download() as event:
        row.locator("a:has-text('Excel')").click()
    download = event.value
    assert download.suggested_filename.endswith("月报（" + month["title"].split("月报（")[1] + ".xlsx")
    with open(download.path(), "rb") as workbook:
        assert workbook.read(2) == b"PK"
    leader.shot("leader-briefings")
    leader.assert_clean(OPENID)
    leader.close()

    phone = Session(browser, server, viewport=PHONE).login("leader")
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.shot("leader-dashboard-phone")
    phone.assert_clean(OPENID)
    phone.close()


def test_a_reward_admin_approves_a_claim(browser, server, api, run_jobs, finance, rule):  # noqa: F811
    citizen = api.login_citizen("browser-admin-reporter")
    closed_case(api, run_jobs, citizen)
    closed_case(api, run_jobs, citizen)
    desk = Session(browser, server).login("finance")
    page = desk.page
    assert page.url.endswith("/console/rewards/claims")
    assert page.locator("#claims tbody tr[data-claim-id]").count() == 2
    desk.shot("reward-claims")

    page.locator("#claims tbody tr[data-claim-id] a").first.click()
    page.wait_for_load_state()
    assert page.locator(".photos img").count() >= 1
    desk.shot("reward-claim")
    page.click("#approve")
    page.wait_for_load_state()
    assert "已批准" in page.locator(".flashes").inner_text()
    assert api.get("/api/v1/rewards/mine", citizen).json["balance_fen"] == 500

    page.click("nav a:has-text('支付批次')")
    assert page.locator("#batch-form input[name=claim_ids]").count() == 1
    desk.shot("reward-payouts")
    desk.assert_clean(OPENID)
    desk.close()


def test_the_map_admin_answers_a_click_and_the_calendar_shows_the_year(browser, server):  # noqa: F811
    admin = Session(browser, server).login("admin")
    page = admin.go("/console/map-admin/regions")
    page.wait_for_selector("#regions-map[data-ready='1']")
    assert page.locator("#regions-map path.leaflet-interactive").count() >= 3
    admin.shot("map-admin")

    page = admin.go("/console/map-admin/explain")
    page.wait_for_selector("#explain-map[data-ready='1']")
    box = page.locator("#explain-map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # the district's middle
    page.wait_for_selector("#explain-result")
    assert "将派给" in page.locator("#explain-result").inner_text()
    page.wait_for_selector("#explain-map[data-ready='1']")
    admin.shot("map-explain")

    page = admin.go("/console/map-admin/units")
    admin.shot("map-units")
    page = admin.go("/console/calendar?year=2026")
    page.click("#seed-form button")  # the confirmation is accepted by the harness
    page.wait_for_load_state()
    assert page.locator("td.holiday[data-day='2026-10-01']").count() == 1
    admin.shot("calendar")
    admin.assert_clean()
    admin.close()
