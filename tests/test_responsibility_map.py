"""The responsibility map: precedence of routing rules, co-units, re-routing after returns, admin edits."""

import pytest

from tests.helpers import OUTSIDE

DAHE_GRID_1 = {"lat": 26.52, "lng": 101.69, "coord": "gcj02"}
DAHE_GRID_2 = {"lat": 26.52, "lng": 101.71, "coord": "gcj02"}
RENHE_COMMUNITY = {"lat": 26.50, "lng": 101.74, "coord": "gcj02"}
QIANJIN = {"lat": 26.50, "lng": 101.78, "coord": "gcj02"}


@pytest.fixture
def dispatcher(api):
    return api.login_staff("dispatcher")


def _explain(api, token, category, point):
    query = f"lat={point['lat']}&lng={point['lng']}&coord={point['coord']}&category={category}"
    response = api.get(f"/api/v1/admin/routing/explain?{query}", token)
    assert response.status_code == 200, response.json
    return response.json


def _names(candidates):
    return [c["unit"]["name"] for c in candidates]


@pytest.mark.parametrize(
    ("category", "point", "lead", "co"),
    [
        # category × street rule beats the category default
        ("illegal_ad", DAHE_GRID_1, "大河中路街道", []),
        # category default: the lead unit, with the territorial unit (finest region) as co-unit
        ("illegal_ad", RENHE_COMMUNITY, "区综合行政执法局", ["仁和社区"]),
        ("street_vendor", RENHE_COMMUNITY, "区综合行政执法局", ["区商务局", "区市场监管局", "仁和社区"]),
        # a sub-category with its own lead and co-units
        ("construction_dust", QIANJIN, "区住建局", ["区生态环境局", "前进镇"]),
        # a sub-category without a lead inherits its parent's
        ("road_dust", QIANJIN, "区生态环境局", ["前进镇"]),
        # no lead anywhere: the territorial unit of the finest region (a grid)
        ("sanitation", DAHE_GRID_2, "大河社区第二网格", []),
    ],
)
def test_precedence(api, dispatcher, category, point, lead, co):
    explained = _explain(api, dispatcher, category, point)
    first = explained["candidates"][0]
    assert first["unit"]["name"] == lead, explained
    assert [u["name"] for u in first["co_units"]] == co
    assert first["reason"]


def test_territorial_candidates_go_from_finest_to_coarsest(api, dispatcher):
    names = _names(_explain(api, dispatcher, "sanitation", DAHE_GRID_1)["candidates"])
    assert names == ["大河社区第一网格", "大河社区", "大河中路街道"]


def test_outside_every_region_has_no_candidate(api, dispatcher):
    explained = _explain(api, dispatcher, "dust", OUTSIDE)
    assert explained["candidates"] == [] and "辖区" in explained["reason_if_none"]


def test_a_grid_rule_beats_a_street_rule_and_a_region_rule_beats_territorial(api, dispatcher):
    units = {u["code"]: u["id"] for u in api.get("/api/v1/admin/units", dispatcher).json["items"]}
    regions = {r["code"]: r["id"] for r in _regions(api, dispatcher)}
    categories = {c["code"]: c["id"] for c in api.get("/api/v1/admin/categories", dispatcher).json["items"]}
    rule = api.post(
        "/api/v1/admin/rules",
        dispatcher,
        json={
            "category_id": categories["illegal_ad"],
            "region_id": regions["dahe-grid-1"],
            "target": "unit",
            "unit_id": units["renhe-market"],
        },
    )
    assert rule.status_code == 201, rule.json
    first = _explain(api, dispatcher, "illegal_ad", DAHE_GRID_1)["candidates"][0]
    assert first["unit"]["name"] == "区市场监管局" and first["rule_id"] == rule.json["id"]
    # elsewhere in the street the street rule still applies
    assert _explain(api, dispatcher, "illegal_ad", DAHE_GRID_2)["candidates"][0]["unit"]["name"] == "大河中路街道"

    region_rule = {"region_id": regions["qianjin-town"], "target": "unit", "unit_id": units["renhe-police"]}
    assert api.post("/api/v1/admin/rules", dispatcher, json=region_rule).status_code == 201
    assert _explain(api, dispatcher, "sanitation", QIANJIN)["candidates"][0]["unit"]["name"] == "市公安局仁和区分局"
    # but not before a category's lead unit
    assert _explain(api, dispatcher, "dust", QIANJIN)["candidates"][0]["unit"]["name"] == "区生态环境局"


def _regions(api, token):
    with api.client.application.app_context():
        from backend.extensions import db
        from backend.models import Region

        return [{"id": r.id, "code": r.code} for r in db.session.scalars(db.select(Region))]


