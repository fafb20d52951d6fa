"""What every mode of `python -m workers` shares: the loop that keeps one RQ worker on every queue going,
and the periodic table and RQ's retry scheduler (threads, so nothing of them outlives a `kill -9`).

`serve()`: Redis down at start or dropping later never ends the process: it waits, with exponential backoff
and a log line per attempt, and starts a fresh worker once Redis answers. SIGTERM/SIGINT stop it (after the
running job, as RQ does). `run_forking()` is `python -m workers --fork`: the schedulers and RQ's forking
worker in one process; the default mode is workers.supervisor.
"""

import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterator

from redis import Redis
from redis.exceptions import RedisError
from rq.defaults import DEFAULT_WORKER_TTL
from rq.scheduler import RQScheduler

from workers.queues import ALL_QUEUES
from workers.scheduler import Scheduler
from workers.worker import AppWorker, PulseMixin

log = logging.getLogger(__name__)

FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0
# An idle RQ worker blocks on its queues for up to its dequeue timeout (worker TTL − 15 s) and reads the answer
# under the connection's socket timeout. redis-py's default of 5 s made that read fail every 5 s, which RQ takes
# for Redis lost and answers with a backoff of up to 30 s: jobs waited. RQ raises the timeout only for connections
# it opens after the worker starts, not for the one the ping before it left in the pool, so it is set here.
# (RQ's own figure is its worker TTL − 5 s; our workers keep RQ's default TTL.) Every other use of Redis here
# gives up sooner, so a hung Redis does not hold the schedulers or the supervisor's checks for minutes.
DEQUEUE_READ_TIMEOUT_SECONDS = DEFAULT_WORKER_TTL
READ_TIMEOUT_SECONDS = 10


def connect(redis_url: str, *, dequeues: bool = False) -> Redis:
    """A Redis connection pool for `python -m workers`: `dequeues` for an RQ worker's own (it blocks on its
    queues), else for the schedulers and the supervisor."""
    timeout = DEQUEUE_READ_TIMEOUT_SECONDS if dequeues else READ_TIMEOUT_SECONDS
    return Redis.from_url(redis_url, socket_connect_timeout=5, socket_timeout=timeout, health_check_interval=30)


class RetryScheduler(threading.Thread):
    """RQ's scheduler (jobs waiting for a retry at a given time), run in a thread instead of RQ's forked
    process, which a `kill -9` of the worker would leave behind; it survives Redis dropping."""

    def __init__(self, connection: Redis, queues: tuple[str, ...], tick_seconds: int = 1):
        super().__init__(name="retry-scheduler", daemon=True)
        self.scheduler = RQScheduler(list(queues), connection=connection, interval=tick_seconds)
        self.tick_seconds = tick_seconds
        self.stopping = threading.Event()

    def run(self) -> None:
        failing = False
        while not self.stopping.is_set():
            try:
                if self.scheduler.should_reacquire_locks:
                    self.scheduler.acquire_locks()
                if self.scheduler.acquired_locks:
                    self.scheduler.heartbeat()
                    self.scheduler.enqueue_scheduled_jobs()
                failing = False
            except RedisError as exc:
                if not failing:
                    log.warning("retry scheduler could not reach redis: %s", exc)
                failing = True
                self.scheduler.lock_acquisition_time = None  # take the locks again once Redis is back
            self.stopping.wait(self.tick_seconds)
        # give the queues' locks back: the scheduler of a worker started next takes them at once, where RQ
        # would wait for them to expire and look again only after two minutes, with retries due meanwhile
        with contextlib.suppress(RedisError):
            self.scheduler.release_locks()


def _redis_answers(connection: Redis) -> bool:
    try:
        return bool(connection.ping())
    except RedisError as exc:
        log.warning("redis unavailable: %s", exc)
        return False


@contextlib.contextmanager
def schedulers(connection: Redis, periodic_jobs: list) -> Iterator[None]:
    """The periodic table and RQ's retry scheduler, as daemon threads for as long as the block runs: one of each
    per `python -m workers`. On the way out they stop and the retry scheduler gives its locks back."""
    threads = [Scheduler(connection, periodic_jobs), RetryScheduler(connection, ALL_QUEUES)]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        for thread in threads:
            thread.stopping.set()
        for thread in threads:
            thread.join(timeout=5)


def serve(connection: Redis, make_worker: Callable[[], PulseMixin]) -> int:
    """Keep a worker made by `make_worker` on the queues until SIGTERM/SIGINT; returns the exit status."""
    stop = threading.Event()

    def request_stop(signum, frame):
        stop.set()

    def own_signals() -> None:
        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)

    own_signals()
    backoff = FIRST_BACKOFF_SECONDS
    while not stop.is_set():
        if not _redis_answers(connection):
            log.warning("waiting %.0f s for redis", backoff)
            stop.wait(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
            continue
        worker = make_worker()
        try:
            worker.work()  # returns on a stop request, or when it lost Redis mid-job (logged by RQ)
            backoff = FIRST_BACKOFF_SECONDS
        except RedisError as exc:
            log.warning("worker %s lost redis: %s", worker.name, exc)
        finally:
            worker.stop_pulse()
            own_signals()
        if worker._stop_requested or worker._shutdown_requested_date is not None:  # SIGTERM/SIGINT to RQ
            break
        if not stop.is_set():
            log.warning("starting a fresh worker in %.0f s", backoff)
            stop.wait(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
    return 0


def run_forking(redis_url: str, periodic_jobs: list) -> int:
    """`python -m workers --fork`: RQ's forking worker (a work horse per job) beside the schedulers."""
    worker_connection = connect(redis_url, dequeues=True)
    with schedulers(connect(redis_url), periodic_jobs):
        return serve(worker_connection, lambda: AppWorker(ALL_QUEUES, connection=worker_connection))
