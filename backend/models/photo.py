import enum
import sqlite3
from datetime import datetime

from sqlalchemy import Engine, Enum, ForeignKey, Index, Integer, String, event, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.functions import FunctionElement

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
    __table_args__ = (
        # the sweep and the health check: photos still waiting for their copies
        Index("ix_photos_status_created", "status", "created_at"),
        # reward signals: photos of the last 90 days
        Index("ix_photos_created_at", "created_at"),
        # partial indexes over the few uploads no report uses yet: the per-account quota and the purge of old ones
        *(
            Index(name, column, sqlite_where=text(UNATTACHED), postgresql_where=text(UNATTACHED))
            for name, column in (
                ("ix_photos_unattached_user", "uploader_user_id"),
                ("ix_photos_unattached_staff", "uploader_staff_id"),
                ("ix_photos_unattached_created", "created_at"),
            )
        ),
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
    # lets a report that brings its photo insert both in one flush (Case.photos is the read side)
    case: Mapped["Case | None"] = relationship(foreign_keys=[case_id])  # noqa: F821

    @property
    def attached(self) -> bool:
        return self.case_id is not None or self.event_id is not None


class phash_distance(FunctionElement):
    """How many bits two 64-bit difference hashes (16 hex digits) differ in, computed by the database, so that a
    search for similar photos returns the matches, not every hash."""

    type = Integer()
    inherit_cache = True


@compiles(phash_distance, "postgresql")
def _phash_distance_postgresql(element, compiler, **kw):
    a, b = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"bit_count(CAST('x' || CAST({a} AS TEXT) AS bit(64)) # CAST('x' || CAST({b} AS TEXT) AS bit(64)))"


@compiles(phash_distance, "sqlite")
def _phash_distance_sqlite(element, compiler, **kw):
    a, b = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"ssp_phash_distance({a}, {b})"


def _distance(a: str | None, b: str | None) -> int | None:
    return None if a is None or b is None else (int(a, 16) ^ int(b, 16)).bit_count()


@event.listens_for(Engine, "connect")
def _sqlite_functions(dbapi_connection, _record) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.create_function("ssp_phash_distance", 2, _distance, deterministic=True)
