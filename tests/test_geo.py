"""Coordinates and point-in-polygon."""

import pytest

from backend.models import UnitKind
from backend.services.responsibility import geo
from backend.services.responsibility.region_index import RegionIndex

# Published test vectors, as (lat, lng): wandergis/coordtransform's (also in hutool's
# CoordinateUtilTest and coordtransform_rs) and a geotool test.
FORWARD = [
    ((39.915, 116.404), (39.91640428150164, 116.41024449916938)),
    ((30.6107779, 121.0917077), (30.608604331756705, 121.09626935575027)),
]


@pytest.mark.parametrize(("wgs", "gcj"), FORWARD)
def test_wgs84_to_gcj02_matches_published_vectors(wgs, gcj):
    lat, lng = geo.wgs84_to_gcj02(*wgs)
    assert lat == pytest.approx(gcj[0], abs=1e-6) and lng == pytest.approx(gcj[1], abs=1e-6)  # ~10 cm


def test_gcj02_to_wgs84_matches_gcoord():
    # hujiulong/gcoord's iterative inverse: GCJ-02 (45, 123) → WGS-84 (44.99804071, 122.99395597)
    lat, lng = geo.gcj02_to_wgs84(45, 123)
    assert lat == pytest.approx(44.99804071, abs=5e-6) and lng == pytest.approx(122.99395597, abs=5e-6)


@pytest.mark.parametrize("point", [(26.5, 101.7), (39.9, 116.4), (22.3, 114.1), (45.7, 126.6)])
def test_gcj02_round_trip_is_sub_centimetre(point):
    back = geo.gcj02_to_wgs84(*geo.wgs84_to_gcj02(*point))
    assert back[0] == pytest.approx(point[0], abs=1e-7) and back[1] == pytest.approx(point[1], abs=1e-7)


def test_no_offset_outside_china():
    assert geo.wgs84_to_gcj02(48.8566, 2.3522) == (48.8566, 2.3522)  # Paris
    assert geo.gcj02_to_wgs84(-33.86, 151.21) == (-33.86, 151.21)  # Sydney


SQUARE_WITH_HOLE = {
    "type": "Polygon",
    "coordinates": [
        [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]],
        [[4, 4], [6, 4], [6, 6], [4, 6], [4, 4]],
    ],
}


def _index(*geometries):
    return RegionIndex([(i, "wgs84", g, 100 + i, UnitKind.STREET) for i, g in enumerate(geometries, start=1)])


@pytest.mark.parametrize(
    ("lat", "lng", "inside"),
    [
        (5, 2, True),
        (5, 5, False),  # in the hole
        (0, 5, True),  # on the outer boundary
        (10, 10, True),  # on a corner
        (4, 5, True),  # on the hole's boundary: part of the area
        (5, 10.000001, False),
        (-1, 5, False),
    ],
)
def test_point_in_polygon_with_hole_and_boundaries(lat, lng, inside):
    hits = _index(SQUARE_WITH_HOLE).containing(lat, lng, "wgs84", lat, lng)
    assert bool(hits) is inside


def test_multipolygon_and_shared_boundaries():
    shape = {
        "type": "MultiPolygon",
        "coordinates": [[[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]], [[[5, 5], [6, 5], [6, 6], [5, 6], [5, 5]]]],
    }
    neighbour = {"type": "Polygon", "coordinates": [[[1, 0], [2, 0], [2, 1], [1, 1], [1, 0]]]}
    index = _index(shape, neighbour)
    assert [h.region_id for h in index.containing(5.5, 5.5, "wgs84", 5.5, 5.5)] == [1]
    assert index.containing(3, 3, "wgs84", 3, 3) == []
    # a point on the shared edge belongs to both; routing takes the lowest id at the same level
    assert [h.region_id for h in index.containing(0.5, 1, "wgs84", 0.5, 1)] == [1, 2]
    assert geo.bounding_box(shape) == (0, 0, 6, 6)


@pytest.mark.parametrize(
    ("geometry", "problem"),
    [
        ({"type": "Point", "coordinates": [1, 2]}, "Polygon or MultiPolygon"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]]}, "Self-intersection"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]}, "Too few points"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [200, 0], [200, 1], [0, 0]]]}, "out of range"),
        ("polygon", "Polygon or MultiPolygon"),
        ({"type": "Polygon"}, "coordinates"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}, "not closed"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [True, 0], [1, 1], [0, 0]]]}, "numbers"),
        ({"type": "MultiPolygon", "coordinates": [[[[0, 0], [1, 0], "x", [0, 0]]]]}, "malformed"),
    ],
)
def test_geometry_problems_are_named(geometry, problem):
    assert problem in geo.geometry_problem(geometry)


def test_a_valid_polygon_has_no_problem():
    assert geo.geometry_problem(SQUARE_WITH_HOLE) is None
