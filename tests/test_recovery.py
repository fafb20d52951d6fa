"""Nothing lost, nothing doubled: Redis down at submit time, the sweep, the scheduler, job idempotency."""

import time

from redis import Redis
from rq import Queue

from tests.helpers import DAHEZHONGLU
from workers.queues import PERIODIC, ROUTING
from workers.scheduler import enqueue_due, periodic_table


def test_report_survives_redis_being_down_and_the_sweep_routes_it(api, app, redis, run_jobs):
    citizen = api.login_citizen()
    photo_id = api.upload_ok(citizen)
    app.extensions["redis"] = Redis.from_url("redis://127.0.0.1:1", socket_connect_timeout=0.2)
    response = api.submit(citizen, photo_ids=[photo_id], location=DAHEZHONGLU)
    assert response.status_code == 201  # committed, although nothing could be enqueued
    case_id = response.json["id"]
    app.extensions["redis"] = redis

    assert Queue(ROUTING, connection=redis).count == 0
    assert api.get(f"/api/v1/reports/{case_id}", citizen).json["status"] == "pending"
    enqueue_due(redis, periodic_table(app.config), time.time())
    run_jobs()
    assert api.get(f"/api/v1/reports/{case_id}", citizen).json["status"] == "dispatched"


def test_sweep_does_not_duplicate_work_already_queued(api, app, redis):
    citizen = api.login_citizen()
    api.submit_ok(citizen)
    assert Queue(ROUTING, connection=redis).count == 1
    with app.app_context():
        from backend.services import recovery

        assert recovery.sweep_stuck() == {
            "cases": 0,
            "photos": 0,
            "notifications": 0,
            "payouts": 0,
            "reward_checks": 0,
            "over_attempt_cap": 0,
        }
    assert Queue(ROUTING, connection=redis).count == 1


def test_sweep_retries_a_case_whose_job_failed(api, app, redis, run_jobs):
    """A routing job that failed for good is replaced by the sweep, not blocked by its old id."""
    citizen = api.login_citizen()
    case_id = api.submit_ok(citizen)["id"]
    queue = Queue(ROUTING, connection=redis)
    job = queue.fetch_job(f"route-case-{case_id}")
    job.set_status("failed")
    queue.remove(job)
    with app.app_context():
        from backend.services import recovery

        assert recovery.sweep_stuck()["cases"] == 1
    run_jobs()
    assert api.get(f"/api/v1/reports/{case_id}", citizen).json["status"] == "dispatched"


def test_routing_job_twice_routes_once(api, app, run_jobs):
    citizen = api.login_citizen()
    case_id = api.submit_ok(citizen)["id"]
    run_jobs()
    with app.app_context():
        from workers.jobs.routing import route_case

        route_case(case_id)
        route_case(case_id)
    dispatcher = api.login_staff("dispatcher")
    timeline = api.get(f"/api/v1/admin/cases/{case_id}", dispatcher).json["timeline"]
    assert [event["type"] for event in timeline] == ["submitted", "dispatched"]


def test_routing_job_for_a_missing_case_is_harmless(app):
    with app.app_context():
        from workers.jobs.routing import route_case

        assert route_case(123456) == "missing"


def test_scheduler_enqueues_each_slot_once_across_schedulers(app, redis):
    table = periodic_table(app.config)
    now = 1_800_000_000.0
    first = enqueue_due(redis, table, now)
    second = enqueue_due(redis, table, now + 1)  # another `python -m workers` process, same slot
    assert first and second == []
    assert Queue(PERIODIC, connection=redis).count == len(table)
    later = enqueue_due(redis, table, now + app.config["SWEEP_INTERVAL_SECONDS"])
    assert len(later) == 1


def test_health_shows_queues_and_backlog(api, app, redis):
    dispatcher = api.login_staff("dispatcher")
    citizen = api.login_citizen()
    api.submit_ok(citizen)
    body = api.get("/api/v1/admin/health", dispatcher).json
    assert body["database"] == "ok" and body["redis"] == "ok"
    assert body["queues"]["routing"]["queued"] == 1
    assert body["backlog"]["cases_waiting_for_routing"] == 1
    assert api.get("/api/v1/admin/health", api.login_staff("dahezhonglu")).status_code == 403

    app.extensions["redis"] = Redis.from_url("redis://127.0.0.1:1", socket_connect_timeout=0.2)
    down = api.get("/api/v1/admin/health", dispatcher)
    assert down.status_code == 503 and down.json["redis"] == "unavailable"


def test_health_counts_only_workers_that_still_beat(api, redis):
    """Found by a defect hunt: after a kill -9, RQ's registration of the worker lives on for minutes and health
    kept saying one worker drained the queues. Only workers whose pulse key is alive count."""
    from rq import Worker

    from workers.queues import pulse_key

    dispatcher = api.login_staff("dispatcher")
    for name in ("alive", "killed"):
        Worker([ROUTING], connection=redis, name=name).register_birth()
    redis.set(pulse_key("alive"), 1, ex=15)
    assert api.get("/api/v1/admin/health", dispatcher).json["workers"] == 1
    redis.delete(pulse_key("alive"))
    assert api.get("/api/v1/admin/health", dispatcher).json["workers"] == 0
