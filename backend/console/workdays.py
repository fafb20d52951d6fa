"""工作日历: the year's holidays and 调休 working weekends, which every deadline counts with — the services and the
access of backend/api/admin_calendar.py (dispatchers and administrators), plus loading a year from the
chinese_calendar package (what `flask seed-calendar --year` does), audited."""

import calendar as month_calendar
from datetime import date

from flask import flash, render_template, request, url_for
from marshmallow import ValidationError

from backend.api.common import actor, query_args
from backend.auth import DISPATCH_ROLES
from backend.console import bp, nav
from backend.console.forms import error_message, form_action, integer, load_form, text
from backend.console.session import console_login_required
from backend.schemas.calendar import CalendarArgs, CalendarDayIn, CalendarYearOut, DayPath
from backend.schemas.common import FIRST_DAY, LAST_DAY
from backend.services.casework import workcalendar

nav.add_entry("console.workdays", "工作日历", DISPATCH_ROLES, order=90)

calendar_admins = console_login_required(*DISPATCH_ROLES)
MONTH_WEEKS = month_calendar.Calendar(firstweekday=0)


def _cell(day: date, month: int, exceptions: dict[str, dict]) -> dict | None:
    """One day of a month grid: working or not, and why (an exception row, else its weekday)."""
    if day.month != month:
        return None
    row = exceptions.get(day.isoformat())
    working = row["is_workday"] if row else workcalendar.weekday_rule(day)
    kind = "workday" if working else "off"
    if row:
        kind = "workday-exception" if working else "holiday"
    return {"day": day, "working": working, "kind": kind, "name": row["name"] if row else "", "row": row}


@bp.get("/calendar")
@calendar_admins
def workdays():
    """A year of month grids; ?day= opens that day's form."""
    overview = CalendarYearOut().dump(workcalendar.year_overview(**query_args(CalendarArgs())))
    year = overview["year"]
    exceptions = {row["day"]: row for row in overview["days"]}
    months = [
        {
            "month": month,
            "weeks": [
                [_cell(day, month, exceptions) for day in week] for week in MONTH_WEEKS.monthdatescalendar(year, month)
            ],
        }
        for month in range(1, 13)
    ]
    chosen = None
    if request.args.get("day"):
        try:
            day = load_form(DayPath(), {"day": request.args["day"]})["day"]
            chosen = _cell(day, day.month, exceptions) if day.year == year else None
        except ValidationError as error:
            flash(error_message(error), "error")
    return render_template(
        "console/calendar/year.html",
        overview=overview,
        months=months,
        chosen=chosen,
        package_knows=workcalendar.package_knows(year),
        first_year=FIRST_DAY.year,
        last_year=LAST_DAY.year,
    )


@bp.post("/calendar/<day>")
@calendar_admins
@form_action("console.workdays")
def workdays_set_day(day: str):
    """PUT /api/v1/admin/calendar/<day>: the day works or not, whatever its weekday says."""
    when = load_form(DayPath(), {"day": day})["day"]
    data = load_form(CalendarDayIn(), {"is_workday": request.form.get("is_workday") == "1", "name": text("name")})
    workcalendar.set_day(when, data["is_workday"], data["name"], actor())
    message = f"{when:%Y-%m-%d} 已设为{'工作日' if data['is_workday'] else '休息日'}"
    return message, url_for("console.workdays", year=when.year, day=when.isoformat())


@bp.post("/calendar/<day>/clear")
@calendar_admins
@form_action("console.workdays")
def workdays_clear_day(day: str):
    """DELETE /api/v1/admin/calendar/<day>: the day follows its weekday again."""
    when = load_form(DayPath(), {"day": day})["day"]
    workcalendar.clear_day(when, actor())
    return f"{when:%Y-%m-%d} 已恢复为按星期计算", url_for("console.workdays", year=when.year, day=when.isoformat())


@bp.post("/calendar/seed")
@calendar_admins
@form_action("console.workdays")
def workdays_seed():
    year = load_form(CalendarArgs(), {"year": integer(text("year"))})["year"]
    written = workcalendar.seed_year(year, actor())
    return (
        f"已按国务院放假安排载入 {year} 年（写入 {written} 天）",
        url_for("console.workdays", year=year),
    )
