"""Reporting periods: local (Asia/Shanghai) calendar dates, both ends inclusive."""

import calendar as month_calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from backend.errors import ValidationFailed
from backend.models.types import LOCAL_TZ

MAX_DAYS = 366


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time(0), LOCAL_TZ).astimezone(UTC)

    @property
    def end_at(self) -> datetime:
        """Exclusive: midnight after the last day."""
        return datetime.combine(self.end + timedelta(days=1), time(0), LOCAL_TZ).astimezone(UTC)

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    @property
    def label(self) -> str:
        if self.start.day == 1 and self.end == month_of(self.start).end:
            return f"{self.start.year}年{self.start.month}月"
        return f"{self.start:%Y年%m月%d日}至{self.end:%Y年%m月%d日}"

    def as_dict(self) -> dict:
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}


def local_today(now: datetime) -> date:
    return now.astimezone(LOCAL_TZ).date()


def month_of(day: date) -> Period:
    last = month_calendar.monthrange(day.year, day.month)[1]
    return Period(day.replace(day=1), day.replace(day=last))


def half_month_of(day: date) -> Period:
    """The biweekly briefing's periods: the 1st–15th and the 16th–end of a month."""
    if day.day <= 15:
        return Period(day.replace(day=1), day.replace(day=15))
    return Period(day.replace(day=16), month_of(day).end)


def week_of(day: date) -> Period:
    monday = day - timedelta(days=day.weekday())
    return Period(monday, monday + timedelta(days=6))


def resolve(start: date | None, end: date | None, period: str | None, day: date | None, now: datetime) -> Period:
    """`from`/`to` (a custom range), or `period` (day, week, month) around `date`; the default is this
    month so far."""
    today = local_today(now)
    if period:
        anchor = day or today
        found = {"day": Period(anchor, anchor), "week": week_of(anchor), "month": month_of(anchor)}[period]
    else:
        found = Period(start or month_of(today).start, end or max(today, start or today))
    if found.end < found.start:
        raise ValidationFailed("结束日期不能早于开始日期", fields={"to": ["结束日期不能早于开始日期"]})
    if (found.end - found.start).days >= MAX_DAYS:
        raise ValidationFailed("统计区间不能超过一年", fields={"to": ["统计区间不能超过一年"]})
    return found
