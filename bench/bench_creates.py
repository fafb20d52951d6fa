"""Creates per second: a citizen's report with one photo, end to end, sent the two ways the API takes it.

"one": one multipart POST /reports carrying the photo and the report's fields (one wx.uploadFile call), the
shape of the peer's create. "two": POST /photos, then a JSON POST /reports naming the photo.

Starts its own stack the way the resilience drill does (bench/chaos.py: a PostgreSQL cluster made with initdb
in a temporary directory, a redis-server, the API under gunicorn with 2 sync workers, all on loopback ports),
logs in a set of citizens, and at a fixed concurrency uploads a photo and submits a report with it, over and
over, for --seconds per photo size. It prints creates/s, p50/p95 latency of a create (both requests) and of
each request, the CPU the gunicorn processes, PostgreSQL and Redis spent per create, and the ratio to the peer
(a Django/DRF Open311 server doing one multipart create on the same 2-core box: 173 creates/s with a 300 KB
photo; issue 13).

    .venv/bin/python -m bench.bench_creates                     # 300 KB and 12 MP photos, both ways, 20 s each
    .venv/bin/python -m bench.bench_creates --ways one --sizes 300k
    .venv/bin/python -m bench.bench_creates --seconds 30 --sizes 300k
    .venv/bin/python -m bench.bench_creates --with-workers      # RQ workers run during the load, too
    .venv/bin/python -m bench.bench_creates --profile 300       # also cProfile 300 creates in-process
    .venv/bin/python -m bench.bench_creates --py-spy /path/to/py-spy   # sample the gunicorn workers under load

By default no RQ worker runs while the load runs: the jobs (route the case, render the photo) wait in Redis,
so the figures are the API's own cost, as the peer's were. --with-workers starts two `python -m workers`
on the same cores. The box is shared: the script prints the load average before and after; re-run if other
work was running. Everything it starts is stopped and its temporary directory removed at the end.
"""

import argparse
import collections
import cProfile
import http.client
import io
import json
import os
import pstats
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import psycopg

from bench import calibrate
from bench.bench_photos import _exif, _jpeg, _srgb_icc, make_pixels
from bench.chaos import SPOT, Stack, report_body

PEER_CREATES_PER_SECOND = 173.0  # the peer with a 300 KB photo, concurrency 8, 2 gunicorn workers (issue 13)
HIGH_LIMIT = "1000000 per minute; 10000000 per day"  # as many counters as production's limits, never reached


def photo_300k() -> bytes:
    """About 300 KB: 1024x768, camera-like content, EXIF orientation 6, ICC."""
    out = io.BytesIO()
    make_pixels(1024, 768, fine_noise=2.0, seed=7).save(out, "JPEG", quality=86, exif=_exif(6), icc_profile=_srgb_icc())
    return out.getvalue()


def photo_12mp() -> bytes:
    """About 4.3 MB: 4000x3000 at quality 92, as bench_photos makes it."""
    return _jpeg(make_pixels(4000, 3000, fine_noise=2.0), 6)


SIZES = {"300k": ("300 KB", photo_300k), "12mp": ("12 MP", photo_12mp)}


def multipart(data: bytes, fields: dict[str, str] | None = None) -> Callable[[], tuple[bytes, str]]:
    """The body wx.uploadFile sends: formData fields (strings) and one file field named "file".

    Returns a maker: each call gives the body with a fresh boundary, as every real upload has (the server
    compiles its boundary patterns per request; one boundary for all would hide that).
    """

    def make() -> tuple[bytes, str]:
        boundary = uuid.uuid4().hex
        head = "".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            for name, value in (fields or {}).items()
        )
        head += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="photo.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        )
        body = b"".join((head.encode(), data, f"\r\n--{boundary}--\r\n".encode()))
        return body, f"multipart/form-data; boundary={boundary}"

    return make


REPORT_FIELDS = {
    "category": "illegal_ad",
    "description": "压测举报",
    "lat": str(SPOT[0]),
    "lng": str(SPOT[1]),
    "coord": "gcj02",
    "address": "大河中路",
}


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))] if ordered else float("nan")


class CpuMeter:
    """CPU seconds (user + system) of a process tree; processes that come and go count while seen."""

    def __init__(self, root_pid: int, tree: bool = True):
        self.root = psutil.Process(root_pid)
        self.tree = tree

    def _times(self) -> dict[int, float]:
        times = {}
        for process in [self.root, *(self.root.children(recursive=True) if self.tree else [])]:
            try:
                cpu = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            times[process.pid] = cpu.user + cpu.system
        return times

    def start(self) -> None:
        self.began = self._times()

    def seconds(self) -> float:
        return sum(now - self.began.get(pid, 0.0) for pid, now in self._times().items())


