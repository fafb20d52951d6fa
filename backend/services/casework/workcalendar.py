"""Working time (工作时间) for deadlines: the Chinese calendar's workdays and the working hours of a day.

A day works when its weekday says so (Monday to Friday) unless a `CalendarDay` row says otherwise: public
holidays on weekdays (法定节假日) and working weekends (调休上班). Rows come from the `chinese_calendar` package
(`seed_from_chinese_calendar`) or from an administrator (`set_day`), whose rows the seeding never touches.

Deadline arithmetic runs in China Standard Time on aware datetimes and answers in aware UTC. Build one
`WorkCalendar` (with `current`) per request or job and reuse it for every case.
"""

import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import chinese_calendar

from backend.errors import ValidationFailed
from backend.extensions import db
from backend.models import CalendarDay
from backend.models.types import LOCAL_TZ, utcnow
from backend.services.actors import Actor
from backend.services.responsibility import audit

log = logging.getLogger(__name__)

SOURCE_PACKAGE = "chinese_calendar"
SOURCE_ADMIN = "admin"
# A calendar without a single working day for this long is a mistake, not a slow week.
MAX_DAYS_OFF = 366

Period = tuple[time, time]

_PERIOD = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_work_hours(spec: str) -> list[Period]:
    """Parse "09:00-12:00,13:00-18:00" into [(09:00, 12:00), (13:00, 18:00)]: in order, not overlapping."""
    periods: list[Period] = []
    for part in spec.split(","):
        match = _PERIOD.match(part)
        if not match:
            raise ValueError(f"working period {part.strip()!r} is not HH:MM-HH:MM (in {spec!r})")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        try:
            start, end = time(h1, m1), time(h2, m2)
        except ValueError as exc:
            raise ValueError(f"working period {part.strip()!r}: {exc}") from exc
        if start >= end:
            raise ValueError(f"working period {part.strip()!r} ends before it starts")
        if periods and start < periods[-1][1]:
            raise ValueError(f"working period {part.strip()!r} overlaps or precedes the one before it")
        periods.append((start, end))
    return periods


def weekday_rule(day: date) -> bool:
    """Without an exception, Monday to Friday work."""
    return day.weekday() < 5


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} is a naive datetime; use timezone-aware UTC")
    return value


