"""Deliver one outbox row and record the outcome on it.

Unlike other services this one commits: the attempt (and any subscription quota it spends) is recorded
before the outside call, so a crash mid-call is never mistaken for "not tried", and a retry never spends
quota twice. Transient failures are raised again for RQ to retry with backoff; after NOTIFY_MAX_ATTEMPTS,
or on a permanent error, the row ends `failed` and shows in the dispatchers' list.
"""

from dataclasses import replace

from flask import current_app

from backend.clients import webhooks
from backend.clients.webhooks import WebhookRejected, WebhookUnavailable
from backend.clients.wechat import (
    SubscriptionRefused,
    WeChatError,
    WeChatUnavailable,
    client_from_config,
    token_cache_for,
)
from backend.errors import Conflict, NotFound
from backend.extensions import db, redis_store
from backend.models import Channel, DeliveryStatus, Notification, Unit, User
from backend.models.types import utcnow
from backend.services.notifications import notify, subscriptions
from backend.services.paging import paginate
from workers.queues import enqueue_after_commit

TRANSIENT = (WeChatUnavailable, WebhookUnavailable)


def _finish(notification: Notification, status: DeliveryStatus, error: str | None = None) -> Notification:
    notification.status = status
    notification.last_error = error
    notification.next_attempt_at = None
    if status == DeliveryStatus.SENT:
        notification.sent_at = utcnow()
    db.session.commit()
    return notification


def _send_wechat(notification: Notification) -> Notification:
    spec = notify.templates().get(notification.kind)
    if not spec:
        return _finish(notification, DeliveryStatus.SKIPPED, "no template configured for this event")
    template_id = spec["template_id"]
    if not notification.payload.get("quota_spent"):
        if not subscriptions.take(notification.user_id, template_id):
            return _finish(notification, DeliveryStatus.SKIPPED, "the citizen has no subscription left for this")
        notification.payload = {**notification.payload, "quota_spent": True}
        db.session.commit()
    config = current_app.config
    client = client_from_config(config)
    tokens = token_cache_for(client, redis_store.client)
    data = {key: str(notification.payload.get(source, "")) for key, source in spec.get("fields", {}).items()}
    page = spec.get("page", "pages/report/detail?id={case_id}").format(case_id=notification.case_id)
    openid = db.session.get(User, notification.user_id).openid
    try:
        client.send_subscribe_message(
            tokens, openid, template_id, data, page=page, miniprogram_state=config["WECHAT_MINIPROGRAM_STATE"]
        )
    except SubscriptionRefused as exc:
        subscriptions.clear(notification.user_id, template_id)
        return _finish(notification, DeliveryStatus.SKIPPED, f"WeChat {exc.errcode}: {exc.errmsg}")
    except WeChatError as exc:
        return _finish(notification, DeliveryStatus.FAILED, f"WeChat {exc.errcode}: {exc.errmsg}")
    return _finish(notification, DeliveryStatus.SENT)


def _send_webhook(notification: Notification) -> Notification:
    unit = db.session.get(Unit, notification.unit_id) if notification.unit_id else None
    if not unit or not unit.webhook_url:
        return _finish(notification, DeliveryStatus.SKIPPED, "the unit has no webhook")
    client = webhooks.client_from_config(current_app.config)
    payload = notification.payload
    try:
        client.send(
            unit.webhook_url,
            unit.webhook_kind or "json",
            payload.get("title", notification.kind),
            payload.get("text", ""),
            payload,
            notification.dedupe_key,
            event=notification.kind,
        )
    except WebhookRejected as exc:
        return _finish(notification, DeliveryStatus.FAILED, str(exc))
    return _finish(notification, DeliveryStatus.SENT)


def deliver(notification_id: int) -> Notification | None:
    """Idempotent: only a pending row is sent."""
    notification = db.session.get(Notification, notification_id)
    if notification is None or notification.status != DeliveryStatus.PENDING:
        return notification
    if notification.attempts >= current_app.config["NOTIFY_MAX_ATTEMPTS"]:
        # earlier attempts ended in errors nobody classified (they re-raised for RQ): stop here, visibly
        return _finish(notification, DeliveryStatus.FAILED, f"gave up after {notification.attempts} attempts")
    notification.attempts += 1
    db.session.commit()
    try:
        if notification.channel == Channel.WECHAT_SUBSCRIBE:
            return _send_wechat(notification)
        if notification.channel == Channel.WEBHOOK:
            return _send_webhook(notification)
        return _finish(notification, DeliveryStatus.SENT)
    except TRANSIENT as exc:
        db.session.rollback()
        notification = db.session.get(Notification, notification_id)
        if notification.attempts >= current_app.config["NOTIFY_MAX_ATTEMPTS"]:
            return _finish(
                notification, DeliveryStatus.FAILED, f"gave up after {notification.attempts} attempts: {exc}"
            )
        notification.last_error = str(exc)
        notification.next_attempt_at = utcnow() + notify.backoff(notification.attempts)
        db.session.commit()
        raise


def retry(notification_id: int) -> Notification:
    """A dispatcher sends a failed notification again."""
    notification = db.session.get(Notification, notification_id)
    if notification is None:
        raise NotFound("通知不存在", code="notification_not_found")
    if notification.status != DeliveryStatus.FAILED:
        raise Conflict("只有发送失败的通知可以重发", code="not_failed")
    notification.status = DeliveryStatus.PENDING
    notification.attempts = 0
    notification.last_error = None
    db.session.flush()
    enqueue_after_commit(db.session, replace(notify.deliver_job(notification.id), replace_waiting=True))
    return notification


def listing(page: int, per_page: int, status: DeliveryStatus | None = None, channel: Channel | None = None) -> dict:
    query = db.select(Notification)
    if status is not None:
        query = query.where(Notification.status == status)
    if channel is not None:
        query = query.where(Notification.channel == channel)
    return paginate(query, page, per_page, Notification.id.desc())
