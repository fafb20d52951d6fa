from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

# Working hours, case numbers and displayed times follow China Standard Time.
LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def local_time(at: datetime, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A time as people here read it, in China Standard Time."""
    return at.astimezone(LOCAL_TZ).strftime(fmt)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every engine (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class local_month(FunctionElement):
    """The month ("2026-11") a stored UTC time falls in, in China Standard Time, computed by the database (for
    figures grouped by month without loading the rows). China has kept UTC+8 without daylight saving since 1991."""

    type = String()
    inherit_cache = True


@compiles(local_month, "postgresql")
def _local_month_postgresql(element, compiler, **kw):
    return f"to_char(({compiler.process(element.clauses, **kw)}) AT TIME ZONE '{LOCAL_TZ.key}', 'YYYY-MM')"


@compiles(local_month, "sqlite")
def _local_month_sqlite(element, compiler, **kw):
    return f"strftime('%Y-%m', {compiler.process(element.clauses, **kw)}, '+8 hours')"
