"""How fast can a create be on this box at all? Our API beside WSGI apps that do less and less of it.

Runs, in one stack and with one client (bench_creates.py's: concurrency 8, a new connection per request, the
300 KB photo with the report's fields as one multipart POST, gunicorn with 2 sync workers, PostgreSQL and
Redis of the stack's own), one level after another:

    http              gunicorn reads the body, answers 201 (no framework)
    flask             + Flask, werkzeug's multipart parse, a JSON answer
    store             + SHA-256, the file write, BEGIN / INSERT … RETURNING / COMMIT (psycopg), RPUSH to Redis
    store-sqlalchemy  the same, the INSERT through SQLAlchemy Core
    ours              our POST /api/v1/reports (token, rate limits, idempotency key, category, schema,
                      photo header check, case + event + photo rows, two jobs)

bench/floor_app.py holds the floor apps. The levels run back to back (`--rounds` repeats the sequence), so
their ratios hold whatever the shared box's speed is at the time; each prints creates/s, the ratio to the
peer's 173/s and the CPU per create of the API, PostgreSQL, Redis and the client.

    .venv/bin/python -m bench.floor                   # all levels, 15 s each (about 2 min)
    .venv/bin/python -m bench.floor --levels store,ours --rounds 3
"""

import argparse
import os
import sys

import psutil
import psycopg

from bench import calibrate
from bench.bench_creates import PEER_CREATES_PER_SECOND, load_stack, login, measure, photo_300k
from bench.chaos import Stack
from bench.floor_app import CREATE_TABLE

LEVELS = ("http", "flask", "store", "store-sqlalchemy", "ours")


def run_level(stack: Stack, level: str, photo: bytes, args) -> dict:
    if level == "ours":
        stack.api_start()
        tokens = login(stack.api_port, args.citizens)
    else:
        stack.env["FLOOR_LEVEL"] = level
        stack.api_start("bench.floor_app:app", ready="/")
        tokens = ["-"]
    try:
        return measure(stack, tokens, photo, args, one_request=True)
    finally:
        stack.api_stop()


def print_row(level: str, figures: dict) -> None:
    cpu = figures["cpu_ms"]
    server = cpu["api"] + cpu["postgres"] + cpu["redis"]
    errors = f"  errors {figures['errors']}" if figures["errors"] else ""
    print(
        f"{level:<17} {figures['per_second']:8.1f} {figures['per_second'] / PEER_CREATES_PER_SECOND:6.2f}× "
        f"{cpu['api']:7.2f} {cpu['postgres']:6.2f} {cpu['redis']:6.2f} {cpu['bench client']:7.2f} "
        f"{server + cpu['bench client']:7.2f} {psutil.cpu_count() * 1000 / server:8.0f}{errors}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default=",".join(LEVELS), help=f"comma-separated, of: {', '.join(LEVELS)}")
    parser.add_argument("--seconds", type=float, default=15, help="measured seconds per level")
    parser.add_argument("--warmup", type=float, default=3, help="unmeasured seconds of load before each")
    parser.add_argument("--rounds", type=int, default=1, help="run the sequence of levels this many times")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--citizens", type=int, default=64)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs)")
    args = parser.parse_args()
    args.py_spy = None
    levels = [level.strip() for level in args.levels.split(",") if level.strip()]
    if not levels or set(levels) - set(LEVELS):
        parser.error(f"--levels: of {', '.join(LEVELS)}")

    stack = load_stack("ssp-floor-")
    try:
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {calibrate.describe()}")
        stack.pg_init()
        stack.redis_start()
        stack.migrate_and_seed()
        with psycopg.connect(stack.env["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")) as db:
            db.execute(CREATE_TABLE)
        photo = photo_300k()
        print(
            f"300 KB photo ({len(photo) / 1000:.0f} kB) and the report's fields in one multipart POST, "
            f"concurrency {args.concurrency}, gunicorn 2 sync workers, {args.seconds:g} s per level "
            f"after {args.warmup:g} s of warm-up; 3× the peer is {3 * PEER_CREATES_PER_SECOND:.0f}/s"
        )
        print(
            f"\n{'level':<17} {'creates/s':>8} {'×peer':>7} {'CPU ms per create: API':>7} "
            f"{'PG':>6} {'Redis':>6} {'client':>7} {'all':>7} {'at most/s':>8}"
        )
        for _ in range(args.rounds):
            for level in levels:
                print_row(level, run_level(stack, level, photo, args))
        print(
            "\n'at most/s' is 2 cores divided by the server's CPU per create (API, PostgreSQL, Redis), the client "
            "left aside;"
        )
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {calibrate.describe()}")
        return 0
    finally:
        stack.close(keep=args.keep)


if __name__ == "__main__":
    sys.exit(main())
