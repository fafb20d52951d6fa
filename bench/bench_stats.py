"""Benchmark of the 考核 figures on a real database: a month of figures for every unit, and the rest of the
accountability API, against the assignment ledger.

    .venv/bin/python -m bench.bench_stats --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_stats \\
        --generate 200000                        # bulk-load 200k cases over 12 months, then time
    .venv/bin/python -m bench.bench_stats --database-url …                # time an existing database
    .venv/bin/python -m bench.bench_stats --database-url … --rebuild      # first rebuild the ledger from
                                                                          # case_events (e.g. bench/generate.py data)

--generate upgrades the schema, loads the demo district (plus --extra-units grid units, so "every unit" is a
realistic few dozen), deletes earlier cases and ledger rows, and inserts cases and their ledger rows directly
(executemany in chunks; the state machine is bypassed, so the ledger rows are written alongside). Then each
measurement runs --runs times after one warm-up, and the median and worst wall times are printed; on
PostgreSQL, EXPLAIN (ANALYZE, BUFFERS) of the figures aggregate follows.
"""

import argparse
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from backend.extensions import db
from backend.models import BriefingKind, Case, CaseAssignment, Category, Region, Unit, UnitKind, User
from backend.services.responsibility import demo_district
from backend.services.stats import briefings, figures, ranking
from backend.services.stats.periods import month_of
from bench.app import bench_app

CHUNK = 20_000


def generate(cases: int, extra_units: int, seed: int, now: datetime) -> None:
    from flask_migrate import upgrade

    upgrade()
    demo_district.load()
    parent = db.session.scalar(db.select(Unit).where(Unit.code == "dahe-community"))
    for n in range(extra_units):
        code = f"bench-grid-{n:03d}"
        if db.session.scalar(db.select(Unit.id).where(Unit.code == code)) is None:
            db.session.add(Unit(code=code, name=f"测试网格{n:03d}", kind=UnitKind.GRID, parent=parent))
    user = db.session.scalar(db.select(User).where(User.openid == "bench-citizen"))
    if user is None:
        user = User(openid="bench-citizen")
        db.session.add(user)
    db.session.commit()
    for table in ("case_assignments", "case_co_units", "case_events", "photos", "extension_requests"):
        db.session.execute(db.text(f"DELETE FROM {table}"))
    db.session.execute(db.text("DELETE FROM notifications"))
    db.session.execute(db.text("DELETE FROM reward_claims"))
    db.session.execute(db.delete(Case))
    db.session.commit()

    rng = random.Random(seed)
    unit_ids = list(db.session.scalars(db.select(Unit.id).where(Unit.kind != UnitKind.DISTRICT)))
    category_ids = list(db.session.scalars(db.select(Category.id)))
    region_ids = list(db.session.scalars(db.select(Region.id)))
    start = now - timedelta(days=365)
    span = (now - start).total_seconds()
    case_rows, ledger_rows = [], []
    started = time.perf_counter()
    for case_id in range(1, cases + 1):
        created = start + timedelta(seconds=span * case_id / (cases + 1))
        age = (now - created).days
        unit_id, category_id = rng.choice(unit_ids), rng.choice(category_ids)
        assigned = created + timedelta(minutes=rng.randint(1, 30))
        deadline = assigned + timedelta(days=rng.choice((2, 3, 5)))
        roll = rng.random()
        if age > 14:
            status = "CLOSED" if roll < 0.95 else ("PROCESSING" if roll < 0.98 else "REPLIED")
        else:
            status = ("DISPATCHED", "PROCESSING", "REPLIED", "CLOSED")[min(int(roll * 4), 3)]
        replied = assigned + timedelta(hours=rng.randint(2, 120)) if status in ("REPLIED", "CLOSED") else None
        closed = replied + timedelta(hours=rng.randint(1, 48)) if status == "CLOSED" else None
        rating = rng.choice(("SATISFIED", "BASIC", "UNSATISFIED", None, None)) if closed else None
        lat, lng = 26.45 + rng.random() * 0.1, 101.68 + rng.random() * 0.12
        case_rows.append(
            {
                "id": case_id,
                "reporter_id": user.id,
                "category_id": category_id,
                "description": "",
                "lat": lat,
                "lng": lng,
                "coord": "GCJ02",
                "wgs84_lat": lat,
                "wgs84_lng": lng,
                "address": "",
                "status": status,
                "routing_status": "ROUTED",
                "unit_id": unit_id,
                "deadline_at": deadline,
                "signoff_deadline_at": assigned + timedelta(hours=2),
                "escalation_level": 1 if status in ("DISPATCHED", "PROCESSING") and deadline < now else 0,
                "replied_at": replied,
                "closed_at": closed,
                "rating": rating,
                "needs_review": False,
                "created_at": created,
                "updated_at": closed or replied or assigned,
                "version": 1,
            }
        )
        if rng.random() < 0.05:  # returned by another unit first
            ledger_rows.append(
                _ledger(case_id, rng.choice(unit_ids), category_id, rng.choice(region_ids), created, deadline)
                | {"end": "RETURNED", "ended_at": created + timedelta(minutes=1)}
            )
        on_time = replied is not None and replied <= deadline
        ledger_rows.append(
            _ledger(case_id, unit_id, category_id, rng.choice(region_ids), assigned, deadline)
            | {
                "accepted_at": assigned + timedelta(minutes=rng.randint(5, 200)) if status != "DISPATCHED" else None,
                "replies": 1 if replied else 0,
                "replied_at": replied,
                "replied_on_time": on_time if replied else None,
                "handling_hours": rng.uniform(1, 60) if replied else None,
                "reworks": 1 if replied and rng.random() < 0.04 else 0,
                "closed_at": closed,
                "rating": rating,
                "escalation_level": 0 if on_time else rng.choice((0, 1, 2)),
            }
        )
        if len(case_rows) >= CHUNK:
            _flush(case_rows, ledger_rows)
    _flush(case_rows, ledger_rows)
    if db.engine.dialect.name == "postgresql":
        db.session.execute(db.text("SELECT setval('cases_id_seq', (SELECT max(id) FROM cases))"))
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(db.text("VACUUM ANALYZE cases"))
            connection.execute(db.text("VACUUM ANALYZE case_assignments"))
    print(f"generated {cases} cases in {time.perf_counter() - started:.1f} s")


