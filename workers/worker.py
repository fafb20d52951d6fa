"""The RQ worker of `python -m workers`, made safe for SQLAlchemy, for Redis dropping and for kill -9."""

import contextlib
import ctypes
import logging
import os
import signal

from redis.exceptions import RedisError
from rq import Worker

from backend.extensions import db

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(parent_pid: int) -> None:
    """Never outlive `parent_pid`: on Linux the kernel SIGKILLs this process when its parent dies (a
    `kill -9` of the worker included); a parent already gone before that was set means exit now."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux: the check below still catches it
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(1)


class AppWorker(Worker):
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
