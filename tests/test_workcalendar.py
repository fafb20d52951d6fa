"""Working time for deadlines: weekends, public holidays and 调休 of the Chinese calendar, lunch breaks, UTC.

Times are written in China Standard Time (+08:00) and handed to the calendar as aware UTC, as stored.
"""

from datetime import UTC, date, datetime, timedelta

import chinese_calendar
import pytest

from backend.cli_calendar import register_calendar_commands
from backend.extensions import db
from backend.models import CalendarDay
from backend.services.casework import workcalendar
from backend.services.casework.workcalendar import WorkCalendar, parse_work_hours

PERIODS = parse_work_hours("09:00-12:00,13:00-18:00")


def utc(text: str) -> datetime:
    """A moment written in +08:00, as the aware UTC datetime the database holds."""
    return datetime.fromisoformat(text).astimezone(UTC)


def add(calendar: WorkCalendar, start: str, hours: float) -> datetime:
    return calendar.add_working_hours(utc(start), hours)


@pytest.fixture(scope="module")
def cal2026() -> WorkCalendar:
    """2026 as the chinese_calendar package has it, without a database."""
    exceptions = {day: is_workday for day, (is_workday, _) in workcalendar.package_exceptions(2026).items()}
    return WorkCalendar(exceptions, PERIODS)


@pytest.fixture(scope="module")
def weekdays_only() -> WorkCalendar:
    return WorkCalendar({}, PERIODS)


def _days(first: str, last: str) -> list[date]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


# --- working hours ------------------------------------------------------------------------------------------


def test_parse_work_hours():
    assert [(str(s), str(e)) for s, e in PERIODS] == [("09:00:00", "12:00:00"), ("13:00:00", "18:00:00")]
    assert len(parse_work_hours(" 8:30-12:00 , 14:30-17:30 ")) == 2
    assert WorkCalendar({}, PERIODS).workday_hours == 8.0
    assert WorkCalendar({}, parse_work_hours("08:30-12:00,14:30-17:30")).workday_hours == 6.5


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "9-12",
        "09:00-12:00;13:00-18:00",
        "12:00-09:00",
        "09:00-09:00",
        "25:00-26:00",
        "09:00-12:00,11:00-14:00",  # overlapping
        "13:00-18:00,09:00-12:00",  # out of order
        "09:00-12:00,",
    ],
)
def test_parse_work_hours_refuses(spec):
    with pytest.raises(ValueError):
        parse_work_hours(spec)


def test_a_calendar_needs_periods_and_sane_input(weekdays_only):
    with pytest.raises(ValueError):
        WorkCalendar({}, [])
    with pytest.raises(ValueError, match="naive"):
        weekdays_only.add_working_hours(datetime(2026, 3, 10, 9, 0), 1)
    with pytest.raises(ValueError, match="naive"):
        weekdays_only.working_hours_between(datetime(2026, 3, 10, 9, 0), utc("2026-03-10T10:00:00+08:00"))
    for hours in (-1, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            weekdays_only.add_working_hours(utc("2026-03-10T09:00:00+08:00"), hours)


def test_lunch_break_is_skipped(weekdays_only):
    assert add(weekdays_only, "2026-03-10T11:00:00+08:00", 2) == utc("2026-03-10T14:00:00+08:00")
    assert add(weekdays_only, "2026-03-10T12:30:00+08:00", 1) == utc("2026-03-10T14:00:00+08:00")
    # using up the morning exactly ends at noon, not at 13:00
    assert add(weekdays_only, "2026-03-10T09:00:00+08:00", 3) == utc("2026-03-10T12:00:00+08:00")
    assert add(weekdays_only, "2026-03-10T09:00:00+08:00", 0.5) == utc("2026-03-10T09:30:00+08:00")


def test_outside_working_time_counts_from_the_next_period(weekdays_only):
    # 22:00 on a Tuesday: the clock starts at 09:00 on Wednesday
    assert add(weekdays_only, "2026-03-10T22:00:00+08:00", 0) == utc("2026-03-11T09:00:00+08:00")
    assert add(weekdays_only, "2026-03-10T22:00:00+08:00", 1) == utc("2026-03-11T10:00:00+08:00")
    # early morning: the same day
    assert add(weekdays_only, "2026-03-10T06:00:00+08:00", 1) == utc("2026-03-10T10:00:00+08:00")
    # 22:00 on a Friday: Monday
    assert add(weekdays_only, "2026-03-06T22:00:00+08:00", 1) == utc("2026-03-09T10:00:00+08:00")
    # a Sunday afternoon
    assert add(weekdays_only, "2026-03-08T15:00:00+08:00", 8) == utc("2026-03-09T18:00:00+08:00")


def test_across_a_weekend(cal2026):
    # Friday 16:00 + 4 h: 2 h on Friday, 2 h on Monday morning
    assert add(cal2026, "2026-03-06T16:00:00+08:00", 4) == utc("2026-03-09T11:00:00+08:00")
    assert add(cal2026, "2026-03-06T09:00:00+08:00", 5 * 8) == utc("2026-03-12T18:00:00+08:00")


def test_input_and_output_are_aware_utc(cal2026):
    start = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)  # 09:00 in Beijing
    due = cal2026.add_working_hours(start, 8)
    assert due.utcoffset() == timedelta(0)
    assert due == datetime(2026, 3, 10, 10, 0, tzinfo=UTC) == utc("2026-03-10T18:00:00+08:00")
    # the same moment given in +08:00 gives the same answer, still in UTC
    same = cal2026.add_working_hours(datetime.fromisoformat("2026-03-10T09:00:00+08:00"), 8)
    assert same == due and same.utcoffset() == timedelta(0)
    # a UTC date that is already the next local day: 2026-03-06 23:30 UTC is Saturday 07:30 in Beijing
    assert cal2026.add_working_hours(datetime(2026, 3, 6, 23, 30, tzinfo=UTC), 1) == utc("2026-03-09T10:00:00+08:00")


