import enum
from datetime import datetime

from sqlalchemy import JSON, Column, Enum, Float, ForeignKey, Index, String, Table, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.extensions import db
from backend.models.category import Category
from backend.models.photo import Photo
from backend.models.region import CoordSystem, Region, RoutingRule
from backend.models.types import LOCAL_TZ, UTCDateTime, utcnow
from backend.models.unit import Staff, Unit
from backend.models.user import User

# 配合单位 of a case: they see it and comment; only the lead unit (Case.unit) signs off and replies.
case_co_units = Table(
    "case_co_units",
    db.metadata,
    Column("case_id", ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
    Column("unit_id", ForeignKey("units.id", ondelete="CASCADE"), primary_key=True),
    # a unit's co-handled cases, newest first
    Index("ix_case_co_units_unit_case", "unit_id", "case_id"),
)


class CaseStatus(enum.StrEnum):
    PENDING = "pending"  # 待派遣: awaiting routing or manual dispatch
    DISPATCHED = "dispatched"  # 已派遣: awaiting the unit's sign-off
    PROCESSING = "processing"  # 处置中: signed off (签收)
    REPLIED = "replied"  # 已反馈
    CLOSED = "closed"  # 已办结
    REJECTED = "rejected"  # 不予受理
    MERGED = "merged"  # 合并 into another case


# a unit is handling the case: the deadline runs, supervision watches, extensions can be asked for
HANDLED_BY_UNIT = (CaseStatus.DISPATCHED, CaseStatus.PROCESSING)


class RoutingStatus(enum.StrEnum):
    QUEUED = "queued"  # waiting for the routing job
    ROUTED = "routed"
    UNMATCHED = "unmatched"  # no rule matched: manual dispatch
    MANUAL = "manual"  # taken over by a dispatcher (returned, or dispatched by hand)


class Rating(enum.StrEnum):
    SATISFIED = "satisfied"
    BASIC = "basic"
    UNSATISFIED = "unsatisfied"


def case_number(created_at: datetime, case_id: int) -> str:
    """Human-readable case number, e.g. 20261123000042: the local day it was reported and its id."""
    return f"{created_at.astimezone(LOCAL_TZ):%Y%m%d}{case_id:06d}"


class Case(db.Model):
    """One citizen report and the case that handles it (one case per report)."""

    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("reporter_id", "idempotency_key", name="uq_cases_reporter_idempotency_key"),
        Index("ix_cases_status_routing", "status", "routing_status"),
        # list filters, newest first: a unit's cases (all, by status), by status, a category's, those waiting
        # for review
        Index("ix_cases_unit_recent", "unit_id", "id"),
        Index("ix_cases_unit_status", "unit_id", "status", "id"),
        Index("ix_cases_status_recent", "status", "id"),
        Index("ix_cases_category", "category_id", "id"),
        Index(
            "ix_cases_needs_review",
            "id",
            postgresql_where=text("needs_review IS true"),
            sqlite_where=text("needs_review IS 1"),
        ),
        # 督办 and the supervision board: open cases by deadline
        Index(
            "ix_cases_open_deadline",
            "deadline_at",
            postgresql_where=text("status IN ('DISPATCHED', 'PROCESSING')"),
            sqlite_where=text("status IN ('DISPATCHED', 'PROCESSING')"),
        ),
        # each 督办 step walks the open cases of one escalation level by id
        Index(
            "ix_cases_open_level",
            "escalation_level",
            "id",
            postgresql_where=text("status IN ('DISPATCHED', 'PROCESSING')"),
            sqlite_where=text("status IN ('DISPATCHED', 'PROCESSING')"),
        ),
        # the reward sweep: cases closed in the last days
        Index("ix_cases_status_closed", "status", "closed_at"),
        # reward signals: reports near a place (same spot, earlier report)
        Index("ix_cases_location", "wgs84_lat", "wgs84_lng"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"))
    description: Mapped[str] = mapped_column(Text, default="")
    # what the phone sent, and the normalised WGS-84 point
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    coord: Mapped[CoordSystem] = mapped_column(Enum(CoordSystem, native_enum=False, length=8))
    wgs84_lat: Mapped[float] = mapped_column(Float)
    wgs84_lng: Mapped[float] = mapped_column(Float)
    address: Mapped[str] = mapped_column(String(255), default="")

    status: Mapped[CaseStatus] = mapped_column(
        Enum(CaseStatus, native_enum=False, length=16), default=CaseStatus.PENDING
    )
    routing_status: Mapped[RoutingStatus] = mapped_column(
        Enum(RoutingStatus, native_enum=False, length=16), default=RoutingStatus.QUEUED
    )
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))  # indexed with status (ix_cases_unit_status)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))
    routing_rule_id: Mapped[int | None] = mapped_column(ForeignKey("routing_rules.id"))
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)  # 处置时限
    signoff_deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # 签收时限
    # supervision (督办): each step happens once, however often the scheduler runs
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # 临期提醒 sent
    signoff_overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # 超期 first seen
    escalation_level: Mapped[int] = mapped_column(default=0)  # 0 none, 1 督办, 2 second level
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))

    rating: Mapped[Rating | None] = mapped_column(Enum(Rating, native_enum=False, length=16))
    rating_comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # set when the citizen is unsatisfied: the dispatcher reworks or closes
    needs_review: Mapped[bool] = mapped_column(default=False)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the reward check of a closed case ran (with or without a claim): the sweep leaves it alone
    reward_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - concurrent updates fail with StaleDataError

    reporter: Mapped[User] = relationship()
    category: Mapped[Category] = relationship()
    unit: Mapped[Unit | None] = relationship()
    co_units: Mapped[list[Unit]] = relationship(secondary=case_co_units, order_by=Unit.id)
    region: Mapped[Region | None] = relationship()
    routing_rule: Mapped[RoutingRule | None] = relationship()
    photos: Mapped[list[Photo]] = relationship(
        primaryjoin="Photo.case_id == Case.id", order_by="Photo.id", viewonly=True
    )
    events: Mapped[list["CaseEvent"]] = relationship(
        back_populates="case", order_by="CaseEvent.id", cascade="all, delete-orphan"
    )

    @property
    def number(self) -> str:
        return case_number(self.created_at, self.id)

    @property
    def routing_reason(self) -> str | None:
        """Why the case went where it went (or why it waits): the latest routing decision."""
        for event in reversed(self.events):
            if event.type == EventType.ROUTING_UNMATCHED:
                return event.note
            if event.type == EventType.DISPATCHED:
                return event.data.get("reason") or f"调度员人工派遣：{event.note}"
        return None

    @property
    def reply_event(self) -> "CaseEvent | None":
        replies = [event for event in self.events if event.type == EventType.REPLIED]
        return replies[-1] if replies else None


