"""The periodic table. Each run is enqueued under a deterministic id per time slot, so two
schedulers (two `python -m workers` processes) never enqueue the same run twice."""

import logging
import threading
import time
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError

from workers.queues import (
    GENERATE_DUE_BRIEFINGS,
    PERIODIC,
    POLL_PAYOUTS,
    RUN_SUPERVISION,
    SWEEP_STUCK,
    JobRequest,
    enqueue_unique,
)

log = logging.getLogger(__name__)

PURGE_UNATTACHED_PHOTOS = "workers.jobs.uploads.purge_unattached_photos"


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    func: str
    interval_seconds: int


def periodic_table(config) -> list[PeriodicJob]:
    return [
        PeriodicJob("sweep-stuck", SWEEP_STUCK, config["SWEEP_INTERVAL_SECONDS"]),
        PeriodicJob("supervision", RUN_SUPERVISION, config["SUPERVISION_INTERVAL_SECONDS"]),
        PeriodicJob("poll-payouts", POLL_PAYOUTS, config["PAYOUT_POLL_INTERVAL_SECONDS"]),
        PeriodicJob("purge-uploads", PURGE_UNATTACHED_PHOTOS, config["UNATTACHED_PHOTO_PURGE_INTERVAL_SECONDS"]),
        # 月报 and 半月通报: generates whatever is due (BRIEFING_HOUR on the 1st and 16th) and missing
        PeriodicJob("briefings", GENERATE_DUE_BRIEFINGS, config["BRIEFING_CHECK_INTERVAL_SECONDS"]),
    ]


def enqueue_due(connection: Redis, jobs: list[PeriodicJob], now: float) -> list[str]:
    enqueued = []
    for job in jobs:
        slot = int(now // job.interval_seconds)
        request = JobRequest(PERIODIC, job.func, (), f"periodic-{job.name}-{slot}", timeout=300)
        # claimed once per slot: the finished job of the slot may be replaced, its claim stays for the slot
        if not connection.set(f"ssp:{request.job_id}", 1, nx=True, ex=job.interval_seconds * 2):
            continue
        if enqueue_unique(connection, request) is not None:
            enqueued.append(request.job_id)
    return enqueued


class Scheduler(threading.Thread):
    """Runs beside the worker in `python -m workers`."""

    def __init__(self, connection: Redis, jobs: list[PeriodicJob], tick_seconds: float = 5.0):
        super().__init__(name="periodic-scheduler", daemon=True)
        self.connection = connection
        self.jobs = jobs
        self.tick_seconds = tick_seconds
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                for job_id in enqueue_due(self.connection, self.jobs, time.time()):
                    log.info("scheduled %s", job_id)
            except RedisError:
                log.warning("scheduler could not reach redis", exc_info=True)
            self.stopping.wait(self.tick_seconds)
