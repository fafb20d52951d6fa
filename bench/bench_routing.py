"""Benchmark of point-in-region lookup: ``RegionIndex`` alone, then ``routing.candidates`` on a real database.

Run from the project root::

    .venv/bin/python -m bench.bench_routing                   # N = 1000, 5000, 20000; 10 000 points
    .venv/bin/python -m bench.bench_routing --points 2000 --sizes 5000 --db-grids 5000 --db-points 1000
    .venv/bin/python -m bench.bench_routing --no-db           # the index only

The map is N square grids in a lattice over the demo district (lng 101.68–101.80, lat 26.45–26.55,
GCJ-02) plus the three street/township strips on top, so every point lies in one or more grids (more
on shared edges) and one strip. Lookups are timed one by one (``time.perf_counter_ns``): median, p95
and mean per lookup in µs. "gcj02 point" asks in the regions' own system; "wgs84 point" makes the
index convert each point to GCJ-02 first, as it does for a GPS fix.

The database part builds a throwaway SQLite file through the migrations, loads the demo district,
imports the grids with ``regions.import_regions`` (timed: validation, writes, audit rows, commit),
then times ``routing.candidates`` per point with a warm index: the map-version check, the index
lookup, and the region and rule queries, as the routing job runs it (minus the case's own writes).
"""

import argparse
import logging
import math
import os
import platform
import random
import shutil
import statistics
import tempfile
import time

import shapely

from backend.models import UnitKind
from backend.services.responsibility import geo
from backend.services.responsibility.region_index import RegionIndex

WEST, EAST, SOUTH, NORTH = 101.68, 101.80, 26.45, 26.55
STRIPS = [  # as in the demo district: (code, kind, west, east)
    ("dahezhonglu", UnitKind.STREET, 101.68, 101.72),
    ("renhe-town", UnitKind.TOWNSHIP, 101.72, 101.76),
    ("qianjin-town", UnitKind.TOWNSHIP, 101.76, 101.80),
]


def rectangle(west: float, south: float, east: float, north: float) -> dict:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


def lattice(n: int) -> list[dict]:
    """n near-square cells tiling the district: cols × rows = n, cols the divisor of n nearest the ideal."""
    ideal = math.sqrt(n * (EAST - WEST) / (NORTH - SOUTH))
    cols = min((d for d in range(1, n + 1) if n % d == 0), key=lambda d: abs(d - ideal))
    rows = n // cols
    width, height = (EAST - WEST) / cols, (NORTH - SOUTH) / rows
    cells = []
    for index in range(n):
        row, col = divmod(index, cols)
        west, south = WEST + col * width, SOUTH + row * height
        cells.append(rectangle(round(west, 9), round(south, 9), round(west + width, 9), round(south + height, 9)))
    return cells


def points(count: int, seed: int = 20261120) -> list[tuple[float, float, float, float]]:
    """(gcj_lat, gcj_lng, wgs_lat, wgs_lng), uniform over the district."""
    rng = random.Random(seed)
    result = []
    for _ in range(count):
        lat, lng = rng.uniform(SOUTH, NORTH), rng.uniform(WEST, EAST)
        result.append((lat, lng, *geo.gcj02_to_wgs84(lat, lng)))
    return result


def summary(samples_ns: list[int]) -> str:
    us = sorted(s / 1000 for s in samples_ns)
    p95 = us[max(0, math.ceil(0.95 * len(us)) - 1)]  # nearest rank
    return f"median {statistics.median(us):7.1f} µs   p95 {p95:7.1f} µs   mean {statistics.fmean(us):7.1f} µs"


def bench_index(sizes: list[int], count: int) -> None:
    pts = points(count)
    print(f"RegionIndex: {count} random points; build = median of 5")
    for n in sizes:
        rows = [(i + 1, "gcj02", g, i + 1, UnitKind.GRID) for i, g in enumerate(lattice(n))]
        for j, (_, kind, west, east) in enumerate(STRIPS):
            rows.append((n + j + 1, "gcj02", rectangle(west, SOUTH, east, NORTH), n + j + 1, kind))
        builds = []
        for _ in range(5):
            started = time.perf_counter()
            index = RegionIndex(rows)
            builds.append(time.perf_counter() - started)
        print(f"  N = {n:>6} grids + 3 strips: build {statistics.median(builds) * 1000:8.1f} ms")
        for label, as_wgs in (("gcj02 point", False), ("wgs84 point", True)):
            samples, misses, hits_total = [], 0, 0
            for lat, lng, wgs_lat, wgs_lng in pts:
                ask = (wgs_lat, wgs_lng, "wgs84") if as_wgs else (lat, lng, "gcj02")
                started = time.perf_counter_ns()
                hits = index.containing(*ask, wgs_lat, wgs_lng)
                samples.append(time.perf_counter_ns() - started)
                grids = sum(1 for hit in hits if hit.level == 0)
                misses += grids == 0 or len(hits) == grids
                hits_total += len(hits)
            print(
                f"    containing, {label}: {summary(samples)}   "
                f"({hits_total / len(pts):.2f} hits/point, {misses} points missing a grid or strip)"
            )