def test_routed_case_records_co_units_and_reason(api, run_jobs, dispatcher):
    citizen = api.login_citizen()
    case_id = api.submit_ok(citizen, category="street_vendor", location=RENHE_COMMUNITY)["id"]
    run_jobs()
    case = api.get(f"/api/v1/admin/cases/{case_id}", dispatcher).json
    assert case["unit"]["code"] == "renhe-enforcement"
    assert [u["code"] for u in case["co_units"]] == ["renhe-commerce", "renhe-market", "renhe-community"]
    assert "牵头单位" in case["routing_reason"]


def test_co_unit_sees_and_comments_but_only_the_lead_acts(api, run_jobs):
    citizen = api.login_citizen()
    case_id = api.submit_ok(citizen, category="street_vendor", location=RENHE_COMMUNITY)["id"]
    run_jobs()
    co = api.login_staff("renhe-commerce")
    lead = api.login_staff("renhe-enforcement")
    assert [c["id"] for c in api.get("/api/v1/unit/cases?role=co", co).json["items"]] == [case_id]
    assert api.get("/api/v1/unit/cases?role=lead", co).json["total"] == 0
    assert api.get(f"/api/v1/unit/cases/{case_id}", co).status_code == 200
    commented = api.post(f"/api/v1/unit/cases/{case_id}/comment", co, json={"content": "已通知商户整改"})
    assert commented.status_code == 200 and commented.json["timeline"][-1]["type"] == "commented"
    for action, body in (("accept", None), ("return", {"reason": "x"}), ("reply", {"content": "x"})):
        response = api.post(f"/api/v1/unit/cases/{case_id}/{action}", co, json=body)
        assert response.status_code == 403 and response.json["error"]["code"] == "not_lead_unit"
    assert api.post(f"/api/v1/unit/cases/{case_id}/accept", lead).status_code == 200
    timeline = api.get(f"/api/v1/reports/{case_id}", citizen).json["timeline"]
    assert "commented" not in [e["type"] for e in timeline]
    # a unit that neither leads nor co-handles still gets 404
    assert api.get(f"/api/v1/unit/cases/{case_id}", api.login_staff("qianjin-town")).status_code == 404


def test_returned_case_goes_to_the_next_candidate_then_to_manual(api, run_jobs, dispatcher):
    citizen = api.login_citizen()
    case_id = api.submit_ok(citizen, category="street_vendor", location=RENHE_COMMUNITY)["id"]
    run_jobs()
    for expected_now, next_expected in (
        ("renhe-enforcement", "renhe-community"),
        ("renhe-community", "renhe-town"),
    ):
        case = api.get(f"/api/v1/admin/cases/{case_id}", dispatcher).json
        assert case["unit"]["code"] == expected_now
        response = api.post(
            f"/api/v1/unit/cases/{case_id}/return", api.login_staff(expected_now), json={"reason": "非本单位职责"}
        )
        assert response.json["status"] == "pending"
        run_jobs()
        assert api.get(f"/api/v1/admin/cases/{case_id}", dispatcher).json["unit"]["code"] == next_expected
    api.post(f"/api/v1/unit/cases/{case_id}/return", api.login_staff("renhe-town"), json={"reason": "非本单位职责"})
    run_jobs()
    case = api.get(f"/api/v1/admin/cases/{case_id}", dispatcher).json
    assert case["status"] == "pending" and case["routing_status"] == "unmatched"
    assert "均已退单" in case["routing_reason"]


def test_deactivating_a_unit_returns_its_open_cases_to_the_dispatcher(api, run_jobs, dispatcher):
    citizen = api.login_citizen()
    case_id = api.submit_ok(citizen, category="sanitation", location=DAHE_GRID_2)["id"]
    run_jobs()
    grid = next(u for u in api.get("/api/v1/admin/units", dispatcher).json["items"] if u["code"] == "dahe-grid-2")
    response = api.client.patch(
        f"/api/v1/admin/units/{grid['id']}", json={"active": False}, headers=api.auth(dispatcher)
    )
    assert response.status_code == 200 and response.json["active"] is False
    case = api.get(f"/api/v1/admin/cases/{case_id}", dispatcher).json
    assert case["status"] == "pending" and case["unit"] is None and case["routing_status"] == "manual"
    assert case["timeline"][-1]["type"] == "returned" and case["timeline"][-1]["actor_kind"] == "system"
    # the grid no longer routes: the next report there goes to its community
    second = api.submit_ok(citizen, category="sanitation", location=DAHE_GRID_2)["id"]
    run_jobs()
    assert api.get(f"/api/v1/admin/cases/{second}", dispatcher).json["unit"]["code"] == "dahe-community"


def test_a_unit_still_leading_a_category_cannot_be_deactivated(api, dispatcher):
    unit = next(u for u in api.get("/api/v1/admin/units", dispatcher).json["items"] if u["code"] == "renhe-ecology")
    response = api.client.patch(
        f"/api/v1/admin/units/{unit['id']}", json={"active": False}, headers=api.auth(dispatcher)
    )
    assert response.status_code == 409 and response.json["error"]["code"] == "unit_in_use"
    assert "dust" in response.json["error"]["message"]


