"""The working-day calendar for dispatchers and administrators: holidays and 调休 days, year by year."""

from datetime import date

from flask import Blueprint

from backend.api.common import actor, json_body, query_args
from backend.api.spec import doc
from backend.auth import dispatcher_required
from backend.extensions import db
from backend.schemas.calendar import CalendarArgs, CalendarDayIn, CalendarDayOut, CalendarYearOut, DayPath
from backend.services.casework import workcalendar

bp = Blueprint("admin_calendar", __name__, url_prefix="/admin")


def _day(text: str) -> date:
    """The ISO date in the path; anything else is a 422 naming the field."""
    return DayPath().load({"day": text})["day"]


@bp.get("/calendar")
@doc(query=CalendarArgs, response=CalendarYearOut)
@dispatcher_required
def get_calendar():
    return CalendarYearOut().dump(workcalendar.year_overview(**query_args(CalendarArgs())))


@bp.put("/calendar/<day>")
@doc(body=CalendarDayIn, response=CalendarDayOut, errors={422: "validation_failed"})
@dispatcher_required
def set_day(day: str):
    when = _day(day)
    data = json_body(CalendarDayIn())
    row = workcalendar.set_day(when, data["is_workday"], data["name"], actor())
    db.session.commit()
    return CalendarDayOut().dump(row)


@bp.delete("/calendar/<day>")
@doc(response=None, status=204, errors={422: "validation_failed"})
@dispatcher_required
def clear_day(day: str):
    workcalendar.clear_day(_day(day), actor())
    db.session.commit()
    return "", 204
