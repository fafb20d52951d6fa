"""The audit trail of the responsibility map: who changed what, with before and after."""

import enum
import uuid
from datetime import date, datetime, time
from decimal import Decimal

from backend.extensions import db
from backend.models import AuditEntry
from backend.services.actors import Actor
from backend.services.paging import paginate


def plain(value):
    """The JSON form of an audited value. Audit entries are JSON: every value kept there passes through here,
    so a column of a new type fails loudly in the tests (test_audit.py) instead of as a 500 in production."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, datetime | date | time):  # datetime before date: it is one
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)  # exact, unlike a float
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, set | frozenset):
        return sorted((plain(item) for item in value), key=repr)
    raise TypeError(f"cannot keep a {type(value).__name__} in the audit trail")


def snapshot(obj, fields: tuple[str, ...]) -> dict:
    return {name: plain(getattr(obj, name)) for name in fields}


def record(actor: Actor, action: str, entity: str, entity_id: int | None, before: dict | None, after: dict | None):
    """Keep only what changed; a create has no before, a delete no after."""
    before, after = plain(before or {}), plain(after or {})
    changed = {
        key: {"from": before.get(key), "to": after.get(key)}
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }
    if action == "update" and not changed:
        return None
    entry = AuditEntry(staff_id=actor.staff_id, action=action, entity=entity, entity_id=entity_id, changes=changed)
    db.session.add(entry)
    return entry


def record_access(actor: Actor, entity: str, entity_id: int | None, detail: dict) -> AuditEntry:
    """A look at something sensitive (a reporter's identity): kept like a change."""
    entry = AuditEntry(
        staff_id=actor.staff_id, action="view_identity", entity=entity, entity_id=entity_id, changes=plain(detail)
    )
    db.session.add(entry)
    return entry


# Who sees which part of the trail: dispatchers the responsibility map, reward administrators the
# reward programme (its entries name citizens, whom dispatchers must never learn of).
MAP_ENTITIES = ("unit", "region", "category", "rule", "calendar", "staff")  # staff: a lock-out lifted
REWARD_ENTITIES = ("reward_rule", "reward_suspension", "user")


def recent(
    page: int,
    per_page: int,
    entity: str | None = None,
    entity_id: int | None = None,
    entities: tuple[str, ...] = MAP_ENTITIES,
) -> dict:
    query = db.select(AuditEntry).where(AuditEntry.entity.in_(entities))
    if entity:
        query = query.where(AuditEntry.entity == entity)
    if entity_id is not None:
        query = query.where(AuditEntry.entity_id == entity_id)
    return paginate(query, page, per_page, AuditEntry.id.desc())