def _ledger(case_id, unit_id, category_id, region_id, assigned, deadline) -> dict:
    return {
        "case_id": case_id,
        "unit_id": unit_id,
        "category_id": category_id,
        "region_id": region_id,
        "assigned_at": assigned,
        "signoff_due_at": assigned + timedelta(hours=2),
        "accepted_at": None,
        "deadline_at": deadline,
        "replies": 0,
        "replied_at": None,
        "replied_on_time": None,
        "late_hours": None,
        "handling_hours": None,
        "reworks": 0,
        "closed_at": None,
        "rating": None,
        "extensions_requested": 0,
        "extensions_granted": 0,
        "escalation_level": 0,
        "ended_at": None,
        "end": None,
    }


def _flush(case_rows: list, ledger_rows: list) -> None:
    if case_rows:
        db.session.execute(db.insert(Case.__table__), case_rows)
    if ledger_rows:
        db.session.execute(db.insert(CaseAssignment.__table__), ledger_rows)
    db.session.commit()
    case_rows.clear()
    ledger_rows.clear()


def timed(name: str, runs: int, call) -> None:
    call()  # warm-up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    print(f"{name:<52} median {statistics.median(times):8.1f} ms   max {max(times):8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--generate", type=int, default=0, help="bulk-load this many cases first")
    parser.add_argument("--extra-units", type=int, default=60)
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the ledger from case_events first")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()

    app = bench_app(args.database_url, REDIS_URL="unix:///nowhere")
    now = datetime.now(UTC).replace(microsecond=0)

    def current() -> datetime:
        # as the API asks, at each call: figures of now (an as_of over a minute old replays the timeline, as a
        # briefing does, which is timed separately below)
        return datetime.now(UTC).replace(microsecond=0)

    with app.test_request_context():
        if args.generate:
            generate(args.generate, args.extra_units, args.seed, now)
        if args.rebuild:
            from backend.services.stats import ledger

            started = time.perf_counter()
            print(f"ledger rebuilt: {ledger.rebuild()} rows in {time.perf_counter() - started:.1f} s")
        cases = db.session.scalar(db.select(db.func.count()).select_from(Case))
        rows = db.session.scalar(db.select(db.func.count()).select_from(CaseAssignment))
        units = db.session.scalar(db.select(db.func.count()).select_from(Unit))
        month = month_of((now.astimezone(UTC) - timedelta(days=now.day + 1)).date())
        scope = figures.Filters()
        in_month = figures.grouped(month, "unit", scope, current())
        print(f"{db.engine.dialect.name}: {cases} cases, {rows} ledger rows, {units} units; month {month.label}:")
        print(f"  {sum(r['received'] for r in in_month.values())} received by {len(in_month)} units")
        some_unit = next(iter(k for k in in_month if k is not None), None)
        timed(
            "figures, every unit, one month (/admin/stats/units)",
            args.runs,
            lambda: figures.table(month, "unit", scope, current()),
        )
        timed("figures by category, one month", args.runs, lambda: figures.table(month, "category", scope, current()))
        timed("ranking, one month (/admin/stats/ranking)", args.runs, lambda: ranking.ranking(month, scope, current()))
        timed(
            "one unit's figures and rank (/unit/stats)",
            args.runs,
            lambda: ranking.unit_view(some_unit, month, scope, current()),
        )
        timed("daily trend, one month (/admin/stats/trend)", args.runs, lambda: figures.trend(month, scope))
        timed("hotspots, one month (/admin/stats/hotspots)", args.runs, lambda: figures.hotspots(month, scope))
        timed(
            "briefing contents, one month, as of now",
            max(1, args.runs // 5),
            lambda: briefings.contents(BriefingKind.MONTHLY, month, current()),
        )
        timed(
            "figures, every unit, as of the month's end",
            args.runs,
            lambda: figures.table(month, "unit", scope, month.end_at),
        )
        timed(
            "briefing contents, as of the month's end (as made)",
            max(1, args.runs // 5),
            lambda: briefings.contents(BriefingKind.MONTHLY, month, month.end_at),
        )
        if db.engine.dialect.name == "postgresql":
            query = (
                db.select(CaseAssignment.unit_id, *figures._aggregates(current()))
                .where(figures._cohort(month))
                .group_by(CaseAssignment.unit_id)
            )
            compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
            plan = db.session.execute(db.text(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}")).scalars().all()
            print("\n".join(plan))


if __name__ == "__main__":
    main()
