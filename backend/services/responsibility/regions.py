"""Regions (辖区) as GeoJSON: import a FeatureCollection all-or-nothing, export one, list, delete.

A feature is one region: a Polygon or MultiPolygon with the properties `code` (the stable key: a
known code updates that region), `name` and `unit_code` (the owning unit, which must be active).
Every feature has a coordinate system, "gcj02" or "wgs84": its own `coord` property (what export writes, so an
export of a map mixing both imports back as it was), else the import's — given by the caller or as the
collection's top-level member "coord"; a feature may not contradict the import's. Coordinates are kept as
imported; the routing index converts points instead.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import selectinload

from backend.errors import Conflict, NotFound, ValidationFailed
from backend.extensions import db
from backend.models import Case, CoordSystem, Region, RoutingRule, Unit
from backend.services.actors import Actor
from backend.services.lookup import get_or_404
from backend.services.paging import paginate
from backend.services.responsibility import audit, geo

AUDITED = ("name", "unit_id", "coord")
COORDS = tuple(c.value for c in CoordSystem)
MAX_ERRORS = 100  # a file that is wrong everywhere is reported by its first hundred problems
_CHUNK = 500  # codes per IN (...) query, well under SQLite's bound-parameter limit
_WRITE_CHUNK = 100  # regions per flush: progress follows the writes, which take most of the time


def geometry_sha1(geometry: dict) -> str:
    """A short fingerprint of a geometry for the audit trail (the geometry itself is too big to keep twice)."""
    canonical = json.dumps(geometry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha1(canonical.encode()).hexdigest()[:12]


def _snapshot(region: Region) -> dict:
    return audit.snapshot(region, AUDITED) | {"geometry_sha1": geometry_sha1(region.geometry)}


def _properties(feature) -> dict | None:
    if isinstance(feature, dict) and isinstance(feature.get("properties"), dict):
        return feature["properties"]
    return None


def _label(number: int, feature) -> str:
    """`feature #3 (code "grid-12")`: numbered from 1, in file order."""
    code = (_properties(feature) or {}).get("code")
    return f'feature #{number} (code "{code}")' if isinstance(code, str) else f"feature #{number}"


def _text(properties: dict, key: str, max_length: int) -> tuple[str | None, str | None]:
    """(value, problem) of a required text property."""
    value = properties.get(key)
    if value is None:
        return None, f'property "{key}" is missing'
    if not isinstance(value, str) or not value.strip():
        return None, f'property "{key}" must be non-empty text'
    if len(value) > max_length:
        return None, f'property "{key}" is longer than {max_length} characters'
    return value, None


def _by_code(model, codes: set[str]) -> dict:
    found, ordered = {}, sorted(codes)
    for start in range(0, len(ordered), _CHUNK):
        chunk = ordered[start : start + _CHUNK]
        found.update({row.code: row for row in db.session.scalars(db.select(model).where(model.code.in_(chunk)))})
    return found


def _declared(value) -> str | None:
    """A problem with a declared coord, or None."""
    if value in COORDS:
        return None
    return f'coord must be "gcj02" or "wgs84", not {json.dumps(value, ensure_ascii=False)}'


MISSING_COORD = 'coord is missing: declare "gcj02" or "wgs84" (the collection\'s "coord" member or the option)'


def _coord_of(collection: dict, coord: str | None) -> tuple[str | None, list[str]]:
    """The import's coordinate system (None: each feature declares its own), and problems with how it was declared."""
    declared = [("the import", coord)] if coord is not None else []
    if "coord" in collection:
        declared.append(("the collection", collection["coord"]))
    for source, value in declared:
        if problem := _declared(value):
            return None, [f"{source}: {problem}"]
    if len({value for _, value in declared}) > 1:
        return None, [f"the import says coord {coord!r} but the collection says {collection['coord']!r}"]
    return (declared[0][1] if declared else None), []


def _feature_coord(properties: dict, system: str | None) -> tuple[str | None, str | None]:
    """(coord, problem) of one feature: its own `coord` property, which must agree with the import's, else that."""
    if "coord" not in properties:
        return system, None if system is not None else MISSING_COORD
    own = properties["coord"]
    if problem := _declared(own):
        return None, problem
    if system is not None and own != system:
        return None, f"coord {own!r} differs from the import's coord {system!r}"
    return own, None


