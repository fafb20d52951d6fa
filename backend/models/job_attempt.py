from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.extensions import db
from backend.models.types import UTCDateTime, utcnow


class JobAttempt(db.Model):
    """How often the sweep had to re-create the job of one object (a case to route, a photo to process...).

    Past SWEEP_MAX_ATTEMPTS the sweep stops re-creating it; `GET /admin/health` lists it and a dispatcher's
    retry deletes the row (the count starts again)."""

    __tablename__ = "job_attempts"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    object_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
