"""Queue names, job paths and enqueueing after commit.

The web process enqueues jobs by dotted path, so it never imports the job modules.
"""

import contextlib
import hashlib
import logging
import time
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import NoScriptError, RedisError
from rq import Queue, Retry, Worker
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry, StartedJobRegistry
from sqlalchemy import event
from sqlalchemy.orm import Session

from backend.extensions import redis_store

log = logging.getLogger(__name__)

PHOTOS = "photos"
ROUTING = "routing"
NOTIFY = "notify"
PERIODIC = "periodic"
PAYOUTS = "payouts"
REWARDS = "rewards"
# The dequeue order: periodic work (the sweep, supervision) never waits behind a backlog of bulk work,
# and the bulk photo copies come last.
ALL_QUEUES = (PERIODIC, ROUTING, NOTIFY, PAYOUTS, REWARDS, PHOTOS)

PROCESS_PHOTO = "workers.jobs.photos.process_photo"
ROUTE_CASE = "workers.jobs.routing.route_case"
SWEEP_STUCK = "workers.jobs.maintenance.sweep_stuck"
RUN_SUPERVISION = "workers.jobs.supervision.run_supervision"
POLL_PAYOUTS = "workers.jobs.payouts.poll_payouts"
GENERATE_DUE_BRIEFINGS = "workers.jobs.briefings.generate_due_briefings"

RETRY_INTERVALS = [5, 30, 120, 600, 1800]  # seconds before the 1st … 5th retry
TRANSIENT_RETRY = Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS)
RESULT_TTL = 600
DONE_STATES = {JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED}
WAITING_STATES = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


@dataclass(frozen=True)
class JobRequest:
    queue: str
    func: str
    args: tuple
    job_id: str
    timeout: int = 120
    # replace a job with this id that is still waiting (queued, or scheduled for a retry): "do it now"
    replace_waiting: bool = False


def enqueue_unique(connection: Redis, request: JobRequest) -> Job | None:
    """Enqueue under a deterministic id; a job already waiting or running with that id wins.

    A finished or failed job with the same id is replaced, so the sweep can always try again; with
    `replace_waiting`, so is one still waiting. A running one is never replaced.
    """
    queue = Queue(request.queue, connection=connection)
    try:
        return queue.enqueue(request.func, **_options(request))
    except DuplicateJobError:
        existing = Job.fetch(request.job_id, connection=connection)
        status = existing.get_status(refresh=True)
        if status not in DONE_STATES and not (request.replace_waiting and status in WAITING_STATES):
            return None
        existing.delete()
        try:
            return queue.enqueue(request.func, **_options(request))
        except DuplicateJobError:
            return None


def _options(request: JobRequest) -> dict:
    return dict(
        args=request.args,
        job_id=request.job_id,
        unique=True,
        job_timeout=request.timeout,
        retry=TRANSIENT_RETRY,
        result_ttl=RESULT_TTL,
    )


def recreate(connection: Redis, request: JobRequest, live: set[str]) -> Job | None:
    """The sweep's enqueue: the database says the work is not done, so unless the job is really alive
    (`live`, from `live_job_ids`), whatever its hash says ("queued" in no queue after a worker was killed
    between dequeue and start, "started" by a dead worker, finished, failed) it is deleted and made anew."""
    if request.job_id in live:
        return None
    with contextlib.suppress(NoSuchJobError):
        Job.fetch(request.job_id, connection=connection).delete()
    try:
        return Queue(request.queue, connection=connection).enqueue(request.func, **_options(request))
    except DuplicateJobError:  # enqueued by someone else this very moment: that one is alive
        return None


# Every worker process of ours keeps this key alive while it lives (workers.worker.Pulse). RQ's own worker key
# outlives a kill -9 by up to the job's timeout plus a minute; this one by PULSE_TTL_SECONDS at most.
PULSE_KEY = "suishoupai:worker-pulse:{}"
PULSE_EVERY_SECONDS = 5
PULSE_TTL_SECONDS = 15


def pulse_key(worker_name: str) -> str:
    return PULSE_KEY.format(worker_name)


def _alive(connection: Redis, worker_names: list[str | None]) -> list[bool]:
    """For each worker name: registered with RQ, not marked dead, and still beating (its pulse key). One killed
    (kill -9, OOM) stops counting within PULSE_TTL_SECONDS, where RQ's own registration of it lasts minutes."""
    if not worker_names:
        return []
    with connection.pipeline() as pipe:
        for name in worker_names:
            key = f"{Worker.redis_worker_namespace_prefix}{name}"
            pipe.exists(key)
            pipe.hexists(key, "death")
            pipe.exists(pulse_key(name))
        flags = iter(pipe.execute())
    return [
        bool(name and registered and not dead and beating)
        for name, registered, dead, beating in zip(worker_names, flags, flags, flags, strict=False)
    ]


def live_worker_count(connection: Redis) -> int:
    """The RQ workers alive (`_alive`): what health reports as draining the queues."""
    names = [_text(key).removeprefix(Worker.redis_worker_namespace_prefix) for key in Worker.all_keys(connection)]
    return sum(_alive(connection, names))