class WorkCalendar:
    """Workdays (the weekday rule with exceptions) and the working periods of each workday, in Asia/Shanghai."""

    def __init__(self, exceptions: Mapping[date, bool], periods: Sequence[Period]):
        if not periods:
            raise ValueError("a working day needs at least one working period")
        self.exceptions = dict(exceptions)
        self.periods = list(periods)
        self._periods_by_day: dict[date, list[tuple[datetime, datetime]]] = {}

    @property
    def workday_hours(self) -> float:
        """Working hours in one full working day (8.0 for 09:00-12:00,13:00-18:00)."""
        seconds = sum(
            (datetime.combine(date.min, end) - datetime.combine(date.min, start)).total_seconds()
            for start, end in self.periods
        )
        return seconds / 3600

    def is_workday(self, day: date) -> bool:
        return self.exceptions.get(day, weekday_rule(day))

    def _periods_of(self, day: date) -> list[tuple[datetime, datetime]]:
        """The working periods of a day as aware UTC datetimes; none on a day off. Kept per day: a list of 50
        cases asks for the same few weeks of days again and again."""
        periods = self._periods_by_day.get(day)
        if periods is None:
            periods = self._periods_by_day[day] = (
                [
                    (
                        datetime.combine(day, start, tzinfo=LOCAL_TZ).astimezone(UTC),
                        datetime.combine(day, end, tzinfo=LOCAL_TZ).astimezone(UTC),
                    )
                    for start, end in self.periods
                ]
                if self.is_workday(day)
                else []
            )
        return periods

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """The moment `hours` working hours after `start` (aware), in aware UTC.

        A start outside working time counts from the next working period's start; a deadline that uses up a
        period exactly ends at that period's end (12:00, not 13:00).
        """
        return self._walk(_aware(start, "start"), hours, forward=True)

    def next_working_moment(self, at: datetime) -> datetime:
        """`at` itself when it falls inside a working period, else the start of the next one."""
        at = _aware(at, "at").astimezone(UTC)
        day = at.astimezone(LOCAL_TZ).date()
        for _ in range(MAX_DAYS_OFF + 1):
            for period_start, period_end in self._periods_of(day):
                if at < period_end:
                    return max(at, period_start)
            day += timedelta(days=1)
        raise ValueError(f"no working day in the {MAX_DAYS_OFF} days after {at.isoformat()}")

    def latest_within(self, start: datetime, hours: float) -> datetime:
        """The latest moment at most `hours` working hours after `start`. A SQL bound: `working_hours_between(start,
        t) <= hours` exactly when `t <= latest_within(start, hours)` (the time off after the end adds no hours)."""
        return self.next_working_moment(self.add_working_hours(start, hours))

    def subtract_working_hours(self, end: datetime, hours: float) -> datetime:
        """The latest moment from which `end` is `hours` working hours away. A SQL bound:
        `working_hours_between(t, end) >= hours` exactly when `t <= subtract_working_hours(end, hours)`."""
        end = _aware(end, "end")
        return end.astimezone(UTC) if hours == 0 else self._walk(end, hours, forward=False)

    def _walk(self, origin: datetime, hours: float, forward: bool) -> datetime:
        """Spend `hours` of working time from `origin`, period by period, forward or backward in time."""
        if not math.isfinite(hours) or hours < 0:
            raise ValueError(f"working hours must be a finite number ≥ 0, not {hours!r}")
        cursor = origin.astimezone(UTC)
        remaining = timedelta(hours=hours)
        day = cursor.astimezone(LOCAL_TZ).date()
        step = timedelta(days=1 if forward else -1)
        days_off = 0
        while True:
            periods = self._periods_of(day)
            days_off = 0 if periods else days_off + 1
            if days_off >= MAX_DAYS_OFF:
                raise ValueError(f"no working day in the {MAX_DAYS_OFF} days up to {day.isoformat()}")
            for period_start, period_end in periods if forward else reversed(periods):
                # the part of the period on the far side of the cursor
                if forward:
                    begin, finish = max(period_start, cursor), period_end
                else:
                    begin, finish = period_start, min(period_end, cursor)
                available = finish - begin
                if available < timedelta() or (available == timedelta() and not forward):
                    continue  # (forward, an empty rest still ends a deadline at the period's end)
                if remaining <= available:
                    return begin + remaining if forward else finish - remaining
                remaining -= available
            day += step

    def working_hours_between(self, a: datetime, b: datetime) -> float:
        """Working hours from `a` to `b` (both aware); negative when `b` is before `a`.

        For "time remaining" (now → deadline) and "overdue by" (deadline → now, as a positive number).
        """
        a = _aware(a, "a").astimezone(UTC)
        b = _aware(b, "b").astimezone(UTC)
        if b < a:
            return -self.working_hours_between(b, a)
        total = timedelta()
        day, last = a.astimezone(LOCAL_TZ).date(), b.astimezone(LOCAL_TZ).date()
        while day <= last:
            for period_start, period_end in self._periods_of(day):
                overlap = min(period_end, b) - max(period_start, a)
                if overlap > timedelta():
                    total += overlap
            day += timedelta(days=1)
        return total.total_seconds() / 3600


def current(config: Mapping[str, Any]) -> WorkCalendar:
    """The calendar as stored (every exception row: the table holds a few dozen rows a year)."""
    rows = db.session.execute(db.select(CalendarDay.day, CalendarDay.is_workday)).all()
    return WorkCalendar({day: is_workday for day, is_workday in rows}, parse_work_hours(config["WORK_HOURS"]))


# --- the official calendar, from the chinese_calendar package -------------------------------------------


def package_knows(year: int) -> bool:
    """Whether the installed chinese_calendar has the State Council's arrangement for `year`."""
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


def _chinese_name(english: str | None) -> str:
    try:
        return chinese_calendar.Holiday(english).chinese
    except ValueError:
        return english or ""


def package_exceptions(year: int) -> dict[date, tuple[bool, str]]:
    """The days of `year` the package says differ from the weekday rule: {day: (is_workday, name)}.

    Raises NotImplementedError for a year the package does not know.
    """
    found = {}
    day = date(year, 1, 1)
    while day.year == year:
        is_workday = chinese_calendar.is_workday(day)
        if is_workday != weekday_rule(day):
            _, english = chinese_calendar.get_holiday_detail(day)
            name = _chinese_name(english)
            found[day] = (is_workday, f"{name}调休上班" if is_workday and name else name)
        day += timedelta(days=1)
    return found


