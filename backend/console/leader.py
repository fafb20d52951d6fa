"""领导看板: figures, charts, ranking, hotspot map, briefings and the case export, for the stats readers (leader,
dispatcher, admin) — what backend/api/stats.py answers, through the same services. Only generating a briefing
writes, and only the dispatch centre may (the API's rule: the leader changes nothing)."""

from datetime import date

from flask import current_app, flash, jsonify, render_template
from marshmallow import ValidationError

from backend.api.common import download, query_args
from backend.auth import DISPATCH_ROLES, STATS_ROLES
from backend.console import bp, charts, nav
from backend.console.forms import error_message, form_action, load_form, text
from backend.console.session import console_login_required, current_staff
from backend.errors import ValidationFailed
from backend.models import UnitKind
from backend.models.types import LOCAL_TZ, utcnow
from backend.schemas.common import local_iso, page_of
from backend.schemas.stats import BriefingArgs, BriefingIn, BriefingOut, CaseExportArgs, HotspotArgs, StatsArgs
from backend.services.responsibility import categories, regions, units
from backend.services.stats import briefings, case_export, figures, ranking

nav.add_entry("console.leader_dashboard", "数据看板", STATS_ROLES, order=60)
nav.add_entry("console.leader_hotspots", "热点地图", STATS_ROLES, order=62)
nav.add_entry("console.leader_briefings", "通报与导出", STATS_ROLES, order=64)

readers = console_login_required(*STATS_ROLES)

# the documented figures (miniprogram_api.md 7e) by their Chinese names
COUNT_NAMES = {
    "assigned": "派遣（含退单）",
    "received": "派遣数",
    "returned": "退单数",
    "signed": "签收数",
    "signed_on_time": "按时签收数",
    "handled": "处置数",
    "due": "应处置数",
    "handled_on_time": "按期处置数",
    "closed": "结案数",
    "reworked": "返工数",
    "rated": "评价数",
    "satisfied": "满意数",
    "open": "在办",
    "overdue": "超期在办",
    "supervised_level_1": "督办",
    "avg_handling_hours": "平均处置工时",
}
RATE_NAMES = {
    "signoff_on_time_rate": "签收及时率",
    "handled_on_time_rate": "按期处置率",
    "closed_rate": "结案率",
    "rework_rate": "返工率",
    "returned_rate": "退单率",
    "satisfaction_rate": "满意率",
}
FORMULAS = [
    (RATE_NAMES[rate], COUNT_NAMES[numerator], COUNT_NAMES[denominator])
    for rate, (numerator, denominator) in figures.RATES.items()
]
TABLE_COLUMNS = [
    ("received", False),
    ("returned", False),
    ("signed_on_time", False),
    ("signoff_on_time_rate", True),
    ("due", False),
    ("handled_on_time", False),
    ("handled_on_time_rate", True),
    ("closed", False),
    ("closed_rate", True),
    ("rework_rate", True),
    ("returned_rate", True),
    ("satisfaction_rate", True),
    ("open", False),
    ("overdue", False),
    ("supervised_level_1", False),
    ("avg_handling_hours", False),
]
KIND_NAMES = {
    UnitKind.STREET: "街道",
    UnitKind.TOWNSHIP: "乡镇",
    UnitKind.COMMUNITY: "社区",
    UnitKind.GRID: "网格",
}


def _scope(schema):
    """The request's period and filters (StatsArgs); a bad filter is said and the default period shown instead."""
    try:
        args = query_args(schema)
        return args, figures.scope_of(args)
    except (ValidationFailed, ValidationError) as error:
        flash(error_message(error), "error")
        args = schema.load({})
        return args, figures.scope_of(args)


def _months(count: int = 24) -> list[date]:
    """The first days of this month and the months before it, for the month picker."""
    today = utcnow().astimezone(LOCAL_TZ).date().replace(day=1)
    months = []
    for _ in range(count):
        months.append(today)
        today = (today.replace(day=1) - date.resolution).replace(day=1)
    return months


def _filter_choices() -> dict:
    return {
        "months": _months(),
        "categories": categories.list_all(),
        "regions": regions.list_regions(1, 1000)["items"],
        "kinds": KIND_NAMES,
    }


