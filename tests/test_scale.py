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
from backend.services.casework import deadlines, supervision, workcalendar
from backend.services.casework.workcalendar import WorkCalendar, parse_work_hours
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


# --- the supervision board: counted in SQL, paged ----------------------------------------------------------


def _board_cases(app, now, scale=1) -> None:
    """A known mix of open cases for two units (times `scale`), and closed ones that must not count."""
    with app.test_request_context():
        soon = deadlines.due_soon_until(now, app.config["REMIND_BEFORE_HOURS"])
    past, later = now - timedelta(hours=3), now + timedelta(days=30)
    for unit, mix in (
        ("renhe-ecology", [(past, 0, 5), (past, 1, 3), (past, 2, 2), (soon, 0, 4), (later, 0, 6)]),
        ("dahezhonglu", [(past, 0, 2), (soon - timedelta(minutes=1), 0, 1)]),
    ):
        for deadline, level, n in mix:
            _filler(app, n * scale, unit=unit, deadline_at=deadline, escalation_level=level)
    _filler(app, 4 * scale, status=CaseStatus.CLOSED, deadline_at=past)
    _filler(app, 2 * scale, deadline_at=soon + timedelta(minutes=1))  # just outside the window


def test_supervision_board_counts_equal_hand_computed_values(app, api):
    now = utcnow()
    _board_cases(app, now)
    with app.test_request_context():
        view = supervision.overview(now, page=1, per_page=4)
        rows = {row["unit"].code: {k: v for k, v in row.items() if k != "unit"} for row in view["by_unit"]}
        assert rows == {
            "renhe-ecology": {"open": 22, "overdue": 10, "due_soon": 4, "level_1": 3, "level_2": 2},
            "dahezhonglu": {"open": 3, "overdue": 2, "due_soon": 1, "level_1": 0, "level_2": 0},
        }
        assert list(rows) == ["renhe-ecology", "dahezhonglu"]  # most overdue first
        assert (view["overdue_total"], view["due_soon_total"]) == (12, 5)
        assert len(view["overdue"]) == 4 and len(view["due_soon"]) == 4
        pages = [supervision.overview(now, page=p, per_page=5)["overdue"] for p in (1, 2, 3, 4)]
        listed = [case.id for page in pages for case in page]
        assert [len(page) for page in pages] == [5, 5, 2, 0]
        assert len(set(listed)) == 12
        deadlines_listed = [case.deadline_at for page in pages for case in page]
        assert deadlines_listed == sorted(deadlines_listed)
        due = supervision.overview(now, page=1, per_page=100)["due_soon"]
        assert due[0].unit.code == "dahezhonglu"  # the earliest deadline first
    body = api.get("/api/v1/admin/supervision?page=2&per_page=5", api.login_staff("dispatcher")).json
    assert (body["page"], body["per_page"], body["overdue_total"], body["due_soon_total"]) == (2, 5, 12, 5)
    assert len(body["overdue"]) == 5 and body["overdue"][0]["category"] == "扬尘"
    assert {"extensions_pending", "extensions_pending_total", "by_unit", "now"} <= set(body)
    assert api.get("/api/v1/admin/supervision?per_page=101", api.login_staff("dispatcher")).status_code == 422


def test_supervision_board_work_stays_bounded_as_open_cases_grow(app, api):
    now = utcnow()
    measured = []
    for scale in (1, 40):
        _board_cases(app, now, scale)
        with statements(app) as seen, app.test_request_context():
            view = supervision.overview(now, page=1, per_page=10)
            loaded = sum(isinstance(obj, Case) for obj in db.session.identity_map.values())
        measured.append((len(seen), loaded, view["overdue_total"]))
    (few_statements, _few_loaded, few_total), (many_statements, many_loaded, many_total) = measured
    assert many_total == 41 * few_total  # the data grew…
    assert many_statements == few_statements  # …the statements did not
    assert many_loaded <= 20  # two lists of one page each, never every open case


# --- reward figures: summed by the database -----------------------------------------------------------------


