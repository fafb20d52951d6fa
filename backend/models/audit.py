from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.extensions import db
from backend.models.types import UTCDateTime, utcnow
from backend.models.unit import Staff


class AuditEntry(db.Model):
    """Who changed the responsibility map, what and when: before and after of every changed field."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    action: Mapped[str] = mapped_column(String(32))  # create, update, delete, import
    entity: Mapped[str] = mapped_column(String(32))  # unit, region, category, rule
    entity_id: Mapped[int | None] = mapped_column(Integer)
    changes: Mapped[dict] = mapped_column(JSON, default=dict)

    staff: Mapped[Staff | None] = relationship()
