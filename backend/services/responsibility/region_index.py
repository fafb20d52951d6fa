"""Which regions contain a point: an STRtree per coordinate system, rebuilt when the map changes.

Regions keep the coordinate system they were imported in; a point is tested in each system with
the phone's own coordinates where they match (so shared boundaries stay exact), converted otherwise.
Boundaries count as inside; holes do not.
"""

import threading
import time
from dataclasses import dataclass

import shapely
from shapely.geometry import shape
from sqlalchemy import event
from sqlalchemy.orm import Session

from backend.extensions import db
from backend.models import MapState, Region, Unit, UnitKind
from backend.services.responsibility import geo

# Finest areas first: a grid beats its community, a community its street or township.
SPECIFICITY = {UnitKind.GRID: 0, UnitKind.COMMUNITY: 1, UnitKind.STREET: 2, UnitKind.TOWNSHIP: 2}


@dataclass(frozen=True)
class RegionHit:
    region_id: int
    unit_id: int
    level: int


class RegionIndex:
    def __init__(self, rows: list[tuple[int, str, dict, int, UnitKind]]):
        self.trees: dict[str, tuple[shapely.STRtree, list[RegionHit]]] = {}
        by_system: dict[str, list] = {}
        for region_id, coord, geometry, unit_id, kind in rows:
            hit = RegionHit(region_id, unit_id, SPECIFICITY.get(kind, 3))
            by_system.setdefault(str(coord), []).append((shape(geometry), hit))
        for system, items in by_system.items():
            self.trees[system] = (shapely.STRtree([g for g, _ in items]), [h for _, h in items])

    def containing(self, lat: float, lng: float, coord: str, wgs84_lat: float, wgs84_lng: float) -> list[RegionHit]:
        """Regions containing the point, finest first, then by id."""
        hits = []
        for system, (tree, regions) in self.trees.items():
            y, x = (lat, lng) if system == coord else geo.to_system(wgs84_lat, wgs84_lng, system)
            for position in tree.query(shapely.Point(x, y), predicate="intersects"):
                hits.append(regions[int(position)])
        return sorted(hits, key=lambda hit: (hit.level, hit.region_id))


_lock = threading.Lock()
_cached: dict[str, tuple[tuple, RegionIndex]] = {}


def _map_version() -> tuple:
    """One primary-key read; the version is bumped by every flush that touches a region or unit."""
    version = db.session.scalar(db.select(MapState.version).where(MapState.id == 1))
    return (db.engine.url.render_as_string(), version)


@event.listens_for(Session, "before_flush")
def _bump_map_version(session: Session, flush_context, instances) -> None:
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(obj, Region | Unit) for obj in changed):
        bumped = session.execute(db.update(MapState).where(MapState.id == 1).values(version=MapState.version + 1))
        if bumped.rowcount == 0:  # the row went missing: start again, above anything a cache can hold
            session.execute(db.insert(MapState).values(id=1, version=int(time.time())))


def current() -> RegionIndex:
    version = _map_version()
    key = version[0]
    with _lock:
        cached = _cached.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
    rows = db.session.execute(
        db.select(Region.id, Region.coord, Region.geometry, Region.unit_id, Unit.kind)
        .join(Region.unit)
        .where(Unit.active.is_(True))
    ).all()
    index = RegionIndex([tuple(row) for row in rows])
    with _lock:
        _cached[key] = (version, index)
    return index
