"""The pipeline under a sustained load: how long from a citizen's submission until the case is `dispatched`,
and from the upload until the photo's copies are ready, with two `python -m workers`.

For each worker mode (the resident worker, the default, and RQ's forking worker, `--fork`) it starts a stack
of its own on loopback ports (bench/chaos.py's `Stack`): a PostgreSQL cluster made with initdb in a temporary
directory (or the database given by --database-url, which it upgrades and seeds: never a database you care
about), a redis-server, the API (gunicorn, 2 workers) and two `python -m workers`. Citizens upload an 800x600
JPEG and submit a report with it at a fixed rate (open loop: a slow answer never slows the schedule), then the
script waits for the backlog to drain and reads the times from the database: the DISPATCHED event's time minus
the moment the client sent `POST /reports`, and `photos.processed_at` minus the moment it sent the upload.

    .venv/bin/python -m bench.bench_pipeline                           # 20 reports/s for 60 s, both modes
    .venv/bin/python -m bench.bench_pipeline --rate 5 --seconds 20     # a quick look
    .venv/bin/python -m bench.bench_pipeline --modes resident

It prints, per mode: dispatch p50/p95/max, photo ready p50/p95, the API's answer times, the largest queue
backlog, how late the client fell behind its schedule, CPU seconds of the workers, the API and PostgreSQL
per report, and the load average (the machine may be shared). Read "what saturates first" off those: a
backlog that keeps growing means the workers, a client falling behind or slow answers the API.
"""

import argparse
import math
import os
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests
from redis import Redis

from bench.chaos import Stack, report_body, sample_photo

MODES = {"resident": (), "fork": ("--fork",)}
UNLIMITED = "1000000 per minute"


@dataclass
class Submission:
    upload_sent: float  # time.time()
    report_sent: float = 0.0
    upload_seconds: float = 0.0
    report_seconds: float = 0.0
    late_seconds: float = 0.0  # how long after its scheduled moment the client could start it
    photo_id: int | None = None
    case_id: int | None = None
    error: str = ""


@dataclass
class Sampled:
    """Sampled every half second during the load: the jobs waiting in the queues."""

    backlog: list[int] = field(default_factory=list)


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1)]


def _cpu_seconds(pid: int | None) -> float:
    """CPU time of a process and everything under it, the children it has reaped included."""
    if pid is None:
        return 0.0
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


class Load:
    def __init__(self, stack: Stack, citizens: int):
        self.base = f"http://127.0.0.1:{stack.api_port}/api/v1"
        self.photos = [sample_photo(seed) for seed in range(32)]
        self.local = threading.local()
        self.tokens = [self._login(f"pipeline-{number}") for number in range(citizens)]

    def _session(self) -> requests.Session:
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
        return self.local.session

    def _login(self, openid: str) -> str:
        response = self._session().post(f"{self.base}/auth/dev", json={"openid": openid}, timeout=30)
        response.raise_for_status()
        return response.json()["token"]

    def submit(self, number: int, scheduled: float) -> Submission:
        pause = scheduled - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        submission = Submission(upload_sent=time.time(), late_seconds=max(0.0, time.monotonic() - scheduled))
        headers = {"Authorization": f"Bearer {self.tokens[number % len(self.tokens)]}"}
        photo = self.photos[number % len(self.photos)]
        try:
            began = time.perf_counter()
            uploaded = self._session().post(
                f"{self.base}/photos", headers=headers, files={"file": ("p.jpg", photo, "image/jpeg")}, timeout=60
            )
            submission.upload_seconds = time.perf_counter() - began
            if uploaded.status_code != 201:
                submission.error = f"upload {uploaded.status_code}"
                return submission
            submission.photo_id = uploaded.json()["id"]
            body = report_body(number, [submission.photo_id], "压测举报")
            submission.report_sent = time.time()
            began = time.perf_counter()
            reported = self._session().post(
                f"{self.base}/reports",
                headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
                json=body,
                timeout=60,
            )
            submission.report_seconds = time.perf_counter() - began
            if reported.status_code not in (200, 201):
                submission.error = f"report {reported.status_code}"
                return submission
            submission.case_id = reported.json()["id"]
        except requests.RequestException as exc:
            submission.error = type(exc).__name__
        return submission

    def run(self, rate: float, seconds: float, offset: int = 0) -> list[Submission]:
        count = int(rate * seconds)
        start = time.monotonic() + 0.5
        with ThreadPoolExecutor(64) as pool:
            futures = [pool.submit(self.submit, offset + n, start + n / rate) for n in range(count)]
            return [future.result() for future in futures]


