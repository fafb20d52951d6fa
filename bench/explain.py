"""EXPLAIN ANALYZE of every periodic query and every list filter, as the services really run them.

    .venv/bin/python -m bench.explain --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_scale

Fill the database first with `bench/generate.py`. The script upgrades the schema to head (so new indexes are
built), then calls each service function read-only (supervision's step selections, the sweep's selections, the
health backlog, the supervision board, the reward figures and signals, every list with each filter), records the
SELECT statements it sends, and runs `EXPLAIN (ANALYZE, BUFFERS)` on each with the same parameters. It prints one
line per statement that reads a big table (`#` is the statement's number within the call): the execution time,
the rows read from big tables (returned or filtered out, over all loops), the indexes used and any sequential
scan of a big table. Statements about a whole table by design (unfiltered list totals, all-time reward figures)
are marked "(all)"; any other sequential scan of a big table makes the script exit 1.
"""

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import event

# no filter: the statement is about the whole table (a list's unfiltered total, the all-time reward figures)
WHOLE = "(all) "
BIG = {"cases", "case_events", "photos", "notifications", "reward_claims", "ledger_entries", "payout_items"}


def _walk(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _walk(child)


def _summary(plan: dict) -> tuple[list[str], list[str], int]:
    """Indexes used, big tables scanned sequentially, and rows read from big tables (kept or filtered out)."""
    indexes, seq, read = [], [], 0
    for node in _walk(plan):
        if node.get("Index Name"):
            indexes.append(node["Index Name"])
        if node.get("Relation Name") in BIG:
            if node["Node Type"] == "Seq Scan":
                seq.append(node["Relation Name"])
            loops = node.get("Actual Loops", 1)
            read += (node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)) * loops
    return sorted(set(indexes)), sorted(set(seq)), read


