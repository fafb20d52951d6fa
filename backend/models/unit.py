import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.extensions import db
from backend.models.types import UTCDateTime, utcnow


class UnitKind(enum.StrEnum):
    DISTRICT = "district"
    DEPARTMENT = "department"  # 区级部门
    STREET = "street"  # 街道
    TOWNSHIP = "township"  # 镇/乡
    COMMUNITY = "community"  # 社区
    GRID = "grid"  # 网格


class Unit(db.Model):
    """A responsible unit: a department, a street office or township, a community or grid."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[UnitKind] = mapped_column(Enum(UnitKind, native_enum=False, length=16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    contact_name: Mapped[str | None] = mapped_column(String(64))
    contact_phone: Mapped[str | None] = mapped_column(String(64))
    # who is told when the unit's cases run late (督办)
    leader_name: Mapped[str | None] = mapped_column(String(64))
    leader_phone: Mapped[str | None] = mapped_column(String(64))
    # where the unit's notifications go besides the in-app list: a WeCom group robot or a JSON endpoint
    webhook_url: Mapped[str | None] = mapped_column(String(512))
    webhook_kind: Mapped[str | None] = mapped_column(String(16))  # "wecom" or "json"
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, index=True)

    parent: Mapped["Unit | None"] = relationship(remote_side=[id])


class StaffRole(enum.StrEnum):
    UNIT_STAFF = "unit_staff"
    DISPATCHER = "dispatcher"
    REWARD_ADMIN = "reward_admin"
    ADMIN = "admin"
    LEADER = "leader"  # 领导: reads every figure and briefing, changes nothing


class Staff(db.Model):
    """A staff account: unit staff belong to one unit; dispatchers and admins to none."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[StaffRole] = mapped_column(Enum(StaffRole, native_enum=False, length=16))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    active: Mapped[bool] = mapped_column(default=True)
    # Raised by a password change or reset and by deactivation: every token and console session carries the
    # version it was issued under, and one of an older version is refused.
    credential_version: Mapped[int] = mapped_column(default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    unit: Mapped[Unit | None] = relationship()
