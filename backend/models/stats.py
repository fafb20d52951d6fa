import enum
from datetime import date, datetime

from sqlalchemy import Date, Enum, Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.extensions import db
from backend.models.case import Rating
from backend.models.types import UTCDateTime, utcnow


class AssignmentEnd(enum.StrEnum):
    RETURNED = "returned"  # 退单 by the unit: counts as the unit's 退单, not as a case it received
    # recalled (unit deactivated), re-dispatched elsewhere before sign-off, or rejected (不予受理) by the
    # dispatcher: not the unit's doing, left out of its figures
    WITHDRAWN = "withdrawn"


class CaseAssignment(db.Model):
    """One 派遣 of a case to a lead unit, and what that unit did with it: the fact row behind every
    accountability figure. Written by the state machine in the same transaction as the case event, so
    figures are one indexed aggregate instead of a replay of case_events."""

    __tablename__ = "case_assignments"
    __table_args__ = (
        Index("ix_case_assignments_assigned_unit", "assigned_at", "unit_id"),
        Index("ix_case_assignments_unit_assigned", "unit_id", "assigned_at"),
        Index("ix_case_assignments_replied_at", "replied_at"),  # the daily trend
        Index("ix_case_assignments_closed_at", "closed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"))
    # the finest region containing the case's point when it was dispatched (grid > community > street)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime)  # 派遣
    signoff_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # 签收时限
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # 签收
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # 处置时限 in force (extended, restarted)
    replies: Mapped[int] = mapped_column(default=0)
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the latest 反馈
    # every 反馈 came before the deadline in force then (one late reply makes the case late, even if reworked)
    replied_on_time: Mapped[bool | None] = mapped_column()
    late_hours: Mapped[float | None] = mapped_column(Float)  # working hours the latest late 反馈 was overdue
    handling_hours: Mapped[float | None] = mapped_column(Float)  # working hours from 派遣 to the latest 反馈
    reworks: Mapped[int] = mapped_column(default=0)  # 返工 after this unit's reply
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # 结案
    rating: Mapped[Rating | None] = mapped_column(Enum(Rating, native_enum=False, length=16))
    extensions_requested: Mapped[int] = mapped_column(default=0)
    extensions_granted: Mapped[int] = mapped_column(default=0)
    escalation_level: Mapped[int] = mapped_column(default=0)  # highest 督办 level reached
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end: Mapped[AssignmentEnd | None] = mapped_column(Enum(AssignmentEnd, native_enum=False, length=16))


class BriefingKind(enum.StrEnum):
    MONTHLY = "monthly"  # 月报
    BIWEEKLY = "biweekly"  # 半月通报: the 1st–15th and the 16th–end of a month
    CUSTOM = "custom"


class Briefing(db.Model):
    """A generated 通报: the XLSX workbook and the DOCX document for one period."""

    __tablename__ = "briefings"
    __table_args__ = (UniqueConstraint("kind", "period_start", "period_end", name="uq_briefings_kind_period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[BriefingKind] = mapped_column(Enum(BriefingKind, native_enum=False, length=16))
    period_start: Mapped[date] = mapped_column(Date)  # local dates, inclusive
    period_end: Mapped[date] = mapped_column(Date)
    title: Mapped[str] = mapped_column(String(128))
    # the moment "open" and "overdue" are measured at; kept, so regenerating gives the same documents
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    xlsx_key: Mapped[str] = mapped_column(String(255))
    docx_key: Mapped[str] = mapped_column(String(255))
    xlsx_sha256: Mapped[str] = mapped_column(String(64))
    docx_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    generated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