class EventType(enum.StrEnum):
    SUBMITTED = "submitted"  # 受理
    ROUTING_UNMATCHED = "routing_unmatched"
    DISPATCHED = "dispatched"  # 派遣, by a routing rule (actor system) or a dispatcher
    ACCEPTED = "accepted"  # 签收
    RETURNED = "returned"  # 退单
    REPLIED = "replied"  # 反馈
    REWORKED = "reworked"  # 返工
    CLOSED = "closed"  # 结案
    REJECTED = "rejected"  # 不予受理
    RATED = "rated"  # 评价
    COMMENTED = "commented"  # a lead or co-unit's note on the case, internal
    REMINDED = "reminded"  # 临期提醒
    OVERDUE = "overdue"  # 超期 → 督办, with the escalation level in data
    EXTENSION_REQUESTED = "extension_requested"  # 延期申请
    EXTENSION_APPROVED = "extension_approved"
    EXTENSION_DENIED = "extension_denied"


class ActorKind(enum.StrEnum):
    CITIZEN = "citizen"
    STAFF = "staff"
    SYSTEM = "system"


class CaseEvent(db.Model):
    """One step of a case's timeline: who did what, when (谁画押谁负责)."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    type: Mapped[EventType] = mapped_column(Enum(EventType, native_enum=False, length=32))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_kind: Mapped[ActorKind] = mapped_column(Enum(ActorKind, native_enum=False, length=16))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))  # the unit acting or assigned
    from_status: Mapped[CaseStatus | None] = mapped_column(Enum(CaseStatus, native_enum=False, length=16))
    to_status: Mapped[CaseStatus | None] = mapped_column(Enum(CaseStatus, native_enum=False, length=16))
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict] = mapped_column(JSON, default=dict)

    case: Mapped[Case] = relationship(back_populates="events")
    staff: Mapped[Staff | None] = relationship()
    unit: Mapped[Unit | None] = relationship()
    photos: Mapped[list[Photo]] = relationship(
        primaryjoin="Photo.event_id == CaseEvent.id", order_by="Photo.id", viewonly=True
    )