def _rows_of_year(year: int) -> list[CalendarDay]:
    query = db.select(CalendarDay).where(CalendarDay.day.between(date(year, 1, 1), date(year, 12, 31)))
    return list(db.session.scalars(query.order_by(CalendarDay.day)))


def seed_from_chinese_calendar(years: Iterable[int]) -> int:
    """Store the package's holidays and 调休 days of `years`; returns the rows written (added, changed, removed).

    Idempotent. Rows an administrator entered (source "admin") are never touched. Years the package does not
    know are skipped (see `package_knows`); enter them through the admin API.
    """
    written = 0
    for year in sorted(set(years)):
        if not package_knows(year):
            log.warning("chinese_calendar does not know %s; its holidays must be entered by an administrator", year)
            continue
        wanted = package_exceptions(year)
        existing = {row.day: row for row in _rows_of_year(year)}
        for day, row in existing.items():
            if row.source == SOURCE_PACKAGE and day not in wanted:  # the package corrected itself
                db.session.delete(row)
                written += 1
        for day, (is_workday, name) in wanted.items():
            row = existing.get(day)
            if row is None:
                db.session.add(CalendarDay(day=day, is_workday=is_workday, name=name, source=SOURCE_PACKAGE))
                written += 1
            elif row.source == SOURCE_PACKAGE and (row.is_workday, row.name) != (is_workday, name):
                row.is_workday, row.name = is_workday, name
                written += 1
    db.session.flush()
    return written


def seed_year(year: int, actor: Actor) -> int:
    """An administrator loads the package's holidays and 调休 days of one year (what `flask seed-calendar --year`
    does), recorded in the audit trail; a year the package does not know is a 422. Returns the rows written."""
    if not package_knows(year):
        raise ValidationFailed(f"已安装的 chinesecalendar 没有 {year} 年的放假安排，请逐日设置")
    written = seed_from_chinese_calendar([year])
    audit.record(actor, "update", "calendar", None, {"seeded_year": None}, {"seeded_year": year, "rows": written})
    return written


# --- administrators ---------------------------------------------------------------------------------------

FIELDS = ("day", "is_workday", "name", "source")


def _snapshot(row: CalendarDay) -> dict:
    return audit.snapshot(row, FIELDS)


def _record(actor: Actor, action: str, before: dict | None, after: dict | None) -> None:
    entry = audit.record(actor, action, "calendar", None, before, after)
    if entry is not None:
        # The audit keeps changed fields only; which day it was must stay in the entry.
        entry.changes = {
            "day": {"from": before and before["day"], "to": after and after["day"]},
            **{key: value for key, value in entry.changes.items() if key != "day"},
        }


def get_day(day: date) -> CalendarDay | None:
    return db.session.get(CalendarDay, day)


def set_day(day: date, is_workday: bool, name: str, actor: Actor) -> CalendarDay:
    """An administrator fixes a day as working or not (also a day the weekday rule already gives: that pins it
    against a later seeding)."""
    row = get_day(day)
    if row is None:
        # What the day was before: the weekday rule.
        before = {"day": day.isoformat(), "is_workday": weekday_rule(day), "name": "", "source": None}
        row = CalendarDay(day=day)
        db.session.add(row)
    else:
        before = _snapshot(row)
    row.is_workday, row.name, row.source = is_workday, name, SOURCE_ADMIN
    db.session.flush()
    _record(actor, "update", before, _snapshot(row))
    return row


def clear_day(day: date, actor: Actor) -> bool:
    """Remove a day's exception (it follows its weekday again); False when there was none."""
    row = get_day(day)
    if row is None:
        return False
    before = _snapshot(row)
    db.session.delete(row)
    db.session.flush()
    _record(actor, "delete", before, None)
    return True


def days(year: int) -> list[CalendarDay]:
    """The exception days of `year`, in order."""
    return _rows_of_year(year)


def known_years() -> list[int]:
    """Years having any row (from the package or an administrator)."""
    return sorted({day.year for day in db.session.scalars(db.select(CalendarDay.day))})


def year_overview(year: int | None = None) -> dict:
    """A year (default: this one) as the admin front-end shows it: its exception days, and whether the year
    was entered at all (by seeding or an administrator) — a year nobody entered just follows the weekdays."""
    year = year or utcnow().astimezone(LOCAL_TZ).year
    rows = days(year)
    return {"year": year, "days": rows, "covered": bool(rows)}
