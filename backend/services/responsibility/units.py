"""Responsible units: the hierarchy district → department / street-township → community → grid."""

from flask import current_app

from backend.clients.webhooks import TargetRefused, check_target, parse_networks, redact
from backend.errors import Conflict, ValidationFailed
from backend.extensions import db
from backend.models import HANDLED_BY_UNIT, Case, CaseStatus, Category, Region, RoutingRule, Unit, UnitKind
from backend.models.case import case_co_units
from backend.services.actors import Actor
from backend.services.casework import workflow
from backend.services.lookup import get_or_404
from backend.services.responsibility import audit

FIELDS = (
    "code",
    "name",
    "kind",
    "parent_id",
    "contact_name",
    "contact_phone",
    "leader_name",
    "leader_phone",
    "webhook_url",
    "webhook_kind",
    "active",
)


def _snapshot(unit: Unit) -> dict:
    snapshot = audit.snapshot(unit, FIELDS)
    snapshot["webhook_url"] = redact(snapshot["webhook_url"])  # the audit trail must not keep the robot key
    return snapshot


def get(unit_id: int) -> Unit:
    return get_or_404(Unit, unit_id, "单位不存在", "unit_not_found")


def list_all(kind: UnitKind | None = None, active: bool | None = None) -> list[Unit]:
    query = db.select(Unit).order_by(Unit.id)
    if kind is not None:
        query = query.where(Unit.kind == kind)
    if active is not None:
        query = query.where(Unit.active.is_(active))
    return db.session.scalars(query).all()


def _check_parent(unit: Unit | None, parent_id: int | None) -> None:
    if parent_id is None:
        return
    parent = db.session.get(Unit, parent_id)
    if parent is None:
        raise ValidationFailed(fields={"parent_id": ["上级单位不存在"]})
    node, seen = parent, set()
    while node is not None and node.id not in seen:
        if unit is not None and node.id == unit.id:
            raise ValidationFailed(fields={"parent_id": ["上级单位不能是自己或自己的下级"]})
        seen.add(node.id)
        node = node.parent


def _check_webhook(data: dict) -> None:
    """No SSRF: a webhook must point at a public address (or one in WEBHOOK_ALLOWED_NETWORKS); checked again at
    every send, since what a name resolves to can change."""
    if not data.get("webhook_url"):
        return
    try:
        allowed = parse_networks(current_app.config["WEBHOOK_ALLOWED_NETWORKS"])
        check_target(data["webhook_url"], allowed, unresolved_ok=True)
    except TargetRefused as exc:
        raise ValidationFailed(fields={"webhook_url": [exc.reason]}) from None


def create(data: dict, actor: Actor) -> Unit:
    _check_webhook(data)
    if db.session.scalar(db.select(Unit).where(Unit.code == data["code"])) is not None:
        raise ValidationFailed(fields={"code": ["编码已存在"]})
    _check_parent(None, data.get("parent_id"))
    unit = Unit(**{key: value for key, value in data.items() if key in FIELDS})
    db.session.add(unit)
    db.session.flush()
    audit.record(actor, "create", "unit", unit.id, None, _snapshot(unit))
    return unit


def _still_referenced(unit: Unit) -> list[str]:
    """Active rules sending cases to the unit, or set on its regions (a region leaves the routing index with its
    unit, and every rule on it with the region; a territorial rule there only named the unit itself), and active
    categories it leads."""
    owned_regions = db.select(Region.id).where(Region.unit_id == unit.id)
    rules = db.session.scalars(
        db.select(RoutingRule.id)
        .where(
            RoutingRule.active.is_(True),
            db.or_(
                RoutingRule.unit_id == unit.id,
                db.and_(RoutingRule.region_id.in_(owned_regions), RoutingRule.unit_id.is_not(None)),
            ),
        )
        .order_by(RoutingRule.id)
    ).all()
    categories = db.session.scalars(
        db.select(Category.code).where(Category.active.is_(True), Category.lead_unit_id == unit.id)
    ).all()
    return [f"派遣规则 #{rule_id}" for rule_id in rules] + [f"类别 {code} 的牵头单位" for code in categories]


def _deactivate(unit: Unit) -> int:
    """Open cases of the unit go back to the dispatcher's queue; it stops co-handling open cases. Its replied
    cases stay replied (nothing is left for the unit to do); a rework of one goes to the dispatcher's queue.
    Its staff can no longer sign in (backend.auth)."""
    referenced = _still_referenced(unit)
    if referenced:
        raise Conflict(f"该单位仍被使用：{'、'.join(referenced)}；请先修改后再停用", code="unit_in_use")
    cases = db.session.scalars(db.select(Case).where(Case.unit_id == unit.id, Case.status.in_(HANDLED_BY_UNIT))).all()
    for case in cases:
        workflow.recall(case)
    open_case_ids = db.select(Case.id).where(Case.status.in_((CaseStatus.PENDING, *HANDLED_BY_UNIT)))
    db.session.execute(
        case_co_units.delete().where(case_co_units.c.unit_id == unit.id, case_co_units.c.case_id.in_(open_case_ids))
    )
    return len(cases)


def update(unit: Unit, data: dict, actor: Actor) -> Unit:
    before = _snapshot(unit)
    _check_webhook(data)
    if "parent_id" in data:
        _check_parent(unit, data["parent_id"])
    if data.get("active") is False and unit.active:
        _deactivate(unit)
    for key, value in data.items():
        if key in FIELDS and key != "code":
            setattr(unit, key, value)
    db.session.flush()
    audit.record(actor, "update", "unit", unit.id, before, _snapshot(unit))
    return unit
