from datetime import date, datetime

from marshmallow import Schema, fields, validate

from backend.models.types import LOCAL_TZ


def local_iso(value: datetime | None) -> str | None:
    """ISO 8601 with the +08:00 offset the mini-program shows to people."""
    return None if value is None else value.astimezone(LOCAL_TZ).isoformat(timespec="seconds")


class LocalDateTime(fields.DateTime):
    def _serialize(self, value, attr, obj, **kwargs):
        return local_iso(value)


# Every day the API takes lies here: nothing exists outside it to find, and a day's bounds as datetimes (the day
# after, in UTC) would overflow at the ends of Python's calendar.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)


class Day(fields.Date):
    """A day as input: YYYY-MM-DD from FIRST_DAY to LAST_DAY."""

    def __init__(self, **kwargs):
        super().__init__(format="iso", validate=validate.Range(min=FIRST_DAY, max=LAST_DAY), **kwargs)


class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


def page_of(schema: Schema, page: dict) -> dict:
    return {**page, "items": schema.dump(page["items"], many=True)}
