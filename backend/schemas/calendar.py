"""The working-day calendar as administrators edit it: holidays and 调休 days."""

from marshmallow import Schema, fields, validate

from backend.schemas.common import FIRST_DAY, LAST_DAY, Day


class CalendarArgs(Schema):
    year = fields.Integer(load_default=None, validate=validate.Range(min=FIRST_DAY.year, max=LAST_DAY.year))


class DayPath(Schema):
    day = Day(required=True, error_messages={"invalid": "日期格式应为 YYYY-MM-DD，例如 2026-10-01"})


class CalendarDayIn(Schema):
    is_workday = fields.Boolean(required=True)
    name = fields.String(load_default="", validate=validate.Length(max=64))


class CalendarDayOut(Schema):
    day = fields.Date(format="iso")
    is_workday = fields.Boolean()
    name = fields.String()
    source = fields.String()


class CalendarYearOut(Schema):
    year = fields.Integer()
    days = fields.List(fields.Nested(CalendarDayOut))
    covered = fields.Boolean()
