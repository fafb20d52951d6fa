"""The responsibility map for dispatchers and administrators: units, categories, rules, audit, explain."""

from flask import Blueprint

from backend.api.common import actor, json_body, query_args
from backend.api.spec import Items, Page, doc
from backend.auth import dispatcher_required
from backend.extensions import db
from backend.schemas.common import page_of
from backend.schemas.map import (
    AuditArgs,
    AuditOut,
    CandidateOut,
    CategoryDetailOut,
    CategoryIn,
    CategoryPatch,
    ExplainArgs,
    RuleArgs,
    RuleIn,
    RuleOut,
    UnitDetailOut,
    UnitIn,
    UnitPatch,
)
from backend.schemas.shapes import ExplainOut
from backend.services.responsibility import audit, categories, routing, rules, units

bp = Blueprint("admin_map", __name__, url_prefix="/admin")


@bp.post("/units")
@doc(body=UnitIn, response=UnitDetailOut, status=201)
@dispatcher_required
def create_unit():
    unit = units.create(json_body(UnitIn()), actor())
    db.session.commit()
    return UnitDetailOut().dump(unit), 201


@bp.get("/units/<int:unit_id>")
@doc(response=UnitDetailOut, errors={404: "unit_not_found"})
@dispatcher_required
def get_unit(unit_id: int):
    return UnitDetailOut().dump(units.get(unit_id))


@bp.patch("/units/<int:unit_id>")
@doc(body=UnitPatch(partial=True), response=UnitDetailOut, errors={404: "unit_not_found", 409: "unit_in_use"})
@dispatcher_required
def update_unit(unit_id: int):
    unit = units.update(units.get(unit_id), json_body(UnitPatch(partial=True)), actor())
    db.session.commit()
    return UnitDetailOut().dump(unit)


@bp.get("/categories")
@doc(response=Items(CategoryDetailOut))
@dispatcher_required
def list_categories():
    return {"items": CategoryDetailOut(many=True).dump(categories.list_all())}


@bp.post("/categories")
@doc(body=CategoryIn, response=CategoryDetailOut, status=201)
@dispatcher_required
def create_category():
    category = categories.create(json_body(CategoryIn()), actor())
    db.session.commit()
    return CategoryDetailOut().dump(category), 201


@bp.patch("/categories/<int:category_id>")
@doc(body=CategoryPatch(partial=True), response=CategoryDetailOut, errors={404: "category_not_found"})
@dispatcher_required
def update_category(category_id: int):
    data = json_body(CategoryPatch(partial=True))
    category = categories.update(categories.get(category_id), data, actor())
    db.session.commit()
    return CategoryDetailOut().dump(category)


@bp.get("/rules")
@doc(query=RuleArgs, response=Items(RuleOut))
@dispatcher_required
def list_rules():
    return {"items": RuleOut(many=True).dump(rules.list_all(**query_args(RuleArgs())))}


@bp.post("/rules")
@doc(body=RuleIn, response=RuleOut, status=201, errors={409: "duplicate_rule"})
@dispatcher_required
def create_rule():
    rule = rules.create(json_body(RuleIn()), actor())
    db.session.commit()
    return RuleOut().dump(rule), 201


@bp.patch("/rules/<int:rule_id>")
@doc(body=RuleIn(partial=True), response=RuleOut, errors={404: "rule_not_found", 409: "duplicate_rule"})
@dispatcher_required
def update_rule(rule_id: int):
    rule = rules.update(rules.get(rule_id), json_body(RuleIn(partial=True)), actor())
    db.session.commit()
    return RuleOut().dump(rule)


@bp.delete("/rules/<int:rule_id>")
@doc(response=None, status=204, errors={404: "rule_not_found", 409: "in_use"})
@dispatcher_required
def delete_rule(rule_id: int):
    rules.delete(rules.get(rule_id), actor())
    db.session.commit()
    return "", 204


@bp.get("/audit")
@doc(query=AuditArgs, response=Page(AuditOut))
@dispatcher_required
def list_audit():
    return page_of(AuditOut(), audit.recent(**query_args(AuditArgs())))


@bp.get("/routing/explain")
@doc(query=ExplainArgs, response=ExplainOut)
@dispatcher_required
def explain_routing():
    """Who would get a report of this category at this point, and why: for checking the map."""
    found, reason_if_none = routing.explain(**query_args(ExplainArgs()))
    return {"candidates": CandidateOut(many=True).dump(found), "reason_if_none": None if found else reason_if_none}