# --- the official calendar of 2026 --------------------------------------------------------------------------


def test_the_package_data_the_expectations_rest_on():
    """What chinesecalendar 1.11.0 says about 2026; the deadline tests below are derived from it."""
    national_day = [d for d in _days("2026-09-28", "2026-10-11") if not chinese_calendar.is_workday(d)]
    assert national_day == [*_days("2026-10-01", "2026-10-07"), date(2026, 10, 11)]  # and Sunday 11th
    spring_festival = [d for d in _days("2026-02-13", "2026-02-28") if not chinese_calendar.is_workday(d)]
    assert spring_festival == _days("2026-02-15", "2026-02-23")
    assert chinese_calendar.is_workday(date(2026, 2, 14)) and date(2026, 2, 14).weekday() == 5  # Saturday
    assert chinese_calendar.is_workday(date(2026, 10, 10)) and date(2026, 10, 10).weekday() == 5
    assert workcalendar.package_knows(2026) and not workcalendar.package_knows(2027)


def test_only_days_that_differ_from_their_weekday_are_kept():
    exceptions = workcalendar.package_exceptions(2026)
    assert exceptions[date(2026, 10, 1)] == (False, "国庆节")  # Thursday off
    assert exceptions[date(2026, 10, 10)] == (True, "国庆节调休上班")  # Saturday at work
    assert exceptions[date(2026, 2, 14)] == (True, "春节调休上班")
    assert exceptions[date(2026, 2, 16)] == (False, "春节")
    assert date(2026, 10, 3) not in exceptions  # a holiday on a Saturday is a day off anyway
    assert date(2026, 3, 10) not in exceptions
    for day, (is_workday, _) in exceptions.items():
        assert is_workday == chinese_calendar.is_workday(day) != (day.weekday() < 5)


def test_across_national_day(cal2026, weekdays_only):
    # Wednesday 30 September 17:00 + 3 h: 1 h that day, then 1–7 October off, 2 h on Thursday 8 October
    assert add(cal2026, "2026-09-30T17:00:00+08:00", 3) == utc("2026-10-08T11:00:00+08:00")
    assert add(weekdays_only, "2026-09-30T17:00:00+08:00", 3) == utc("2026-10-01T11:00:00+08:00")
    # a three-working-day deadline from the eve of the holiday
    assert add(cal2026, "2026-09-30T09:00:00+08:00", 24) == utc("2026-10-09T18:00:00+08:00")


def test_across_spring_festival(cal2026):
    # Friday 13 February 10:00 + 16 h: 7 h on Friday, 8 h on the working Saturday 14th, then 15–23 off
    assert add(cal2026, "2026-02-13T10:00:00+08:00", 16) == utc("2026-02-24T10:00:00+08:00")


