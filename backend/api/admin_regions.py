"""Regions (辖区) for dispatchers: list, look at, import and export as GeoJSON, delete."""

from flask import Blueprint, current_app

from backend.api.common import actor, json_body, query_args
from backend.auth import dispatcher_required
from backend.extensions import db
from backend.schemas.common import page_of
from backend.schemas.region import (
    FeatureCollectionIn,
    ImportResultOut,
    RegionArgs,
    RegionDetailOut,
    RegionExportArgs,
    RegionImportArgs,
    RegionOut,
)
from backend.services import regions

bp = Blueprint("admin_regions", __name__, url_prefix="/admin")


@bp.get("/regions")
@dispatcher_required
def list_regions():
    return page_of(RegionOut(), regions.list_regions(**query_args(RegionArgs())))


@bp.get("/regions/<int:region_id>")
@dispatcher_required
def get_region(region_id: int):
    return RegionDetailOut().dump(regions.get_region(region_id))


@bp.post("/regions/import")
@dispatcher_required
def import_regions():
    args = query_args(RegionImportArgs())
    result = regions.import_regions(json_body(FeatureCollectionIn()), args["coord"], actor())
    db.session.commit()
    return ImportResultOut().dump(result)


@bp.get("/regions/export")
@dispatcher_required
def export_regions():
    response = current_app.json.response(regions.export_regions(**query_args(RegionExportArgs())))
    response.mimetype = "application/geo+json"
    return response


@bp.delete("/regions/<int:region_id>")
@dispatcher_required
def delete_region(region_id: int):
    regions.delete_region(region_id, actor())
    db.session.commit()
    return "", 204
