"""Regions for dispatchers: the list (no geometry), one region (with its GeoJSON geometry), import/export."""

from marshmallow import INCLUDE, Schema, fields, validate

from backend.models import CoordSystem
from backend.schemas.common import LocalDateTime, PageArgs

COORD = validate.OneOf([c.value for c in CoordSystem])


class RegionArgs(PageArgs):
    unit_id = fields.Integer(load_default=None)


class RegionImportArgs(Schema):
    coord = fields.String(load_default=None, validate=COORD)


class FeatureCollectionIn(Schema):
    """Passed through whole: the service checks it feature by feature and reports every problem at once."""

    class Meta:
        unknown = INCLUDE


class RegionExportArgs(Schema):
    unit_id = fields.Integer(load_default=None)


class RegionUnitOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    kind = fields.String()
    active = fields.Boolean()


def _bbox(region) -> list[float]:
    """[west, south, east, north], as GeoJSON writes a bbox."""
    return [region.min_lng, region.min_lat, region.max_lng, region.max_lat]


class RegionOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    coord = fields.String()
    unit = fields.Nested(RegionUnitOut)
    bbox = fields.Function(_bbox)
    updated_at = LocalDateTime()


class RegionDetailOut(RegionOut):
    geometry = fields.Dict()


class ImportResultOut(Schema):
    created = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()
    total = fields.Integer()
