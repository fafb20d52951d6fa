"""考核 figures: the cases of tests/stats_scenario.py, driven through the API on a fixed clock, every
figure checked by hand."""

import io

import pytest
from openpyxl import load_workbook

from backend.extensions import db
from backend.models import Case
from tests.stats_scenario import *  # noqa: F403 - the fixtures clock and november
from tests.stats_scenario import NOVEMBER, _ok


def _by_code(items: list[dict], key="unit") -> dict[str, dict]:
    return {item[key]["code"]: item for item in items}


def test_unit_figures_match_the_cases_by_hand(api, november):
    leader = api.login_staff("leader")
    body = _ok(api.get(f"/api/v1/admin/stats/units?{NOVEMBER}", leader))
    assert body["period"] == {"from": "2026-11-01", "to": "2026-11-30"}
    units = _by_code(body["items"])
    assert set(units) == {"dahezhonglu", "renhe-enforcement", "renhe-ecology"}

    street = units["dahezhonglu"]
    assert {k: street[k] for k in ("received", "returned", "assigned", "signed", "signed_on_time")} == {
        "received": 2,  # A, B — C was returned: their 退单, not a case they received
        "returned": 1,
        "assigned": 3,
        "signed": 2,
        "signed_on_time": 1,
    }
    assert street["returned_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert street["signoff_on_time_rate"] == 0.5
    assert (street["handled"], street["due"], street["handled_on_time"], street["handled_on_time_rate"]) == (
        2,
        2,
        1,
        0.5,
    )
    assert (street["closed"], street["closed_rate"]) == (2, 1.0)
    assert (street["reworked"], street["rework_events"], street["rework_rate"]) == (1, 1, 0.5)
    assert (street["rated"], street["satisfied"], street["satisfaction_rate"]) == (2, 1, 0.5)
    assert (street["handling_hours"], street["avg_handling_hours"]) == (8 + 43, 25.5)
    assert (street["open"], street["overdue"], street["supervised_level_1"]) == (0, 0, 0)

    enforcement = units["renhe-enforcement"]
    assert (enforcement["received"], enforcement["returned"], enforcement["signed"]) == (1, 0, 0)
    assert (enforcement["due"], enforcement["handled_on_time_rate"], enforcement["open"], enforcement["overdue"]) == (
        1,
        0.0,
        1,
        1,
    )

    ecology = units["renhe-ecology"]
    assert (ecology["received"], ecology["signed_on_time"], ecology["signoff_on_time_rate"]) == (2, 1, 0.5)
    assert (ecology["handled"], ecology["due"], ecology["handled_on_time"]) == (1, 2, 1)
    assert (ecology["extensions_requested"], ecology["extensions_granted"]) == (1, 1)
    assert (ecology["supervised_level_1"], ecology["supervised_level_2"]) == (1, 0)
    assert (ecology["rated"], ecology["satisfaction_rate"], ecology["closed_rate"]) == (0, None, 0.0)
    assert ecology["avg_handling_hours"] == 32
    assert (ecology["open"], ecology["overdue"]) == (2, 2)  # E, and F from October

    total = body["total"]
    assert (total["received"], total["returned"], total["handled"], total["handled_on_time"]) == (5, 1, 3, 2)
    assert (total["due"], total["handled_on_time_rate"], total["open"], total["overdue"]) == (5, 0.4, 3, 3)


def test_october_holds_only_the_case_dispatched_then(api, november):
    body = _ok(api.get("/api/v1/admin/stats/units?period=month&date=2026-10-15", november["dispatcher"]))
    # open and overdue are "now", whatever the period: C shows as 执法局's open case with nothing received
    rows = [(i["unit"]["code"], i["received"], i["open"]) for i in body["items"]]
    assert rows == [("renhe-ecology", 1, 2), ("renhe-enforcement", 0, 1)]
    assert body["items"][0]["supervised_level_1"] == 1


def test_figures_by_category_and_region(api, november):
    dispatcher = november["dispatcher"]
    by_category = _by_code(
        _ok(api.get(f"/api/v1/admin/stats/units?{NOVEMBER}&by=category", dispatcher))["items"], "category"
    )
    assert {code: row["received"] for code, row in by_category.items()} == {"illegal_ad": 3, "dust": 2}
    dust = _ok(api.get(f"/api/v1/admin/stats/units?{NOVEMBER}&category=dust", dispatcher))
    assert [row["unit"]["code"] for row in dust["items"]] == ["renhe-ecology"]
    # the street's region includes its communities and grids
    street = _ok(api.get(f"/api/v1/admin/stats/units?{NOVEMBER}&region=dahezhonglu", dispatcher))
    assert street["total"]["received"] == 3 and street["total"]["returned"] == 1
    community = _ok(api.get(f"/api/v1/admin/stats/units?{NOVEMBER}&region=renhe-community", dispatcher))
    assert community["total"]["received"] == 2
    bad = api.get("/api/v1/admin/stats/units?region=nowhere&category=nothing", dispatcher)
    assert bad.status_code == 422 and bad.json["error"]["code"] == "validation_failed"
    backwards = api.get("/api/v1/admin/stats/units?from=2026-11-30&to=2026-11-01", dispatcher)
    assert backwards.status_code == 422 and "to" in backwards.json["error"]["fields"]
    assert api.get("/api/v1/admin/stats/units?from=yesterday", dispatcher).status_code == 422


def test_trend_is_a_daily_series(api, november):
    body = _ok(api.get(f"/api/v1/admin/stats/trend?{NOVEMBER}", november["dispatcher"]))
    days = {row["date"]: row for row in body["items"]}
    assert len(days) == 30
    assert days["2026-11-02"]["reports"] == 5 and days["2026-11-02"]["received"] == 5
    assert days["2026-11-02"]["returned"] == 1
    assert days["2026-11-03"]["handled"] == 1 and days["2026-11-03"]["closed"] == 1
    assert days["2026-11-06"]["handled"] == 1 and days["2026-11-06"]["handled_on_time"] == 1
    assert days["2026-11-09"]["handled"] == 1 and days["2026-11-09"]["handled_on_time"] == 0
    assert sum(row["received"] for row in body["items"]) == 5


def test_hotspots_are_geojson_with_counts_rolled_up(api, november):
    response = api.get(f"/api/v1/admin/stats/hotspots?{NOVEMBER}", november["dispatcher"])
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    features = {f["properties"]["code"]: f for f in response.json["features"]}
    assert response.json["type"] == "FeatureCollection"
    assert features["dahezhonglu"]["properties"]["by_category"] == {"illegal_ad": 3}  # A, B, and C at 执法局
    assert features["renhe-town"]["properties"]["total"] == 2
    assert features["renhe-community"]["properties"]["by_category"] == {"dust": 2}
    assert features["qianjin-town"]["properties"]["total"] == 0
    assert features["dahezhonglu"]["geometry"]["type"] == "Polygon"
    grids = api.get(f"/api/v1/admin/stats/hotspots?{NOVEMBER}&kind=grid", november["dispatcher"]).json
    assert {f["properties"]["kind"] for f in grids["features"]} == {"grid"}


def test_ranking_and_red_and_black_lists(api, november):
    body = _ok(api.get(f"/api/v1/admin/stats/ranking?{NOVEMBER}", api.login_staff("leader")))
    ranked = [(row["unit"]["code"], row["rank"]) for row in body["items"]]
    assert ranked == [("dahezhonglu", 1), ("renhe-ecology", 2), ("renhe-enforcement", 3)]
    scores = {row["unit"]["code"]: row["score"] for row in body["items"]}
    # 30·0.5 + 15·0.5 + 15·1 + 20·0.5 + 10·(1−0.5) + 10·(1−1/3), over 100
    assert scores["dahezhonglu"] == pytest.approx(59.17, abs=0.01)
    # no rating, so satisfaction is left out: (30·0.5 + 15·0.5 + 15·0 + 10·1 + 10·1) / 80
    assert scores["renhe-ecology"] == pytest.approx(53.125, abs=0.01)
    # nothing handled or rated: (30·0 + 15·0 + 15·0 + 10·1) / 70
    assert scores["renhe-enforcement"] == pytest.approx(14.29, abs=0.01)
    assert [r["unit"]["code"] for r in body["red_list"]] == ["dahezhonglu"]
    assert [r["unit"]["code"] for r in body["black_list"]] == ["renhe-enforcement"]


def test_ranking_weights_and_minimum_are_settings(app, api, november):
    app.config["STATS_SCORE_WEIGHTS"] = {"closed_rate": 1}
    app.config["STATS_RANK_MIN_CASES"] = 3
    body = _ok(api.get(f"/api/v1/admin/stats/ranking?{NOVEMBER}", november["dispatcher"]))
    assert [(row["unit"]["code"], row["score"]) for row in body["items"]] == [("dahezhonglu", 100.0)]


def test_a_unit_sees_its_own_figures_and_rank(api, november):
    body = _ok(api.get(f"/api/v1/unit/stats?{NOVEMBER}", november["street"]))
    assert body["unit"]["code"] == "dahezhonglu"
    assert (body["rank"], body["ranked_units"], body["figures"]["received"]) == (1, 3, 2)
    other = _ok(api.get(f"/api/v1/unit/stats?{NOVEMBER}", api.login_staff("qianjin-town")))
    assert (other["rank"], other["figures"]["received"]) == (None, 0)


def test_case_export_csv_and_xlsx_are_formula_safe_and_anonymous(app, api, november):
    with app.app_context():
        case = db.session.get(Case, november["ids"]["a"])
        case.address = '=HYPERLINK("http://evil")'
        db.session.commit()
    dispatcher = november["dispatcher"]
    csv_response = api.get("/api/v1/admin/cases/export.csv?category=illegal_ad", dispatcher)
    assert csv_response.status_code == 200 and csv_response.mimetype == "text/csv"
    text = csv_response.get_data(as_text=True)
    lines = text.strip().splitlines()
    assert lines[0].lstrip("\ufeff").startswith("案件编号,状态") and len(lines) == 4
    assert "'=HYPERLINK" in text
    xlsx = api.get("/api/v1/admin/cases/export.xlsx?status=closed", api.login_staff("leader"))
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "案件编号" and len(rows) == 3
    assert any(str(cell).startswith("'=") for row in rows for cell in row if cell)
    assert "reporter" not in text and "openid" not in text


def test_rebuilding_the_ledger_from_case_events_gives_the_same_rows(app, november):
    from backend.models import CaseAssignment

    ledger_columns = [column.key for column in CaseAssignment.__table__.columns if column.key != "id"]

    def snapshot():
        with app.app_context():
            rows = db.session.scalars(
                db.select(CaseAssignment).order_by(CaseAssignment.case_id, CaseAssignment.assigned_at)
            )
            return [{k: getattr(r, k) for k in ledger_columns} for r in rows]

    live = snapshot()
    assert len(live) == 7  # A, B, C twice (returned, then 执法局), D, E, F
    result = app.test_cli_runner().invoke(args=["stats-rebuild"])
    assert result.exit_code == 0 and "7 rows" in result.output
    assert snapshot() == live


def _figures_at(app, local_moment: str, period=("2026-11-01", "2026-11-30")) -> dict[str, dict]:
    from datetime import date, datetime

    from backend.models import Unit
    from backend.models.types import LOCAL_TZ
    from backend.services.stats import figures
    from backend.services.stats.periods import Period

    as_of = datetime.fromisoformat(local_moment).replace(tzinfo=LOCAL_TZ)
    with app.app_context():
        codes = dict(db.session.execute(db.select(Unit.id, Unit.code)).all())
        rows = figures.grouped(Period(*map(date.fromisoformat, period)), "unit", figures.Filters(), as_of)
        return {codes[key]: row for key, row in rows.items()}


def test_figures_at_an_earlier_moment_count_what_had_happened_by_then(app, api, november, clock):
    """Found by a defect hunt: a briefing of a past period (as_of = its end) counted the cases open today as 在办
    at that moment, and replies, closes and returns made after it as done. Figures at as_of replay the ledger and
    the timeline up to as_of."""
    street = _figures_at(app, "2026-11-05 10:00")["dahezhonglu"]
    # A was replied and closed on Nov 3; B was accepted, replied only on Nov 9; C was returned on Nov 2
    assert (street["open"], street["handled"], street["closed"], street["returned"]) == (1, 1, 1, 1)
    ecology = _figures_at(app, "2026-11-05 10:00")["renhe-ecology"]
    assert (ecology["open"], ecology["handled"]) == (3, 0)  # D (replied Nov 6), E (never signed), F (October's)
    before_return = _figures_at(app, "2026-11-02 10:45")["dahezhonglu"]
    assert (before_return["received"], before_return["returned"], before_return["open"]) == (3, 0, 3)
    # nothing had been dispatched yet in November's cohort at the end of October: nothing open but F
    october_end = _figures_at(app, "2026-11-01 00:00")
    assert october_end["renhe-ecology"]["open"] == 1 and "dahezhonglu" not in october_end
    # E, never signed, is dispatched elsewhere on Nov 20 (its assignment withdrawn): on Nov 5 it was still held
    assert _figures_at(app, "2026-11-05 10:00")["renhe-ecology"]["received"] == 2  # D and E
    listed = api.get("/api/v1/admin/units?per_page=100", november["dispatcher"]).json["items"]
    units = {unit["code"]: unit["id"] for unit in listed}
    clock.at("2026-11-20 10:00")
    body = {"unit_id": units["qianjin-town"]}
    _ok(api.post(f"/api/v1/admin/cases/{november['ids']['e']}/dispatch", november["dispatcher"], json=body))
    assert _figures_at(app, "2026-11-05 10:00")["renhe-ecology"]["received"] == 2
    assert _figures_at(app, "2026-11-25 10:00")["renhe-ecology"]["received"] == 1  # withdrawn by then
