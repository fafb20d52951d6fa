"""The two RQ workers of `python -m workers`, in process: RQ's forking worker (`--fork`) and the resident one."""

import os
import time

from rq import Queue
from rq.registry import FinishedJobRegistry

from tests.helpers import DAHEZHONGLU
from workers.lifeline import LifelineReader, LifelineWriter
from workers.queues import ALL_QUEUES, ROUTING
from workers.runner import schedulers
from workers.worker import AppWorker, ResidentWorker


def test_forking_worker_routes_a_report(api, app, redis):
    citizen = api.login_citizen()
    case_id = api.submit_ok(citizen, location=DAHEZHONGLU)["id"]
    with app.app_context():
        AppWorker(ALL_QUEUES, connection=redis).work(burst=True, logging_level="WARNING")
    assert f"route-case-{case_id}" in FinishedJobRegistry(ROUTING, connection=redis).get_job_ids()
    assert api.get(f"/api/v1/reports/{case_id}", citizen).json["status"] == "dispatched"


def test_resident_worker_routes_a_report_and_tells_its_supervisor(api, app, redis):
    citizen = api.login_citizen()
    case_id = api.submit_ok(citizen, location=DAHEZHONGLU)["id"]
    marks = [Queue(ROUTING, connection=redis).enqueue("tests.worker_jobs.mark_app_context") for _ in range(2)]
    read_fd, write_fd = os.pipe()
    lifeline = LifelineReader(read_fd)
    worker = ResidentWorker(ALL_QUEUES, connection=redis, app=app, lifeline=LifelineWriter(write_fd))
    worker.work(burst=True, logging_level="WARNING")  # no app context of its own: each job gets one
    os.close(write_fd)

    assert api.get(f"/api/v1/reports/{case_id}", citizen).json["status"] == "dispatched"
    assert [job.return_value() for job in marks] == [False, False]  # no `g` shared between jobs
    messages = lifeline.read()
    assert messages[0] == {"event": "ready", "worker": worker.name}
    jobs = [m["job"] for m in messages[1::2]]
    assert [m["event"] for m in messages[1:]] == ["busy", "idle"] * len(jobs)
    assert {f"route-case-{case_id}", *(job.id for job in marks)} <= set(jobs)
    assert lifeline.busy is None and lifeline.jobs_done == len(jobs)
    lifeline.close()


def test_the_retry_scheduler_gives_its_locks_back_when_the_worker_stops(redis):
    """Found by a defect hunt: a stopped worker's retry scheduler kept its queue locks until they expired, and
    the next worker's scheduler looked again only after two minutes: retries due meanwhile waited."""
    lock_keys = [f"rq:scheduler-lock:{queue}" for queue in ALL_QUEUES]
    with schedulers(redis, []):
        deadline = time.monotonic() + 10
        while not all(redis.exists(key) for key in lock_keys) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(redis.exists(key) for key in lock_keys)
    assert not any(redis.exists(key) for key in lock_keys)
