"""A city's year of reports in a PostgreSQL database, for EXPLAIN and the list/stats benchmarks.

    .venv/bin/python -m bench.generate --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_scale

Reproducible: the same --seed and --cases give the same rows (times are relative to --now, default the start of
the current hour, so a re-run an hour later shifts everything by an hour; pass --now to pin it). The schema comes
from the migrations (upgrade to head) and the demo district (units, categories, staff); every row this script
wrote before is replaced. Rows go in with COPY, with the secondary indexes dropped during the load and rebuilt
after it, then VACUUM (ANALYZE).

What it writes (default 1,000,000 cases over 12 months, ids in time order):
- cases across all demo units and leaf categories; status by age (recent ones open, older ones mostly closed, a
  tail of overdue stragglers under 督办), deadlines, sign-off deadlines, ratings, needs_review, co-units;
- case_events for each step a case went through (submitted, dispatched, accepted, replied, rated, closed …);
- photos (1–3 per case, ready; the last minutes' still received; some never attached);
- notifications (the unit's in-app row and the citizen's subscribe message per dispatched case, some failed);
- reward rules on three categories, claims for their closed cases, ledger entries, monthly offline payouts;
- pending extension requests.
"""

import argparse
import hashlib
import io
import random
import time
from datetime import UTC, datetime, timedelta

CITIZENS_PER_CASE = 0.1  # 100,000 citizens for 1 M cases
BIG_TABLES = [
    "case_co_units",
    "ledger_entries",
    "payout_items",
    "payout_batches",
    "reward_claims",
    "extension_requests",
    "notifications",
    "photos",
    "case_events",
    "cases",
]


class Copier:
    """Buffers rows as COPY text and sends them in large chunks (the caller flushes, parents first)."""

    def __init__(self, cursor, table: str, columns: list[str]):
        self.cursor, self.table, self.columns = cursor, table, columns
        self.buffer = io.StringIO()
        self.rows = 0

    def add(self, *values) -> None:
        # COPY text: \N is NULL; str() of a datetime, float or bool is what PostgreSQL parses
        self.buffer.write("\t".join(["\\N" if v is None else str(v) for v in values]) + "\n")
        self.rows += 1

    def flush(self) -> None:
        data = self.buffer.getvalue()
        if data:
            with self.cursor.copy(f"COPY {self.table} ({', '.join(self.columns)}) FROM STDIN") as copy:
                copy.write(data)
        self.buffer = io.StringIO()


def _status_mix(age_days: float) -> list[tuple[str, float]]:
    if age_days < 2:
        return [("PENDING", 0.05), ("DISPATCHED", 0.30), ("PROCESSING", 0.50), ("REPLIED", 0.15)]
    if age_days < 30:
        return [("DISPATCHED", 0.02), ("PROCESSING", 0.10), ("REPLIED", 0.08), ("CLOSED", 0.74), ("REJECTED", 0.06)]
    return [
        ("DISPATCHED", 0.001),
        ("PROCESSING", 0.005),
        ("REPLIED", 0.002),
        ("CLOSED", 0.912),
        ("REJECTED", 0.07),
        ("MERGED", 0.01),
    ]


def _pick(rng: random.Random, mix: list[tuple[str, float]]) -> str:
    x = rng.random() * sum(weight for _, weight in mix)
    for value, weight in mix:
        x -= weight
        if x <= 0:
            return value
    return mix[-1][0]


def _hex(rng: random.Random, chars: int) -> str:
    return f"{rng.getrandbits(chars * 4):0{chars}x}"


