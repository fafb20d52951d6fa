import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.extensions import db
from backend.models.types import UTCDateTime, utcnow
from backend.models.unit import Staff, Unit


class ExtensionStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"


class ExtensionRequest(db.Model):
    """延期申请: a unit asks for more time; a dispatcher approves (new deadline) or denies."""

    __tablename__ = "extension_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    reason: Mapped[str] = mapped_column(Text)
    extra_working_hours: Mapped[int] = mapped_column(Integer)
    status: Mapped[ExtensionStatus] = mapped_column(
        Enum(ExtensionStatus, native_enum=False, length=16), default=ExtensionStatus.PENDING, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str] = mapped_column(Text, default="")
    old_deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    new_deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    unit: Mapped[Unit] = relationship()
    requested_by: Mapped[Staff] = relationship(foreign_keys=[requested_by_id])
    decided_by: Mapped[Staff | None] = relationship(foreign_keys=[decided_by_id])
