"""Queries that scale: supervision reaches every due case however many are open, the admin views aggregate in
SQL and page, and the work done stays bounded as data grows (statements and rows read are counted)."""

import random
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from backend.extensions import db
from backend.models import Case, CaseStatus, Category, CoordSystem, RoutingStatus, Unit, User
from backend.models.types import utcnow
from backend.services import deadlines, supervision, workcalendar
from backend.services.workcalendar import WorkCalendar, parse_work_hours
from tests.helpers import RENHE_TOWN

FILLERS = 3000  # open cases, more than any page or former window


def _filler(app, n, unit="renhe-ecology", **values) -> None:
    """n open cases (lower ids than anything created later) in one bulk insert."""
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.openid == "filler"))
        if user is None:
            user = User(openid="filler")
            db.session.add(user)
            db.session.flush()
        category = db.session.scalar(db.select(Category).where(Category.code == "dust"))
        unit_id = db.session.scalar(db.select(Unit.id).where(Unit.code == unit))
        now = utcnow()
        row = dict(
            reporter_id=user.id,
            category_id=category.id,
            description="",
            lat=26.5,
            lng=101.74,
            coord=CoordSystem.GCJ02,
            wgs84_lat=26.5,
            wgs84_lng=101.74,
            address="",
            status=CaseStatus.PROCESSING,
            routing_status=RoutingStatus.ROUTED,
            unit_id=unit_id,
            escalation_level=0,
            needs_review=False,
            created_at=now,
            updated_at=now,
            version=1,
        )
        db.session.execute(db.insert(Case), [row | values for _ in range(n)])
        db.session.commit()


@contextmanager
def statements(app):
    """The SQL statements run inside the block."""
    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _new_case(api, run_jobs) -> int:
    case_id = api.submit_ok(api.login_citizen(), category="dust", location=RENHE_TOWN)["id"]
    run_jobs()
    return case_id


# --- 督办 reaches every due case ---------------------------------------------------------------------------


def test_reminders_reach_a_new_case_behind_thousands_of_open_ones(app, api, run_jobs):
    _filler(app, FILLERS, deadline_at=utcnow() + timedelta(days=14))  # open, not in the reminder window
    case_id = _new_case(api, run_jobs)
    with app.app_context():
        deadline = db.session.get(Case, case_id).deadline_at
    at = deadline - timedelta(minutes=30)  # certainly inside the 4 working hours before the deadline
    with statements(app) as seen, app.app_context():
        assert supervision.run(at)["reminded"] == 1
        assert db.session.get(Case, case_id).reminded_at is not None
    selects = [s for s in seen if s.lstrip().upper().startswith("SELECT") and "FROM cases" in s]
    # the pass never walks through the open cases that are not due: a few selects, whatever FILLERS is
    assert len(selects) < 30, len(selects)


def test_escalation_reaches_a_new_overdue_case_behind_thousands_at_level_one(app, api, run_jobs):
    _filler(app, FILLERS, deadline_at=utcnow() + timedelta(days=1), escalation_level=1)
    case_id = _new_case(api, run_jobs)
    with app.app_context():
        deadline = db.session.get(Case, case_id).deadline_at
        # fillers: overdue by 1 clock hour (< 16 working hours: no level 2 yet); the new case: overdue, level 0
        db.session.execute(db.update(Case).where(Case.id != case_id).values(deadline_at=deadline - timedelta(hours=1)))
        db.session.commit()
    with app.app_context():
        assert supervision.run(deadline + timedelta(minutes=10))["escalated"] == 1
        assert db.session.get(Case, case_id).escalation_level == 1


