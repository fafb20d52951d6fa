import enum
from datetime import datetime

from sqlalchemy import JSON, Column, Enum, Float, ForeignKey, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.extensions import db
from backend.models.category import Category
from backend.models.types import UTCDateTime, utcnow
from backend.models.unit import Unit

rule_co_units = Table(
    "rule_co_units",
    db.metadata,
    Column("rule_id", ForeignKey("routing_rules.id", ondelete="CASCADE"), primary_key=True),
    Column("unit_id", ForeignKey("units.id", ondelete="CASCADE"), primary_key=True),
)


class CoordSystem(enum.StrEnum):
    WGS84 = "wgs84"  # GPS
    GCJ02 = "gcj02"  # China's offset coordinates, used by maps in China and by wx.getLocation


class Region(db.Model):
    """An area (street, township, community, grid) owned by a unit: 属地."""

    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(primary_key=True)
    # stable key for GeoJSON import/export: importing a feature with a known code updates that region
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    coord: Mapped[CoordSystem] = mapped_column(Enum(CoordSystem, native_enum=False, length=8))
    # GeoJSON geometry (Polygon or MultiPolygon), in `coord`, [lng, lat] order as GeoJSON has it
    geometry: Mapped[dict] = mapped_column(JSON)
    min_lat: Mapped[float] = mapped_column(Float)
    min_lng: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)
    max_lng: Mapped[float] = mapped_column(Float)
    # indexed: the routing index checks max(updated_at) before each lookup
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, index=True)

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
    co_territorial: Mapped[bool] = mapped_column(default=False)
    # overrides the category's 处置时限 (working hours) for cases this rule routes
    deadline_hours: Mapped[int | None] = mapped_column(default=None)
    note: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(default=True)

    category: Mapped[Category | None] = relationship()
    region: Mapped[Region | None] = relationship()
    unit: Mapped[Unit | None] = relationship()
    co_units: Mapped[list[Unit]] = relationship(secondary=rule_co_units, order_by=Unit.id)


class MapState(db.Model):
    """One row: a version that changes with every region or unit change (bumped in the same flush), so
    routing processes can tell in one primary-key read whether their region index is stale."""

    __tablename__ = "map_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(default=0)
