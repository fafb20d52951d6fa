"""The console's leader, reward and map administration pages and the working calendar, through the Flask test
client: who may open each page, that the leader changes nothing, CSRF on every form, no reporter identity in any
page, and each page's work (decisions on claims, briefing downloads, GeoJSON import errors, rules, routing
explanation, calendar)."""

import io
import json
import re
from html.parser import HTMLParser

import pytest

from backend.extensions import db
from backend.models import AuditEntry, ClaimStatus, RewardClaim, User
from tests.helpers import DAHEZHONGLU, RENHE_TOWN, Console
from tests.test_console import assert_csp, assert_no_inline_code
from tests.test_rewards import closed_case, finance, rule  # noqa: F401 - fixtures

REPORTER_ID = 987654  # a reporter's id no page may show (nothing else on a page is this number)
REPORTER_OPENID = "dev-admin-pages-reporter"
ADMIN_MODULES = ("backend.console.leader", "backend.console.rewards", "backend.console.map_admin")
ADMIN_MODULES += ("backend.console.workdays",)

STATS = ("leader", "dispatcher", "admin")
REWARDS = ("finance", "admin")
MAP = ("dispatcher", "admin")
EVERYONE = ("leader", "dispatcher", "admin", "finance", "dahezhonglu")


def console_of(app, username: str | None = None) -> Console:
    console = Console(app.test_client())
    return console.login_ok(username) if username else console


def flashes(html: str) -> list[str]:
    return re.findall(r'class="flash flash-\w+"[^>]*>([^<]*)<', html)


@pytest.fixture
def reporter(app, api) -> str:
    """The citizen whose identity no page may show: a fixed id and openid to look for."""
    with app.app_context():
        db.session.add(User(id=REPORTER_ID, openid=REPORTER_OPENID))
        db.session.commit()
    return api.login_citizen("admin-pages-reporter")


@pytest.fixture
def claims(api, run_jobs, finance, rule, reporter) -> list[int]:  # noqa: F811 - fixtures from test_rewards
    """Three claims of the reporter's closed dust reports, newest first."""
    case_ids = [closed_case(api, run_jobs, reporter)[1] for _ in range(3)]
    items = api.get("/api/v1/reward-admin/claims", finance).json["items"]
    assert len(items) == len(case_ids)
    return [item["id"] for item in items]


def _status(app, claim_id: int) -> ClaimStatus:
    with app.app_context():
        return db.session.get(RewardClaim, claim_id).status


