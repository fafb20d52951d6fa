"""Regions (辖区) for dispatchers: list, look at, import and export as GeoJSON, delete."""

from flask import Blueprint, current_app

from backend.api.common import actor, json_body, query_args
from backend.api.spec import Page, doc
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
from backend.schemas.shapes import GEOJSON
from backend.services.responsibility import regions

bp = Blueprint("admin_regions", __name__, url_prefix="/admin")


@bp.get("/regions")
@doc(query=RegionArgs, response=Page(RegionOut))
@dispatcher_required
def list_regions():
    return page_of(RegionOut(), regions.list_regions(**query_args(RegionArgs())))


@bp.get("/regions/<int:region_id>")
@doc(response=RegionDetailOut, errors={404: "region_not_found"})
@dispatcher_required
def get_region(region_id: int):
    return RegionDetailOut().dump(regions.get_region(region_id))


@bp.post("/regions/import")
@doc(
    query=RegionImportArgs,
    body=FeatureCollectionIn,
    response=ImportResultOut,
    errors={404: "unit_not_found", 422: "invalid_geojson"},
)
@dispatcher_required
def import_regions():
    args = query_args(RegionImportArgs())
    result = regions.import_regions(json_body(FeatureCollectionIn()), args["coord"], actor())
    db.session.commit()
    return ImportResultOut().dump(result)


@bp.get("/regions/export")
@doc(query=RegionExportArgs, response=GEOJSON, content_type="application/geo+json", errors={404: "unit_not_found"})
@dispatcher_required
def export_regions():
    response = current_app.json.response(regions.export_regions(**query_args(RegionExportArgs())))
    response.mimetype = "application/geo+json"
    return response


@bp.delete("/regions/<int:region_id>")
@doc(response=None, status=204, errors={404: "region_not_found", 409: "region_in_use"})
@dispatcher_required
def delete_region(region_id: int):
    regions.delete_region(region_id, actor())
    db.session.commit()
    return "", 204
