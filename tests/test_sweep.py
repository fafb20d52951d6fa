"""The sweep trusts the database: stale job hashes, whole backlogs, attempt caps and a dispatcher's retry."""

from datetime import date

from rq import Queue, Worker
from rq.job import Job
from rq.registry import StartedJobRegistry

from backend.extensions import db
from backend.models import JobAttempt, Photo, PhotoStatus, RewardRule
from backend.models.types import utcnow
from backend.services import recovery
from tests.helpers import DAHEZHONGLU
from tests.test_rewards import closed_case, finance  # noqa: F401 - fixtures
from workers.queues import ALL_QUEUES, PERIODIC, PHOTOS, ROUTING
from workers.worker import AppWorker


def _lose_from_queue(redis, job_id: str, queue: str = ROUTING) -> None:
    """What a worker killed between BLPOP and start leaves: the hash says queued, no list or registry holds it."""
    assert redis.lrem(Queue(queue, connection=redis).key, 0, job_id) == 1


def test_sweep_re_creates_a_job_whose_hash_says_queued_in_no_queue(api, app, redis, run_jobs):
    citizen = api.login_citizen()
    case_id = api.submit_ok(citizen, location=DAHEZHONGLU)["id"]
    _lose_from_queue(redis, f"route-case-{case_id}")
    assert Job.fetch(f"route-case-{case_id}", connection=redis).get_status() == "queued"
    with app.app_context():
        assert recovery.sweep_stuck()["cases"] == 1
    assert Queue(ROUTING, connection=redis).job_ids == [f"route-case-{case_id}"]
    run_jobs()
    assert api.get(f"/api/v1/reports/{case_id}", citizen).json["status"] == "dispatched"


def test_sweep_re_creates_a_job_started_by_a_worker_that_died(api, app, redis, run_jobs):
    citizen = api.login_citizen()
    case_id = api.submit_ok(citizen, location=DAHEZHONGLU)["id"]
    job_id = f"route-case-{case_id}"
    _lose_from_queue(redis, job_id)
    # started by a worker whose key expired (kill -9: no heartbeat any more), its entry not yet expired
    redis.hset(Job.key_for(job_id), mapping={"status": "started", "worker_name": "gone"})
    redis.zadd(StartedJobRegistry(ROUTING, connection=redis).key, {f"{job_id}:exec1": utcnow().timestamp() + 60})
    with app.app_context():
        assert recovery.sweep_stuck()["cases"] == 1
    run_jobs()
    assert api.get(f"/api/v1/reports/{case_id}", citizen).json["status"] == "dispatched"


def _routing_started_by_a_worker(api, redis) -> tuple[str, AppWorker]:
    """A new case's routing job as a live worker's started job: taken from the queue, in its started registry."""
    case_id = api.submit_ok(api.login_citizen(), location=DAHEZHONGLU)["id"]
    job_id = f"route-case-{case_id}"
    _lose_from_queue(redis, job_id)
    worker = AppWorker([ROUTING], connection=redis)
    worker.register_birth()
    redis.hset(Job.key_for(job_id), mapping={"status": "started", "worker_name": worker.name})
    redis.zadd(StartedJobRegistry(ROUTING, connection=redis).key, {f"{job_id}:exec1": utcnow().timestamp() + 60})
    return job_id, worker


def test_sweep_leaves_a_job_running_in_a_live_worker_alone(api, app, redis):
    _, worker = _routing_started_by_a_worker(api, redis)
    with app.app_context():
        assert recovery.sweep_stuck()["cases"] == 0
    worker.register_death()
    with app.app_context():
        assert recovery.sweep_stuck()["cases"] == 1


def test_a_job_of_a_worker_that_stopped_beating_is_lost_though_rq_still_lists_the_worker(api, app, redis):
    """kill -9 mid-job: RQ's key for the worker lives on (up to the job's timeout plus a minute), its pulse
    lapses within seconds, and the sweep re-creates the job then, not minutes later."""
    job_id, worker = _routing_started_by_a_worker(api, redis)
    worker.stop_pulse()  # what the kernel does to the pulse thread of a killed process, once its key expires
    assert redis.exists(f"{Worker.redis_worker_namespace_prefix}{worker.name}")
    with app.app_context():
        assert recovery.sweep_stuck()["cases"] == 1
    assert Queue(ROUTING, connection=redis).job_ids == [job_id]


def test_one_sweep_re_enqueues_the_whole_backlog_not_one_page(app, redis):
    """After a Redis wipe every unprocessed photo gets its job in one pass, however many there are."""
    with app.app_context():
        now = utcnow()
        db.session.execute(
            db.insert(Photo),
            [
                dict(
                    status=PhotoStatus.RECEIVED,
                    format="jpeg",
                    byte_size=1,
                    width=1,
                    height=1,
                    sha256=f"{i:064x}",
                    original_key=f"lost/{i}.jpg",
                    created_at=now,
                )
                for i in range(1234)
            ],
        )
        db.session.commit()
        assert recovery.sweep_stuck()["photos"] == 1234
        assert recovery.sweep_stuck()["photos"] == 0  # all of them queued now: nothing doubled
    assert Queue(PHOTOS, connection=redis).count == 1234