class _Forms(HTMLParser):
    """Each POST form of a page and whether it carries the CSRF token."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and (attrs.get("method") or "get").lower() == "post":
            self.forms.append({"action": attrs.get("action"), "csrf": False})
        if tag == "input" and attrs.get("name") == "csrf_token" and self.forms and attrs.get("value"):
            self.forms[-1]["csrf"] = True


def assert_forms_carry_csrf(html: str) -> None:
    parser = _Forms()
    parser.feed(html)
    assert all(form["csrf"] for form in parser.forms), parser.forms


def assert_no_reporter(html: str) -> None:
    assert REPORTER_OPENID not in html
    assert not re.search(rf"\b{REPORTER_ID}\b", html)
    assert "openid" not in html.lower()


def _pages(claim_id: int, batch_id: int, rule_id: int, reward_rule_id: int) -> dict[str, tuple[str, ...]]:
    return {
        "/console/stats": STATS,
        "/console/stats?period=month&date=2026-11-01&category=dust": STATS,
        "/console/stats/hotspots": STATS,
        "/console/stats/hotspots.geojson": STATS,
        "/console/briefings": STATS,
        "/console/rewards/claims": REWARDS,
        f"/console/rewards/claims/{claim_id}": REWARDS,
        "/console/rewards/payouts": REWARDS,
        f"/console/rewards/payouts/{batch_id}": REWARDS,
        "/console/rewards/rules": REWARDS,
        f"/console/rewards/rules/{reward_rule_id}": REWARDS,
        "/console/map-admin/units": MAP,
        "/console/map-admin/regions": MAP,
        "/console/map-admin/rules": MAP,
        f"/console/map-admin/rules/{rule_id}": MAP,
        "/console/map-admin/explain?lat=26.5&lng=101.70&category=illegal_ad": MAP,
        "/console/calendar": MAP,
        "/console/calendar?year=2026&day=2026-10-01": MAP,
    }


def test_each_page_opens_for_its_roles_only_and_never_shows_the_reporter(app, api, finance, rule, claims):  # noqa: F811
    api.post(f"/api/v1/reward-admin/claims/{claims[0]}/approve", finance, json={})
    batch = api.post("/api/v1/reward-admin/payouts", finance, json={"method": "offline", "claim_ids": [claims[0]]})
    api.post("/api/v1/admin/briefings", api.login_staff("dispatcher"), json={"kind": "monthly"})
    with app.app_context():  # ids differ between databases (PostgreSQL's sequences keep counting)
        from backend.models import RoutingRule

        routing_rule = db.session.scalar(db.select(db.func.min(RoutingRule.id)))
    pages = _pages(claims[1], batch.json["id"], routing_rule, rule["id"])
    anonymous = console_of(app)
    for path in pages:
        response = anonymous.client.get(path)
        assert response.status_code == 302 and "/console/login" in response.headers["Location"], path
    for username in EVERYONE:
        console = console_of(app, username)
        nav = console.page("/console/welcome") if username == "finance" else ""
        for path, roles in pages.items():
            response = console.client.get(path)
            if username not in roles:
                assert response.status_code == 403, (username, path)
                continue
            assert response.status_code == 200, (username, path, response.get_data(as_text=True)[:500])
            html = response.get_data(as_text=True)
            assert_no_reporter(html)
            if response.mimetype == "text/html":
                assert_csp(response)
                assert_no_inline_code(html)
                assert_forms_carry_csrf(html)
        if nav:
            assert "奖励申领" in nav and "数据看板" not in nav


def test_navigation_shows_each_role_its_pages(app):
    entries = {
        "leader": (["数据看板", "热点地图", "通报与导出"], ["奖励申领", "责任地图", "工作日历"]),
        "dispatcher": (["数据看板", "责任地图", "工作日历"], ["奖励申领"]),
        "admin": (["数据看板", "奖励申领", "支付批次", "奖励规则", "责任地图", "工作日历"], []),
        "dahezhonglu": ([], ["数据看板", "奖励申领", "责任地图"]),
    }
    for username, (shown, hidden) in entries.items():
        console = console_of(app, username)
        html = console.page(console.client.get("/console/").headers["Location"])
        nav = re.search(r'<nav class="nav">(.*?)</nav>', html, re.S).group(1)
        assert all(label in nav for label in shown), (username, nav)
        assert not any(label in nav for label in hidden), (username, nav)
    # a leader's day starts on the dashboard
    assert console_of(app).login("leader").headers["Location"] == "/console/stats"


def _admin_posts(app) -> list[str]:
    """Every POST address of these pages, with placeholder ids."""
    values = {"day": "2026-10-01", "file_type": "csv"}
    paths = []
    for url_rule in app.url_map.iter_rules():
        view = app.view_functions[url_rule.endpoint]
        if "POST" in url_rule.methods and view.__module__ in ADMIN_MODULES:
            paths.append(url_rule.build({name: values.get(name, 1) for name in url_rule.arguments})[1])
    return paths


def test_the_leader_can_post_nothing(app, api, finance, claims):  # noqa: F811
    paths = _admin_posts(app)
    assert len(paths) >= 15
    leader = console_of(app, "leader")
    audit_entries = db.select(db.func.count()).select_from(AuditEntry)
    with app.app_context():
        before = db.session.scalar(audit_entries)
    for path in paths:
        response = leader.post(path, {"kind": "monthly", "decision": "approve", "claim_ids": claims})
        assert response.status_code == 403, path
    assert all(_status(app, claim_id) != ClaimStatus.APPROVED for claim_id in claims)
    with app.app_context():
        assert db.session.scalar(audit_entries) == before


def test_a_post_without_the_csrf_token_is_refused(app, finance, claims):  # noqa: F811
    admin = console_of(app, "admin")
    for path in _admin_posts(app):
        for data in ({}, {"csrf_token": "forged"}):
            response = admin.client.post(path, data=data)
            assert response.status_code == 400, path
            assert "页面已过期" in response.get_data(as_text=True)
    assert all(_status(app, claim_id) != ClaimStatus.APPROVED for claim_id in claims)


# --- reward administrator -------------------------------------------------------------------------------------


def _reward_rule_ids(console: Console) -> list[int]:
    return [int(i) for i in re.findall(r'data-reward-rule-id="(\d+)"', console.page("/console/rewards/rules"))]


def _reward_rule_audit(app) -> list[tuple[str, str, dict]]:
    """(action, who, what changed) of each reward rule entry in the audit trail."""
    with app.app_context():
        entries = db.session.scalars(
            db.select(AuditEntry).where(AuditEntry.entity == "reward_rule").order_by(AuditEntry.id)
        )
        return [(entry.action, entry.staff.username, entry.changes) for entry in entries]


def test_a_reward_admin_creates_edits_and_deactivates_a_rule(app, api, finance, run_jobs):  # noqa: F811
    console = console_of(app, "finance")
    assert "还没有奖励规则" in console.page("/console/rewards/rules")
    with app.app_context():
        from backend.models import Category

        dust = db.session.scalar(db.select(Category.id).where(Category.code == "dust"))
    form = {"category_id": dust, "amount_yuan": "5.5", "starts_on": "2026-01-01", "daily_cap_yuan": "20"}
    created = console.post("/console/rewards/rules", {**form, "first_reporter_only": "1", "active": "1"})
    assert "已新建奖励规则" in " ".join(flashes(console.page(created.headers["Location"])))
    (rule_id,) = _reward_rule_ids(console)
    # the API sees what the console wrote, in fen
    (saved,) = api.get("/api/v1/reward-admin/rules", finance).json["items"]
    assert (saved["id"], saved["amount_fen"], saved["daily_cap_fen"], saved["monthly_cap_fen"]) == (
        rule_id,
        550,
        2000,
        None,
    )
    assert (saved["starts_on"], saved["ends_on"], saved["first_reporter_only"], saved["active"]) == (
        "2026-01-01",
        None,
        True,
        True,
    )
    page = console.page(f"/console/rewards/rules/{rule_id}")
    assert 'value="5.50"' in page and 'value="20.00"' in page and 'value="2026-01-01"' in page

    # edited: every field of the editor (an unticked box is false)
    edited = console.post(
        f"/console/rewards/rules/{rule_id}", {**form, "amount_yuan": "8", "ends_on": "2026-12-31", "active": "1"}
    )
    assert edited.headers["Location"] == "/console/rewards/rules"
    (saved,) = api.get("/api/v1/reward-admin/rules", finance).json["items"]
    assert (saved["amount_fen"], saved["ends_on"], saved["first_reporter_only"]) == (800, "2026-12-31", False)

    # refused with the reasons, nothing written
    for bad, reason in (
        ({**form, "amount_yuan": "abc"}, "奖励金额"),
        ({**form, "amount_yuan": "0.001"}, "奖励金额"),
        ({**form, "ends_on": "2025-12-31"}, "结束日期不能早于开始日期"),
        ({**form, "category_id": ""}, "问题类别"),
    ):
        refused = console.post(f"/console/rewards/rules/{rule_id}", {**bad, "active": "1"})
        assert refused.headers["Location"] == f"/console/rewards/rules/{rule_id}"
        assert reason in " ".join(flashes(console.page(refused.headers["Location"]))), bad
    assert api.get("/api/v1/reward-admin/rules", finance).json["items"][0]["amount_fen"] == 800

    # 停用 from the list: the next closed dust case earns nothing
    console.post(f"/console/rewards/rules/{rule_id}/active", {"active": "0"})
    row = console.page("/console/rewards/rules").split(f'data-reward-rule-id="{rule_id}"')[1].split("</tr>")[0]
    assert "停用" in row and "启用</button>" in row
    closed_case(api, run_jobs)
    assert api.get("/api/v1/reward-admin/claims", finance).json["items"] == []

    # audited as the API's changes are: who, before and after
    audit = _reward_rule_audit(app)
    assert [action for action, _, _ in audit] == ["create", "update", "update"]
    assert {who for _, who, _ in audit} == {"finance"}
    assert audit[0][2]["amount_fen"] == {"from": None, "to": 550}
    assert audit[1][2]["amount_fen"] == {"from": 550, "to": 800}
    assert audit[2][2] == {"active": {"from": True, "to": False}}
    # a unit and the leader cannot open it; nobody posts without the token
    assert console_of(app, "leader").client.get("/console/rewards/rules").status_code == 403
    assert console.client.post("/console/rewards/rules", data=form).status_code == 400


def test_a_reward_admin_approves_one_claim_and_bulk_rejects_the_others(app, api, finance, claims, reporter):  # noqa: F811
    console = console_of(app, "finance")
    listing = console.page("/console/rewards/claims")
    assert [int(i) for i in re.findall(r'data-claim-id="(\d+)"', listing)] == claims
    page = console.page(f"/console/rewards/claims/{claims[0]}")
    assert "/media/photos/" in page and "sig=" in page  # the case's photos through signed display URLs
    assert "已洒水降尘" in page  # the unit's reply

    response = console.post(f"/console/rewards/claims/{claims[0]}/approve", {"reason": ""})
    assert response.headers["Location"] == f"/console/rewards/claims/{claims[0]}"
    assert "已批准" in " ".join(flashes(console.page(response.headers["Location"])))
    assert _status(app, claims[0]) == ClaimStatus.APPROVED

    # a bulk rejection needs a reason the citizen reads
    refused = console.post("/console/rewards/claims/bulk", {"claim_ids": claims[1:], "decision": "reject"})
    assert "驳回需要填写原因" in " ".join(flashes(console.page(refused.headers["Location"])))
    done = console.post(
        "/console/rewards/claims/bulk", {"claim_ids": claims, "decision": "reject", "reason": "重复举报"}
    )
    message = " ".join(flashes(console.page(done.headers["Location"])))
    assert "已驳回 3 件" in message  # the approved one is withdrawn (reversed), the others rejected
    assert all(_status(app, claim_id) == ClaimStatus.REJECTED for claim_id in claims)
    mine = api.get("/api/v1/rewards/mine", reporter).json
    assert mine["balance_fen"] == 0 and {c["reason"] for c in mine["claims"]} == {"重复举报"}


def test_identity_only_through_the_audited_reveal(app, finance, claims):  # noqa: F811
    console = console_of(app, "finance")
    refused = console.post(f"/console/rewards/claims/{claims[0]}/identity", {"purpose": ""})
    assert refused.status_code == 302
    with app.app_context():
        assert db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "view_identity")) is None
    shown = console.post(f"/console/rewards/claims/{claims[0]}/identity", {"purpose": "核实重复举报"})
    assert shown.status_code == 200
    html = shown.get_data(as_text=True)
    assert REPORTER_OPENID in html and str(REPORTER_ID) in html
    assert shown.headers["Cache-Control"] == "no-store"
    with app.app_context():
        entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "view_identity"))
        assert entry.entity_id == REPORTER_ID and entry.changes == {"purpose": "核实重复举报"}
    # and the claim's page still does not show who it is
    assert_no_reporter(console.page(f"/console/rewards/claims/{claims[0]}"))


def test_payout_batch_offline_paid_and_exported(app, api, finance, claims):  # noqa: F811
    console = console_of(app, "finance")
    for claim_id in claims[:2]:
        console.post(f"/console/rewards/claims/{claim_id}/approve")
    assert console.post("/console/rewards/payouts", {"method": "offline", "scope": "selected"}).status_code == 302
    created = console.post("/console/rewards/payouts", {"method": "offline", "claim_ids": claims[:1]})
    batch_page = created.headers["Location"]
    assert re.fullmatch(r"/console/rewards/payouts/\d+", batch_page)
    assert f"申领 {claims[0]}" in console.page(batch_page)
    paid = console.post(f"{batch_page}/offline-paid", {"reference": "CW-2026-118"})
    assert "线下支付完成" in " ".join(flashes(console.page(paid.headers["Location"])))
    assert _status(app, claims[0]) == ClaimStatus.PAID and _status(app, claims[1]) == ClaimStatus.APPROVED
    export = console.client.get(f"{batch_page}/export.csv")
    assert export.mimetype == "text/csv" and "CW-2026-118" in export.get_data(as_text=True)


# --- leader view ----------------------------------------------------------------------------------------------


def test_dashboard_figures_charts_and_ranking(app, api, run_jobs):
    app.config["STATS_RANK_MIN_CASES"] = 1
    citizen = api.login_citizen()
    api.submit_ok(citizen, location=DAHEZHONGLU)
    api.submit_ok(citizen, category="dust", location=RENHE_TOWN)
    run_jobs()
    html = console_of(app, "leader").page("/console/stats")
    table = re.search(r'<table class="list figures-table" id="unit-figures">.*?</table>', html, re.S).group(0)
    assert "大河中路街道" in table and "按期处置率" in table and "签收及时率" in table
    assert html.count("<svg") == 3 and "各单位按期处置率" in html
    assert "签收及时率 = 按时签收数 ÷ 派遣数" in html
    lists = [
        re.search(rf'<ol class="honour" id="{name}">(.*?)</ol>', html, re.S).group(1)
        for name in ("red-list", "black-list")
    ]
    assert sorted(name for name in ("大河中路街道", "区生态环境局") for found in lists if name in found) == [
        "区生态环境局",
        "大河中路街道",
    ]
    bad = console_of(app, "leader").client.get("/console/stats?from=2026-12-01&to=2026-11-01")
    assert bad.status_code == 200 and "结束日期不能早于开始日期" in bad.get_data(as_text=True)


def test_hotspots_in_the_tiles_coordinate_system(app, api, run_jobs):
    api.submit_ok(api.login_citizen(), location=DAHEZHONGLU)
    run_jobs()
    leader = console_of(app, "leader")
    app.config["CONSOLE_TILE_COORD"] = "gcj02"
    as_stored = leader.client.get("/console/stats/hotspots.geojson").json
    app.config["CONSOLE_TILE_COORD"] = "wgs84"
    converted = leader.client.get("/console/stats/hotspots.geojson").json
    first, second = as_stored["features"][0], converted["features"][0]
    assert second["properties"]["coord"] == "wgs84"
    assert first["geometry"]["coordinates"] != second["geometry"]["coordinates"]
    assert sum(f["properties"]["total"] for f in as_stored["features"] if f["properties"]["kind"] == "street") >= 1
    assert 'data-hotspots="/console/stats/hotspots.geojson' in leader.page("/console/stats/hotspots")


def test_a_leader_downloads_the_briefing_and_only_the_dispatch_centre_generates(app):
    leader, dispatcher = console_of(app, "leader"), console_of(app, "dispatcher")
    assert "generate-form" not in leader.page("/console/briefings")
    assert leader.post("/console/briefings", {"kind": "monthly"}).status_code == 403
    made = dispatcher.post("/console/briefings", {"kind": "monthly", "date": "2026-11-15"})
    assert "2026年11月" in " ".join(flashes(dispatcher.page(made.headers["Location"])))
    html = leader.page("/console/briefings")
    xlsx, docx = (re.search(rf'href="(/console/briefings/\d+/{kind})"', html).group(1) for kind in ("xlsx", "docx"))
    for path, mimetype, magic in (
        (xlsx, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", b"PK"),
        (docx, "application/vnd.openxmlformats-officedocument.wordprocessingml.document", b"PK"),
    ):
        response = leader.client.get(path)
        assert response.status_code == 200 and response.mimetype == mimetype
        assert response.data.startswith(magic)
        assert "attachment" in response.headers["Content-Disposition"]
        assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    bad = dispatcher.post("/console/briefings", {"kind": "custom", "from": "2026-11-10", "to": "2026-11-01"})
    assert "结束日期不能早于开始日期" in " ".join(flashes(dispatcher.page(bad.headers["Location"])))


def test_case_export_with_the_dispatchers_filters(app, api, run_jobs, reporter):
    api.submit_ok(reporter, category="illegal_ad")
    api.submit_ok(reporter, category="dust")
    run_jobs()
    leader = console_of(app, "leader")
    csv = leader.client.get("/console/export.csv?category=dust&status=")
    assert csv.mimetype == "text/csv"
    lines = csv.get_data(as_text=True).strip().splitlines()
    assert len(lines) == 2 and "扬尘" in lines[1]
    assert_no_reporter(csv.get_data(as_text=True))
    xlsx = leader.client.get("/console/export.xlsx")
    assert xlsx.mimetype.endswith("spreadsheetml.sheet") and xlsx.data.startswith(b"PK")


# --- map administration ---------------------------------------------------------------------------------------


def _upload(console: Console, document, coord: str = "gcj02"):
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    return console.post(
        "/console/map-admin/regions/import",
        {"coord": coord, "file": (io.BytesIO(body), "grids.geojson")},
        content_type="multipart/form-data",
    )


def _square(lng: float, lat: float, size: float = 0.004) -> dict:
    ring = [[lng, lat], [lng + size, lat], [lng + size, lat + size], [lng, lat + size], [lng, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def test_geojson_import_shows_each_bad_feature_and_writes_nothing(app):
    admin = console_of(app, "admin")
    features = [
        {"type": "Feature", "properties": {"code": "g-1", "name": "一号网格"}, "geometry": _square(101.70, 26.50)},
        {
            "type": "Feature",
            "properties": {"code": "g-2", "name": "二号网格", "unit_code": "no-such-unit"},
            "geometry": _square(101.71, 26.50),
        },
        {"type": "Feature", "properties": {"code": "g-3", "name": "三号网格", "unit_code": "dahezhonglu"}},
    ]
    response = _upload(admin, {"type": "FeatureCollection", "features": features})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    table = re.search(r'<section class="card" id="import-errors">.*?</section>', html, re.S).group(0)
    rows = re.findall(r"<tr><td[^>]*>(.*?)</td><td[^>]*>(.*?)</td><td[^>]*>(.*?)</td></tr>", table)
    assert [(number, code) for number, code, _ in rows] == [("第 1 个", "g-1"), ("第 2 个", "g-2"), ("第 3 个", "g-3")]
    # in Chinese (the API keeps its English sentences)
    assert [problem for _, _, problem in rows] == [
        "缺少属性 unit_code",
        "单位编码 no-such-unit 不存在",
        "要素没有几何图形 geometry",
    ]
    assert "g-3" not in admin.page("/console/map-admin/regions").split('id="regions"')[1]

    assert "不是有效的 JSON" in _upload(admin, b"{oops").get_data(as_text=True)
    good = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": "g-9", "name": "九号网格", "unit_code": "dahezhonglu"},
                "geometry": _square(101.70, 26.50),
            }
        ],
    }
    done = _upload(admin, good)
    assert done.status_code == 200 and "新增 1" in " ".join(flashes(done.get_data(as_text=True)))
    assert "九号网格" in admin.page("/console/map-admin/regions")


# the import's English sentences (GeoJSON's own terms, capitalised, and quoted values may stay)
ENGLISH = re.compile(r"\b(?:the|must|not|is|are|no|missing|invalid|feature|more|says|differs|malformed|ring)\b")


def test_every_import_problem_reads_in_chinese(app):
    """Each sentence the import can write (those tests/test_regions_import.py provokes) has its Chinese."""
    from backend.console.import_errors import in_chinese
    from backend.console.map_admin import FEATURE_ERROR
    from backend.errors import ValidationFailed
    from backend.models import Unit
    from backend.services.actors import Actor
    from backend.services.responsibility import regions
    from tests.test_regions_import import BROKEN_COLLECTIONS, BROKEN_FEATURES, collection, feature

    attempts = [(collection(feature("good"), broken), None) for broken, _ in BROKEN_FEATURES.values()]
    attempts += [(body, query.partition("=")[2] or None) for body, query, _ in BROKEN_COLLECTIONS.values()]
    attempts.append((collection(*[feature(f"g{i}", unit_code="nowhere") for i in range(101)]), None))
    problems = []
    with app.app_context():
        db.session.scalar(db.select(Unit).where(Unit.code == "renhe-police")).active = False
        for body, coord in attempts:
            with pytest.raises(ValidationFailed) as refused:
                regions.import_regions(body, coord, Actor.system())
            problems += refused.value.fields["features"]
        db.session.rollback()
    assert len(problems) >= len(attempts)
    for problem in problems:
        found = FEATURE_ERROR.match(problem)
        text = found.group(3) if found else problem
        chinese = in_chinese(text)
        assert chinese != text and re.search(r"[\u4e00-\u9fff]", chinese), problem
        assert not ENGLISH.search(chinese), (problem, chinese)
    assert (
        in_chinese("invalid geometry: Self-intersection[101.705 26.505]") == "几何图形无效：边界自相交[101.705 26.505]"
    )


def _rule_ids(console: Console) -> list[int]:
    return [int(i) for i in re.findall(r'data-rule-id="(\d+)"', console.page("/console/map-admin/rules"))]


def test_rules_create_edit_and_the_in_use_refusal(app, api, run_jobs):
    admin = console_of(app, "admin")
    before = _rule_ids(admin)
    with app.app_context():
        from backend.models import Category, Region, Unit

        dust = db.session.scalar(db.select(Category.id).where(Category.code == "dust"))
        region = db.session.scalar(db.select(Region.id).where(Region.code == "renhe-town"))
        police = db.session.scalar(db.select(Unit.id).where(Unit.code == "renhe-police"))
    form = {"category_id": dust, "region_id": region, "target": "unit", "unit_id": police, "active": "1"}
    created = admin.post("/console/map-admin/rules", {**form, "note": "试行"})
    assert "已新建规则" in " ".join(flashes(admin.page(created.headers["Location"])))
    (rule_id,) = set(_rule_ids(admin)) - set(before)
    assert "试行" in admin.page(f"/console/map-admin/rules/{rule_id}")

    edited = admin.post(f"/console/map-admin/rules/{rule_id}", {**form, "note": "正式", "deadline_hours": "16"})
    assert edited.headers["Location"] == "/console/map-admin/rules"
    page = admin.page(f"/console/map-admin/rules/{rule_id}")
    assert 'value="正式"' in page and 'value="16"' in page
    wrong = admin.post(f"/console/map-admin/rules/{rule_id}", {**form, "target": "territorial"})
    assert "属地规则不指定单位" in " ".join(flashes(admin.page(wrong.headers["Location"])))

    # the rule routes a case: it can no longer be deleted, only deactivated
    api.submit_ok(api.login_citizen(), category="dust", location={"lat": 26.50, "lng": 101.74, "coord": "gcj02"})
    run_jobs()
    refused = admin.post(f"/console/map-admin/rules/{rule_id}/delete")
    assert refused.headers["Location"] == f"/console/map-admin/rules/{rule_id}"
    assert "不能删除" in " ".join(flashes(admin.page(refused.headers["Location"])))
    admin.post(f"/console/map-admin/rules/{rule_id}", {key: value for key, value in form.items() if key != "active"})
    assert "停用" in admin.page("/console/map-admin/rules").split(f'data-rule-id="{rule_id}"')[1].split("</tr>")[0]


def test_who_gets_this_point(app):
    dispatcher = console_of(app, "dispatcher")
    html = dispatcher.page("/console/map-admin/explain?lat=26.50&lng=101.74&category=street_vendor")
    result = re.search(r'<div id="explain-result">.*?</div>', html, re.S).group(0)
    assert "将派给：" in result and "区综合行政执法局" in result
    assert 'data-pins="[{&#34;lat&#34;: 26.5' in html  # the point, pinned on the map
    outside = dispatcher.page("/console/map-admin/explain?lat=30.60&lng=104.06&category=dust")
    assert "没有单位" in outside and "等待人工派遣" in outside
    bad = dispatcher.page("/console/map-admin/explain?lat=100&lng=101.74&category=dust")
    assert "explain-result" not in bad and flashes(bad)


def test_units_tree_and_deactivation(app):
    admin = console_of(app, "admin")
    html = admin.page("/console/map-admin/units")
    assert html.index("攀州市仁和区") < html.index("大河中路街道") < html.index("大河社区")
    with app.app_context():
        from backend.models import Unit

        enforcement = db.session.scalar(db.select(Unit).where(Unit.code == "renhe-enforcement"))
        grid = db.session.scalar(db.select(Unit).where(Unit.kind == "grid").order_by(Unit.id).limit(1))
        enforcement_id, grid_id, grid_name = enforcement.id, grid.id, grid.name
    refused = admin.post(f"/console/map-admin/units/{enforcement_id}/active", {"active": "0"})
    assert "仍被使用" in " ".join(flashes(admin.page(refused.headers["Location"])))
    stopped = admin.post(f"/console/map-admin/units/{grid_id}/active", {"active": "0"})
    assert f"{grid_name}已停用" in " ".join(flashes(admin.page(stopped.headers["Location"])))
    started = admin.post(f"/console/map-admin/units/{grid_id}/active", {"active": "1"})
    assert f"{grid_name}已启用" in " ".join(flashes(admin.page(started.headers["Location"])))


# --- working calendar -----------------------------------------------------------------------------------------


def test_calendar_set_clear_and_seed(app):
    dispatcher = console_of(app, "dispatcher")
    page = dispatcher.page("/console/calendar?year=2031")
    assert "2031 年尚未录入节假日" in page and "seed-form" not in page  # the package does not know 2031
    made = dispatcher.post("/console/calendar/2031-10-01", {"is_workday": "0", "name": "国庆节"})
    assert made.headers["Location"] == "/console/calendar?year=2031&day=2031-10-01"
    html = dispatcher.page(made.headers["Location"])
    assert re.search(r'<td class="holiday admin" data-day="2031-10-01" title="国庆节">', html)
    cleared = dispatcher.post("/console/calendar/2031-10-01/clear")
    assert 'data-day="2031-10-01" title' not in dispatcher.page(cleared.headers["Location"])
    refused = dispatcher.post("/console/calendar/seed", {"year": "2031"})
    assert "没有 2031 年的放假安排" in " ".join(flashes(dispatcher.page(refused.headers["Location"])))

    seeded = dispatcher.post("/console/calendar/seed", {"year": "2026"})
    html = dispatcher.page(seeded.headers["Location"])
    assert "已按国务院放假安排载入 2026 年" in " ".join(flashes(html))
    assert re.search(r'<td class="holiday" data-day="2026-10-01" title="国庆节">', html)
    assert re.search(r'<td class="workday-exception" data-day="2026-09-20"', html)  # 国庆节调休上班 (a Sunday)
    with app.app_context():
        actions = db.session.scalars(db.select(AuditEntry.entity).where(AuditEntry.entity == "calendar")).all()
        assert len(actions) == 3  # set, clear, seed
    bad = dispatcher.post("/console/calendar/2031-13-01", {"is_workday": "0"})
    assert "日期格式" in " ".join(flashes(dispatcher.page(bad.headers["Location"])))