@dataclass
class Results:
    creates: list[tuple[float, float, float, float]] = field(default_factory=list)  # start, end, upload, submit
    errors: dict[str, int] = field(default_factory=dict)


class Load:
    """`concurrency` threads, each a citizen after another: upload, then submit with a fresh Idempotency-Key; or
    (one_request) the report with its photo in one request, also with a fresh key."""

    def __init__(
        self,
        port: int,
        tokens: list[str],
        body: Callable[[], tuple[bytes, str]],
        concurrency: int,
        one_request: bool,
    ):
        self.one_request = one_request
        self.port = port
        self.tokens = tokens
        self.body = body
        self.concurrency = concurrency
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.results = Results()

    def _request(self, method: str, path: str, body: bytes, headers: dict) -> tuple[int, bytes]:
        # gunicorn's sync workers close every connection after one answer: a new connection per request
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(method, "/api/v1" + path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def _error(self, what: str) -> None:
        with self.lock:
            self.results.errors[what] = self.results.errors.get(what, 0) + 1

    def _one(self, number: int, token: str) -> None:
        auth = {"Authorization": f"Bearer {token}"}
        began = time.perf_counter()
        if self.one_request:
            body, content_type = self.body()
            headers = {**auth, "Content-Type": content_type, "Idempotency-Key": uuid.uuid4().hex}
            status, _ = self._request("POST", "/reports", body, headers)
            if status != 201:
                self._error(f"create {status}")
                return
            ended = time.perf_counter()
            with self.lock:
                self.results.creates.append((began, ended, ended - began, 0.0))
            return
        body, content_type = self.body()
        status, answer = self._request("POST", "/photos", body, {**auth, "Content-Type": content_type})
        if status != 201:
            self._error(f"upload {status}")
            return
        uploaded = time.perf_counter()
        report = report_body(number, [json.loads(answer)["id"]], "压测举报")
        headers = {**auth, "Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex}
        status, answer = self._request("POST", "/reports", json.dumps(report).encode(), headers)
        if status != 201:
            self._error(f"submit {status}")
            return
        ended = time.perf_counter()
        with self.lock:
            self.results.creates.append((began, ended, uploaded - began, ended - uploaded))

    def _run(self, index: int) -> None:
        number = index
        while not self.stop.is_set():
            try:
                self._one(number, self.tokens[number % len(self.tokens)])
            except (OSError, http.client.HTTPException) as exc:
                self._error(type(exc).__name__)
            number += self.concurrency

    def start(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(self.concurrency)]
        for thread in threads:
            thread.start()
        return threads


def load_stack(prefix: str) -> Stack:
    """A stack in a new temporary directory, its rate limits as many as production's but never reached."""
    stack = Stack(Path(tempfile.mkdtemp(prefix=prefix)))
    stack.env |= {
        "PHOTO_UPLOAD_LIMIT": HIGH_LIMIT,
        "REPORT_SUBMIT_LIMIT": HIGH_LIMIT,
        "CITIZEN_LOGIN_IP_LIMIT": HIGH_LIMIT,
    }
    return stack


def login(port: int, citizens: int) -> list[str]:
    tokens = []
    for index in range(citizens):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        body = json.dumps({"openid": f"bench-{index}"}).encode()
        connection.request("POST", "/api/v1/auth/dev", body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        if response.status != 200:
            raise RuntimeError(f"login failed: {response.status} {response.read()[:200]!r}")
        tokens.append(json.loads(response.read())["token"])
        connection.close()
    return tokens


class ConnectionSampler(threading.Thread):
    """What `pg_stat_activity` shows of the stack's database while the load runs: how many client backends at
    once, how many distinct ones, and how many were opened after sampling began (a pooled API opens none)."""

    def __init__(self, stack: Stack, every_seconds: float = 0.25):
        super().__init__(name="pg-connections", daemon=True)
        self.url = stack.env["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
        self.every = every_seconds
        self.stopping = threading.Event()
        self.most_at_once = 0
        self.seen: set[int] = set()
        self.opened = 0

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as connection:
            began = connection.execute("SELECT now()").fetchone()[0]
            while not self.stopping.is_set():
                rows = connection.execute(
                    "SELECT pid, backend_start FROM pg_stat_activity WHERE datname = current_database()"
                    " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
                ).fetchall()
                self.most_at_once = max(self.most_at_once, len(rows))
                for pid, started in rows:
                    if pid not in self.seen:
                        self.seen.add(pid)
                        self.opened += started > began
                self.stopping.wait(self.every)

    def stop(self) -> dict:
        self.stopping.set()
        self.join()
        return {"most_at_once": self.most_at_once, "distinct": len(self.seen), "opened": self.opened}


def measure(stack: Stack, tokens: list[str], photo: bytes, args, one_request: bool) -> dict:
    body = multipart(photo, REPORT_FIELDS if one_request else None)
    load = Load(stack.api_port, tokens, body, args.concurrency, one_request)
    threads = load.start()
    time.sleep(args.warmup)  # connections pooled, caches warm, CPU frequency up
    meters = {
        "api": CpuMeter(stack.api.pid),
        "postgres": CpuMeter(_postmaster_pid(stack)),
        "redis": CpuMeter(stack.redis.pid),
        "bench client": CpuMeter(os.getpid(), tree=False),  # its children are the stack
    }
    for meter in meters.values():
        meter.start()
    box_began = psutil.cpu_times()
    samplers = _start_py_spy(stack, args)
    connections = ConnectionSampler(stack)
    connections.start()
    with load.lock:
        load.results.creates.clear()
        load.results.errors.clear()
    began = time.perf_counter()
    time.sleep(args.seconds)
    ended = time.perf_counter()
    pg_connections = connections.stop()
    cpu = {name: meter.seconds() for name, meter in meters.items()}
    box = psutil.cpu_times()
    load.stop.set()
    stacks = _collect_py_spy(samplers)
    for thread in threads:
        thread.join()
    done = [c for c in load.results.creates if began <= c[1] <= ended]
    busy = sum(getattr(box, f) - getattr(box_began, f) for f in ("user", "system", "nice", "softirq", "irq"))
    count = max(len(done), 1)
    return {
        "creates": len(done),
        "per_second": len(done) / (ended - began),
        "create_ms": [(c[1] - c[0]) * 1000 for c in done],
        "upload_ms": [c[2] * 1000 for c in done],
        "submit_ms": [c[3] * 1000 for c in done],
        "cpu_ms": {name: seconds * 1000 / count for name, seconds in cpu.items()},
        "box_busy": busy / (ended - began) / psutil.cpu_count(),
        "errors": dict(load.results.errors),
        "stacks": stacks,
        "connections": pg_connections,
        "one_request": one_request,
    }


def _start_py_spy(stack: Stack, args) -> list[tuple[subprocess.Popen, Path]]:
    """py-spy on each gunicorn worker for the measured seconds."""
    if not args.py_spy:
        return []
    samplers = []
    for worker in psutil.Process(stack.api.pid).children():
        out = stack.dir / f"py-spy-{worker.pid}-{time.monotonic_ns()}.txt"
        command = [args.py_spy, "record", "--pid", str(worker.pid), "--duration", str(int(args.seconds))]
        # --gil: only samples holding the GIL, i.e. running Python; a thread woken from poll() that waits for a core
        # (a busy box) holds no GIL and is left out, so the shares are of CPU time, not of waiting
        command += ["--format", "raw", "--gil", "--nonblocking", "--rate", "200", "--output", str(out)]
        samplers.append((subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), out))
    return samplers


def _collect_py_spy(samplers: list[tuple[subprocess.Popen, Path]]) -> collections.Counter:
    """{stack: samples} summed over the workers (py-spy's raw format: frames joined by ';', then a count)."""
    stacks: collections.Counter = collections.Counter()
    for process, out in samplers:
        process.wait(timeout=60)
        if out.exists():
            for line in out.read_text().splitlines():
                frames, _, count = line.rpartition(" ")
                if frames:
                    stacks[frames] += int(count)
    return stacks


# Where a sample's time goes: the first matching frame from the top of the stack (the innermost) decides.
BUCKETS = [
    ("SQL: psycopg (the driver)", re.compile(r"\bpsycopg/")),
    ("SQL: SQLAlchemy (compile, ORM, flush)", re.compile(r"\bsqlalchemy/")),
    ("Redis client (rate limits, enqueue)", re.compile(r"\b(redis|rq|limits)/")),
    ("multipart parsing (werkzeug formparser)", re.compile(r"werkzeug/(formparser|sansio/multipart)")),
    ("photo header check (images.inspect, Pillow)", re.compile(r"(services/images\.py|\bPIL/)")),
    ("accept_upload's own lines (SHA-256, copies) and storage", re.compile(r"(^accept_upload |backend/storage/)")),
    ("JSON and marshmallow (load, dump)", re.compile(r"(\bmarshmallow/|\bjson/|jsonio\.py)")),
    ("auth token (itsdangerous)", re.compile(r"\bitsdangerous/")),
    ("Flask-Limiter (outside Redis)", re.compile(r"\bflask_limiter/")),
    ("HTTP server and WSGI (gunicorn, werkzeug, flask)", re.compile(r"\b(gunicorn|werkzeug|flask)/")),
]


OURS = re.compile(r"\((backend|workers)/")


def _bucket(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, pattern in BUCKETS:
            if pattern.search(frame):
                return name
    return "other (our code, the standard library)"


def print_profile(stacks: collections.Counter) -> None:
    total = sum(stacks.values())
    if not total:
        print("  py-spy: no samples (is py-spy allowed to attach? it needs ptrace)")
        return
    buckets: collections.Counter = collections.Counter()
    own: collections.Counter = collections.Counter()  # self time by function
    ours: collections.Counter = collections.Counter()  # inclusive time of our own functions
    for line, count in stacks.items():
        frames = line.split(";")
        buckets[_bucket(frames)] += count
        own[frames[-1]] += count
        for frame in set(frames):
            if OURS.search(frame):
                ours[frame] += count
    print(f"  py-spy, gunicorn workers, {total} CPU samples: where the time goes (innermost library decides)")
    for name, count in buckets.most_common():
        print(f"    {count / total:6.1%}  {name}")
    print("  our functions, inclusive:")
    for frame, count in ours.most_common(12):
        print(f"    {count / total:6.1%}  {frame}")
    print("  hottest functions, self:")
    for frame, count in own.most_common(12):
        print(f"    {count / total:6.1%}  {frame}")


def _postmaster_pid(stack: Stack) -> int:
    return int((stack.dir / "pg" / "data" / "postmaster.pid").read_text().split()[0])


def report(label: str, photo: bytes, figures: dict, peer: bool) -> None:
    def p(values: list[float]) -> str:
        return f"{_percentile(values, 0.5):7.1f} {_percentile(values, 0.95):7.1f}"

    cpu = figures["cpu_ms"]
    way = "one request (multipart POST /reports)" if figures["one_request"] else "two requests (photo, then report)"
    print(f"\n{label} photo ({len(photo) / 1000:.0f} kB), {way}: {figures['creates']} creates")
    print(f"  creates/s               {figures['per_second']:8.1f}", end="")
    if peer:
        print(f"   ({figures['per_second'] / PEER_CREATES_PER_SECOND:.2f}× the peer's {PEER_CREATES_PER_SECOND:g}/s)")
    else:
        print("   (no peer figure for this size)")
    print("  latency ms              p50     p95")
    if figures["one_request"]:
        print(f"    create              {p(figures['create_ms'])}")
    else:
        print(f"    create (both)       {p(figures['create_ms'])}")
        print(f"    POST /photos        {p(figures['upload_ms'])}")
        print(f"    POST /reports       {p(figures['submit_ms'])}")
    print(
        f"  CPU ms per create: API (gunicorn) {cpu['api']:.1f}, PostgreSQL {cpu['postgres']:.1f}, "
        f"Redis {cpu['redis']:.1f}, bench client {cpu['bench client']:.1f}"
    )
    server = cpu["api"] + cpu["postgres"] + cpu["redis"]
    print(
        f"  server CPU per create {server:.1f} ms: on {psutil.cpu_count()} cores with nothing else running, "
        f"at most {psutil.cpu_count() * 1000 / server:.0f} creates/s"
    )
    print(f"  box CPU busy {figures['box_busy']:.0%} of {psutil.cpu_count()} cores (all processes, also others')")
    connections = figures["connections"]
    print(
        f"  PostgreSQL connections (pg_stat_activity, every 0.25 s): at most {connections['most_at_once']} at once,"
        f" {connections['distinct']} distinct, {connections['opened']} opened during the measured seconds"
    )
    if figures["errors"]:
        print(f"  errors: {figures['errors']}")
    if figures["stacks"]:
        print_profile(figures["stacks"])


def profile(stack: Stack, photo: bytes, creates: int) -> None:
    """The same two requests through the Flask test client in this process (no HTTP server), on the bench's
    database and Redis: SQL statements per request, then cProfile's view of where the time goes."""
    from sqlalchemy import event

    from backend.extensions import db
    from bench.app import bench_app

    app = bench_app(
        stack.env["DATABASE_URL"],
        REDIS_URL=stack.env["REDIS_URL"],
        MEDIA_ROOT=stack.env["MEDIA_ROOT"],
        DEV_LOGIN_ENABLED=True,
        PHOTO_UPLOAD_LIMIT=HIGH_LIMIT,
        REPORT_SUBMIT_LIMIT=HIGH_LIMIT,
    )
    statements: list[str] = []
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    client = app.test_client()
    token = client.post("/api/v1/auth/dev", json={"openid": "bench-profile"}).json["token"]
    auth = {"Authorization": f"Bearer {token}"}

    def create(key: str | None = None) -> tuple[int, int, int]:
        counts = []
        del statements[:]
        upload = client.post("/api/v1/photos", headers=auth, data={"file": (io.BytesIO(photo), "p.jpg")})
        counts.append(len(statements))
        del statements[:]
        headers = {**auth, "Idempotency-Key": key or uuid.uuid4().hex}
        client.post("/api/v1/reports", headers=headers, json=report_body(0, [upload.json["id"]], "压测举报"))
        counts.append(len(statements))
        del statements[:]
        client.post("/api/v1/reports", headers=headers, json=report_body(0, [upload.json["id"]], "压测举报"))
        counts.append(len(statements))
        return tuple(counts)

    for _ in range(20):
        counts = create()
    print(
        f"\nSQL statements per request: POST /photos {counts[0]}, POST /reports {counts[1]}, "
        f"the same Idempotency-Key again {counts[2]}"
    )
    profiler = cProfile.Profile(time.process_time)  # CPU, not waiting for the database
    began = time.process_time()
    profiler.enable()
    for _ in range(creates):
        create()
    profiler.disable()
    cpu = (time.process_time() - began) * 1000 / creates
    print(f"cProfile, {creates} creates (each: upload, submit, replay) in-process, {cpu:.1f} ms CPU per create")
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(40)
    with app.app_context():
        db.engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20, help="measured seconds per photo size")
    parser.add_argument("--warmup", type=float, default=3, help="unmeasured seconds of load before each")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--citizens", type=int, default=64)
    parser.add_argument("--sizes", default="300k,12mp", help="comma-separated: 300k, 12mp")
    parser.add_argument("--ways", default="one,two", help="comma-separated: one (multipart report), two")
    parser.add_argument("--with-workers", action="store_true", help="run two RQ workers during the load")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="then cProfile N creates in-process")
    parser.add_argument("--py-spy", metavar="PATH", help="py-spy binary: sample the gunicorn workers under load")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs)")
    args = parser.parse_args()
    sizes = [size.strip() for size in args.sizes.split(",") if size.strip()]
    unknown = [size for size in sizes if size not in SIZES]
    if unknown:
        parser.error(f"unknown size(s): {', '.join(unknown)}")
    ways = [way.strip() for way in args.ways.split(",") if way.strip()]
    if not ways or set(ways) - {"one", "two"}:
        parser.error("--ways: one, two or both")

    stack = load_stack("ssp-creates-")
    workdir = stack.dir
    try:
        print(f"stack in {workdir}: postgres :{stack.pg_port}, redis :{stack.redis_port}, api :{stack.api_port}")
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {calibrate.describe()}")
        stack.pg_init()
        stack.redis_start()
        stack.migrate_and_seed()
        stack.api_start()
        if args.with_workers:
            for index in range(len(stack.workers)):
                stack.worker_start(index)
        tokens = login(stack.api_port, args.citizens)
        print(
            f"{args.citizens} citizens, concurrency {args.concurrency}, gunicorn 2 sync workers, "
            f"RQ workers {'running' if args.with_workers else 'not running (jobs wait in Redis)'}, "
            f"{args.seconds:g} s per size after {args.warmup:g} s of warm-up"
        )
        photos = {}
        for size in sizes:
            label, make = SIZES[size]
            photos[size] = make()
            for way in ways:
                figures = measure(stack, tokens, photos[size], args, one_request=way == "one")
                report(label, photos[size], figures, peer=size == "300k")
        print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {calibrate.describe()}")
        if args.profile:
            profile(stack, photos.get("300k") or photo_300k(), args.profile)
        return 0
    finally:
        stack.close(keep=args.keep)


if __name__ == "__main__":
    sys.exit(main())