def generate(database_url: str, cases: int, seed: int, now: datetime, months: int = 12) -> dict:
    from flask_migrate import upgrade

    from backend.extensions import db
    from backend.models import Category, RewardRule, Staff, StaffRole, Unit
    from backend.services.responsibility import demo_district
    from bench.app import bench_app

    app = bench_app(database_url)
    counts: dict[str, int] = {}
    started = time.perf_counter()
    with app.app_context():
        upgrade()
        db.session.execute(db.text(f"TRUNCATE {', '.join(BIG_TABLES)}, reward_rules RESTART IDENTITY CASCADE"))
        db.session.execute(db.text("DELETE FROM users WHERE openid LIKE 'bench-%'"))
        db.session.commit()
        demo_district.load()
        demo_district.create_demo_staff()
        db.session.commit()
        units = {u.code: u for u in db.session.scalars(db.select(Unit))}
        staff_of = {s.unit_id: s.id for s in db.session.scalars(db.select(Staff).where(Staff.unit_id.is_not(None)))}
        dispatcher = db.session.scalar(db.select(Staff.id).where(Staff.role == StaffRole.DISPATCHER))
        leaves = [c for c in db.session.scalars(db.select(Category).order_by(Category.id)) if c.parent_id]
        leaves += [c for c in db.session.scalars(db.select(Category).where(Category.parent_id.is_(None)))]
        categories = [(c.id, c.effective_deadline_hours or 48) for c in leaves]
        rule_categories = [c.id for c in leaves[:3]]
        for category_id in rule_categories:
            db.session.add(RewardRule(category_id=category_id, amount_fen=500, daily_cap_fen=3000))
        db.session.commit()
        rules = dict(db.session.execute(db.select(RewardRule.category_id, RewardRule.id)).all())
        handling = [u.id for u in units.values() if u.id in staff_of]
        citizens = max(1, int(cases * CITIZENS_PER_CASE))

        pooled = db.engine.raw_connection()
        raw = pooled.driver_connection
        try:
            cursor = raw.cursor()
            # drop the secondary indexes during the load; rebuild them after it
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = ANY(%s)"
                " AND indexname NOT IN (SELECT conname FROM pg_constraint)",
                ([*BIG_TABLES, "users"],),
            )
            index_defs = cursor.fetchall()
            for name, _ in index_defs:
                cursor.execute(f"DROP INDEX {name}")
            cursor.execute("SELECT coalesce(max(id), 0) FROM users")
            first_user = cursor.fetchone()[0] + 1
            users = Copier(cursor, "users", ["id", "openid", "created_at", "last_login_at"])
            start = now - timedelta(days=30 * months)
            for n in range(citizens):
                users.add(first_user + n, f"bench-{n}", start, now)
            users.flush()

            counts = _load(
                cursor, cases, seed, now, start, first_user, citizens, categories, handling, staff_of, dispatcher, rules
            )
            counts["users"] = citizens
            for _name, definition in index_defs:
                cursor.execute(definition)
            for table in [*BIG_TABLES, "users"]:
                if table != "case_co_units":
                    sequence = f"pg_get_serial_sequence('{table}', 'id')"
                    cursor.execute(f"SELECT setval({sequence}, (SELECT coalesce(max(id), 1) FROM {table}))")
            raw.commit()
        finally:
            pooled.close()
        db.session.remove()
        db.engine.dispose()
        _vacuum(db.engine)
    counts["seconds"] = round(time.perf_counter() - started, 1)
    return counts


