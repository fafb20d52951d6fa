"""The catalogue of what citizens report: categories, sub-categories, deadlines, lead and co-units."""

from sqlalchemy.orm import selectinload

from backend.errors import ValidationFailed
from backend.extensions import db
from backend.models import Category, Unit
from backend.services.actors import Actor
from backend.services.lookup import get_or_404
from backend.services.responsibility import audit

FIELDS = (
    "code",
    "name",
    "description",
    "icon",
    "parent_id",
    "deadline_hours",
    "signoff_hours",
    "lead_unit_id",
    "co_territorial",
    "sort_order",
    "active",
)


def get(category_id: int) -> Category:
    return get_or_404(Category, category_id, "类别不存在", "category_not_found")


def list_all() -> list[Category]:
    return db.session.scalars(
        db.select(Category)
        .options(selectinload(Category.lead_unit), selectinload(Category.co_units), selectinload(Category.parent))
        .order_by(Category.sort_order, Category.id)
    ).all()


def active_units(unit_ids: list[int], field: str) -> list[Unit]:
    """The units with these ids, all of them existing and active."""
    units = db.session.scalars(db.select(Unit).where(Unit.id.in_(unit_ids))).all() if unit_ids else []
    by_id = {unit.id: unit for unit in units}
    problems = [f"单位 {i} 不存在" for i in unit_ids if i not in by_id]
    problems += [f"单位 {u.name} 已停用" for u in units if not u.active]
    if problems:
        raise ValidationFailed(fields={field: problems})
    return [by_id[i] for i in dict.fromkeys(unit_ids)]


def assign(obj, data: dict, fields: tuple[str, ...]) -> None:
    """Set the listed fields from validated input, and the co-units (配合单位) from co_unit_ids."""
    for key, value in data.items():
        if key in fields:
            setattr(obj, key, value)
    if "co_unit_ids" in data:
        obj.co_units = active_units(data["co_unit_ids"], "co_unit_ids")


def _check(category: Category | None, data: dict) -> None:
    if "lead_unit_id" in data and data["lead_unit_id"] is not None:
        active_units([data["lead_unit_id"]], "lead_unit_id")
    elif data.get("active") and category is not None and category.lead_unit_id is not None:
        # turned on again: its lead unit may have been deactivated while it was off
        active_units([category.lead_unit_id], "lead_unit_id")
    parent_id = data.get("parent_id")
    if parent_id is not None:
        parent = db.session.get(Category, parent_id)
        if parent is None:
            raise ValidationFailed(fields={"parent_id": ["上级类别不存在"]})
        if category is not None and any(node.id == category.id for node in parent.lineage()):
            raise ValidationFailed(fields={"parent_id": ["上级类别不能是自己或自己的子类"]})


def _snapshot(category: Category) -> dict:
    return audit.snapshot(category, FIELDS) | {"co_unit_ids": [u.id for u in category.co_units]}


def create(data: dict, actor: Actor) -> Category:
    if db.session.scalar(db.select(Category).where(Category.code == data["code"])) is not None:
        raise ValidationFailed(fields={"code": ["编码已存在"]})
    _check(None, data)
    category = Category()
    assign(category, data, FIELDS)
    db.session.add(category)
    db.session.flush()
    audit.record(actor, "create", "category", category.id, None, _snapshot(category))
    return category


def update(category: Category, data: dict, actor: Actor) -> Category:
    before = _snapshot(category)
    _check(category, data)
    assign(category, {key: value for key, value in data.items() if key != "code"}, FIELDS)
    db.session.flush()
    audit.record(actor, "update", "category", category.id, before, _snapshot(category))
    return category
