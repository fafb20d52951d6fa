"""The RQ workers of `python -m workers`, made safe for SQLAlchemy, for Redis dropping and for kill -9.

`ResidentWorker` (the default) runs jobs in its own process, one after another, keeping the app, its
connection pool and caches; `workers.supervisor` restarts it when it dies, hangs or grows. `AppWorker`
(`python -m workers --fork`) is RQ's forking worker: a fresh process per job.
"""

import contextlib
import ctypes
import logging
import os
import signal
import threading

from flask import Flask
from redis import Redis
from redis.exceptions import RedisError
from rq import SimpleWorker, Worker
from rq.job import Job
from rq.queue import Queue
from rq.worker import WorkerStatus

from backend.extensions import db
from workers.lifeline import LifelineWriter
from workers.queues import PULSE_EVERY_SECONDS, PULSE_TTL_SECONDS, pulse_key

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(parent_pid: int) -> None:
    """Never outlive `parent_pid`: on Linux the kernel SIGKILLs this process when its parent dies (a
    `kill -9` of the worker included); a parent already gone before that was set means exit now."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux: the check below still catches it
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(1)


class Pulse(threading.Thread):
    """Keeps the worker's pulse key alive from a thread of the process that runs (or supervises) its jobs, so
    the sweep knows within seconds that a worker killed mid-job will never finish it (workers.queues)."""

    def __init__(self, connection: Redis, worker_name: str):
        super().__init__(name=f"pulse-{worker_name}", daemon=True)
        self.connection = connection
        self.key = pulse_key(worker_name)
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            with contextlib.suppress(RedisError):  # Redis is away: the next beat tries again
                self.connection.set(self.key, os.getpid(), ex=PULSE_TTL_SECONDS)
            self.stopping.wait(PULSE_EVERY_SECONDS)

    def stop(self) -> None:
        self.stopping.set()
        with contextlib.suppress(RedisError):
            self.connection.delete(self.key)


class PulseMixin:
    """Starts the pulse when RQ registers the worker and stops it at its registered death."""

    _pulse: Pulse | None = None

    def register_birth(self) -> None:
        super().register_birth()
        self._pulse = Pulse(self.connection, self.name)
        self._pulse.start()

    def register_death(self) -> None:
        self.stop_pulse()
        super().register_death()

    def stop_pulse(self) -> None:
        """Also when the worker is given up without a registered death (it lost Redis): a fresh one beats."""
        if self._pulse is not None:
            self._pulse.stop()
            self._pulse = None


class AppWorker(PulseMixin, Worker):
    """RQ's forking worker, made safe for SQLAlchemy: a work horse never reuses a pooled
    connection it inherited through fork (the SQLAlchemy docs' multiprocessing recipe).

    A work horse dies with its worker, so a killed worker never leaves a job running unsupervised
    (the sweep gives that job to another worker). Redis dropping while a job runs does not kill the job:
    heartbeats are skipped until Redis answers again; if the worker loses the job's bookkeeping anyway, it
    stops the horse, gives up this worker and `workers.runner` starts a fresh one once Redis is back.
    """

    max_connection_wait_time = 30.0  # the longest pause between reconnection attempts while dequeuing

    def main_work_horse(self, *args, **kwargs):
        die_with_parent(self.pid)
        db.engine.dispose(close=False)
        return super().main_work_horse(*args, **kwargs)

    def work(self, *args, **kwargs) -> bool:
        try:
            return super().work(*args, **kwargs)
        finally:
            self.stop_horse()

    def maintain_heartbeats(self, job, execution):
        try:
            super().maintain_heartbeats(job, execution)
        except RedisError as exc:
            log.warning("job %s: redis unavailable for its heartbeat (%s); the job keeps running", job.id, exc)

    def execute_job(self, job, queue):
        try:
            super().execute_job(job, queue)
        except BaseException:
            self.stop_horse()
            raise

    def stop_horse(self) -> None:
        """Kill and reap the work horse, if one is running."""
        if self.horse_pid:
            log.warning("stopping work horse %s", self.horse_pid)
            try:
                os.kill(self.horse_pid, signal.SIGKILL)
                os.waitpid(self.horse_pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
            self._horse_pid = 0


class ResidentWorker(PulseMixin, SimpleWorker):
    """RQ's non-forking worker: jobs run in this process, one after another, so the app, its SQLAlchemy
    pool (one database connection, kept) and module caches (the region index) live across jobs.

    Each job gets an app context of its own, as a request does: its own session, removed (connection
    back to the pool, transaction rolled back if left open) when the job ends, and its own `g` (the work
    calendar is loaded once per job). RQ's timeout (SIGALRM) still stops a job running Python code; a job
    stuck where no signal reaches it, or a job that kills the process, is the supervisor's business: the
    lifeline tells it which job runs since when.
    """

    def __init__(self, *args, app: Flask, lifeline: LifelineWriter, **kwargs):
        super().__init__(*args, **kwargs)
        self.app = app
        self.lifeline = lifeline

    def register_birth(self) -> None:
        super().register_birth()
        self.lifeline.ready(self.name)

    def execute_job(self, job: Job, queue: Queue) -> None:
        execution = self.prepare_execution(job)
        timeout = job.timeout or self.queue_class.DEFAULT_TIMEOUT
        self.lifeline.busy(self.name, job.id, queue.name, execution.id, int(timeout))
        try:
            with self.app.app_context():
                self.perform_job(job, queue, execution)
        finally:
            self.lifeline.idle()
        self.set_state(WorkerStatus.IDLE)