def _sample_backlog(redis: Redis, sampled: Sampled, stopping: threading.Event) -> None:
    from workers.queues import ALL_QUEUES

    while not stopping.is_set():
        sampled.backlog.append(sum(redis.llen(f"rq:queue:{name}") for name in ALL_QUEUES))
        stopping.wait(0.5)


def _outcomes(database_url: str, case_ids: list[int], photo_ids: list[int]) -> tuple[dict, dict]:
    """{case id: (when it was stored, when it was dispatched)}, {photo id: (when it was stored, when its copies
    were ready)}, as Unix times, for those done."""
    from backend.extensions import db
    from backend.models import Case, CaseEvent, CaseStatus, Photo
    from bench.app import bench_app

    app = bench_app(database_url)
    with app.app_context():
        dispatched = {
            case_id: (stored.timestamp(), at.timestamp())
            for case_id, stored, at in db.session.execute(
                db.select(CaseEvent.case_id, Case.created_at, db.func.min(CaseEvent.at))
                .join(Case, Case.id == CaseEvent.case_id)
                .where(CaseEvent.case_id.in_(case_ids), CaseEvent.to_status == CaseStatus.DISPATCHED)
                .group_by(CaseEvent.case_id, Case.created_at)
            )
        }
        ready = {
            photo_id: (stored.timestamp(), at.timestamp())
            for photo_id, stored, at in db.session.execute(
                db.select(Photo.id, Photo.created_at, Photo.processed_at).where(
                    Photo.id.in_(photo_ids), Photo.processed_at.is_not(None)
                )
            )
        }
        db.engine.dispose()
    return dispatched, ready


def _postmaster_pid(stack: Stack) -> int | None:
    pid_file = stack.dir / "pg" / "data" / "postmaster.pid"
    return int(pid_file.read_text().split()[0]) if pid_file.exists() else None


def _wait_for_workers(redis: Redis, count: int) -> None:
    from rq import Worker

    deadline = time.monotonic() + 120
    while len(Worker.all(connection=redis)) < count:
        if time.monotonic() > deadline:
            raise RuntimeError("the workers did not start")
        time.sleep(0.2)


def measure(mode: str, args: argparse.Namespace) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix=f"ssp-pipeline-{mode}-"))
    stack = Stack(workdir, worker_options=MODES[mode], database_url=args.database_url)
    for name in ("SWEEP_INTERVAL_SECONDS", "SWEEP_GRACE_SECONDS"):  # the drill's fast sweep: back to the defaults
        stack.env.pop(name, None)
    stack.env.update(CITIZEN_LOGIN_IP_LIMIT=UNLIMITED, PHOTO_UPLOAD_LIMIT=UNLIMITED, REPORT_SUBMIT_LIMIT=UNLIMITED)
    try:
        if stack.own_postgres:
            stack.pg_init()
        stack.redis_start()
        stack.migrate_and_seed()
        stack.api_start()
        for index in range(len(stack.workers)):
            stack.worker_start(index)
        redis = Redis(port=stack.redis_port)
        _wait_for_workers(redis, len(stack.workers))
        load = Load(stack, citizens=args.citizens)
        load.run(rate=5, seconds=2, offset=10**6)  # warm-up: every process has routed and rendered once
        time.sleep(3)

        sampled, stopping = Sampled(), threading.Event()
        sampler = threading.Thread(target=_sample_backlog, args=(redis, sampled, stopping), daemon=True)
        workers_pids = [worker.pid for worker in stack.workers]
        cpu_before = {
            "workers": sum(_cpu_seconds(pid) for pid in workers_pids),
            "api": _cpu_seconds(stack.api.pid),
            "postgres": _cpu_seconds(_postmaster_pid(stack)),
        }
        load_before = os.getloadavg()[0]
        sampler.start()
        began = time.monotonic()
        submissions = load.run(args.rate, args.seconds)
        load_seconds = time.monotonic() - began
        load_after = os.getloadavg()[0]
        case_ids = [s.case_id for s in submissions if s.case_id]
        photo_ids = [s.photo_id for s in submissions if s.photo_id]
        drain_began = time.monotonic()
        while True:
            dispatched, ready = _outcomes(stack.env["DATABASE_URL"], case_ids, photo_ids)
            done = len(dispatched) == len(case_ids) and len(ready) == len(photo_ids)
            drain_seconds = time.monotonic() - drain_began
            if done or drain_seconds > args.drain_seconds:
                break
            time.sleep(1)
        stopping.set()
        sampler.join()
        cpu = {
            "workers": sum(_cpu_seconds(pid) for pid in workers_pids) - cpu_before["workers"],
            "api": _cpu_seconds(stack.api.pid) - cpu_before["api"],
            "postgres": _cpu_seconds(_postmaster_pid(stack)) - cpu_before["postgres"],
        }
    finally:
        stack.close()

    by_case = {s.case_id: s for s in submissions if s.case_id}
    by_photo = {s.photo_id: s for s in submissions if s.photo_id}
    dispatch = [at - by_case[case_id].report_sent for case_id, (_, at) in dispatched.items()]
    photo = [at - by_photo[photo_id].upload_sent for photo_id, (_, at) in ready.items()]
    return {
        "mode": mode,
        "submitted": len(submissions),
        "errors": sum(1 for s in submissions if s.error),
        "achieved_rate": len(submissions) / load_seconds,
        "dispatch": dispatch,
        "stored_to_dispatched": [at - stored for stored, at in dispatched.values()],
        "stored_to_ready": [at - stored for stored, at in ready.values()],
        "not_dispatched": len(case_ids) - len(dispatched),
        "photo": photo,
        "not_ready": len(photo_ids) - len(ready),
        "upload": [s.upload_seconds for s in submissions if s.photo_id],
        "report": [s.report_seconds for s in submissions if s.case_id],
        "late": [s.late_seconds for s in submissions],
        "backlog_max": max(sampled.backlog, default=0),
        "backlog_end": sampled.backlog[-1] if sampled.backlog else 0,
        "cpu": cpu,
        "loadavg": (load_before, load_after),
        "drain_seconds": drain_seconds,
    }


