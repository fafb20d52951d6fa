"""No case is ever stranded: a deactivated unit's cases stay actionable, and its staff are signed out."""

from datetime import timedelta

import pytest

from backend.extensions import db
from backend.models import Case
from backend.models.types import utcnow
from backend.services.casework import supervision
from backend.services.responsibility.demo_district import DEMO_PASSWORD
from tests.helpers import DAHEZHONGLU

UNIT = "dahezhonglu"
OTHER = "renhe-town"


@pytest.fixture
def people(api):
    return {
        "citizen": api.login_citizen(),
        "unit": api.login_staff(UNIT),
        "dispatcher": api.login_staff("dispatcher"),
    }


def _units(api, people) -> dict[str, int]:
    return {u["code"]: u["id"] for u in api.get("/api/v1/admin/units", people["dispatcher"]).json["items"]}


def _set_active(api, people, code: str, active: bool) -> None:
    unit_id = _units(api, people)[code]
    response = api.client.patch(
        f"/api/v1/admin/units/{unit_id}", json={"active": active}, headers=api.auth(people["dispatcher"])
    )
    assert response.status_code == 200, response.json


def _case(api, run_jobs, people, steps=("accept",)) -> int:
    case_id = api.submit_ok(people["citizen"], location=DAHEZHONGLU)["id"]
    run_jobs()
    bodies = {"accept": None, "reply": {"content": "已处理"}}
    for step in steps:
        response = api.post(f"/api/v1/unit/cases/{case_id}/{step}", people["unit"], json=bodies[step])
        assert response.status_code == 200, response.json
    return case_id


def _admin(api, people, case_id):
    return api.get(f"/api/v1/admin/cases/{case_id}", people["dispatcher"]).json


def test_rework_of_a_replied_case_whose_unit_was_deactivated_goes_back_to_the_dispatcher(api, run_jobs, people):
    case_id = _case(api, run_jobs, people, ("accept", "reply"))
    _set_active(api, people, UNIT, False)
    # the unit's work is done: the replied case stays replied (close, rate and auto-close need no unit)
    assert _admin(api, people, case_id)["status"] == "replied"
    rework = api.post(f"/api/v1/admin/cases/{case_id}/rework", people["dispatcher"], json={"reason": "未清理干净"})
    assert rework.status_code == 200, rework.json
    case = rework.json
    assert (case["status"], case["unit"], case["routing_status"]) == ("pending", None, "manual")
    assert case["timeline"][-1]["type"] == "reworked" and case["timeline"][-1]["note"] == "未清理干净"
    other = _units(api, people)[OTHER]
    dispatched = api.post(f"/api/v1/admin/cases/{case_id}/dispatch", people["dispatcher"], json={"unit_id": other})
    assert dispatched.status_code == 200 and dispatched.json["status"] == "dispatched"
    assert dispatched.json["unit"]["code"] == OTHER


def test_rework_at_an_active_unit_still_goes_to_that_unit(api, run_jobs, people):
    case_id = _case(api, run_jobs, people, ("accept", "reply"))
    rework = api.post(f"/api/v1/admin/cases/{case_id}/rework", people["dispatcher"], json={"reason": "再查"}).json
    assert rework["status"] == "processing" and rework["unit"]["code"] == UNIT


def test_a_deactivated_units_staff_can_neither_sign_in_nor_use_their_tokens(api, run_jobs, people):
    case_id = _case(api, run_jobs, people, ("accept", "reply"))
    _set_active(api, people, UNIT, False)
    for response in (
        api.get(f"/api/v1/unit/cases/{case_id}", people["unit"]),
        api.get("/api/v1/unit/cases", people["unit"]),
    ):
        assert response.status_code == 401 and response.json["error"]["code"] == "unit_disabled"
    login = api.client.post("/api/v1/auth/staff", json={"username": UNIT, "password": DEMO_PASSWORD})
    assert login.status_code == 403 and login.json["error"]["code"] == "unit_disabled"
    assert "已停用" in login.json["error"]["message"]
    # reactivated, the unit's staff work again (with the token they held, too)
    _set_active(api, people, UNIT, True)
    assert api.get(f"/api/v1/unit/cases/{case_id}", people["unit"]).status_code == 200
    assert api.login_staff(UNIT)


def _strand(app, case_id) -> None:
    """A case left at an inactive unit without being recalled: a dispatch that raced the deactivation, or
    data from before deactivation recalled anything."""
    with app.app_context():
        case = db.session.get(Case, case_id)
        case.unit.active = False
        db.session.commit()


@pytest.mark.parametrize("action", ["dispatch", "reject"])
def test_dispatchers_can_always_take_over_a_case_at_an_inactive_unit(app, api, run_jobs, people, action):
    case_id = _case(api, run_jobs, people, ("accept",))
    _strand(app, case_id)
    body = {"unit_id": _units(api, people)[OTHER]} if action == "dispatch" else {"reason": "单位撤并，不再受理"}
    response = api.post(f"/api/v1/admin/cases/{case_id}/{action}", people["dispatcher"], json=body)
    assert response.status_code == 200, response.json
    assert response.json["status"] == {"dispatch": "dispatched", "reject": "rejected"}[action]


def test_processing_at_an_active_unit_is_still_not_the_dispatchers(api, run_jobs, people):
    case_id = _case(api, run_jobs, people, ("accept",))
    other = _units(api, people)[OTHER]
    response = api.post(f"/api/v1/admin/cases/{case_id}/dispatch", people["dispatcher"], json={"unit_id": other})
    assert response.status_code == 409 and response.json["error"]["code"] == "invalid_transition"


def test_supervision_recalls_a_case_at_an_inactive_unit_instead_of_escalating(app, api, run_jobs, people):
    case_id = _case(api, run_jobs, people, ("accept",))
    _strand(app, case_id)
    with app.app_context():
        counts = supervision.run(utcnow() + timedelta(days=30))
        assert counts["recalled"] == 1 and counts["escalated"] == 0 and counts["reminded"] == 0
    case = _admin(api, people, case_id)
    assert (case["status"], case["unit"], case["routing_status"]) == ("pending", None, "manual")
    assert case["timeline"][-1]["type"] == "returned" and "已停用" in case["timeline"][-1]["note"]
    with app.app_context():
        assert supervision.run(utcnow() + timedelta(days=30))["recalled"] == 0