def _geometry_problem(geometry) -> str | None:
    if geometry is None:
        return "the feature has no geometry"
    return geo.geometry_problem(geometry)


@dataclass(frozen=True)
class _Row:
    code: str
    name: str
    unit: Unit
    coord: str
    geometry: dict
    region: Region | None  # the region this code already names


def _validate(collection, coord: str | None) -> list[_Row]:
    """Every problem at once (ValidationFailed), or the rows to write."""
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
        kind = collection.get("type") if isinstance(collection, dict) else type(collection).__name__
        raise _failed([f"the file must be a GeoJSON FeatureCollection, not {kind}"])
    features = collection.get("features")
    if not isinstance(features, list) or not features:
        raise _failed(['the FeatureCollection has no "features", or an empty list'])
    system, errors = _coord_of(collection, coord)
    if system is None and not errors and not any("coord" in (_properties(f) or {}) for f in features):
        errors.append(MISSING_COORD)  # no coord anywhere: said once for the file, not for each feature
    file_coord_refused = bool(errors)  # then features without a coord of their own are not blamed again

    def wanted(key: str) -> set[str]:
        return {v for f in features if isinstance(v := (_properties(f) or {}).get(key), str)}

    units, existing = _by_code(Unit, wanted("unit_code")), _by_code(Region, wanted("code"))
    rows, first_seen = [], {}
    for number, feature in enumerate(features, start=1):
        label, properties = _label(number, feature), _properties(feature)
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            errors.append(f"{label}: not a GeoJSON Feature")
            continue
        if properties is None:
            errors.append(f'{label}: "properties" must be an object with code, name and unit_code')
            continue
        (code, code_problem), (name, name_problem) = _text(properties, "code", 64), _text(properties, "name", 128)
        unit_code, unit_problem = _text(properties, "unit_code", 64)
        problems = [p for p in (code_problem, name_problem, unit_problem) if p]
        if code is not None and first_seen.setdefault(code, number) != number:
            problems.append(f'code "{code}" is already used by feature #{first_seen[code]}')
        unit = units.get(unit_code) if unit_code is not None else None
        if unit_code is not None and unit is None:
            problems.append(f'unit_code "{unit_code}": no such unit')
        elif unit is not None and not unit.active:
            # An inactive unit keeps the regions it has (so that an export imports back), it gains none.
            region = existing.get(code)
            if region is None or region.unit_id != unit.id:
                problems.append(f'unit_code "{unit_code}": the unit is inactive')
        feature_coord, coord_problem = _feature_coord(properties, system)
        if coord_problem and not (file_coord_refused and "coord" not in properties):
            problems.append(coord_problem)
        if problem := _geometry_problem(feature.get("geometry")):
            problems.append(problem)
        errors += [f"{label}: {problem}" for problem in problems]
        if not problems:
            # only what GeoJSON defines for a geometry; a "bbox" or foreign members are not kept
            geometry = feature["geometry"]
            kept = {"type": geometry["type"], "coordinates": geometry["coordinates"]}
            if feature_coord is not None:
                rows.append(_Row(code, name, unit, feature_coord, kept, existing.get(code)))
    if errors:
        raise _failed(errors)
    return rows


def _failed(errors: list[str]) -> ValidationFailed:
    shown = errors[:MAX_ERRORS]
    if len(errors) > MAX_ERRORS:
        shown.append(f"… and {len(errors) - MAX_ERRORS} more problems")
    return ValidationFailed("GeoJSON 导入失败", code="invalid_geojson", fields={"features": shown})


