"""责任地图: the responsibility map as the dispatch centre keeps it — the units tree, the regions on the map and
their GeoJSON import, the routing rules, and "who would get this point?" — on the services and with the access of
backend/api/admin_map.py and admin_regions.py (dispatcher_required: dispatchers and administrators)."""

import json
import re

from flask import current_app, flash, render_template, request, url_for
from marshmallow import ValidationError

from backend.api.common import actor, load_json, query_args
from backend.auth import DISPATCH_ROLES
from backend.console import bp, import_errors, nav
from backend.console.forms import error_message, form_action, integer, integers, load_form, text
from backend.console.session import console_login_required
from backend.errors import AppError, ValidationFailed, _rollback
from backend.extensions import db
from backend.models import UnitKind
from backend.schemas.common import PageArgs, page_of
from backend.schemas.map import CandidateOut, ExplainArgs, RuleIn, RuleOut, UnitPatch
from backend.schemas.region import FeatureCollectionIn, RegionImportArgs, RegionOut
from backend.services.responsibility import categories, regions, routing, rules, units

nav.add_entry("console.map_admin_regions", "责任地图", DISPATCH_ROLES, order=80)

map_admins = console_login_required(*DISPATCH_ROLES)

UNIT_KIND_NAMES = {
    UnitKind.DISTRICT: "区",
    UnitKind.DEPARTMENT: "部门",
    UnitKind.STREET: "街道",
    UnitKind.TOWNSHIP: "乡镇",
    UnitKind.COMMUNITY: "社区",
    UnitKind.GRID: "网格",
}
# the import names each bad feature as `feature #3 (code "grid-12"): problem` (services/responsibility/regions.py)
FEATURE_ERROR = re.compile(r'^feature #(\d+)(?: \(code "(.*?)"\))?: (.*)$', re.S)


def _names() -> dict:
    return {"kind_names": {kind.value: name for kind, name in UNIT_KIND_NAMES.items()}}


# --- units -------------------------------------------------------------------------------------------------


@bp.get("/map-admin/units")
@map_admins
def map_admin_units():
    """The units as a tree (parent → children), each with its active switch."""
    every = units.list_all()
    children: dict[int | None, list] = {}
    known = {unit.id for unit in every}
    for unit in every:
        children.setdefault(unit.parent_id if unit.parent_id in known else None, []).append(unit)
    return render_template("console/map_admin/units.html", children=children, **_names())


@bp.post("/map-admin/units/<int:unit_id>/active")
@map_admins
@form_action("console.map_admin_units")
def map_admin_unit_active(unit_id: int):
    """停用 / 启用: deactivating sends the unit's open cases back to the dispatcher (PATCH … {"active": false})."""
    data = load_form(UnitPatch(partial=True), {"active": request.form.get("active") == "1"})
    unit = units.update(units.get(unit_id), data, actor())
    return f"{unit.name}已{'启用' if unit.active else '停用'}", url_for("console.map_admin_units")


# --- regions and the import --------------------------------------------------------------------------------


def _regions_page(errors: list[str] | None = None, status: int = 200):
    listing = page_of(RegionOut(), regions.list_regions(**query_args(PageArgs())))
    rows = []
    for problem in errors or []:
        found = FEATURE_ERROR.match(problem)
        number, code, text_ = found.groups() if found else ("", "", problem)
        rows.append((number, code, import_errors.in_chinese(text_)))
    page = render_template("console/map_admin/regions.html", listing=listing, import_errors=rows, **_names())
    return page, status


@bp.get("/map-admin/regions")
@map_admins
def map_admin_regions():
    return _regions_page()


