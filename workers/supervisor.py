"""`python -m workers` (the default mode): a small supervisor process and its resident worker.

The supervisor runs the periodic table and RQ's retry scheduler (threads: one of each per `python -m
workers`) and keeps one child process going: `python -m workers --resident-child`, a `ResidentWorker` that
runs job after job in one process, with one database connection and warm caches. The child writes what it
is doing on a pipe (workers.lifeline); the supervisor

- restarts the child when it dies (a crash, `kill -9`, the OOM killer), at once after a clean exit and
  with a backoff (1 s doubling to 30 s) after crashes in a row;
- kills and restarts it when a job runs past its own timeout plus `JOB_HANG_GRACE_SECONDS` (RQ's timeout
  is a signal, which code stuck in C never sees);
- replaces it after a job when its RSS exceeds `WORKER_MAX_RSS_MB`;
- settles the job a dead child was running as RQ's forking worker settles a dead work horse's: retried if
  it has retries left, else failed with the reason; and unregisters the dead RQ worker, so the sweep may
  give its work to another worker at once.

The child dies with the supervisor (PR_SET_PDEATHSIG, `kill -9` included). SIGTERM/SIGINT are passed on to
the child, which stops after its running job (RQ's warm shutdown), and then the supervisor exits.
"""

import contextlib
import logging
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import psutil
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.utils import now

from workers.lifeline import Busy, LifelineReader
from workers.queues import ALL_QUEUES
from workers.runner import schedulers

log = logging.getLogger(__name__)

TICK_SECONDS = 0.2
FIRST_RESTART_BACKOFF_SECONDS = 1.0
MAX_RESTART_BACKOFF_SECONDS = 30.0
STEADY_SECONDS = 30.0  # a child that lived this long before dying was not crash-looping: backoff starts over


def resident_child_command(lifeline_fd: int) -> list[str]:
    return [
        sys.executable,
        *("-m", "workers", "--resident-child"),
        *("--supervisor-pid", str(os.getpid()), "--lifeline-fd", str(lifeline_fd)),
    ]


class Supervisor:
    def __init__(
        self,
        connection: Redis,
        hang_grace_seconds: float,
        max_rss_bytes: int,
        child_command: Callable[[int], list[str]] = resident_child_command,
    ):
        self.connection = connection
        self.hang_grace_seconds = hang_grace_seconds
        self.max_rss_bytes = max_rss_bytes
        self.child_command = child_command
        self.child: subprocess.Popen | None = None
        self.lifeline: LifelineReader | None = None
        self.child_started_at = 0.0
        self.replacing_child = False  # asked it to stop after its job (memory); it comes back at once
        self.restart_at = 0.0
        self.backoff = FIRST_RESTART_BACKOFF_SECONDS
        self.stopping = False

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._request_stop)
        signal.signal(signal.SIGINT, self._request_stop)
        while True:
            if self.child is None:
                if self.stopping:
                    return 0
                wait = self.restart_at - time.monotonic()
                if wait > 0:
                    time.sleep(min(wait, TICK_SECONDS))
                    continue
                self._start_child()
                continue
            self._watch_child()

    def _request_stop(self, signum, frame) -> None:
        if not self.stopping:
            log.info("stopping: the worker finishes its running job first")
        self.stopping = True
        if self.child is not None and self.child.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.child.pid, signum)  # RQ: the first signal is a warm shutdown, a later one a cold one

    def _start_child(self) -> None:
        read_fd, write_fd = os.pipe()
        try:
            self.child = subprocess.Popen(self.child_command(write_fd), pass_fds=(write_fd,))
        except OSError as exc:
            os.close(read_fd)
            log.error("could not start the worker process: %s", exc)
            self._restart_later()
            return
        finally:
            os.close(write_fd)
        self.lifeline = LifelineReader(read_fd)
        self.child_started_at = time.monotonic()
        self.replacing_child = False
        log.info("started worker process %s", self.child.pid)
        if self.stopping:  # the stop request came while it was being started: pass it on
            self.child.send_signal(signal.SIGTERM)

    def _watch_child(self) -> None:
        readable, _, _ = select.select([self.lifeline.fd], [], [], TICK_SECONDS)
        if readable and any(m.get("event") == "idle" for m in self.lifeline.read()):
            self._replace_if_too_big()
        if self.child.poll() is not None:
            self._child_gone(self._death(self.child.returncode))
            return
        busy = self.lifeline.busy
        if busy is not None and busy.timeout > 0:
            running = time.monotonic() - busy.since
            if running > busy.timeout + self.hang_grace_seconds:
                log.error(
                    "job %s has run %.0f s, past its timeout (%d s) and JOB_HANG_GRACE_SECONDS (%g s): "
                    "killing worker process %s",
                    busy.job_id,
                    running,
                    busy.timeout,
                    self.hang_grace_seconds,
                    self.child.pid,
                )
                self.child.kill()
                self.child.wait()
                self._child_gone(
                    f"killed by its supervisor: the job ran past its timeout ({busy.timeout} s) "
                    f"and JOB_HANG_GRACE_SECONDS ({self.hang_grace_seconds:g} s)"
                )

    def _replace_if_too_big(self) -> None:
        if self.replacing_child or self.max_rss_bytes <= 0:
            return
        try:
            rss = psutil.Process(self.child.pid).memory_info().rss
        except psutil.Error:
            return
        if rss > self.max_rss_bytes:
            log.warning(
                "worker process %s uses %d MB, over WORKER_MAX_RSS_MB (%d): replacing it",
                self.child.pid,
                rss // 2**20,
                self.max_rss_bytes // 2**20,
            )
            self.replacing_child = True
            self.child.send_signal(signal.SIGTERM)  # RQ's warm shutdown: a job it just took still finishes

    @staticmethod
    def _death(returncode: int) -> str:
        if returncode >= 0:
            return f"exited with status {returncode}"
        try:
            return f"died of {signal.Signals(-returncode).name}"
        except ValueError:  # a real-time signal has no name
            return f"died of signal {-returncode}"

    def _child_gone(self, how: str) -> None:
        self.lifeline.read()  # its last words
        busy, worker_name = self.lifeline.busy, self.lifeline.worker_name
        clean = self.child.returncode == 0
        if busy is not None:
            log.error("worker process %s %s while running job %s", self.child.pid, how, busy.job_id)
            settle_interrupted_job(self.connection, busy, f"The worker process {how} while running this job.")
        elif not clean:
            log.error("worker process %s %s", self.child.pid, how)
        if not clean and worker_name:
            unregister_dead_worker(self.connection, worker_name)
        lived = time.monotonic() - self.child_started_at
        self.lifeline.close()
        self.child, self.lifeline = None, None
        if self.stopping:
            return
        if clean:  # asked to stop (replaced for its memory, or signalled by someone): back at once
            self.backoff = FIRST_RESTART_BACKOFF_SECONDS
            self.restart_at = time.monotonic()
            return
        if lived >= STEADY_SECONDS:
            self.backoff = FIRST_RESTART_BACKOFF_SECONDS
        self._restart_later()

    def _restart_later(self) -> None:
        log.warning("starting a fresh worker process in %.0f s", self.backoff)
        self.restart_at = time.monotonic() + self.backoff
        self.backoff = min(self.backoff * 2, MAX_RESTART_BACKOFF_SECONDS)


