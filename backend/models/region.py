import enum

from sqlalchemy import JSON, Enum, Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.extensions import db
from backend.models.category import Category
from backend.models.unit import Unit


class CoordSystem(enum.StrEnum):
    WGS84 = "wgs84"  # GPS
    GCJ02 = "gcj02"  # China's offset coordinates, used by maps in China and by wx.getLocation


class Region(db.Model):
    """An area (street, township, community, grid) owned by a unit: 属地."""

    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    coord: Mapped[CoordSystem] = mapped_column(Enum(CoordSystem, native_enum=False, length=8))
    # GeoJSON geometry (Polygon or MultiPolygon), in `coord`, [lng, lat] order as GeoJSON has it
    geometry: Mapped[dict] = mapped_column(JSON)
    min_lat: Mapped[float] = mapped_column(Float)
    min_lng: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)
    max_lng: Mapped[float] = mapped_column(Float)

    unit: Mapped[Unit] = relationship()


class RuleTarget(enum.StrEnum):
    UNIT = "unit"  # a named unit
    TERRITORIAL = "territorial"  # 属地: the unit that owns the matched region


class RoutingRule(db.Model):
    """Who handles a category (and/or a region). The most specific matching rule wins."""

    __tablename__ = "routing_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))
    target: Mapped[RuleTarget] = mapped_column(Enum(RuleTarget, native_enum=False, length=16))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    active: Mapped[bool] = mapped_column(default=True)

    category: Mapped[Category | None] = relationship()
    region: Mapped[Region | None] = relationship()
    unit: Mapped[Unit | None] = relationship()
