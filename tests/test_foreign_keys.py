"""Foreign keys hold on SQLite as on PostgreSQL, and deleting something still referenced answers 409 in_use."""

import pytest
from sqlalchemy.exc import IntegrityError

from backend.extensions import db
from backend.models import Case, Unit
from tests.helpers import DAHEZHONGLU


def test_the_database_refuses_a_dangling_reference(app):
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            assert db.session.execute(db.text("PRAGMA foreign_keys")).scalar() == 1
        unit_id = db.session.scalar(db.select(Unit.id).where(Unit.code == "dahezhonglu"))  # staff belong to it
        with pytest.raises(IntegrityError):
            db.session.execute(db.delete(Unit).where(Unit.id == unit_id))
            db.session.flush()
        db.session.rollback()


def test_deleting_a_rule_that_routed_a_case_is_in_use(app, api, run_jobs):
    citizen, dispatcher = api.login_citizen(), api.login_staff("dispatcher")
    case_id = api.submit_ok(citizen, location=DAHEZHONGLU)["id"]
    run_jobs()
    with app.app_context():
        rule_id = db.session.get(Case, case_id).routing_rule_id
    assert rule_id is not None
    refused = api.client.delete(f"/api/v1/admin/rules/{rule_id}", headers=api.auth(dispatcher))
    assert refused.status_code == 409
    assert refused.json["error"]["code"] == "in_use"
    assert "1 件案件" in refused.json["error"]["message"]
    with app.app_context():
        assert db.session.get(Case, case_id).routing_rule_id == rule_id
    # a rule that routed nothing can go
    units = {u["code"]: u["id"] for u in api.get("/api/v1/admin/units", dispatcher).json["items"]}
    categories = {c["code"]: c["id"] for c in api.get("/api/v1/admin/categories", dispatcher).json["items"]}
    body = {"category_id": categories["dust"], "target": "unit", "unit_id": units["renhe-housing"]}
    unused = api.post("/api/v1/admin/rules", dispatcher, json=body)
    assert unused.status_code == 201, unused.json
    deleted = api.client.delete(f"/api/v1/admin/rules/{unused.json['id']}", headers=api.auth(dispatcher))
    assert deleted.status_code == 204


def test_constraint_violations_map_to_their_own_codes(app, api):
    """What no service check saw: a delete of a referenced row is in_use, a taken unique key concurrent_update."""

    def delete_unit(code):
        db.session.execute(db.delete(Unit).where(Unit.code == code))
        db.session.commit()
        return "", 204

    def duplicate_unit(code):
        db.session.add(Unit(code=code, name="重复", kind=db.session.scalar(db.select(Unit.kind).limit(1))))
        db.session.commit()
        return "", 201

    app.add_url_rule("/_test/delete-unit/<code>", view_func=delete_unit, methods=["POST"])
    app.add_url_rule("/_test/duplicate-unit/<code>", view_func=duplicate_unit, methods=["POST"])
    in_use = api.client.post("/_test/delete-unit/dahezhonglu")
    assert in_use.status_code == 409 and in_use.json["error"]["code"] == "in_use", in_use.json
    assert in_use.json["error"]["message"] == "该数据仍被其他记录引用，不能删除；可改为停用"
    taken = api.client.post("/_test/duplicate-unit/dahezhonglu")
    assert taken.status_code == 409 and taken.json["error"]["code"] == "concurrent_update", taken.json