def test_an_adjusted_working_saturday_counts(cal2026, weekdays_only):
    assert cal2026.is_workday(date(2026, 2, 14)) and cal2026.is_workday(date(2026, 10, 10))
    assert not weekdays_only.is_workday(date(2026, 10, 10))
    assert add(cal2026, "2026-10-09T17:00:00+08:00", 2) == utc("2026-10-10T10:00:00+08:00")
    assert add(weekdays_only, "2026-10-09T17:00:00+08:00", 2) == utc("2026-10-12T10:00:00+08:00")
    assert add(cal2026, "2026-02-13T17:00:00+08:00", 2) == utc("2026-02-14T10:00:00+08:00")


def test_working_hours_between(cal2026):
    def between(a: str, b: str) -> float:
        return cal2026.working_hours_between(utc(a), utc(b))

    assert between("2026-03-06T16:00:00+08:00", "2026-03-09T11:00:00+08:00") == 4.0  # time remaining
    assert between("2026-03-09T11:00:00+08:00", "2026-03-06T16:00:00+08:00") == -4.0  # overdue by 4 h
    assert between("2026-03-10T12:00:00+08:00", "2026-03-10T13:00:00+08:00") == 0.0  # lunch
    assert between("2026-03-10T10:00:00+08:00", "2026-03-10T10:00:00+08:00") == 0.0
    assert between("2026-03-10T11:30:00+08:00", "2026-03-10T13:15:00+08:00") == 0.75
    assert between("2026-09-30T17:00:00+08:00", "2026-10-08T11:00:00+08:00") == 3.0  # over National Day
    assert between("2026-10-09T17:00:00+08:00", "2026-10-10T10:00:00+08:00") == 2.0  # the working Saturday
    assert between("2026-03-10T20:00:00+08:00", "2026-03-11T08:00:00+08:00") == 0.0  # overnight


@pytest.mark.parametrize(
    "start", ["2026-02-12T17:30:00+08:00", "2026-09-25T08:00:00+08:00", "2026-10-10T12:10:00+08:00"]
)
@pytest.mark.parametrize("hours", [0.25, 3, 8, 17.5, 72, 2000])
def test_adding_and_measuring_agree(cal2026, start, hours):
    due = add(cal2026, start, hours)
    assert cal2026.working_hours_between(utc(start), due) == pytest.approx(hours)
    assert cal2026.working_hours_between(due, utc(start)) == pytest.approx(-hours)


def test_a_calendar_without_working_days_is_refused():
    days_off = {day: False for day in _days("2026-01-01", "2027-12-31")}
    calendar = WorkCalendar(days_off, PERIODS)
    with pytest.raises(ValueError, match="no working day"):
        calendar.add_working_hours(utc("2026-01-01T09:00:00+08:00"), 1)
    # 365 days off are still a calendar (2028 works again)
    assert WorkCalendar({day: False for day in _days("2026-01-01", "2026-12-31")}, PERIODS).add_working_hours(
        utc("2026-01-01T09:00:00+08:00"), 1
    ) == utc("2027-01-01T10:00:00+08:00")


# --- stored calendar: seeding, the admin API, the command ---------------------------------------------------


@pytest.fixture
def empty_calendar(app):
    with app.app_context():
        db.session.execute(db.delete(CalendarDay))
        db.session.commit()


@pytest.fixture
def dispatcher(api):
    return api.login_staff("dispatcher")


def _rows(app) -> dict[date, tuple[bool, str, str]]:
    with app.app_context():
        return {r.day: (r.is_workday, r.name, r.source) for r in db.session.scalars(db.select(CalendarDay))}


def _put(api, token, day: str, body):
    return api.client.put(f"/api/v1/admin/calendar/{day}", json=body, headers=api.auth(token) if token else {})


def _delete(api, token, day: str):
    return api.client.delete(f"/api/v1/admin/calendar/{day}", headers=api.auth(token) if token else {})


def _seed(app, years) -> int:
    with app.app_context():
        written = workcalendar.seed_from_chinese_calendar(years)
        db.session.commit()
        return written


def _current(app) -> WorkCalendar:
    with app.app_context():
        return workcalendar.current(app.config)


def test_seeding_is_idempotent(app, empty_calendar):
    expected = workcalendar.package_exceptions(2026)
    assert _seed(app, [2026]) == len(expected)
    rows = _rows(app)
    assert rows == {day: (w, name, "chinese_calendar") for day, (w, name) in expected.items()}
    assert _seed(app, [2026]) == 0
    assert _rows(app) == rows
    # the stored calendar computes what the package says
    assert add(_current(app), "2026-09-30T17:00:00+08:00", 3) == utc("2026-10-08T11:00:00+08:00")
    assert add(_current(app), "2026-02-13T10:00:00+08:00", 16) == utc("2026-02-24T10:00:00+08:00")


