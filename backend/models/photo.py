import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from backend.extensions import db
from backend.models.types import UTCDateTime, utcnow


class PhotoStatus(enum.StrEnum):
    RECEIVED = "received"  # original stored, derived copies not made yet
    READY = "ready"  # display copy and thumbnail exist
    FAILED = "failed"


UNATTACHED = "case_id IS NULL AND event_id IS NULL"


class Photo(db.Model):
    """An uploaded photo. The original stays private; units and citizens get EXIF-free copies."""

    __tablename__ = "photos"
    # Partial indexes over the few uploads no report uses yet: the per-account quota and the purge of old ones.
    __table_args__ = tuple(
        Index(name, column, sqlite_where=text(UNATTACHED), postgresql_where=text(UNATTACHED))
        for name, column in (
            ("ix_photos_unattached_user", "uploader_user_id"),
            ("ix_photos_unattached_staff", "uploader_staff_id"),
            ("ix_photos_unattached_created", "created_at"),
        )
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uploader_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploader_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    status: Mapped[PhotoStatus] = mapped_column(
        Enum(PhotoStatus, native_enum=False, length=16), default=PhotoStatus.RECEIVED
    )
    format: Mapped[str] = mapped_column(String(8))
    byte_size: Mapped[int] = mapped_column(Integer)
    # as displayed, with EXIF orientation applied
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # EXIF DateTimeOriginal, kept private
    # 64-bit difference hash of the picture, hex: near-identical photos differ in a few bits
    phash: Mapped[str | None] = mapped_column(String(16), index=True)
    original_key: Mapped[str] = mapped_column(String(255))
    display_key: Mapped[str | None] = mapped_column(String(255))
    thumb_key: Mapped[str | None] = mapped_column(String(255))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("case_events.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def attached(self) -> bool:
        return self.case_id is not None or self.event_id is not None