def test_periodic_work_is_dequeued_before_a_backlog(app, redis):
    assert ALL_QUEUES[0] == PERIODIC
    photos = Queue(PHOTOS, connection=redis)
    for i in range(20):
        photos.enqueue("workers.jobs.photos.process_photo", 10_000 + i)
    Queue(PERIODIC, connection=redis).enqueue("workers.jobs.maintenance.sweep_stuck", job_id="periodic-x")
    with app.app_context():
        Worker(ALL_QUEUES, connection=redis).work(burst=True, max_jobs=1, logging_level="WARNING")
    assert Job.fetch("periodic-x", connection=redis).get_status() == "finished"
    assert photos.count == 20


def test_a_reward_check_that_can_never_make_a_claim_is_done(app, api, run_jobs, finance):  # noqa: F811
    dispatcher = api.login_staff("dispatcher")
    categories = {c["code"]: c["id"] for c in api.get("/api/v1/admin/categories", dispatcher).json["items"]}
    created = api.post("/api/v1/reward-admin/rules", finance, json={"category_id": categories["dust"], "amount_fen": 5})
    with app.app_context():  # a rule that starts next year: none in force for today's case
        db.session.get(RewardRule, created.json["id"]).starts_on = date(utcnow().year + 1, 1, 1)
        db.session.commit()
    closed_case(api, run_jobs)
    with app.app_context():
        counts = []
        for _ in range(3):
            counts.append(recovery.sweep_stuck()["reward_checks"])
            run_jobs()
    assert counts == [0, 0, 0]


def test_attempts_are_capped_listed_in_health_and_retried_by_a_dispatcher(api, app, redis, run_jobs):
    app.config["SWEEP_MAX_ATTEMPTS"] = 2
    citizen = api.login_citizen()
    case_id = api.submit_ok(citizen, location=DAHEZHONGLU)["id"]
    job_id = f"route-case-{case_id}"
    counts = []
    with app.app_context():
        for _ in range(4):  # the job keeps getting lost
            redis.lrem(Queue(ROUTING, connection=redis).key, 0, job_id)
            summary = recovery.sweep_stuck()
            counts.append((summary["cases"], summary["over_attempt_cap"]))
        assert db.session.get(JobAttempt, ("route_case", case_id)).attempts == 2
    assert counts == [(1, 0), (1, 0), (0, 1), (0, 1)]

    dispatcher = api.login_staff("dispatcher")
    stuck = api.get("/api/v1/admin/health", dispatcher).json["over_attempt_cap"]
    assert stuck["count"] == 1
    assert stuck["items"][0] | {"last_attempt_at": None} == {
        "kind": "route_case",
        "id": case_id,
        "attempts": 2,
        "last_attempt_at": None,
    }

    unit = api.login_staff("dahezhonglu")
    assert api.post(f"/api/v1/admin/health/stuck/route_case/{case_id}/retry", unit).status_code == 403
    retried = api.post(f"/api/v1/admin/health/stuck/route_case/{case_id}/retry", dispatcher)
    assert retried.status_code == 202 and retried.json["job_id"] == job_id
    assert Queue(ROUTING, connection=redis).job_ids == [job_id]
    run_jobs()
    assert api.get(f"/api/v1/reports/{case_id}", citizen).json["status"] == "dispatched"
    assert api.get("/api/v1/admin/health", dispatcher).json["over_attempt_cap"] == {"count": 0, "items": []}

    again = api.post(f"/api/v1/admin/health/stuck/route_case/{case_id}/retry", dispatcher)
    assert again.status_code == 409 and again.json["error"]["code"] == "not_stuck"
    unknown = api.post(f"/api/v1/admin/health/stuck/teleport/{case_id}/retry", dispatcher)
    assert unknown.status_code == 404 and unknown.json["error"]["code"] == "job_kind_not_found"


def test_a_rule_made_after_the_close_still_rewards_the_case_once(app, api, run_jobs, finance):  # noqa: F811
    closed_case(api, run_jobs)  # no rule yet: the check ran and made no claim
    with app.app_context():
        assert recovery.sweep_stuck()["reward_checks"] == 0
    dispatcher = api.login_staff("dispatcher")
    categories = {c["code"]: c["id"] for c in api.get("/api/v1/admin/categories", dispatcher).json["items"]}
    created = api.post("/api/v1/reward-admin/rules", finance, json={"category_id": categories["dust"], "amount_fen": 5})
    assert created.status_code == 201
    with app.app_context():
        assert recovery.sweep_stuck()["reward_checks"] == 1
        run_jobs()
        assert recovery.sweep_stuck()["reward_checks"] == 0
    claims = api.get("/api/v1/reward-admin/claims", finance).json["items"]
    assert len(claims) == 1


def test_a_periodic_slot_runs_once_even_after_its_job_finished(app, redis, run_jobs):
    from workers.scheduler import enqueue_due, periodic_table

    table = periodic_table(app.config)
    now = 1_800_000_000.0
    assert len(enqueue_due(redis, table, now)) == len(table)
    run_jobs()  # the slot's jobs finish ...
    assert enqueue_due(redis, table, now + 1) == []  # ... and the other process's scheduler does not run them again