def test_seeding_keeps_admin_rows_and_repairs_its_own(app, api, dispatcher, empty_calendar):
    _seed(app, [2026])
    # the district works on 5 October and takes 9 March off: administrators' decisions
    assert _put(api, dispatcher, "2026-10-05", {"is_workday": True, "name": "区里安排值班"}).status_code == 200
    assert _put(api, dispatcher, "2026-03-09", {"is_workday": False, "name": "防汛"}).status_code == 200
    # a package row that went stale and one the package no longer has
    with app.app_context():
        db.session.get(CalendarDay, date(2026, 10, 6)).name = "旧名称"
        db.session.add(CalendarDay(day=date(2026, 3, 10), is_workday=False, name="", source="chinese_calendar"))
        db.session.commit()
    assert _seed(app, [2026]) == 2
    rows = _rows(app)
    assert rows[date(2026, 10, 5)] == (True, "区里安排值班", "admin")
    assert rows[date(2026, 3, 9)] == (False, "防汛", "admin")
    assert rows[date(2026, 10, 6)] == (False, "国庆节", "chinese_calendar")
    assert date(2026, 3, 10) not in rows
    assert _seed(app, [2026]) == 0
    # clearing the admin row gives the day back to the package on the next seeding
    assert _delete(api, dispatcher, "2026-10-05").status_code == 204
    assert _seed(app, [2026]) == 1
    assert _rows(app)[date(2026, 10, 5)] == (False, "国庆节", "chinese_calendar")


def test_a_year_the_package_does_not_know_follows_weekdays_until_an_admin_marks_it(
    app, api, dispatcher, empty_calendar
):
    assert _seed(app, [2026, 2027]) == len(workcalendar.package_exceptions(2026))
    with app.app_context():
        assert workcalendar.known_years() == [2026]
    year = api.get("/api/v1/admin/calendar?year=2027", dispatcher).json
    assert year == {"year": 2027, "days": [], "covered": False}
    # Thursday 30 September 2027 17:00 + 2 h: Friday 1 October counts, as a weekday
    assert add(_current(app), "2027-09-30T17:00:00+08:00", 2) == utc("2027-10-01T10:00:00+08:00")

    response = _put(api, dispatcher, "2027-10-01", {"is_workday": False, "name": "国庆节"})
    assert response.status_code == 200, response.json
    assert response.json == {"day": "2027-10-01", "is_workday": False, "name": "国庆节", "source": "admin"}
    assert add(_current(app), "2027-09-30T17:00:00+08:00", 2) == utc("2027-10-04T10:00:00+08:00")
    # and a 调休 Saturday
    assert _put(api, dispatcher, "2027-10-02", {"is_workday": True}).json["name"] == ""
    assert add(_current(app), "2027-09-30T17:00:00+08:00", 2) == utc("2027-10-02T10:00:00+08:00")

    year = api.get("/api/v1/admin/calendar?year=2027", dispatcher).json
    assert year["covered"] is True
    assert [d["day"] for d in year["days"]] == ["2027-10-01", "2027-10-02"]
    with app.app_context():
        assert workcalendar.known_years() == [2026, 2027]

    assert _delete(api, dispatcher, "2027-10-02").status_code == 204
    assert add(_current(app), "2027-09-30T17:00:00+08:00", 2) == utc("2027-10-04T10:00:00+08:00")


def test_get_calendar_lists_the_seeded_year(app, api, dispatcher, empty_calendar):
    _seed(app, [2026])
    year = api.get("/api/v1/admin/calendar?year=2026", dispatcher).json
    assert year["year"] == 2026 and year["covered"] is True
    days = {d["day"]: d for d in year["days"]}
    assert list(days) == sorted(days)
    assert days["2026-10-01"] == {
        "day": "2026-10-01",
        "is_workday": False,
        "name": "国庆节",
        "source": "chinese_calendar",
    }
    assert days["2026-10-10"]["is_workday"] is True and "2026-10-03" not in days
    # without a year: this year (in Beijing)
    assert api.get("/api/v1/admin/calendar", dispatcher).json["year"] >= 2026


