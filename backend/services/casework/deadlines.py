"""Handling and sign-off deadlines (处置时限, 签收时限) in working time."""

from datetime import datetime

from flask import current_app, g

from backend.models import HANDLED_BY_UNIT, Case, Category
from backend.services.casework import workcalendar


def calendar() -> workcalendar.WorkCalendar:
    """Loaded once per request or job (the app context), not once per deadline."""
    if "work_calendar" not in g:
        g.work_calendar = workcalendar.current(current_app.config)
    return g.work_calendar


def due_at(category: Category, start: datetime, hours: int | None = None) -> datetime:
    """When a case of this category dispatched at `start` is due; `hours` overrides (a rule's)."""
    return calendar().add_working_hours(start, hours or category.effective_deadline_hours)


def signoff_due_at(category: Category, start: datetime) -> datetime:
    hours = category.effective_signoff_hours or current_app.config["SIGNOFF_HOURS"]
    return calendar().add_working_hours(start, hours)


def extended(deadline: datetime, extra_working_hours: int) -> datetime:
    return calendar().add_working_hours(deadline, extra_working_hours)


def working_hours_left(case: Case, now: datetime) -> float | None:
    """Working hours until the deadline (negative once overdue), while a unit is handling the case."""
    if case.deadline_at is None or case.status not in HANDLED_BY_UNIT:
        return None
    return round(calendar().working_hours_between(now, case.deadline_at), 2)


def is_overdue(case: Case, now: datetime) -> bool:
    return case.status in HANDLED_BY_UNIT and case.deadline_at <= now


def due_soon_until(now: datetime, window_hours: float) -> datetime:
    """Deadlines up to this moment have at most `window_hours` working hours left at `now` (临期): a bound SQL
    can compare `deadline_at` with."""
    return calendar().latest_within(now, window_hours)


def overdue_by_until(now: datetime, hours: float) -> datetime:
    """Deadlines up to this moment are at least `hours` working hours overdue at `now`."""
    return calendar().subtract_working_hours(now, hours)
