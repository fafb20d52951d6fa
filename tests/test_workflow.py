"""The state machine through HTTP: every allowed path, every illegal transition (409), concurrency."""

import pytest

from tests.helpers import DAHEZHONGLU, OUTSIDE, concurrently

UNIT = "dahezhonglu"


@pytest.fixture
def people(api):
    return {
        "citizen": api.login_citizen(),
        "unit": api.login_staff(UNIT),
        "dispatcher": api.login_staff("dispatcher"),
    }


def _case_in(api, run_jobs, people, status: str) -> int:
    """A case brought to `status` through the API."""
    report = api.submit_ok(people["citizen"], location=OUTSIDE if status == "pending" else DAHEZHONGLU)
    case_id = report["id"]
    run_jobs()
    steps = {
        "pending": [],
        "dispatched": [],
        "processing": [("unit", "accept", None)],
        "replied": [("unit", "accept", None), ("unit", "reply", {"content": "已处理"})],
        "closed": [("unit", "accept", None), ("unit", "reply", {"content": "已处理"}), ("dispatcher", "close", None)],
        "rejected": [("dispatcher", "reject", {"reason": "重复举报"})],
    }[status]
    for who, action, body in steps:
        prefix = "/api/v1/unit" if who == "unit" else "/api/v1/admin"
        response = api.post(f"{prefix}/cases/{case_id}/{action}", people[who], json=body)
        assert response.status_code == 200, response.json
    assert api.get(f"/api/v1/admin/cases/{case_id}", people["dispatcher"]).json["status"] == status
    return case_id


UNIT_ACTIONS = {"accept": None, "return": {"reason": "不属于本单位职责"}, "reply": {"content": "已处理"}}
ADMIN_ACTIONS = {"close": None, "rework": {"reason": "现场仍有小广告"}, "reject": {"reason": "无效举报"}}
ALLOWED = {
    "accept": {"dispatched"},
    "return": {"dispatched", "processing"},
    "reply": {"processing"},
    "close": {"replied"},
    "rework": {"replied"},
    "reject": {"pending", "dispatched"},
}
STATUSES = ["pending", "dispatched", "processing", "replied", "closed", "rejected"]
ILLEGAL = [
    (status, action)
    for action, sources in ALLOWED.items()
    for status in STATUSES
    if status not in sources and not (action in UNIT_ACTIONS and status in {"pending", "rejected"})
]


@pytest.mark.parametrize(("status", "action"), ILLEGAL)
def test_illegal_transitions_are_409(api, run_jobs, people, status, action):
    case_id = _case_in(api, run_jobs, people, status)
    if action in UNIT_ACTIONS:
        response = api.post(f"/api/v1/unit/cases/{case_id}/{action}", people["unit"], json=UNIT_ACTIONS[action])
    else:
        response = api.post(f"/api/v1/admin/cases/{case_id}/{action}", people["dispatcher"], json=ADMIN_ACTIONS[action])
    assert response.status_code == 409, response.json
    assert response.json["error"]["code"] == "invalid_transition"
    assert api.get(f"/api/v1/admin/cases/{case_id}", people["dispatcher"]).json["status"] == status


def test_dispatch_is_only_from_pending_or_dispatched(api, run_jobs, people):
    unit_id = _unit_id(api, people, "renhe-town")
    for status in ("processing", "replied", "closed", "rejected"):
        case_id = _case_in(api, run_jobs, people, status)
        response = api.post(f"/api/v1/admin/cases/{case_id}/dispatch", people["dispatcher"], json={"unit_id": unit_id})
        assert response.status_code == 409


def _unit_id(api, people, code):
    units = api.get("/api/v1/admin/units", people["dispatcher"]).json["items"]
    return next(u["id"] for u in units if u["code"] == code)


def test_unmatched_report_waits_then_manual_dispatch(api, run_jobs, people):
    case_id = _case_in(api, run_jobs, people, "pending")
    case = api.get(f"/api/v1/admin/cases/{case_id}", people["dispatcher"]).json
    assert case["routing_status"] == "unmatched"
    assert case["timeline"][-1]["type"] == "routing_unmatched"
    queue = api.get("/api/v1/admin/cases?status=pending", people["dispatcher"]).json
    assert case_id in [c["id"] for c in queue["items"]]

    unit_id = _unit_id(api, people, UNIT)
    case = api.post(f"/api/v1/admin/cases/{case_id}/dispatch", people["dispatcher"], json={"unit_id": unit_id}).json
    assert case["status"] == "dispatched" and case["unit"]["code"] == UNIT and case["deadline"]
    assert api.get(f"/api/v1/unit/cases/{case_id}", people["unit"]).status_code == 200


def test_the_lead_unit_named_among_the_co_units_is_left_out_of_the_event_too(api, run_jobs, people):
    """Found by a defect hunt: the case left the lead out of its co-units, the timeline event did not."""
    case_id = _case_in(api, run_jobs, people, "pending")
    lead, other = _unit_id(api, people, UNIT), _unit_id(api, people, "renhe-enforcement")
    body = {"unit_id": lead, "co_unit_ids": [lead, other]}
    case = api.post(f"/api/v1/admin/cases/{case_id}/dispatch", people["dispatcher"], json=body).json
    assert [u["id"] for u in case["co_units"]] == [other]
    with_data = api.get(f"/api/v1/admin/cases/{case_id}", people["dispatcher"]).json["timeline"][-1]
    assert with_data["type"] == "dispatched", with_data
    assert with_data["data"]["co_unit_ids"] == [other]


def test_dispatch_to_unknown_unit_is_404(api, run_jobs, people):
    case_id = _case_in(api, run_jobs, people, "pending")
    response = api.post(f"/api/v1/admin/cases/{case_id}/dispatch", people["dispatcher"], json={"unit_id": 99999})
    assert response.status_code == 404