def import_regions(
    collection: dict, coord: str | None, actor: Actor, progress: Callable[[int], object] | None = None
) -> dict:
    """Create or update (by code) every region of the collection, or raise ValidationFailed and write nothing.

    `progress(n)` is called as each chunk of n features is written (click's progressbar.update fits).
    Regions missing from the file are left alone. Flushes; the caller commits.
    """
    rows = _validate(collection, coord)
    created = updated = 0
    for start in range(0, len(rows), _WRITE_CHUNK):
        written: list[tuple[Region, dict | None]] = []
        for row in rows[start : start + _WRITE_CHUNK]:
            region = row.region
            before = _snapshot(region) if region is not None else None
            if region is None:
                region = Region(code=row.code)
                db.session.add(region)
            region.name, region.unit, region.coord = row.name, row.unit, CoordSystem(row.coord)
            region.geometry = row.geometry
            region.min_lat, region.min_lng, region.max_lat, region.max_lng = geo.bounding_box(row.geometry)
            written.append((region, before))
        db.session.flush()
        for region, before in written:
            if before is None:
                created += 1
                audit.record(actor, "create", "region", region.id, None, {"code": region.code} | _snapshot(region))
            elif audit.record(actor, "update", "region", region.id, before, _snapshot(region)) is not None:
                updated += 1
        if progress is not None:
            progress(len(written))
    db.session.flush()
    unchanged = len(rows) - created - updated
    return {"created": created, "updated": updated, "unchanged": unchanged, "total": len(rows)}


def _feature(region: Region) -> dict:
    return {
        "type": "Feature",
        "geometry": region.geometry,
        "properties": {
            "code": region.code,
            "name": region.name,
            "unit_code": region.unit.code,
            "unit_name": region.unit.name,
            "level": region.unit.kind.value,
            "coord": region.coord.value,
        },
    }


def export_regions(unit_id: int | None = None) -> dict:
    """A FeatureCollection of every region (or one unit's), each feature carrying its own `coord`."""
    if unit_id is not None and db.session.get(Unit, unit_id) is None:
        raise NotFound("单位不存在", code="unit_not_found")
    query = db.select(Region).options(selectinload(Region.unit)).order_by(Region.id)
    if unit_id is not None:
        query = query.where(Region.unit_id == unit_id)
    return {"type": "FeatureCollection", "features": [_feature(region) for region in db.session.scalars(query)]}


def for_display(coord: str) -> dict:
    """Every region as a FeatureCollection in one coordinate system, the map's (its tiles'), for drawing."""
    return in_coord(export_regions(), coord)


def in_coord(collection: dict, coord: str) -> dict:
    """A FeatureCollection of regions (each feature naming its `coord`, as the export and the hotspots do) with
    every geometry converted to one coordinate system, for drawing on the map's tiles."""
    for feature in collection["features"]:
        properties = feature["properties"]
        feature["geometry"] = geo.convert_geometry(feature["geometry"], properties["coord"], coord)
        properties["coord"] = coord
    return collection


def list_regions(page: int, per_page: int, unit_id: int | None = None) -> dict:
    query = db.select(Region)
    if unit_id is not None:
        query = query.where(Region.unit_id == unit_id)
    return paginate(query, page, per_page, Region.id, options=(selectinload(Region.unit),))


def get_region(region_id: int) -> Region:
    return get_or_404(Region, region_id, "辖区不存在", "region_not_found")


def find_unit(code: str) -> Unit:
    unit = db.session.scalar(db.select(Unit).where(Unit.code == code))
    if unit is None:
        raise NotFound(f"单位 {code} 不存在", code="unit_not_found")
    return unit


def delete_region(region_id: int, actor: Actor) -> None:
    """Refused while routing rules or cases point at the region: rules would silently lose their area."""
    region = get_region(region_id)
    rule_ids = db.session.scalars(
        db.select(RoutingRule.id).where(RoutingRule.region_id == region.id).order_by(RoutingRule.id)
    ).all()
    if rule_ids:
        listed = "、".join(f"#{rule_id}" for rule_id in rule_ids)
        raise Conflict(f"该辖区仍被派遣规则引用：{listed}；请先修改或删除这些规则", code="region_in_use")
    cases = db.session.scalar(db.select(db.func.count(Case.id)).where(Case.region_id == region.id))
    if cases:
        raise Conflict(f"该辖区已有 {cases} 件案件记录，不能删除；请改为导入新的边界", code="region_in_use")
    before = {"code": region.code} | _snapshot(region)
    db.session.delete(region)
    db.session.flush()
    audit.record(actor, "delete", "region", region_id, before, None)