def test_unit_hierarchy_validation_and_audit(api, dispatcher):
    units = {u["code"]: u for u in api.get("/api/v1/admin/units", dispatcher).json["items"]}
    created = api.post(
        "/api/v1/admin/units",
        dispatcher,
        json={
            "code": "dahe-grid-3",
            "name": "大河社区第三网格",
            "kind": "grid",
            "parent_id": units["dahe-community"]["id"],
            "leader_name": "王网格",
            "leader_phone": "13800000000",
        },
    )
    assert created.status_code == 201, created.json
    duplicate = api.post("/api/v1/admin/units", dispatcher, json={"code": "dahe-grid-3", "name": "x", "kind": "grid"})
    assert duplicate.status_code == 422 and "code" in duplicate.json["error"]["fields"]
    street = units["dahezhonglu"]["id"]
    cycle = api.client.patch(
        f"/api/v1/admin/units/{street}", json={"parent_id": created.json["id"]}, headers=api.auth(dispatcher)
    )
    assert cycle.status_code == 422 and "parent_id" in cycle.json["error"]["fields"]
    itself = api.client.patch(f"/api/v1/admin/units/{street}", json={"parent_id": street}, headers=api.auth(dispatcher))
    assert itself.status_code == 422
    renamed = api.client.patch(
        f"/api/v1/admin/units/{created.json['id']}", json={"name": "第三网格"}, headers=api.auth(dispatcher)
    )
    assert renamed.json["name"] == "第三网格"
    entries = api.get(f"/api/v1/admin/audit?entity=unit&entity_id={created.json['id']}", dispatcher).json["items"]
    assert [e["action"] for e in entries] == ["update", "create"]
    assert entries[0]["changes"] == {"name": {"from": "大河社区第三网格", "to": "第三网格"}}
    assert entries[0]["staff"]["username"] == "dispatcher"


def test_rule_validation(api, dispatcher):
    units = {u["code"]: u for u in api.get("/api/v1/admin/units", dispatcher).json["items"]}
    categories = {c["code"]: c["id"] for c in api.get("/api/v1/admin/categories", dispatcher).json["items"]}
    nothing = api.post("/api/v1/admin/rules", dispatcher, json={"target": "territorial"})
    assert nothing.status_code == 422
    no_unit = api.post("/api/v1/admin/rules", dispatcher, json={"category_id": categories["dust"], "target": "unit"})
    assert no_unit.status_code == 422 and "unit_id" in no_unit.json["error"]["fields"]
    grid = units["dahe-grid-1"]["id"]
    api.client.patch(f"/api/v1/admin/units/{grid}", json={"active": False}, headers=api.auth(dispatcher))
    inactive = api.post(
        "/api/v1/admin/rules", dispatcher, json={"category_id": categories["dust"], "target": "unit", "unit_id": grid}
    )
    assert inactive.status_code == 422 and "已停用" in inactive.json["error"]["fields"]["unit_id"][0]
    body = {"category_id": categories["dust"], "target": "unit", "unit_id": units["renhe-housing"]["id"]}
    assert api.post("/api/v1/admin/rules", dispatcher, json=body).status_code == 201
    again = api.post("/api/v1/admin/rules", dispatcher, json=body)
    assert again.status_code == 409 and again.json["error"]["code"] == "duplicate_rule"
    rule_id = api.get(f"/api/v1/admin/rules?category_id={categories['dust']}", dispatcher).json["items"][0]["id"]
    assert api.client.delete(f"/api/v1/admin/rules/{rule_id}", headers=api.auth(dispatcher)).status_code == 204
    actions = [e["action"] for e in api.get("/api/v1/admin/audit?entity=rule", dispatcher).json["items"]]
    assert actions[:2] == ["delete", "create"]


def test_category_tree_validation_and_citizen_view(api, dispatcher):
    categories = {c["code"]: c for c in api.get("/api/v1/admin/categories", dispatcher).json["items"]}
    dust = categories["dust"]["id"]
    cycle = api.client.patch(
        f"/api/v1/admin/categories/{dust}",
        json={"parent_id": categories["road_dust"]["id"]},
        headers=api.auth(dispatcher),
    )
    assert cycle.status_code == 422
    created = api.post(
        "/api/v1/admin/categories",
        dispatcher,
        json={
            "code": "black_water",
            "name": "黑臭水体",
            "deadline_hours": 120,
            "icon": "water",
            "lead_unit_id": categories["dust"]["lead_unit"]["id"],
            "co_territorial": True,
        },
    )
    assert created.status_code == 201, created.json
    public = {c["code"]: c for c in api.get("/api/v1/categories").json["items"]}
    assert public["black_water"]["icon"] == "water" and public["road_dust"]["parent"] == "dust"
    assert public["road_dust"]["deadline_hours"] == 48  # inherited from 扬尘
    hidden = api.client.patch(
        f"/api/v1/admin/categories/{created.json['id']}", json={"active": False}, headers=api.auth(dispatcher)
    )
    assert hidden.status_code == 200
    assert "black_water" not in {c["code"] for c in api.get("/api/v1/categories").json["items"]}


