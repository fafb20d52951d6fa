"""The audit trail keeps every audited model with all its fields set: no value type may break the writer
(a reward rule's `date` once answered 500)."""

import json
from datetime import date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from backend.extensions import db
from backend.models import AuditEntry, CalendarDay, Category, Region, RewardRule, RoutingRule, Unit, User
from backend.services.casework import workcalendar
from backend.services.responsibility import audit, categories, regions, rules, units
from backend.services.rewards import rules as reward_rules
from tests.test_regions_import import box, collection, feature, import_geojson
from tests.test_rewards import finance  # noqa: F401 - fixture

# every snapshot taken for the trail: the model and the fields its service keeps
AUDITED = [
    (Unit, units.FIELDS),
    (Category, categories.FIELDS),
    (RoutingRule, rules.FIELDS),
    (Region, regions.AUDITED),
    (CalendarDay, workcalendar.FIELDS),
    (RewardRule, reward_rules.RULE_FIELDS),
]
SAMPLES = {
    bool: True,
    int: 7,
    float: 1.5,
    str: "＝文本",
    date: date(2026, 1, 1),
    datetime: datetime(2026, 1, 1, 8, 30),
    Decimal: Decimal("12.34"),
    dict: {"a": date(2026, 1, 2)},
    list: [date(2026, 1, 3)],
}


def _sample(column: sa.Column):
    if isinstance(column.type, sa.Enum) and column.type.enum_class is not None:
        return next(iter(column.type.enum_class))
    return SAMPLES[column.type.python_type]


@pytest.mark.parametrize(("model", "fields"), AUDITED, ids=[model.__name__ for model, _ in AUDITED])
def test_every_audited_column_type_serialises(model, fields):
    columns = sa.inspect(model).columns
    obj = model(**{name: _sample(columns[name]) for name in fields})
    kept = audit.snapshot(obj, fields)
    assert json.loads(json.dumps(kept)) == kept


def test_values_outside_json_are_kept_in_their_plain_form():
    value = {"on": date(2026, 5, 1), "at": datetime(2026, 5, 1, 9), "fen": Decimal("0.10"), "ids": (3, 1)}
    assert audit.plain(value) == {"on": "2026-05-01", "at": "2026-05-01T09:00:00", "fen": "0.10", "ids": [3, 1]}
    with pytest.raises(TypeError, match="object"):
        audit.plain(object())


def _changes(app, entity: str) -> list[tuple[str, dict]]:
    with app.app_context():
        query = db.select(AuditEntry).where(AuditEntry.entity == entity).order_by(AuditEntry.id)
        return [(entry.action, entry.changes) for entry in db.session.scalars(query)]


def _ids(api, token, path) -> dict:
    return {item["code"]: item["id"] for item in api.get(path, token).json["items"]}


def test_reward_rule_with_all_fields(app, api, finance):  # noqa: F811
    category = _ids(api, api.login_staff("dispatcher"), "/api/v1/admin/categories")["dust"]
    body = {
        "category_id": category,
        "amount_fen": 500,
        "starts_on": "2026-01-01",
        "ends_on": "2026-12-31",
        "daily_cap_fen": 1000,
        "monthly_cap_fen": 5000,
        "first_reporter_only": False,
        "active": True,
    }
    created = api.post("/api/v1/reward-admin/rules", finance, json=body)
    assert created.status_code == 201, created.json
    patched = api.client.patch(
        f"/api/v1/reward-admin/rules/{created.json['id']}", json={"ends_on": "2027-06-30"}, headers=api.auth(finance)
    )
    assert patched.status_code == 200, patched.json
    (_, create), (_, update) = _changes(app, "reward_rule")
    assert create["starts_on"] == {"from": None, "to": "2026-01-01"}
    assert update == {"ends_on": {"from": "2026-12-31", "to": "2027-06-30"}}