def bench_database(grids: int, count: int) -> None:
    from flask_migrate import upgrade

    import config
    from backend import create_app
    from backend.extensions import db
    from backend.models import Category, Unit
    from backend.services.actors import Actor
    from backend.services.responsibility import demo_district, region_index, regions, routing

    folder = tempfile.mkdtemp(prefix="ssp-bench-routing-")
    url = f"sqlite:///{os.path.join(folder, 'bench.db')}"
    app = create_app(config.TestingConfig, {"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": ""})
    with app.app_context():
        logging.disable(logging.INFO)  # the migrations' progress lines
        upgrade()
        logging.disable(logging.NOTSET)
        demo_district.load()
        town = db.session.scalar(db.select(Unit).where(Unit.code == "renhe-town"))
        units = [Unit(code=f"bench-grid-{i}", name=f"网格 {i}", kind=UnitKind.GRID, parent=town) for i in range(50)]
        db.session.add_all(units)
        db.session.commit()
        collection = {
            "type": "FeatureCollection",
            "coord": "gcj02",
            "features": [
                {
                    "type": "Feature",
                    "geometry": geometry,
                    "properties": {"code": f"g{i}", "name": f"网格 {i}", "unit_code": units[i % 50].code},
                }
                for i, geometry in enumerate(lattice(grids))
            ],
        }
        started = time.perf_counter()
        result = regions.import_regions(collection, None, Actor.system())
        db.session.commit()
        imported = time.perf_counter() - started
        started = time.perf_counter()
        for feature in collection["features"]:
            geo.geometry_problem(feature["geometry"])
        checks = time.perf_counter() - started
        print(f"\nSQLite file, demo district + {grids} imported grids owned by 50 grid units")
        print(
            f"  import_regions + commit: {imported:.2f} s for {result['created']} created "
            f"({imported / grids * 1e6:.0f} µs per feature; geo.geometry_problem alone {checks:.2f} s)"
        )
        reimported = time.perf_counter()
        again = regions.import_regions(collection, None, Actor.system())
        db.session.commit()
        print(f"  the same file again: {time.perf_counter() - reimported:.2f} s ({again['unchanged']} unchanged)")

        categories = {
            code: db.session.scalar(db.select(Category).where(Category.code == code))
            for code in ("sanitation", "illegal_ad")
        }
        pts = points(count, seed=7)
        first = routing.Point(pts[0][0], pts[0][1], "gcj02", pts[0][2], pts[0][3])
        region_index._cached.clear()
        started = time.perf_counter()
        routing.candidates(first, categories["sanitation"])
        print(f"  first candidates() (index built from the database): {(time.perf_counter() - started) * 1000:.0f} ms")
        for code, category in categories.items():
            samples, unrouted = [], 0
            for lat, lng, wgs_lat, wgs_lng in pts:
                point = routing.Point(lat, lng, "gcj02", wgs_lat, wgs_lng)
                started = time.perf_counter_ns()
                found, _ = routing.candidates(point, category)
                samples.append(time.perf_counter_ns() - started)
                unrouted += not found
            print(f"    candidates({code}), {count} points: {summary(samples)}   ({unrouted} with no candidate)")
        started = time.perf_counter()
        for _ in range(200):
            region_index._map_version()
        version_us = (time.perf_counter() - started) / 200 * 1e6
        print(f"    the map-version check alone (the first step of every candidates()): {version_us:.0f} µs")
        db.session.remove()
        db.engine.dispose()
    shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 20000])
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--db-grids", type=int, default=5000)
    parser.add_argument("--db-points", type=int, default=2000)
    parser.add_argument("--no-db", action="store_true", help="measure the in-memory index only")
    args = parser.parse_args()
    print(
        f"python {platform.python_version()}, shapely {shapely.__version__} (GEOS {shapely.geos_version_string}), "
        f"{platform.machine()}, {os.cpu_count()} CPUs\n"
    )
    bench_index(args.sizes, args.points)
    if not args.no_db:
        bench_database(args.db_grids, args.db_points)


if __name__ == "__main__":
    main()