def test_a_unit_whose_region_carries_another_units_rule_cannot_be_deactivated(api, dispatcher):
    """Found by a defect hunt: deactivating a unit takes its regions out of routing, and silently every rule on
    them, also one sending a category to another, still active unit."""
    units = {u["code"]: u["id"] for u in api.get("/api/v1/admin/units", dispatcher).json["items"]}
    regions = {r["code"]: r["id"] for r in _regions(api, dispatcher)}
    categories = {c["code"]: c["id"] for c in api.get("/api/v1/admin/categories", dispatcher).json["items"]}
    body = {
        "category_id": categories["sanitation"],
        "region_id": regions["renhe-community"],
        "target": "unit",
        "unit_id": units["renhe-housing"],
    }
    rule = api.post("/api/v1/admin/rules", dispatcher, json=body)
    assert rule.status_code == 201, rule.json
    response = api.client.patch(
        f"/api/v1/admin/units/{units['renhe-community']}", json={"active": False}, headers=api.auth(dispatcher)
    )
    assert response.status_code == 409 and response.json["error"]["code"] == "unit_in_use"
    assert f"#{rule.json['id']}" in response.json["error"]["message"]
    assert _explain(api, dispatcher, "sanitation", RENHE_COMMUNITY)["candidates"][0]["rule_id"] == rule.json["id"]


def test_a_category_cannot_be_turned_on_with_a_deactivated_lead_unit(api, dispatcher):
    """Found by a defect hunt: a unit leading only an inactive category could be deactivated, and the category
    then turned on again with it as its lead."""
    unit = {"code": "park-office", "name": "公园管理处", "kind": "department"}
    created = api.post("/api/v1/admin/units", dispatcher, json=unit)
    assert created.status_code == 201, created.json
    category = api.post(
        "/api/v1/admin/categories",
        dispatcher,
        json={"code": "park", "name": "公园设施", "lead_unit_id": created.json["id"], "active": False},
    )
    assert category.status_code == 201, category.json
    patch = api.client.patch
    off = patch(f"/api/v1/admin/units/{created.json['id']}", json={"active": False}, headers=api.auth(dispatcher))
    assert off.status_code == 200, off.json
    on = patch(f"/api/v1/admin/categories/{category.json['id']}", json={"active": True}, headers=api.auth(dispatcher))
    assert on.status_code == 422 and "lead_unit_id" in on.json["error"]["fields"], on.json


def test_a_sub_category_inherits_co_units_apart_from_the_lead_unit(api, dispatcher):
    """Found by a defect hunt: the co-units came from whichever category had the lead unit, so a sub-category's
    own co-units were ignored, and one with its own lead unit lost its parent's."""
    units = {u["code"]: u["id"] for u in api.get("/api/v1/admin/units", dispatcher).json["items"]}
    categories = {c["code"]: c["id"] for c in api.get("/api/v1/admin/categories", dispatcher).json["items"]}
    parent = _explain(api, dispatcher, "street_vendor", RENHE_COMMUNITY)["candidates"][0]
    own_co = {
        "code": "night_market",
        "name": "夜市占道",
        "parent_id": categories["street_vendor"],
        "co_unit_ids": [units["renhe-police"]],
        "co_territorial": False,
    }
    assert api.post("/api/v1/admin/categories", dispatcher, json=own_co).status_code == 201
    first = _explain(api, dispatcher, "night_market", RENHE_COMMUNITY)["candidates"][0]
    assert first["unit"]["id"] == parent["unit"]["id"]  # the parent's lead unit
    assert [u["code"] for u in first["co_units"]] == ["renhe-police"]  # its own co-units, without 属地
    own_lead = {
        "code": "stall_food",
        "name": "流动食品摊",
        "parent_id": categories["street_vendor"],
        "lead_unit_id": units["renhe-market"],
    }
    assert api.post("/api/v1/admin/categories", dispatcher, json=own_lead).status_code == 201
    first = _explain(api, dispatcher, "stall_food", RENHE_COMMUNITY)["candidates"][0]
    assert first["unit"]["code"] == "renhe-market"
    inherited = [u["code"] for u in parent["co_units"] if u["code"] != "renhe-market"]
    assert [u["code"] for u in first["co_units"]] == inherited  # the parent's co-units (the lead left out)