def _vacuum(engine) -> None:
    """Statistics, and the visibility map that index-only scans need. From a fresh connection once every other
    one is closed: a transaction of ours still open keeps the new rows from counting as visible to all, and the
    vacuum then marks no page (index-only scans fall back to reading the heap)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM (ANALYZE)")
        pages, visible = connection.exec_driver_sql(
            "SELECT relpages, relallvisible FROM pg_class WHERE relname = 'cases'"
        ).one()
    if pages and visible < pages * 0.9:
        print(f"warning: only {visible} of {pages} pages of cases are all-visible (a long transaction elsewhere?)")


def _load(cursor, n_cases, seed, now, start, first_user, citizens, categories, handling, staff_of, dispatcher, rules):
    rng = random.Random(seed)
    span = (now - start).total_seconds()
    case_cols = [
        "id", "reporter_id", "category_id", "description", "lat", "lng", "coord", "wgs84_lat", "wgs84_lng",
        "address", "status", "routing_status", "unit_id", "deadline_at", "signoff_deadline_at", "reminded_at",
        "signoff_overdue_at", "overdue_at", "escalation_level", "escalated_at", "replied_at", "rating", "rated_at",
        "needs_review", "created_at", "updated_at", "closed_at", "version", "merged_into_id",
    ]  # fmt: skip
    cases = Copier(cursor, "cases", case_cols)
    events = Copier(
        cursor,
        "case_events",
        [
            "id",
            "case_id",
            "type",
            "at",
            "actor_kind",
            "staff_id",
            "unit_id",
            "from_status",
            "to_status",
            "note",
            "data",
        ],
    )
    photos = Copier(
        cursor,
        "photos",
        ["id", "uploader_user_id", "status", "format", "byte_size", "width", "height", "sha256", "phash",
         "original_key", "display_key", "thumb_key", "case_id", "created_at", "processed_at"],
    )  # fmt: skip
    notes = Copier(
        cursor,
        "notifications",
        ["id", "created_at", "kind", "channel", "case_id", "user_id", "unit_id", "payload", "dedupe_key", "status",
         "attempts", "last_error", "sent_at", "read_at"],
    )  # fmt: skip
    co_units = Copier(cursor, "case_co_units", ["case_id", "unit_id"])
    claims = Copier(
        cursor,
        "reward_claims",
        ["id", "case_id", "user_id", "rule_id", "amount_fen", "status", "signals", "decision_reason",
         "decided_by_id", "decided_at", "created_at", "updated_at", "version"],
    )  # fmt: skip
    ledger = Copier(
        cursor,
        "ledger_entries",
        ["id", "user_id", "claim_id", "payout_item_id", "kind", "amount_fen", "staff_id", "note", "created_at"],
    )
    extensions = Copier(
        cursor,
        "extension_requests",
        ["id", "case_id", "unit_id", "requested_by_id", "reason", "extra_working_hours", "status", "created_at",
         "decision_note"],
    )  # fmt: skip
    event_id = photo_id = note_id = claim_id = ledger_id = extension_id = 0
    paid: dict[str, list[tuple[int, int, int, datetime]]] = {}  # month → (claim, user, amount, paid at)
    hour = timedelta(hours=1)

    def event(case_id, kind, at, actor, staff=None, unit=None, before=None, after=None, note="", data="{}"):
        nonlocal event_id
        event_id += 1
        events.add(event_id, case_id, kind, at, actor, staff, unit, before, after, note, data)
        return event_id

    for case_id in range(1, n_cases + 1):
        if case_id % 20_000 == 0:
            for copier in (cases, events, photos, notes, co_units, claims, ledger, extensions):
                copier.flush()
        created = start + timedelta(seconds=span * (case_id - 0.5) / n_cases)
        age_days = (now - created).total_seconds() / 86400
        status = _pick(rng, _status_mix(age_days))
        reporter = first_user + rng.randrange(citizens)
        category_id, hours = categories[rng.randrange(len(categories))]
        lat, lng = 26.45 + rng.random() * 0.1, 101.68 + rng.random() * 0.12
        unit = None if status == "PENDING" else handling[rng.randrange(len(handling))]
        dispatched = created + timedelta(seconds=rng.randrange(5, 600)) if unit else None
        deadline = dispatched + hour * hours * 3 if dispatched else None  # ≈ working hours in clock time
        signoff_deadline = dispatched + 4 * hour if dispatched else None
        accepted = dispatched + timedelta(minutes=rng.randrange(5, 240)) if unit and status != "DISPATCHED" else None
        replied = rated = closed = rating = None
        reminded = signoff_overdue = overdue = escalated = None
        level = 0
        if status in ("REPLIED", "CLOSED"):
            replied = min(accepted + timedelta(hours=rng.uniform(1, hours * 2)), now - timedelta(minutes=1))
        if status == "CLOSED":
            rated = replied + timedelta(hours=rng.uniform(1, 72))
            rating = _pick(rng, [("SATISFIED", 0.85), ("BASIC", 0.1), ("UNSATISFIED", 0.05)])
            closed = rated if rating != "UNSATISFIED" else rated + timedelta(hours=rng.uniform(1, 24))
            if closed > now:
                rated = closed = now - timedelta(minutes=1)
        if status in ("REJECTED", "MERGED"):
            closed = created + timedelta(hours=rng.uniform(0.5, 24))
        if status in ("DISPATCHED", "PROCESSING"):
            if deadline <= now:
                overdue = escalated = deadline + timedelta(minutes=1)
                level = 2 if now - deadline > timedelta(days=3) else 1
                reminded = deadline - 2 * hour
            elif deadline - now < 4 * hour:
                reminded = deadline - 4 * hour if rng.random() < 0.5 else None
            if status == "DISPATCHED" and signoff_deadline <= now:
                signoff_overdue = signoff_deadline
        needs_review = status == "REPLIED" and rng.random() < 0.05
        updated = max(filter(None, (created, dispatched, accepted, replied, closed, escalated)))
        routing = "QUEUED" if status == "PENDING" and rng.random() < 0.3 else ("UNMATCHED" if not unit else "ROUTED")
        cases.add(
            case_id, reporter, category_id, "bench", f"{lat:.6f}", f"{lng:.6f}", "GCJ02", f"{lat - 0.003:.6f}",
            f"{lng - 0.005:.6f}", "", status, routing, unit, deadline, signoff_deadline, reminded, signoff_overdue,
            overdue, level, escalated, replied, rating, rated, needs_review, created, updated, closed, 1,
            (case_id - 1 if status == "MERGED" and case_id > 1 else None),
        )  # fmt: skip
        event(case_id, "SUBMITTED", created, "CITIZEN", None, None, None, "PENDING")
        if rng.random() < 0.02 and unit:
            co_units.add(case_id, handling[(handling.index(unit) + 1) % len(handling)])
        if unit:
            event(case_id, "DISPATCHED", dispatched, "SYSTEM", None, unit, "PENDING", "DISPATCHED", "按规则派遣")
            for channel, kind, user, to_unit in (
                ("IN_APP", "case_assigned", None, unit),
                ("WECHAT_SUBSCRIBE", "case_dispatched", reporter, None),
            ):
                note_id += 1
                failed = rng.random() < 0.01
                sent = None if failed else dispatched + timedelta(seconds=3)
                read = sent + hour if sent and channel == "IN_APP" and age_days > 2 else None
                notes.add(
                    note_id, dispatched, kind, channel, case_id, user, to_unit, '{"title": "bench"}',
                    f"case-{case_id}:{kind}:{channel}", "FAILED" if failed else "SENT", 1 if not failed else 5,
                    "HTTP 500" if failed else None, sent, read,
                )  # fmt: skip
        else:
            event(case_id, "ROUTING_UNMATCHED", created, "SYSTEM", None, None, None, None, "没有匹配的规则")
        if accepted:
            event(case_id, "ACCEPTED", accepted, "STAFF", staff_of.get(unit), unit, "DISPATCHED", "PROCESSING")
        if overdue:
            event(case_id, "OVERDUE", overdue, "SYSTEM", None, unit, None, None, "超期督办", f'{{"level": {level}}}')
        if replied:
            event(case_id, "REPLIED", replied, "STAFF", staff_of.get(unit), unit, "PROCESSING", "REPLIED", "已处理")
        if rated:
            event(case_id, "RATED", rated, "CITIZEN", data=f'{{"rating": "{rating.lower()}"}}')
        if closed:
            kind = "REJECTED" if status == "REJECTED" else "CLOSED"
            event(case_id, kind, closed, "STAFF", dispatcher, None, None, status)
        # photos: 1–3 per report, the last minutes' copies not made yet
        for _ in range(1 + (rng.random() < 0.3) + (rng.random() < 0.1)):
            photo_id += 1
            fresh = (now - created) < timedelta(minutes=2)
            digest = hashlib.sha256(f"{seed}-{photo_id}".encode()).hexdigest()
            photos.add(
                photo_id, reporter, "RECEIVED" if fresh else "READY", "JPEG", 300_000, 4000, 3000, digest,
                None if fresh else _hex(rng, 16), f"o/{photo_id}", None if fresh else f"d/{photo_id}",
                None if fresh else f"t/{photo_id}", case_id, created - timedelta(seconds=30),
                None if fresh else created,
            )  # fmt: skip
        rule_id = rules.get(category_id)
        if rule_id and status == "CLOSED" and closed < now - timedelta(minutes=5):
            claim_id += 1
            age = now - closed
            state = "PENDING" if age < timedelta(days=3) else _pick(
                rng, [("PAID", 0.8), ("APPROVED", 0.08), ("REJECTED", 0.07), ("HELD", 0.05)]
            )  # fmt: skip
            decided = closed + timedelta(days=1) if state not in ("PENDING", "HELD") else None
            claims.add(
                claim_id, case_id, reporter, rule_id, 500, state, "[]", "", dispatcher if decided else None, decided,
                closed, decided or closed, 1,
            )  # fmt: skip
            if state in ("PAID", "APPROVED"):
                ledger_id += 1
                ledger.add(ledger_id, reporter, claim_id, None, "GRANTED", 500, dispatcher, "", decided)
            if state == "PAID":
                paid.setdefault(decided.strftime("%Y-%m"), []).append((claim_id, reporter, 500, decided))
        if status in ("PROCESSING",) and rng.random() < 0.02:
            extension_id += 1
            extensions.add(
                extension_id, case_id, unit, staff_of.get(unit), "需要协调", 8, "PENDING", accepted or created, ""
            )
    for copier in (cases, events, photos, notes, co_units, claims, ledger, extensions):
        copier.flush()
    # one offline payout batch per month of paid claims, then their paid_out ledger entries
    batches = Copier(cursor, "payout_batches", ["id", "method", "created_by_id", "created_at", "reference", "note"])
    items = Copier(
        cursor,
        "payout_items",
        ["id", "batch_id", "claim_id", "user_id", "out_bill_no", "amount_fen", "status", "attempts", "updated_at",
         "version"],
    )  # fmt: skip
    item_id = 0
    for batch_id, month in enumerate(sorted(paid), start=1):
        rows = paid[month]
        at = max(row[3] for row in rows)
        batches.add(batch_id, "OFFLINE", dispatcher, at, f"凭证{month}", "")
        for claim, user, amount, _decided in rows:
            item_id += 1
            items.add(item_id, batch_id, claim, user, f"SSP{batch_id:08d}C{claim:010d}", amount, "SUCCESS", 0, at, 1)
            ledger_id += 1
            ledger.add(ledger_id, user, claim, item_id, "PAID_OUT", -amount, dispatcher, "线下支付", at)
    batches.flush()
    items.flush()
    ledger.flush()
    return {
        "cases": cases.rows,
        "case_events": events.rows,
        "photos": photos.rows,
        "notifications": notes.rows,
        "case_co_units": co_units.rows,
        "reward_claims": claims.rows,
        "ledger_entries": ledger.rows,
        "payout_items": items.rows,
        "extension_requests": extensions.rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="PostgreSQL only (uses COPY)")
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--now", type=datetime.fromisoformat, default=None, help="ISO time the data ends at")
    args = parser.parse_args()
    if not args.database_url.startswith("postgresql"):
        parser.error("--database-url must be a PostgreSQL URL")
    now = args.now or datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    counts = generate(args.database_url, args.cases, args.seed, now)
    print(" ".join(f"{key}={value}" for key, value in counts.items()))


if __name__ == "__main__":
    main()