def _ms(values: list[float], fraction: float) -> str:
    value = _percentile(values, fraction)
    return "-" if math.isnan(value) else f"{value * 1000:,.0f}"


def report(result: dict) -> None:
    n = result["submitted"]
    cpu = result["cpu"]
    print(f"\n== {result['mode']} ({'python -m workers' + (' --fork' if result['mode'] == 'fork' else '')} × 2)")
    print(
        f"submitted {n} at {result['achieved_rate']:.1f}/s, {result['errors']} errors; "
        f"client late p95 {_ms(result['late'], 0.95)} ms, max {_ms(result['late'], 1.0)} ms"
    )
    print(
        f"submission → dispatched  p50 {_ms(result['dispatch'], 0.5)} ms  p95 {_ms(result['dispatch'], 0.95)} ms  "
        f"max {_ms(result['dispatch'], 1.0)} ms  ({result['not_dispatched']} not dispatched)"
    )
    print(
        f"upload → photo ready     p50 {_ms(result['photo'], 0.5)} ms  p95 {_ms(result['photo'], 0.95)} ms  "
        f"max {_ms(result['photo'], 1.0)} ms  ({result['not_ready']} not ready)"
    )
    print(
        f"the workers' part (stored → dispatched, stored → ready): p50/p95 "
        f"{_ms(result['stored_to_dispatched'], 0.5)}/{_ms(result['stored_to_dispatched'], 0.95)} ms, "
        f"{_ms(result['stored_to_ready'], 0.5)}/{_ms(result['stored_to_ready'], 0.95)} ms"
    )
    print(
        f"API answers: upload p50/p95 {_ms(result['upload'], 0.5)}/{_ms(result['upload'], 0.95)} ms, "
        f"report p50/p95 {_ms(result['report'], 0.5)}/{_ms(result['report'], 0.95)} ms"
    )
    print(
        f"queue backlog: max {result['backlog_max']} jobs, {result['backlog_end']} at the end of the load; "
        f"drained within {result['drain_seconds']:.0f} s after it"
    )
    print(
        f"CPU seconds: workers {cpu['workers']:.1f} ({cpu['workers'] / n * 1000:.0f} ms per report), "
        f"API {cpu['api']:.1f} ({cpu['api'] / n * 1000:.0f} ms), PostgreSQL {cpu['postgres']:.1f} "
        f"({cpu['postgres'] / n * 1000:.0f} ms)"
    )
    print(f"load average (1 min) before/after the load: {result['loadavg'][0]:.2f}/{result['loadavg'][1]:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=20.0, help="reports per second")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the load lasts")
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES))
    parser.add_argument("--citizens", type=int, default=100)
    parser.add_argument("--drain-seconds", type=float, default=180, help="longest wait for the backlog")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL database to use (it is upgraded and seeded) instead of a cluster of its own",
    )
    args = parser.parse_args()
    print(f"{args.rate:g} reports/s for {args.seconds:g} s, modes: {', '.join(args.modes)}; {os.cpu_count()} CPUs")
    for mode in args.modes:
        report(measure(mode, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