@bp.get("/stats")
@readers
def leader_dashboard():
    """数据看板: the period's figures per unit, three charts and the ranking with its red and black lists."""
    _, (period, scope, now) = _scope(StatsArgs())
    table = figures.table(period, "unit", scope, now)
    by_category = figures.table(period, "category", scope, now)["items"]
    days = figures.trend(period, scope)["items"]
    board = ranking.ranking(period, scope, now)
    drawn = {
        "on_time": charts.bars(
            "各单位按期处置率",
            [(row["unit"]["name"], row["handled_on_time_rate"]) for row in table["items"]],
            percent=True,
        ),
        "categories": charts.bars("各类别派遣数", [(row["category"]["name"], row["received"]) for row in by_category]),
        "trend": charts.lines(
            "每日受理与结案",
            [day["date"] for day in days],
            [
                ("受理", charts.BLUE, [day["reports"] for day in days]),
                ("派遣", charts.ORANGE, [day["received"] for day in days]),
                ("结案", charts.GREEN, [day["closed"] for day in days]),
            ],
        ),
    }
    return render_template(
        "console/leader/dashboard.html",
        period=period,
        as_of=local_iso(now),
        table=table,
        board=board,
        charts=drawn,
        columns=TABLE_COLUMNS,
        names=COUNT_NAMES | RATE_NAMES,
        formulas=FORMULAS,
        **_filter_choices(),
    )


def _hotspots() -> dict:
    args, (period, scope, _) = _scope(HotspotArgs())
    return figures.hotspots(period, scope, args["kind"])


@bp.get("/stats/hotspots")
@readers
def leader_hotspots():
    """热点地图: regions coloured by the period's cases (the map reads hotspots.geojson with the same filters)."""
    collection = _hotspots()
    ranked = sorted(collection["features"], key=lambda f: (-f["properties"]["total"], f["properties"]["code"]))
    names = {category.code: category.name for category in categories.list_all()}
    return render_template(
        "console/leader/hotspots.html",
        features=[feature["properties"] for feature in ranked],
        period=collection["period"],
        category_names=names,
        **_filter_choices(),
    )


@bp.get("/stats/hotspots.geojson")
@readers
def leader_hotspots_data():
    """The hotspots of GET /api/v1/admin/stats/hotspots, converted to the tiles' coordinate system."""
    return jsonify(regions.in_coord(_hotspots(), current_app.config["CONSOLE_TILE_COORD"]))


@bp.get("/briefings")
@readers
def leader_briefings():
    """月报、半月通报 to download; generating one now (dispatch centre); the case export with the list's filters."""
    args = query_args(BriefingArgs())
    listing = page_of(BriefingOut(), briefings.listing(**args))
    return render_template(
        "console/leader/briefings.html",
        listing=listing,
        kind=args["kind"],
        kinds={kind.value: name for kind, name in briefings.KIND_NAMES.items()},
        can_generate=current_staff().role in DISPATCH_ROLES,
        units=units.list_all(),
        categories=categories.list_all(),
    )


@bp.get("/briefings/<int:briefing_id>/<any(xlsx, docx):file_type>")
@readers
def leader_briefing_file(briefing_id: int, file_type: str):
    return download(*briefings.file_of(briefings.get(briefing_id), file_type))


@bp.post("/briefings")
@console_login_required(*DISPATCH_ROLES)
@form_action("console.leader_briefings")
def leader_generate_briefing():
    fields = {"kind": text("kind"), "date": text("date"), "from": text("from"), "to": text("to")}
    data = load_form(BriefingIn(), {key: value for key, value in fields.items() if value})
    briefing = briefings.generate_requested(data["kind"], data["day"], data["start"], data["end"], utcnow())
    return f"已生成：{briefing.title}"


@bp.get("/export.<any(csv, xlsx):file_type>")
@readers
def leader_export(file_type: str):
    """The dispatcher's case list as CSV or XLSX (GET /api/v1/admin/cases/export.*): no reporter in it."""
    args = query_args(CaseExportArgs())
    if file_type == "csv":
        return download(case_export.as_csv(**args), "text/csv", "cases.csv")
    return download(case_export.as_xlsx(**args), briefings.FILE_TYPES["xlsx"], "cases.xlsx")
