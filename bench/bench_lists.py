"""Server time of the hot read paths (case lists and a case view) on a big database.

    .venv/bin/python -m bench.bench_lists --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_scale

Fill the database first with `python -m bench.generate` (1 M cases); the script upgrades its schema. Requests go
through the whole Flask stack in-process (routing, auth, the query, serialisation), without an HTTP server or
network, so the figures are the server's own time per request. Each path gets warm-up requests, then --runs timed
ones; the script prints median, p95, the median CPU time of this process (Python's share; PostgreSQL's is in its
own process) and the SQL statements per request, and exits 1 if a p95 is over --goal-ms. The load average is
printed with the figures: on a busy box wall times grow with it.
"""

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta

from flask_migrate import upgrade
from sqlalchemy import event

from backend import settle_heap
from backend.auth import CITIZEN, STAFF, issue_token
from backend.extensions import db
from backend.models import Case, CaseStatus, Staff, StaffRole, Unit
from backend.models.types import LOCAL_TZ, utcnow
from bench import calibrate
from bench.app import bench_app


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _subjects() -> dict:
    busiest_unit = db.session.execute(
        db.select(Case.unit_id, db.func.count())
        .where(Case.status == CaseStatus.PROCESSING)
        .group_by(Case.unit_id)
        .order_by(db.func.count().desc())
        .limit(1)
    ).first()[0]
    unit_staff = db.session.scalar(
        db.select(Staff).where(Staff.unit_id == busiest_unit, Staff.role == StaffRole.UNIT_STAFF).limit(1)
    )
    dispatcher = db.session.scalar(db.select(Staff).where(Staff.role == StaffRole.DISPATCHER).limit(1))
    reporter = db.session.execute(
        db.select(Case.reporter_id, db.func.count())
        .group_by(Case.reporter_id)
        .order_by(db.func.count().desc())
        .limit(1)
    ).first()[0]
    unit_case = db.session.scalar(db.select(db.func.max(Case.id)).where(Case.unit_id == busiest_unit))
    middle = db.session.scalar(db.select(db.func.max(Case.id))) // 2
    return {
        "unit_id": busiest_unit,
        "unit_code": db.session.get(Unit, busiest_unit).code,
        "unit": issue_token(STAFF, unit_staff.id),
        "dispatcher": issue_token(STAFF, dispatcher.id),
        "citizen": issue_token(CITIZEN, reporter),
        "reporter_case": db.session.scalar(db.select(db.func.max(Case.id)).where(Case.reporter_id == reporter)),
        "unit_case": unit_case,
        "middle_id": middle,
    }


def _paths(s: dict, per_page: int) -> list[tuple[str, str, str]]:
    week_ago = (utcnow() - timedelta(days=7)).astimezone(LOCAL_TZ).date()
    pp = f"per_page={per_page}"
    unit_processing = f"unit_id={s['unit_id']}&status=processing"
    return [
        ("unit list", "unit", f"/api/v1/unit/cases?{pp}"),
        ("unit list, processing", "unit", f"/api/v1/unit/cases?status=processing&{pp}"),
        ("unit list, deep keyset page", "unit", f"/api/v1/unit/cases?after_id={s['middle_id']}&{pp}"),
        ("dispatcher list", "dispatcher", f"/api/v1/admin/cases?{pp}"),
        ("dispatcher, pending", "dispatcher", f"/api/v1/admin/cases?status=pending&{pp}"),
        (
            "dispatcher, unit + processing",
            "dispatcher",
            f"/api/v1/admin/cases?{unit_processing}&{pp}",
        ),
        ("dispatcher, category", "dispatcher", f"/api/v1/admin/cases?category=dust&{pp}"),
        ("dispatcher, needs review", "dispatcher", f"/api/v1/admin/cases?needs_review=true&{pp}"),
        ("dispatcher, last 7 days", "dispatcher", f"/api/v1/admin/cases?created_from={week_ago}&{pp}"),
        ("dispatcher, deep keyset page", "dispatcher", f"/api/v1/admin/cases?after_id={s['middle_id']}&{pp}"),
        ("my reports", "citizen", f"/api/v1/reports/mine?{pp}"),
        ("case view (citizen)", "citizen", f"/api/v1/reports/{s['reporter_case']}"),
        ("case view (unit)", "unit", f"/api/v1/unit/cases/{s['unit_case']}"),
        ("case view (dispatcher)", "dispatcher", f"/api/v1/admin/cases/{s['unit_case']}"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--per-page", type=int, default=50)
    parser.add_argument("--goal-ms", type=float, default=20.0)
    args = parser.parse_args()

    app = bench_app(args.database_url)
    client = app.test_client()
    with app.app_context():
        upgrade()  # the indexes the lists need come with the migrations
        subjects = _subjects()
        cases = db.session.scalar(db.select(db.func.count()).select_from(Case))
        engine = db.engine
    settle_heap()  # as wsgi.py does in every gunicorn worker
    statements = []
    event.listen(engine, "before_cursor_execute", lambda *a, **k: statements.append(a[2]))
    print(f"{cases:,} cases; unit {subjects['unit_code']} (the most cases in processing); {args.runs} runs per path")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {calibrate.describe()}")
    print(f"{'path':34s} {'items':>5s} {'total':>9s} {'p50 ms':>7s} {'p95 ms':>7s} {'CPU ms':>7s} {'SQL':>4s}")
    over = []
    for name, who, path in _paths(subjects, args.per_page):
        headers = {"Authorization": f"Bearer {subjects[who]}"}
        for _ in range(args.warmup):
            response = client.get(path, headers=headers)
            assert response.status_code == 200, (path, response.status_code, response.get_data(as_text=True)[:300])
        timings, cpu = [], []
        for _ in range(args.runs):
            statements.clear()
            started, started_cpu = time.perf_counter(), time.process_time()
            response = client.get(path, headers=headers)
            timings.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
        body = response.json
        items = len(body["items"]) if "items" in body else 1
        total = body.get("total", "")
        p50, p95 = statistics.median(timings), _percentile(timings, 0.95)
        print(
            f"{name:34s} {items:5d} {total!s:>9s} {p50:7.1f} {p95:7.1f} {statistics.median(cpu):7.1f}"
            f" {len(statements):4d}"
        )
        if p95 > args.goal_ms:
            over.append(name)
    print(f"after: {calibrate.describe()}")
    if over:
        print(f"over the {args.goal_ms:g} ms p95 goal: {', '.join(over)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
