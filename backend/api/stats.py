"""考核 figures, rankings, 通报 and the case export. Read-only for the leader role; a unit sees its own."""

import json

from flask import Blueprint, Response

from backend.api.common import download, json_body, query_args
from backend.api.spec import Page, doc
from backend.auth import current_principal, dispatcher_required, stats_reader_required, unit_staff_required
from backend.extensions import db
from backend.models.types import utcnow
from backend.schemas.common import local_iso, page_of
from backend.schemas.stats import (
    BriefingArgs,
    BriefingIn,
    BriefingOut,
    CaseExportArgs,
    HotspotArgs,
    StatsArgs,
    TrendArgs,
    UnitStatsArgs,
)
from backend.services.stats import briefings, case_export, figures, ranking

bp = Blueprint("stats", __name__)

XLSX = briefings.FILE_TYPES["xlsx"]
DOCX = briefings.FILE_TYPES["docx"]


def _json(result: dict) -> dict:
    if "as_of" in result:
        result["as_of"] = local_iso(result["as_of"])
    return result


@bp.get("/admin/stats/units")
@doc(query=UnitStatsArgs, response={"type": "object"}, errors={422: "validation_failed"})
@stats_reader_required
def unit_figures():
    args = query_args(UnitStatsArgs())
    by = args.pop("by")
    period, scope, now = figures.scope_of(args)
    return _json(figures.table(period, by, scope, now))


@bp.get("/admin/stats/ranking")
@doc(query=StatsArgs, response={"type": "object"}, errors={422: "validation_failed"})
@stats_reader_required
def unit_ranking():
    period, scope, now = figures.scope_of(query_args(StatsArgs()))
    return _json(ranking.ranking(period, scope, now))


@bp.get("/admin/stats/trend")
@doc(query=TrendArgs, response={"type": "object"}, errors={422: "validation_failed"})
@stats_reader_required
def daily_trend():
    args = query_args(TrendArgs())
    unit_id = args.pop("unit_id")
    period, scope, _ = figures.scope_of(args, unit_id)
    return figures.trend(period, scope)


@bp.get("/admin/stats/hotspots")
@doc(
    query=HotspotArgs,
    response={"type": "object"},
    content_type="application/geo+json",
    errors={422: "validation_failed"},
)
@stats_reader_required
def hotspots():
    args = query_args(HotspotArgs())
    kind = args.pop("kind")
    period, scope, _ = figures.scope_of(args)
    return Response(_geojson(figures.hotspots(period, scope, kind)), mimetype="application/geo+json")


def _geojson(document: dict) -> str:
    return json.dumps(document, ensure_ascii=False)


@bp.get("/unit/stats")
@doc(query=StatsArgs, response={"type": "object"}, errors={422: "validation_failed"})
@unit_staff_required
def own_figures():
    period, scope, now = figures.scope_of(query_args(StatsArgs()))
    return _json(ranking.unit_view(current_principal().unit_id, period, scope, now))


@bp.get("/admin/briefings")
@doc(query=BriefingArgs, response=Page(BriefingOut))
@stats_reader_required
def list_briefings():
    return page_of(BriefingOut(), briefings.listing(**query_args(BriefingArgs())))


@bp.post("/admin/briefings")
@doc(body=BriefingIn, response=BriefingOut, status=201, errors={422: "validation_failed"})
@dispatcher_required
def generate_briefing():
    """On demand: (re)build the briefing of a period now."""
    data = json_body(BriefingIn())
    briefing = briefings.generate_requested(data["kind"], data["day"], data["start"], data["end"], utcnow())
    db.session.commit()
    return BriefingOut().dump(briefing), 201


@bp.get("/admin/briefings/<int:briefing_id>")
@doc(response=BriefingOut, errors={404: "briefing_not_found"})
@stats_reader_required
def get_briefing(briefing_id: int):
    return BriefingOut().dump(briefings.get(briefing_id))


@bp.get("/admin/briefings/<int:briefing_id>/xlsx")
@doc(response={"type": "string"}, content_type=XLSX, errors={404: "briefing_not_found"})
@stats_reader_required
def download_briefing_xlsx(briefing_id: int):
    return download(*briefings.file_of(briefings.get(briefing_id), "xlsx"))


@bp.get("/admin/briefings/<int:briefing_id>/docx")
@doc(response={"type": "string"}, content_type=DOCX, errors={404: "briefing_not_found"})
@stats_reader_required
def download_briefing_docx(briefing_id: int):
    return download(*briefings.file_of(briefings.get(briefing_id), "docx"))


@bp.get("/admin/cases/export.csv")
@doc(query=CaseExportArgs, response={"type": "string"}, content_type="text/csv")
@stats_reader_required
def export_cases_csv():
    body = case_export.as_csv(**query_args(CaseExportArgs()))
    return download(body, "text/csv", "cases.csv")


@bp.get("/admin/cases/export.xlsx")
@doc(query=CaseExportArgs, response={"type": "string"}, content_type=XLSX)
@stats_reader_required
def export_cases_xlsx():
    body = case_export.as_xlsx(**query_args(CaseExportArgs()))
    return download(body, briefings.FILE_TYPES["xlsx"], "cases.xlsx")