def _ledger(app, entries) -> None:
    """entries: (category code, granted at, paid at or None) → one closed case, claim and ledger rows each."""
    from backend.models import ClaimStatus, LedgerEntry, LedgerKind, RewardClaim, RewardRule

    with app.app_context():
        for code, granted_at, paid_at in entries:
            category = db.session.scalar(db.select(Category).where(Category.code == code))
            rule = db.session.scalar(db.select(RewardRule).where(RewardRule.category_id == category.id))
            if rule is None:
                rule = RewardRule(category_id=category.id, amount_fen=500)
                db.session.add(rule)
                db.session.flush()
            user = User(openid=f"figures-{db.session.scalar(db.select(db.func.count(User.id)))}")
            db.session.add(user)
            db.session.flush()
            case = Case(
                reporter_id=user.id,
                category_id=category.id,
                lat=26.5,
                lng=101.74,
                coord=CoordSystem.GCJ02,
                wgs84_lat=26.5,
                wgs84_lng=101.74,
                status=CaseStatus.CLOSED,
            )
            db.session.add(case)
            db.session.flush()
            status = ClaimStatus.PAID if paid_at else ClaimStatus.APPROVED
            claim = RewardClaim(case_id=case.id, user_id=user.id, rule_id=rule.id, amount_fen=500, status=status)
            db.session.add(claim)
            db.session.flush()
            rows = [(LedgerKind.GRANTED, 500, granted_at)] + ([(LedgerKind.PAID_OUT, -500, paid_at)] if paid_at else [])
            for kind, amount, at in rows:
                db.session.add(
                    LedgerEntry(user_id=user.id, claim_id=claim.id, kind=kind, amount_fen=amount, created_at=at)
                )
        db.session.commit()


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_reward_figures_equal_hand_computed_values(app):
    last_of_october = _utc("2026-10-31T23:59:59+08:00")  # 15:59:59 UTC: October in China
    first_of_november = _utc("2026-11-01T00:00:00+08:00")  # 16:00 UTC on 31 October: November in China
    _ledger(
        app,
        [
            ("dust", last_of_october, first_of_november),
            ("dust", first_of_november, None),
            ("illegal_ad", _utc("2026-09-15T12:00:00+08:00"), last_of_october),
        ],
    )
    from backend.services.rewards import payouts

    with statements(app) as seen, app.app_context():
        figures = payouts.figures()
    assert len(seen) == 3
    assert figures["claims_by_status"] == {"paid": 2, "approved": 1}
    assert figures["by_month"] == [
        {"month": "2026-09", "granted_fen": 500, "paid_fen": 0},
        {"month": "2026-10", "granted_fen": 500, "paid_fen": 500},
        {"month": "2026-11", "granted_fen": 500, "paid_fen": 500},
    ]
    assert figures["by_category"] == [
        {"category": "扬尘", "granted_fen": 1000, "paid_fen": 500},
        {"category": "牛皮癣小广告", "granted_fen": 500, "paid_fen": 500},
    ]


def test_reward_figures_statements_stay_the_same_as_the_ledger_grows(app):
    from backend.services.rewards import payouts

    at = _utc("2026-11-10T10:00:00+08:00")
    sizes = []
    for n in (2, 60):
        _ledger(app, [("dust", at, at)] * n)
        with statements(app) as seen, app.app_context():
            figures = payouts.figures()
        sizes.append((len(seen), max(len(s) for s in seen)))
    assert figures["by_month"] == [{"month": "2026-11", "granted_fen": 62 * 500, "paid_fen": 62 * 500}]
    assert sizes[0] == sizes[1]  # no IN list of every rewarded case


# --- reward signals: similar photos found by the database, bounded -----------------------------------------


def test_phash_distance_in_sql_equals_python(app):
    from backend.models.photo import phash_distance
    from backend.services.media import images

    rng = random.Random(8)
    pairs = [("0000000000000000", "ffffffffffffffff"), ("0000000000000001", "0000000000000000")]
    pairs += [(f"{rng.getrandbits(64):016x}", f"{rng.getrandbits(64):016x}") for _ in range(20)]
    with app.app_context():
        for a, b in pairs:
            assert db.session.scalar(db.select(phash_distance(db.literal(a), db.literal(b)))) == images.hamming(a, b)


def test_similar_photo_signal_is_found_by_the_database_and_bounded(app):
    from backend.models import Photo, PhotoStatus, RewardRule
    from backend.services.rewards import signals

    _filler(app, 60, status=CaseStatus.CLOSED)
    mine = 0x0F0F0F0F0F0F0F0F
    rng = random.Random(5)
    now = utcnow()
    with app.app_context():
        ids = list(db.session.scalars(db.select(Case.id).order_by(Case.id)))
        target, others = ids[-1], ids[:-1]
        rows, expected = [], set()

        def photo(case_id, phash, at):
            rows.append(
                dict(format="JPEG", byte_size=1, width=1, height=1, sha256=f"{len(rows):064x}",
                     phash=f"{phash:016x}", original_key="k", case_id=case_id, created_at=at)
            )  # fmt: skip

        photo(target, mine, now)
        for case_id in others:
            flipped = rng.sample(range(64), rng.choice([0, 3, 8, 9, 20]))
            old = rng.random() < 0.2
            photo(case_id, mine ^ sum(1 << bit for bit in flipped), now - timedelta(days=100 if old else 10))
            if len(flipped) <= 8 and not old:
                expected.add(case_id)
        db.session.execute(db.insert(Photo), [row | {"status": PhotoStatus.READY} for row in rows])
        db.session.add(RewardRule(category_id=db.session.get(Case, target).category_id, amount_fen=5))
        db.session.commit()
        assert len(expected) > signals.SIGNAL_CASES  # more matches than a signal names
        with statements(app) as seen:
            found = signals.signals_for(db.session.get(Case, target), db.session.scalars(db.select(RewardRule)).one())
    similar = next(s for s in found if s["code"] == "similar_photo")
    assert similar["detail"] == f"与案件 {sorted(expected)[: signals.SIGNAL_CASES]} 的照片相似"
    search = [s for s in seen if "phash_distance" in s or "bit_count" in s]
    assert len(search) == 1 and "LIMIT" in search[0].upper()  # compared in SQL, a bounded answer