@bp.post("/map-admin/regions/import")
@map_admins
def map_admin_import_regions():
    """GeoJSON import (POST /api/v1/admin/regions/import): all or nothing; every bad feature shown in a table."""
    upload = request.files.get("file")
    try:
        coord = load_form(RegionImportArgs(), {"coord": text("coord")} if text("coord") else {})["coord"]
        if upload is None or not upload.filename:
            raise ValidationFailed("请选择要导入的 GeoJSON 文件", fields={"file": ["请选择要导入的 GeoJSON 文件"]})
        try:
            document = json.loads(upload.read())
        except (ValueError, RecursionError):
            raise ValidationFailed("文件不是有效的 JSON（GeoJSON）", code="invalid_json") from None
        result = regions.import_regions(load_json(document, FeatureCollectionIn()), coord, actor())
        db.session.commit()
    except (AppError, ValidationError) as error:
        _rollback()
        if getattr(error, "code", None) == "invalid_geojson":
            flash("导入失败，没有写入任何区域。请修改下列要素后重新导入。", "error")
            return _regions_page(error.fields["features"], 422)
        flash(error_message(error), "error")
        return _regions_page(status=422)
    counts = f"新增 {result['created']}，更新 {result['updated']}，未变化 {result['unchanged']}"
    flash(f"导入完成：{counts}（共 {result['total']} 个）", "success")
    return _regions_page()


# --- routing rules -----------------------------------------------------------------------------------------


def _optional_int(name: str):
    value = request.form.get(name, "")
    return integer(value) if value.strip() else None


def _rule_form() -> dict:
    """The rule editor's fields as RuleIn reads them (a checkbox absent = false)."""
    return load_form(
        RuleIn(),
        {
            "category_id": _optional_int("category_id"),
            "region_id": _optional_int("region_id"),
            "target": text("target"),
            "unit_id": _optional_int("unit_id"),
            "co_unit_ids": integers("co_unit_ids"),
            "co_territorial": "co_territorial" in request.form,
            "deadline_hours": _optional_int("deadline_hours"),
            "note": text("note"),
            "active": "active" in request.form,
        },
    )


def _rule_choices() -> dict:
    return {
        "categories": categories.list_all(),
        "regions": regions.list_regions(1, 1000)["items"],
        "units": units.list_all(active=True),
    }


@bp.get("/map-admin/rules")
@map_admins
def map_admin_rules():
    items = RuleOut(many=True).dump(rules.list_all())
    return render_template("console/map_admin/rules.html", rules=items, rule=None, **_rule_choices())


@bp.get("/map-admin/rules/<int:rule_id>")
@map_admins
def map_admin_rule(rule_id: int):
    rule = RuleOut().dump(rules.get(rule_id))
    return render_template("console/map_admin/rule.html", rule=rule, **_rule_choices())


@bp.post("/map-admin/rules")
@map_admins
@form_action("console.map_admin_rules")
def map_admin_create_rule():
    rule = rules.create(_rule_form(), actor())
    return f"已新建规则 #{rule.id}"


@bp.post("/map-admin/rules/<int:rule_id>")
@map_admins
@form_action("console.map_admin_rule")
def map_admin_update_rule(rule_id: int):
    rules.update(rules.get(rule_id), _rule_form(), actor())
    return f"规则 #{rule_id} 已保存", url_for("console.map_admin_rules")


@bp.post("/map-admin/rules/<int:rule_id>/delete")
@map_admins
@form_action("console.map_admin_rule")
def map_admin_delete_rule(rule_id: int):
    """Refused (409 in_use) once the rule has routed a case: the page says so and offers to deactivate it."""
    rules.delete(rules.get(rule_id), actor())
    return f"规则 #{rule_id} 已删除", url_for("console.map_admin_rules")


# --- who would get this point? -----------------------------------------------------------------------------


@bp.get("/map-admin/explain")
@map_admins
def map_admin_explain():
    """Click on the map (or type a point): the routing explanation of GET /api/v1/admin/routing/explain."""
    tile_coord = current_app.config["CONSOLE_TILE_COORD"]
    result, point = None, None
    if request.args.get("lat") or request.args.get("lng"):
        try:
            args = query_args(ExplainArgs())
            found, reason = routing.explain(**args)
            result = {"candidates": CandidateOut(many=True).dump(found), "reason_if_none": None if found else reason}
            point = {"lat": args["lat"], "lng": args["lng"], "coord": args["coord"]}
        except (ValidationFailed, ValidationError) as error:
            flash(error_message(error), "error")
    pins = [{"location": point, "label": "查询位置"}] if point else []
    return render_template(
        "console/map_admin/explain.html",
        result=result,
        pins=pins,
        tile_coord=tile_coord,
        categories=categories.list_all(),
    )