def test_unit_with_all_fields(app, api):
    dispatcher = api.login_staff("dispatcher")
    parent = _ids(api, dispatcher, "/api/v1/admin/units")["renhe-town"]
    body = {
        "code": "renhe-grid-9",
        "name": "网格九",
        "kind": "grid",
        "parent_id": parent,
        "contact_name": "张三",
        "contact_phone": "13800000000",
        "leader_name": "李四",
        "leader_phone": "13900000000",
        "webhook_url": "https://1.1.1.1/hook",
        "webhook_kind": "json",
        "active": True,
    }
    created = api.post("/api/v1/admin/units", dispatcher, json=body)
    assert created.status_code == 201, created.json
    [(action, changes)] = [c for c in _changes(app, "unit") if c[1].get("code", {}).get("to") == "renhe-grid-9"]
    assert action == "create" and changes["kind"]["to"] == "grid" and changes["parent_id"]["to"] == parent


def test_category_and_routing_rule_with_all_fields(app, api):
    dispatcher = api.login_staff("dispatcher")
    unit_ids = _ids(api, dispatcher, "/api/v1/admin/units")
    parent = _ids(api, dispatcher, "/api/v1/admin/categories")["dust"]
    category = {
        "code": "dust-night",
        "name": "夜间扬尘",
        "description": "夜间施工扬尘",
        "icon": "dust.png",
        "parent_id": parent,
        "deadline_hours": 8,
        "signoff_hours": 1,
        "lead_unit_id": unit_ids["renhe-ecology"],
        "co_unit_ids": [unit_ids["renhe-enforcement"]],
        "co_territorial": True,
        "sort_order": 3,
        "active": True,
    }
    created = api.post("/api/v1/admin/categories", dispatcher, json=category)
    assert created.status_code == 201, created.json
    region = api.get("/api/v1/admin/regions", dispatcher).json["items"][0]["id"]
    rule = {
        "category_id": created.json["id"],
        "region_id": region,
        "target": "unit",
        "unit_id": unit_ids["renhe-ecology"],
        "co_unit_ids": [unit_ids["renhe-enforcement"]],
        "co_territorial": True,
        "deadline_hours": 4,
        "note": "夜间",
        "active": True,
    }
    made = api.post("/api/v1/admin/rules", dispatcher, json=rule)
    assert made.status_code == 201, made.json
    assert _changes(app, "category")[-1][1]["co_unit_ids"]["to"] == [unit_ids["renhe-enforcement"]]
    assert _changes(app, "rule")[-1][1]["target"]["to"] == "unit"


def test_region_and_calendar_day(app, api):
    dispatcher = api.login_staff("dispatcher")
    body = collection(feature("audit-grid", box(101.70, 26.47, 101.71, 26.48), name="审计网格"), coord="wgs84")
    assert import_geojson(api, dispatcher, body).status_code == 200
    created = next(c for a, c in _changes(app, "region") if a == "create" and c["code"]["to"] == "audit-grid")
    assert created["coord"]["to"] == "wgs84"
    day = api.client.put(
        "/api/v1/admin/calendar/2027-02-08", json={"is_workday": False, "name": "春节"}, headers=api.auth(dispatcher)
    )
    assert day.status_code == 200, day.json
    assert _changes(app, "calendar")[-1][1]["day"]["to"] == "2027-02-08"


def test_suspension_and_identity_view(app, api, finance):  # noqa: F811
    with app.app_context():
        user = User(openid="audited-citizen")
        db.session.add(user)
        db.session.commit()
        user_id = user.id
    path = f"/api/v1/reward-admin/citizens/{user_id}"
    assert api.post(f"{path}/suspend", finance, json={"reason": "虚假举报"}).status_code == 200
    assert api.post(f"{path}/unsuspend", finance, json={}).status_code == 200
    assert api.get(f"{path}?purpose=核实", finance).status_code == 200
    assert [action for action, _ in _changes(app, "reward_suspension")] == ["create", "delete"]
    assert _changes(app, "user")[-1] == ("view_identity", {"purpose": "核实"})
