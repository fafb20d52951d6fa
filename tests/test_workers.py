"""One smoke test through RQ's forking worker, as `python -m workers` runs jobs."""

from rq.registry import FinishedJobRegistry

from tests.helpers import DAHEZHONGLU
from workers.queues import ALL_QUEUES, ROUTING
from workers.worker import AppWorker


def test_forking_worker_routes_a_report(api, app, redis):
    citizen = api.login_citizen()
    case_id = api.submit_ok(citizen, location=DAHEZHONGLU)["id"]
    with app.app_context():
        AppWorker(ALL_QUEUES, connection=redis).work(burst=True, logging_level="WARNING")
    assert f"route-case-{case_id}" in FinishedJobRegistry(ROUTING, connection=redis).get_job_ids()
    assert api.get(f"/api/v1/reports/{case_id}", citizen).json["status"] == "dispatched"
