"""The audit trail of the responsibility map: who changed what, with before and after."""

import enum
from datetime import datetime

from backend.extensions import db
from backend.models import AuditEntry
from backend.services.actors import Actor
from backend.services.paging import paginate


def _plain(value):
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def snapshot(obj, fields: tuple[str, ...]) -> dict:
    return {name: _plain(getattr(obj, name)) for name in fields}


def record(actor: Actor, action: str, entity: str, entity_id: int | None, before: dict | None, after: dict | None):
    """Keep only what changed; a create has no before, a delete no after."""
    before, after = before or {}, after or {}
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
        staff_id=actor.staff_id, action="view_identity", entity=entity, entity_id=entity_id, changes=detail
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