def settle_interrupted_job(connection: Redis, busy: Busy, reason: str) -> None:
    """Settle the job a dead worker process was running, as RQ's forking worker settles the job of a dead
    work horse: retried if it has retries left, else failed with `reason`. Redis down: left to the sweep
    (and to RQ's cleanup of the started registry once the execution's heartbeat expires)."""
    try:
        job = Job.fetch(busy.job_id, connection=connection)
        if job.get_status(refresh=False) != JobStatus.STARTED:  # it was settled before the process went
            return
        try:
            execution = Execution.fetch(busy.execution_id, job.id, connection)
        except ValueError:
            execution = None
        job.ended_at = now()
        worker = _dead_worker(connection, busy.worker_name)
        worker.handle_job_failure(
            job, queue=Queue(busy.queue, connection=connection), exc_string=reason, execution=execution
        )
    except RedisError as exc:
        log.warning("redis unavailable: job %s is left for the sweep (%s)", busy.job_id, exc)
    except Exception:  # a job deleted meanwhile, a hash RQ cannot read: the sweep still has it
        log.exception("could not settle job %s; the sweep will", busy.job_id)


def unregister_dead_worker(connection: Redis, worker_name: str) -> None:
    """Mark the dead process's RQ worker dead (as its own teardown would have), so `live_job_ids` no longer
    counts its job as running."""
    try:
        _dead_worker(connection, worker_name).register_death()
    except RedisError as exc:
        log.warning("redis unavailable: worker %s stays registered until its heartbeat expires (%s)", worker_name, exc)


def _dead_worker(connection: Redis, worker_name: str) -> SimpleWorker:
    return SimpleWorker(list(ALL_QUEUES), connection=connection, name=worker_name, prepare_for_work=False)


def run_supervised(connection: Redis, config, periodic_jobs: list) -> int:
    supervisor = Supervisor(
        connection,
        hang_grace_seconds=config["JOB_HANG_GRACE_SECONDS"],
        max_rss_bytes=config["WORKER_MAX_RSS_MB"] * 2**20,
    )
    with schedulers(connection, periodic_jobs):
        return supervisor.run()
