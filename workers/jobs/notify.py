from backend.services.notifications import delivery


def deliver_notification(notification_id: int) -> str:
    """Send one outbox row. Safe to run twice: only a pending row is sent; transient errors re-raise for RQ."""
    notification = delivery.deliver(notification_id)
    return "missing" if notification is None else str(notification.status)
