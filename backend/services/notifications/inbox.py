"""In-app notifications: a unit's list, and the dispatch center's (unit_id NULL)."""

from backend.errors import NotFound
from backend.extensions import db
from backend.models import Channel, Notification
from backend.models.types import utcnow
from backend.services.paging import paginate


def _mine(unit_id: int | None):
    owner = Notification.unit_id.is_(None) if unit_id is None else Notification.unit_id == unit_id
    return db.select(Notification).where(Notification.channel == Channel.IN_APP, owner)


def listing(unit_id: int | None, page: int, per_page: int, unread: bool | None = None) -> dict:
    query = _mine(unit_id)
    if unread is not None:
        query = query.where(Notification.read_at.is_(None) if unread else Notification.read_at.is_not(None))
    return paginate(query, page, per_page, Notification.id.desc())


def mark_read(notification_id: int, unit_id: int | None) -> Notification:
    notification = db.session.scalar(_mine(unit_id).where(Notification.id == notification_id))
    if notification is None:
        raise NotFound("通知不存在", code="notification_not_found")
    notification.read_at = notification.read_at or utcnow()
    db.session.flush()
    return notification
