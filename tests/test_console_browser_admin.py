"""The leader, reward and map administration pages in a real headless Chromium, with the harness of
tests/test_console_browser.py (the app on a werkzeug thread, Debian's chromium through Playwright; skipped without
it, failing under CI): a leader downloads the month's briefing, a reward administrator approves a claim and
creates a reward rule, the routing explanation answers a click on the map, a bad GeoJSON file's problems are
listed in Chinese; no page shows who reported and nothing breaks the CSP.
CONSOLE_SCREENSHOTS=1 saves the screenshots shown in the README (docs/console/)."""

import json

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


def test_a_reward_admin_creates_a_rule_and_deactivates_it(browser, server, api, run_jobs):  # noqa: F811
    desk = Session(browser, server).login("reward")  # the demo login of make run
    page = desk.page
    page.click("nav a:has-text('奖励规则')")
    page.wait_for_load_state()
    assert "还没有奖励规则" in page.locator("#reward-rules").inner_text()
    form = page.locator("#reward-rule-form")
    form.locator("select[name=category_id]").select_option(label="扬尘")
    form.locator("input[name=amount_yuan]").fill("8.8")
    form.locator("input[name=starts_on]").fill("2026-01-01")
    form.locator("input[name=daily_cap_yuan]").fill("30")
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert "已新建奖励规则" in page.locator(".flashes").inner_text()
    row = page.locator("#reward-rules tbody tr[data-reward-rule-id]")
    assert row.count() == 1 and "¥8.80" in row.inner_text() and "扬尘" in row.inner_text()
    desk.shot("reward-rules")

    # a dust report closed now earns the rule's amount
    closed_case(api, run_jobs)
    page.click("nav a:has-text('奖励申领')")
    page.wait_for_load_state()
    assert "¥8.80" in page.locator("#claims").inner_text()

    page.click("nav a:has-text('奖励规则')")
    page.wait_for_load_state()
    page.locator("#reward-rules button:has-text('停用')").click()  # the confirmation is accepted by the harness
    page.wait_for_load_state()
    assert "已停用" in page.locator(".flashes").inner_text()
    assert "启用" in page.locator("#reward-rules tbody tr button").inner_text()
    desk.assert_clean()
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

    # a file with bad features: nothing is written, each problem listed in Chinese
    bad = {
        "type": "FeatureCollection",
        "coord": "gcj02",
        "features": [
            {"type": "Feature", "properties": {"code": "g-1", "name": "一号网格"}, "geometry": None},
            {
                "type": "Feature",
                "properties": {"code": "g-2", "name": "二号网格", "unit_code": "nowhere"},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [[101.70, 26.50], [101.71, 26.51], [101.71, 26.50], [101.70, 26.51], [101.70, 26.50]]
                    ],
                },
            },
        ],
    }
    page = admin.go("/console/map-admin/regions")
    page.set_input_files(
        "#import-form input[type=file]",
        files=[{"name": "grids.geojson", "mimeType": "application/geo+json", "buffer": json.dumps(bad).encode()}],
    )
    page.click("#import-form button[type=submit]")
    page.wait_for_load_state()
    errors = page.locator("#import-errors").inner_text()
    assert "缺少属性 unit_code" in errors and "单位编码 nowhere 不存在" in errors and "边界自相交" in errors
    page.wait_for_selector("#regions-map[data-ready='1']")
    admin.shot("map-import-errors")

    page = admin.go("/console/map-admin/units")
    admin.shot("map-units")
    page = admin.go("/console/account/staff")
    assert page.locator("#staff tr[data-staff='reward']").count() == 1
    admin.shot("account-staff")
    page = admin.go("/console/calendar?year=2026")
    page.click("#seed-form button")  # the confirmation is accepted by the harness
    page.wait_for_load_state()
    assert page.locator("td.holiday[data-day='2026-10-01']").count() == 1
    admin.shot("calendar")
    admin.assert_clean()
    admin.close()
