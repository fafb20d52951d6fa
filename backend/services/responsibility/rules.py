"""Routing rules: who handles a category in a region (see routing.py for the precedence)."""

from sqlalchemy.orm import selectinload

from backend.errors import Conflict, InUse, ValidationFailed
from backend.extensions import db
from backend.models import Case, Category, Region, RoutingRule, RuleTarget
from backend.services.actors import Actor
from backend.services.lookup import get_or_404
from backend.services.responsibility import audit
from backend.services.responsibility.categories import active_units, assign

FIELDS = ("category_id", "region_id", "target", "unit_id", "co_territorial", "deadline_hours", "note", "active")


def get(rule_id: int) -> RoutingRule:
    return get_or_404(RoutingRule, rule_id, "规则不存在", "rule_not_found")


def list_all(category_id: int | None = None, region_id: int | None = None) -> list[RoutingRule]:
    query = (
        db.select(RoutingRule)
        .order_by(RoutingRule.id)
        .options(
            selectinload(RoutingRule.category),
            selectinload(RoutingRule.region),
            selectinload(RoutingRule.unit),
            selectinload(RoutingRule.co_units),
        )
    )
    if category_id is not None:
        query = query.where(RoutingRule.category_id == category_id)
    if region_id is not None:
        query = query.where(RoutingRule.region_id == region_id)
    return db.session.scalars(query).all()


def _snapshot(rule: RoutingRule) -> dict:
    return audit.snapshot(rule, FIELDS) | {"co_unit_ids": [u.id for u in rule.co_units]}


def _validate(rule: RoutingRule) -> None:
    if rule.category_id is None and rule.region_id is None:
        raise ValidationFailed(fields={"category_id": ["类别和辖区至少指定一个"]})
    if rule.category_id is not None and db.session.get(Category, rule.category_id) is None:
        raise ValidationFailed(fields={"category_id": ["类别不存在"]})
    if rule.region_id is not None and db.session.get(Region, rule.region_id) is None:
        raise ValidationFailed(fields={"region_id": ["辖区不存在"]})
    if rule.target == RuleTarget.UNIT:
        if rule.unit_id is None:
            raise ValidationFailed(fields={"unit_id": ["指定单位的规则必须给出单位"]})
        active_units([rule.unit_id], "unit_id")
    elif rule.unit_id is not None:
        raise ValidationFailed(fields={"unit_id": ["属地规则不指定单位"]})
    if rule.active:
        clash = db.session.scalar(
            db.select(RoutingRule.id).where(
                RoutingRule.active.is_(True),
                RoutingRule.id != (rule.id or 0),
                RoutingRule.category_id.is_(None)
                if rule.category_id is None
                else RoutingRule.category_id == rule.category_id,
                RoutingRule.region_id.is_(None) if rule.region_id is None else RoutingRule.region_id == rule.region_id,
            )
        )
        if clash is not None:
            raise Conflict(f"已有相同类别和辖区的启用规则 #{clash}", code="duplicate_rule")


def _apply(rule: RoutingRule, data: dict) -> None:
    assign(rule, data, FIELDS)
    _validate(rule)


def create(data: dict, actor: Actor) -> RoutingRule:
    rule = RoutingRule(active=True, co_territorial=False, note="")
    _apply(rule, data)
    db.session.add(rule)
    db.session.flush()
    audit.record(actor, "create", "rule", rule.id, None, _snapshot(rule))
    return rule


def update(rule: RoutingRule, data: dict, actor: Actor) -> RoutingRule:
    before = _snapshot(rule)
    _apply(rule, data)
    db.session.flush()
    audit.record(actor, "update", "rule", rule.id, before, _snapshot(rule))
    return rule


def delete(rule: RoutingRule, actor: Actor) -> None:
    """Refused once the rule has routed a case: each case keeps why it went where it went (routing_rule_id)."""
    routed = db.session.scalar(db.select(db.func.count(Case.id)).where(Case.routing_rule_id == rule.id))
    if routed:
        raise InUse(f"该规则已派遣过 {routed} 件案件，不能删除；可改为停用（active: false）")
    rule_id, before = rule.id, _snapshot(rule)
    db.session.delete(rule)
    db.session.flush()
    audit.record(actor, "delete", "rule", rule_id, before, None)