def live_job_ids(connection: Redis, queues: tuple[str, ...] = ALL_QUEUES) -> set[str]:
    """Ids of the jobs that will really run: in a queue's list, scheduled for a retry, or started by a
    worker that is still registered and still beating (its pulse key): a worker killed mid-job stops beating,
    and its job counts as lost within PULSE_TTL_SECONDS instead of when RQ's registration of it expires."""
    live: set[str] = set()
    now = time.time()
    started: list[str] = []
    for name in queues:
        queue = Queue(name, connection=connection)
        live.update(_text(i) for i in connection.lrange(queue.key, 0, -1))
        live.update(_text(i) for i in connection.lrange(queue.intermediate_queue_key, 0, -1))
        live.update(ScheduledJobRegistry(name, connection=connection).get_job_ids(cleanup=False))
        entries = connection.zrangebyscore(StartedJobRegistry(name, connection=connection).key, now, "+inf")
        started.extend(_text(entry).split(":", 1)[0] for entry in entries)
    if started:
        with connection.pipeline() as pipe:
            for job_id in started:
                pipe.hget(Job.key_for(job_id), "worker_name")
            workers = [_text(w) if w else None for w in pipe.execute()]
        live.update(job_id for job_id, alive in zip(started, _alive(connection, workers), strict=True) if alive)
    return live


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


def enqueue_after_commit(session: Session, request: JobRequest) -> None:
    """Enqueue once the surrounding transaction commits; nothing is enqueued on rollback.

    If Redis is unreachable at that moment the row is still committed and the periodic
    sweep enqueues it later, so nothing is lost.
    """
    session.info.setdefault("pending_jobs", []).append(request)


# RQ's unique enqueue (rq.scripts: the id must be free; save the job's hash, push its id) plus the SADD into
# rq:queues that Queue.enqueue sends in a round trip of its own. KEYS: job hash, queue list, rq:queues.
# ARGV: job id, ttl (-1: none), then the hash's fields and values. Returns 0 if the id is taken.
_ENQUEUE = """
if redis.call("EXISTS", KEYS[1]) == 1 then
    return 0
end
redis.call("HSET", KEYS[1], unpack(ARGV, 3))
local ttl = tonumber(ARGV[2])
if ttl and ttl > 0 then
    redis.call("EXPIRE", KEYS[1], ttl)
end
redis.call("RPUSH", KEYS[2], ARGV[1])
redis.call("SADD", KEYS[3], KEYS[2])
return 1
"""
_ENQUEUE_SHA = hashlib.sha1(_ENQUEUE.encode()).hexdigest()


def _enqueue_call(connection: Redis, request: JobRequest) -> tuple:
    """The job as Queue.enqueue(..., unique=True) would save it, as arguments of one EVALSHA of _ENQUEUE."""
    queue = Queue(request.queue, connection=connection)
    job = queue.create_job(
        request.func,
        args=request.args,
        job_id=request.job_id,
        timeout=request.timeout,
        retry=TRANSIENT_RETRY,
        result_ttl=RESULT_TTL,
        status=JobStatus.QUEUED,
    )
    queue._prepare_for_queue(job)  # origin, enqueued_at, status, server version: what enqueue sets
    fields = []
    for name, value in job.to_dict().items():
        if value is not None:
            fields += [name, value if isinstance(value, bytes | str) else str(value)]
    ttl = job.ttl if job.ttl is not None else -1
    return (3, job.key, queue.key, queue.redis_queues_keys, job.id, ttl, *fields)


def enqueue_batch(connection: Redis, requests: list[JobRequest]) -> None:
    """`enqueue_unique` for each request, in one round trip to Redis when the job ids are free (the usual case:
    ids name rows the transaction has just created).

    Each job is saved and pushed by one atomic script call that refuses an id already taken, as RQ's
    `unique=True` does; the calls go in one pipeline. A job whose id is taken (a job of an earlier change of
    the same row) goes the long way, through `enqueue_unique`, which replaces it once finished or failed.
    """
    calls = [_enqueue_call(connection, request) for request in requests]
    for attempt in range(2):
        with connection.pipeline(transaction=False) as pipe:
            for call in calls:
                pipe.evalsha(_ENQUEUE_SHA, *call)
            answers = pipe.execute(raise_on_error=False)
        if not any(isinstance(answer, NoScriptError) for answer in answers) or attempt:
            break
        connection.script_load(_ENQUEUE)  # not in this Redis yet (first use, or a restart): load it, send again
    for request, answer in zip(requests, answers, strict=True):
        if isinstance(answer, Exception):
            raise answer
        if answer == 0:
            enqueue_unique(connection, request)


@event.listens_for(Session, "after_commit")
def _release_jobs(session: Session) -> None:
    requests = session.info.pop("pending_jobs", [])
    if not requests:
        return
    try:
        enqueue_batch(redis_store.client, requests)
    except RedisError:
        log.warning("redis unavailable; %d job(s) left for the sweep", len(requests), exc_info=True)


@event.listens_for(Session, "after_soft_rollback")
def _drop_jobs(session: Session, previous_transaction) -> None:
    session.info.pop("pending_jobs", None)


def route_case_job(case_id: int) -> JobRequest:
    return JobRequest(ROUTING, ROUTE_CASE, (case_id,), f"route-case-{case_id}")


def process_photo_job(photo_id: int) -> JobRequest:
    return JobRequest(PHOTOS, PROCESS_PHOTO, (photo_id,), f"process-photo-{photo_id}", timeout=60)
