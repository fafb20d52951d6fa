"""Coordinates: GCJ-02 ⇄ WGS-84, and checks on GeoJSON region geometry.

GCJ-02 is the obfuscated datum China's maps and wx.getLocation(type: 'gcj02') use. The forward
transform is the published formula; the inverse has no closed form and is found by iteration.
The offset only applies inside China; outside it both systems coincide.
"""

import math

import shapely
import shapely.validation
from shapely.geometry import shape

_A = 6378245.0  # Krasovsky 1940 semi-major axis used by GCJ-02
_EE = 0.00669342162296594323


def outside_china(lat: float, lng: float) -> bool:
    return not (72.004 <= lng <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _transform_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lng(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def wgs84_to_gcj02(lat: float, lng: float) -> tuple[float, float]:
    if outside_china(lat, lng):
        return lat, lng
    d_lat = _transform_lat(lng - 105.0, lat - 35.0)
    d_lng = _transform_lng(lng - 105.0, lat - 35.0)
    rad_lat = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * math.pi)
    d_lng = (d_lng * 180.0) / (_A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return lat + d_lat, lng + d_lng


def gcj02_to_wgs84(lat: float, lng: float) -> tuple[float, float]:
    """Inverse by fixed-point iteration; converges to well under a centimetre in a few steps."""
    if outside_china(lat, lng):
        return lat, lng
    wgs_lat, wgs_lng = lat, lng
    for _ in range(30):
        g_lat, g_lng = wgs84_to_gcj02(wgs_lat, wgs_lng)
        d_lat, d_lng = g_lat - lat, g_lng - lng
        wgs_lat, wgs_lng = wgs_lat - d_lat, wgs_lng - d_lng
        if abs(d_lat) < 1e-10 and abs(d_lng) < 1e-10:
            break
    return wgs_lat, wgs_lng


def to_wgs84(lat: float, lng: float, coord: str) -> tuple[float, float]:
    return gcj02_to_wgs84(lat, lng) if coord == "gcj02" else (lat, lng)


def to_system(wgs_lat: float, wgs_lng: float, coord: str) -> tuple[float, float]:
    return wgs84_to_gcj02(wgs_lat, wgs_lng) if coord == "gcj02" else (wgs_lat, wgs_lng)


def _rings(geometry: dict) -> list:
    coordinates = geometry["coordinates"]
    return [
        ring for polygon in (coordinates if geometry["type"] == "MultiPolygon" else [coordinates]) for ring in polygon
    ]


def _ring_problem(ring) -> str | None:
    if not isinstance(ring, list) or not all(isinstance(position, list) and len(position) >= 2 for position in ring):
        return "malformed coordinates: a ring must be a list of [lng, lat] positions"
    if any(isinstance(value, bool) or not isinstance(value, int | float) for p in ring for value in p[:2]):
        return "malformed coordinates: positions must be numbers"
    if ring and ring[0][:2] != ring[-1][:2]:
        # shapely would close the ring silently; GeoJSON (RFC 7946) requires first position == last
        return f"ring not closed: it starts at {ring[0]} and ends at {ring[-1]}"
    return None


def geometry_problem(geometry) -> str | None:
    """Why a GeoJSON geometry cannot be a region, or None if it can (Polygon/MultiPolygon, valid, in range)."""
    if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        kind = geometry.get("type") if isinstance(geometry, dict) else type(geometry).__name__
        return f"geometry must be a Polygon or MultiPolygon, not {kind}"
    if not isinstance(geometry.get("coordinates"), list):
        return 'the geometry has no "coordinates" list'
    try:
        problems = [problem for ring in _rings(geometry) if (problem := _ring_problem(ring))]
        if problems:
            return problems[0]
        parsed = shape(geometry)
    except (ValueError, TypeError, IndexError, AttributeError, shapely.errors.GEOSException) as exc:
        return f"malformed coordinates: {exc}"
    if parsed.is_empty:
        return "empty geometry"
    min_lng, min_lat, max_lng, max_lat = parsed.bounds
    if not (-180 <= min_lng <= max_lng <= 180 and -90 <= min_lat <= max_lat <= 90):
        return "coordinates out of range (GeoJSON order is [lng, lat])"
    if not parsed.is_valid:
        return f"invalid geometry: {shapely.validation.explain_validity(parsed)}"
    return None


def bounding_box(geometry: dict) -> tuple[float, float, float, float]:
    """(min_lat, min_lng, max_lat, max_lng)."""
    min_lng, min_lat, max_lng, max_lat = shape(geometry).bounds
    return min_lat, min_lng, max_lat, max_lng


def convert(lat: float, lng: float, from_coord: str, to_coord: str) -> tuple[float, float]:
    """A point from one coordinate system to another (the same system: unchanged)."""
    if from_coord == to_coord:
        return lat, lng
    return to_system(*to_wgs84(lat, lng, from_coord), to_coord)


def convert_geometry(geometry: dict, from_coord: str, to_coord: str) -> dict:
    """A GeoJSON Polygon or MultiPolygon with every position converted (positions are [lng, lat])."""
    if from_coord == to_coord:
        return geometry

    def position(point: list) -> list:
        lat, lng = convert(point[1], point[0], from_coord, to_coord)
        return [round(lng, 7), round(lat, 7)]

    def walk(value):
        if value and isinstance(value[0], int | float):
            return position(value)
        return [walk(item) for item in value]

    return {**geometry, "coordinates": walk(geometry["coordinates"])}