def test_a_pass_pages_through_every_due_case(app, api, run_jobs, monkeypatch):
    """More due cases than a page, mixed with ones that are not due: every due one is handled in one pass."""
    monkeypatch.setattr(supervision, "PAGE", 7)
    now = utcnow()
    due, not_due = now - timedelta(hours=1), now + timedelta(days=30)
    with app.app_context():
        for deadline in [due, not_due] * 12:
            _filler(app, 1, deadline_at=deadline)
    with app.app_context():
        assert supervision.run(now)["escalated"] == 12
        levels = db.session.execute(db.select(Case.deadline_at, Case.escalation_level)).all()
        assert sorted(level for at, level in levels if at < now) == [1] * 12
        assert {level for at, level in levels if at > now} == {0}
        assert supervision.run(now)["escalated"] == 0


# --- the working-time bounds the SQL predicates use -----------------------------------------------------------

PERIODS = parse_work_hours("09:00-12:00,13:00-18:00")


@pytest.fixture(scope="module")
def cal2026() -> WorkCalendar:
    exceptions = {day: is_workday for day, (is_workday, _) in workcalendar.package_exceptions(2026).items()}
    return WorkCalendar(exceptions, PERIODS)


def _moments(seed: int, n: int) -> list[datetime]:
    rng = random.Random(seed)
    start = datetime(2026, 9, 20, tzinfo=UTC)  # across the National Day holiday and its 调休 weekend
    moments = [start + timedelta(minutes=rng.randrange(0, 40 * 24 * 60)) for _ in range(n)]
    # and the edges: period starts and ends, a lunch break, a weekend evening
    local = [f"2026-09-30T{t}+08:00" for t in ("09:00", "12:00", "12:30", "13:00", "18:00", "20:00")]
    return moments + [datetime.fromisoformat(t).astimezone(UTC) for t in local]


@pytest.mark.parametrize("hours", [0.5, 4, 16, 40])
def test_latest_within_is_the_exact_bound_of_hours_left(cal2026, hours):
    rng = random.Random(hours)
    for now in _moments(1, 150):
        bound = cal2026.latest_within(now, hours)
        assert cal2026.working_hours_between(now, bound) == pytest.approx(hours)
        for _ in range(6):
            later = bound + timedelta(minutes=rng.choice([1, 7, 90, 600, 3000]))
            assert cal2026.working_hours_between(now, later) > hours, (now, later)
            earlier = bound - timedelta(minutes=rng.choice([1, 7, 90, 600]))
            assert cal2026.working_hours_between(now, earlier) <= hours + 1e-9, (now, earlier)


@pytest.mark.parametrize("hours", [0, 0.5, 4, 16, 40])
def test_subtract_working_hours_is_the_exact_bound_of_hours_overdue(cal2026, hours):
    rng = random.Random(hours)
    for now in _moments(2, 150):
        bound = cal2026.subtract_working_hours(now, hours)
        assert bound <= now
        assert cal2026.working_hours_between(bound, now) == pytest.approx(hours)
        for _ in range(6):
            later = bound + timedelta(minutes=rng.choice([1, 7, 90, 600]))
            if later <= now:
                assert cal2026.working_hours_between(later, now) < hours, (bound, later, now)
            earlier = bound - timedelta(minutes=rng.choice([1, 7, 90, 600, 3000]))
            assert cal2026.working_hours_between(earlier, now) >= hours - 1e-9


def test_next_working_moment(cal2026):
    def at(text):
        return datetime.fromisoformat(text).astimezone(UTC)

    assert cal2026.next_working_moment(at("2026-09-30T10:00+08:00")) == at("2026-09-30T10:00+08:00")
    assert cal2026.next_working_moment(at("2026-09-30T12:00+08:00")) == at("2026-09-30T13:00+08:00")
    # 国庆: 1–7 October off (the 8th works again)
    assert cal2026.next_working_moment(at("2026-09-30T18:00+08:00")) == at("2026-10-08T09:00+08:00")


def test_deadline_bounds_use_the_stored_calendar(app):
    now = utcnow()
    with app.test_request_context():
        assert deadlines.due_soon_until(now, 4) == deadlines.calendar().latest_within(now, 4)
        assert deadlines.overdue_by_until(now, 16) == deadlines.calendar().subtract_working_hours(now, 16)