def test_admin_changes_are_audited(app, api, dispatcher, empty_calendar):
    _seed(app, [2026])
    assert _put(api, dispatcher, "2026-10-05", {"is_workday": True, "name": "值班"}).status_code == 200
    assert _put(api, dispatcher, "2026-03-14", {"is_workday": True, "name": "调休"}).status_code == 200
    assert _delete(api, dispatcher, "2026-03-14").status_code == 204
    assert _delete(api, dispatcher, "2026-03-14").status_code == 204  # nothing left: nothing recorded
    page = api.get("/api/v1/admin/audit?per_page=100", dispatcher).json["items"]
    entries = [e for e in page if e["entity"] == "calendar"]
    assert [(e["action"], e["staff"]["username"]) for e in entries] == [
        ("delete", "dispatcher"),
        ("update", "dispatcher"),
        ("update", "dispatcher"),
    ]
    deleted, created, changed = (e["changes"] for e in entries)
    assert deleted["day"] == {"from": "2026-03-14", "to": None}
    assert created["day"] == {"from": "2026-03-14", "to": "2026-03-14"}
    assert created["is_workday"] == {"from": False, "to": True}  # a Saturday made a working day
    assert changed["day"] == {"from": "2026-10-05", "to": "2026-10-05"}
    assert changed["is_workday"] == {"from": False, "to": True}
    assert changed["source"] == {"from": "chinese_calendar", "to": "admin"}


@pytest.mark.parametrize(
    ("method", "path", "body", "ok"),
    [
        ("get", "/api/v1/admin/calendar?year=2026", None, 200),
        ("put", "/api/v1/admin/calendar/2026-10-05", {"is_workday": True}, 200),
        ("delete", "/api/v1/admin/calendar/2026-10-05", None, 204),
    ],
)
def test_calendar_endpoints_are_for_dispatchers(api, method, path, body, ok):
    def call(token):
        headers = api.auth(token) if token else {}
        return getattr(api.client, method)(path, json=body, headers=headers)

    assert call(api.login_staff("dispatcher")).status_code == ok
    assert call(api.login_staff("admin")).status_code == ok
    assert call(api.login_staff("dahezhonglu")).status_code == 403
    assert call(api.login_citizen()).status_code == 403
    assert call(None).status_code == 401


@pytest.mark.parametrize("day", ["2026-13-01", "2026-02-29", "abc", "2026-1-5"])
def test_a_bad_date_in_the_path_is_422(api, dispatcher, day):
    for response in (_put(api, dispatcher, day, {"is_workday": True}), _delete(api, dispatcher, day)):
        assert response.status_code == 422, response.json
        assert response.json["error"]["fields"]["day"] == ["日期格式应为 YYYY-MM-DD，例如 2026-10-01"]


def test_calendar_input_is_validated(api, dispatcher):
    out_of_range = _put(api, dispatcher, "1999-12-31", {"is_workday": True})
    assert out_of_range.status_code == 422
    assert out_of_range.json["error"]["fields"]["day"] == ["取值范围为 2000-01-01 至 2100-12-31"]
    assert _put(api, dispatcher, "2026-10-05", {}).json["error"]["fields"] == {"is_workday": ["必填"]}
    not_bool = _put(api, dispatcher, "2026-10-05", {"is_workday": "maybe"})
    assert not_bool.status_code == 422 and not_bool.json["error"]["fields"]["is_workday"] == ["必须是 true 或 false"]
    long_name = _put(api, dispatcher, "2026-10-05", {"is_workday": False, "name": "节" * 65})
    assert long_name.status_code == 422 and long_name.json["error"]["fields"]["name"] == ["长度不能超过 64"]
    assert _put(api, dispatcher, "2026-10-05", {"is_workday": False, "extra": 1}).status_code == 422
    not_json = api.client.put("/api/v1/admin/calendar/2026-10-05", data="x", headers=api.auth(dispatcher))
    assert not_json.status_code == 400 and not_json.json["error"]["code"] == "invalid_json"
    for query in ("year=abc", "year=1900"):
        assert api.get(f"/api/v1/admin/calendar?{query}", dispatcher).status_code == 422


def test_seed_calendar_command(app, empty_calendar):
    register_calendar_commands(app)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["seed-calendar", "--year", "2026", "--year", "2027"])
    assert result.exit_code == 0, result.output
    assert f"{len(workcalendar.package_exceptions(2026))} rows written (years 2026)" in result.stdout
    assert "2027" in result.stderr and "/api/v1/admin/calendar/" in result.stderr
    again = runner.invoke(args=["seed-calendar", "--year", "2026"])
    assert again.exit_code == 0 and "0 rows written" in again.stdout and not again.stderr
    # without --year: last year, this year and next year
    default = runner.invoke(args=["seed-calendar"])
    assert default.exit_code == 0, default.output