def scenarios(now: datetime) -> list[tuple[str, Callable]]:
    from backend.extensions import db
    from backend.models import (
        Case,
        CaseStatus,
        Category,
        Channel,
        ClaimStatus,
        DeliveryStatus,
        RewardClaim,
        RewardRule,
        Unit,
    )
    from backend.services import health, recovery
    from backend.services.casework import cases, extensions, supervision
    from backend.services.casework.supervision import PAGE
    from backend.services.notifications import delivery, inbox
    from backend.services.rewards import claims as reward_claims
    from backend.services.rewards import payouts
    from backend.services.rewards import rules as reward_rules
    from backend.services.rewards import signals as reward_signals

    unit_id = db.session.scalar(db.select(Unit.id).where(Unit.code == "renhe-ecology"))
    category = db.session.scalar(db.select(Category.code).join(RewardRule, RewardRule.category_id == Category.id))
    reporter = db.session.scalar(db.select(Case.reporter_id).order_by(Case.id.desc()).limit(1))
    claimant = db.session.scalar(db.select(RewardClaim.user_id).limit(1))
    newest = db.session.scalar(db.select(db.func.max(Case.id)))
    closed = db.session.scalar(
        db.select(Case.id)
        .join(RewardRule, RewardRule.category_id == Case.category_id)
        .where(Case.status == CaseStatus.CLOSED)
        .order_by(Case.id.desc())
        .limit(1)
    )

    def sweep():
        try:
            recovery.sweep_stuck()
        except Exception as exc:  # the selections ran; enqueueing needs Redis, which the bench does not have
            db.session.rollback()
            return type(exc).__name__

    def signals():
        case = db.session.get(Case, closed)
        return reward_signals.signals_for(case, reward_rules.rule_for(case.category, case.created_at))

    periodic = [
        (f"supervision: {step}", lambda q=query: db.session.scalars(q.order_by(Case.id).limit(PAGE)).all())
        for step, query in supervision.due(now).items()
    ]
    periodic += [
        ("sweep: stuck cases, photos, notifications, payouts, reward checks", sweep),
        ("health: backlog", health.report),
        ("poll payouts in flight", payouts.poll_in_flight),
        ("reward signals of a closed case", signals),
    ]
    admin = [
        ("supervision board (page 1)", lambda: supervision.overview(now)),
        ("supervision board (page 5)", lambda: supervision.overview(now, page=5)),
        (WHOLE + "reward figures", payouts.figures),
    ]
    lists = [
        (WHOLE + "admin cases", lambda: cases.list_for_dispatcher(1, 50)),
        (WHOLE + "admin cases page 200", lambda: cases.list_for_dispatcher(200, 50)),
        ("admin cases ?status=processing", lambda: cases.list_for_dispatcher(1, 50, status=CaseStatus.PROCESSING)),
        ("admin cases ?unit_id", lambda: cases.list_for_dispatcher(1, 50, unit_id=unit_id)),
        (
            "admin cases ?unit_id&status=dispatched",
            lambda: cases.list_for_dispatcher(1, 50, status=CaseStatus.DISPATCHED, unit_id=unit_id),
        ),
        (f"admin cases ?category={category}", lambda: cases.list_for_dispatcher(1, 50, category=category)),
        ("admin cases ?needs_review=true", lambda: cases.list_for_dispatcher(1, 50, needs_review=True)),
        ("admin case view", lambda: cases.for_dispatcher(newest)),
        ("unit cases", lambda: cases.list_for_unit(unit_id, 1, 50)),
        ("unit cases ?status=dispatched", lambda: cases.list_for_unit(unit_id, 1, 50, CaseStatus.DISPATCHED)),
        ("unit cases ?role=lead", lambda: cases.list_for_unit(unit_id, 1, 50, role="lead")),
        ("unit cases ?role=co", lambda: cases.list_for_unit(unit_id, 1, 50, role="co")),
        ("my reports", lambda: cases.list_for_reporter(reporter, 1, 50)),
        (WHOLE + "admin notifications", lambda: delivery.listing(1, 50)),
        ("admin notifications ?status=failed", lambda: delivery.listing(1, 50, status=DeliveryStatus.FAILED)),
        ("admin notifications ?channel=webhook", lambda: delivery.listing(1, 50, channel=Channel.WEBHOOK)),
        ("dispatch inbox ?unread=true", lambda: inbox.listing(None, 1, 50, unread=True)),
        ("unit notifications", lambda: inbox.listing(unit_id, 1, 50)),
        ("unit notifications ?unread=true", lambda: inbox.listing(unit_id, 1, 50, unread=True)),
        ("pending extensions", lambda: extensions.pending(1, 50)),
        (WHOLE + "reward claims", lambda: reward_claims.list_claims(1, 50)),
        ("reward claims ?status=pending", lambda: reward_claims.list_claims(1, 50, status=ClaimStatus.PENDING)),
        ("reward claims ?user_id", lambda: reward_claims.list_claims(1, 50, user_id=claimant)),
        ("citizen's rewards (/rewards/mine)", lambda: reward_claims.citizen_summary(claimant)),
        ("payout batches", lambda: payouts.list_batches(1, 50)),
    ]
    return [("periodic", *s) for s in periodic] + [("admin", *s) for s in admin] + [("list", *s) for s in lists]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--now", type=datetime.fromisoformat, default=None, help="default: now")
    parser.add_argument("--json", help="also write the plans to this file")
    args = parser.parse_args()
    now = args.now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)

    from flask_migrate import upgrade

    from backend.extensions import db
    from bench.app import bench_app

    app = bench_app(args.database_url)
    captured: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            captured.append((statement, parameters))

    failures, dump = 0, []
    with app.test_request_context():
        upgrade()
        raw = db.engine.raw_connection()
        cursor = raw.driver_connection.cursor()
        cursor.execute("SELECT count(*) FROM cases")
        print(f"cases: {cursor.fetchone()[0]:,}   now: {now.isoformat(timespec='seconds')}")
        print(f"{'kind':8} {'what':52} {'#':>2} {'ms':>8} {'rows':>9}  indexes (SEQ SCAN of a big table)")
        for kind, label, call in scenarios(now):
            captured.clear()
            event.listen(db.engine, "before_cursor_execute", record)
            try:
                call()
            finally:
                event.remove(db.engine, "before_cursor_execute", record)
                db.session.rollback()
            for number, (statement, parameters) in enumerate(captured, start=1):
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, parameters)
                result = cursor.fetchone()[0]
                result = result if isinstance(result, list) else json.loads(result)
                plan = result[0]
                indexes, seq, read = _summary(plan["Plan"])
                touched = {n.get("Relation Name") for n in _walk(plan["Plan"])} & BIG
                if not touched:
                    continue  # catalogue tables (units, categories, calendar, rules): a few dozen rows
                whole = label.startswith(WHOLE)
                failures += bool(seq) and not whole
                flag = f"  SEQ SCAN {', '.join(seq)}{' (whole table, no filter)' if whole else ''}" if seq else ""
                print(
                    f"{kind:8} {label[:52]:52} {number:>2} {plan['Execution Time']:8.2f} {read:>9}  "
                    f"{', '.join(indexes) or '-'}{flag}"
                )
                dump.append({"kind": kind, "what": label, "statement": statement, "plan": plan})
        raw.close()
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(dump, handle, indent=1, default=str)
    print(f"statements with a filter that scan a big table sequentially: {failures}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