def test_return_puts_the_case_back_in_the_dispatch_queue(api, run_jobs, people):
    case_id = _case_in(api, run_jobs, people, "processing")
    case = api.post(f"/api/v1/unit/cases/{case_id}/return", people["unit"], json={"reason": "属于前进镇辖区"}).json
    assert case["status"] == "pending" and case["unit"] is None and case["deadline"] is None
    assert case["timeline"][-1]["type"] == "returned" and case["timeline"][-1]["note"] == "属于前进镇辖区"
    assert api.get(f"/api/v1/unit/cases/{case_id}", people["unit"]).status_code == 404
    # the citizen does not see the internal return, only that the case waits again
    report = api.get(f"/api/v1/reports/{case_id}", people["citizen"]).json
    assert report["status"] == "pending" and "returned" not in [e["type"] for e in report["timeline"]]


def test_return_needs_a_reason(api, run_jobs, people):
    case_id = _case_in(api, run_jobs, people, "dispatched")
    response = api.post(f"/api/v1/unit/cases/{case_id}/return", people["unit"], json={})
    assert response.status_code == 422 and "reason" in response.json["error"]["fields"]


def test_rework_then_reply_again(api, run_jobs, people):
    case_id = _case_in(api, run_jobs, people, "replied")
    case = api.post(f"/api/v1/admin/cases/{case_id}/rework", people["dispatcher"], json={"reason": "未清理干净"}).json
    assert case["status"] == "processing"
    case = api.post(f"/api/v1/unit/cases/{case_id}/reply", people["unit"], json={"content": "已彻底清理"}).json
    assert case["status"] == "replied"
    report = api.get(f"/api/v1/reports/{case_id}", people["citizen"]).json
    assert report["reply"]["content"] == "已彻底清理"


def test_reject(api, run_jobs, people):
    case_id = _case_in(api, run_jobs, people, "dispatched")
    case = api.post(
        f"/api/v1/admin/cases/{case_id}/reject", people["dispatcher"], json={"reason": "照片与问题无关"}
    ).json
    assert case["status"] == "rejected"
    assert api.get(f"/api/v1/reports/{case_id}", people["citizen"]).json["status"] == "rejected"


@pytest.mark.parametrize("rating", ["satisfied", "basic"])
def test_rating_closes_a_replied_case(api, run_jobs, people, rating):
    case_id = _case_in(api, run_jobs, people, "replied")
    report = api.post(f"/api/v1/reports/{case_id}/rating", people["citizen"], json={"rating": rating}).json
    assert report["status"] == "closed"


def test_unsatisfied_rating_flags_the_case_for_the_dispatcher(api, run_jobs, people):
    case_id = _case_in(api, run_jobs, people, "replied")
    body = {"rating": "unsatisfied", "comment": "小广告还在"}
    report = api.post(f"/api/v1/reports/{case_id}/rating", people["citizen"], json=body).json
    assert report["status"] == "replied" and report["rating"]["rating"] == "unsatisfied"
    flagged = api.get("/api/v1/admin/cases?needs_review=true", people["dispatcher"]).json["items"]
    assert [c["id"] for c in flagged] == [case_id]
    case = api.post(f"/api/v1/admin/cases/{case_id}/rework", people["dispatcher"], json={"reason": "市民不满意"}).json
    assert case["status"] == "processing" and case["needs_review"] is False


def test_rating_rules(api, run_jobs, people):
    case_id = _case_in(api, run_jobs, people, "processing")
    response = api.post(f"/api/v1/reports/{case_id}/rating", people["citizen"], json={"rating": "satisfied"})
    assert response.status_code == 409
    api.post(f"/api/v1/unit/cases/{case_id}/reply", people["unit"], json={"content": "已处理"})
    api.post(f"/api/v1/admin/cases/{case_id}/close", people["dispatcher"])
    # a closed case can still be rated once
    assert api.post(f"/api/v1/reports/{case_id}/rating", people["citizen"], json={"rating": "basic"}).status_code == 200
    again = api.post(f"/api/v1/reports/{case_id}/rating", people["citizen"], json={"rating": "satisfied"})
    assert again.status_code == 409 and again.json["error"]["code"] == "already_rated"
    bad = api.post(f"/api/v1/reports/{case_id}/rating", people["citizen"], json={"rating": "great"})
    assert bad.status_code == 422


def test_concurrent_accepts_on_one_case_cannot_both_win(app, api, run_jobs, people):
    case_id = _case_in(api, run_jobs, people, "dispatched")
    headers = {"Authorization": f"Bearer {people['unit']}"}

    def accept():
        return app.test_client().post(f"/api/v1/unit/cases/{case_id}/accept", headers=headers).status_code

    assert sorted(concurrently(accept, accept, accept, accept)) == [200, 409, 409, 409]
    case = api.get(f"/api/v1/admin/cases/{case_id}", people["dispatcher"]).json
    assert [e["type"] for e in case["timeline"]].count("accepted") == 1


def test_concurrent_close_and_rework_cannot_both_win(app, api, run_jobs, people):
    case_id = _case_in(api, run_jobs, people, "replied")
    headers = {"Authorization": f"Bearer {people['dispatcher']}"}

    def act(action, body):
        return lambda: app.test_client().post(f"/api/v1/admin/cases/{case_id}/{action}", json=body, headers=headers)

    closed, reworked = concurrently(act("close", None), act("rework", {"reason": "再查"}))
    assert sorted([closed.status_code, reworked.status_code]) == [200, 409]
    case = api.get(f"/api/v1/admin/cases/{case_id}", people["dispatcher"]).json
    assert case["status"] == ("closed" if closed.status_code == 200 else "processing")
