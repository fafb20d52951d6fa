"""Notifications through an outbox: rows written in the same transaction as what they announce,
delivered by a job after commit, with the outcome recorded on the row.

Who hears what:
- the citizen (WeChat subscribe message, where they granted quota): dispatched, replied, rejected, closed;
- the lead unit (in-app list, and its webhook if configured): assigned, reworked, reminders, 督办;
  co-units: assigned as co-unit;
- the dispatch center (in-app, unit_id NULL): returned, replied (to verify), unsatisfied ratings,
  overdue and escalations, extension requests.
Units never receive the reporter's identity: payloads carry the case number, category and address only.
"""

import json
import logging
from datetime import timedelta

from flask import current_app

from backend.extensions import db
from backend.models import Case, CaseEvent, Channel, DeliveryStatus, EventType, Notification, Unit
from backend.models.types import local_time, utcnow
from workers.queues import NOTIFY, RETRY_INTERVALS, JobRequest, enqueue_after_commit

log = logging.getLogger(__name__)

DELIVER_NOTIFICATION = "workers.jobs.notify.deliver_notification"
CITIZEN_KINDS = {
    EventType.DISPATCHED: "case_dispatched",
    EventType.REPLIED: "case_replied",
    EventType.REJECTED: "case_rejected",
    EventType.CLOSED: "case_closed",
}
STATUS_PHRASES = {
    "case_dispatched": "已派遣",
    "case_replied": "已反馈",
    "case_rejected": "不予受理",
    "case_closed": "已办结",
}
TITLES = {
    "case_assigned": "新派遣案件",
    "case_co_assigned": "配合办理案件",
    "case_reworked": "案件需返工",
    "deadline_reminder": "临期提醒",
    "signoff_overdue": "超过签收时限",
    "escalated": "超期督办",
    "escalated_again": "二级督办",
    "case_returned": "案件被退回",
    "case_replied": "案件待核查",
    "case_unsatisfied": "市民不满意",
    "extension_requested": "延期申请待审批",
    "extension_decided": "延期申请结果",
}


def deliver_job(notification_id: int) -> JobRequest:
    return JobRequest(NOTIFY, DELIVER_NOTIFICATION, (notification_id,), f"deliver-notification-{notification_id}")


def templates() -> dict:
    """{kind: {"template_id", "fields": {wechat_key: payload_key}, "page"?}} from WECHAT_TEMPLATES."""
    raw = current_app.config.get("WECHAT_TEMPLATES") or ""
    if isinstance(raw, dict):
        return raw
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        log.error("WECHAT_TEMPLATES is not valid JSON; citizen notifications are off")
        return {}


def _case_payload(case: Case) -> dict:
    """What a message about a case may say. Never who reported it."""
    return {
        "case_id": case.id,
        "number": case.number,
        "category": case.category.name,
        "address": case.address or "",
        "unit": case.unit.name if case.unit else "",
        "deadline": local_time(case.deadline_at) if case.deadline_at else "",
    }


def _add(notification: Notification, deliver: bool) -> Notification | None:
    """Insert unless this (event, recipient, channel) was already announced."""
    exists = db.session.scalar(db.select(Notification.id).where(Notification.dedupe_key == notification.dedupe_key))
    if exists is not None:
        return None
    db.session.add(notification)
    db.session.flush()
    if deliver:
        enqueue_after_commit(db.session, deliver_job(notification.id))
    return notification


def to_citizen(case: Case, kind: str, event: CaseEvent) -> None:
    template = templates().get(kind)
    if not template:
        return
    at = local_time(event.at)
    payload = _case_payload(case) | {"status": STATUS_PHRASES.get(kind, ""), "note": event.note or "", "at": at}
    _add(
        Notification(
            kind=kind,
            channel=Channel.WECHAT_SUBSCRIBE,
            case_id=case.id,
            user_id=case.reporter_id,
            payload=payload,
            dedupe_key=f"case-{case.id}:{kind}:event-{event.id}:citizen",
        ),
        deliver=True,
    )


def _staff_payload(kind: str, case: Case | None, text: str, extra: dict | None) -> dict:
    return (_case_payload(case) if case else {}) | {"title": TITLES.get(kind, kind), "text": text} | (extra or {})


def _in_app(kind: str, case: Case | None, unit_id: int | None, payload: dict, dedupe_key: str) -> None:
    """An in-app row is delivered by being listed: it is sent the moment it exists."""
    _add(
        Notification(
            kind=kind,
            channel=Channel.IN_APP,
            case_id=case.id if case else None,
            unit_id=unit_id,
            payload=payload,
            dedupe_key=dedupe_key,
            status=DeliveryStatus.SENT,
            sent_at=utcnow(),
        ),
        deliver=False,
    )


def to_unit(unit: Unit, kind: str, case: Case | None, dedupe: str, text: str, extra: dict | None = None) -> None:
    """In-app for the unit's staff, plus its webhook when one is configured."""
    payload = _staff_payload(kind, case, text, extra)
    _in_app(kind, case, unit.id, payload, f"{dedupe}:unit-{unit.id}:in_app")
    if unit.webhook_url:
        _add(
            Notification(
                kind=kind,
                channel=Channel.WEBHOOK,
                case_id=case.id if case else None,
                unit_id=unit.id,
                payload=payload,
                dedupe_key=f"{dedupe}:unit-{unit.id}:webhook",
            ),
            deliver=True,
        )


def to_dispatch_center(kind: str, case: Case, dedupe: str, text: str, extra: dict | None = None) -> None:
    """In-app for dispatchers (unit_id NULL)."""
    _in_app(kind, case, None, _staff_payload(kind, case, text, extra), f"{dedupe}:dispatch:in_app")


def announce(case: Case, event: CaseEvent) -> None:
    """The outbox rows for one timeline event; called by the state machine after each transition."""
    key = f"case-{case.id}:event-{event.id}"
    if kind := CITIZEN_KINDS.get(event.type):
        to_citizen(case, kind, event)
    if event.type == EventType.DISPATCHED and case.unit is not None:
        to_unit(case.unit, "case_assigned", case, key, f"{case.category.name}：{case.address}，请在签收时限内签收")
        for co_unit in case.co_units:
            to_unit(co_unit, "case_co_assigned", case, key, f"请配合{case.unit.name}办理")
    elif event.type == EventType.REWORKED and case.unit is not None:
        to_unit(case.unit, "case_reworked", case, key, f"返工原因：{event.note}")
    elif event.type == EventType.RETURNED:
        to_dispatch_center("case_returned", case, key, f"退单原因：{event.note}")
    elif event.type == EventType.REPLIED:
        to_dispatch_center("case_replied", case, key, "单位已反馈，请核查后结案")
    elif event.type == EventType.RATED and event.data.get("rating") == "unsatisfied":
        to_dispatch_center("case_unsatisfied", case, key, f"市民评价：不满意。{event.note}")


# Delivery --------------------------------------------------------------------------------------


def backoff(attempts: int) -> timedelta:
    """When RQ will run the retry after `attempts` attempts (its Retry intervals, see workers.queues)."""
    return timedelta(seconds=RETRY_INTERVALS[min(max(attempts, 1), len(RETRY_INTERVALS)) - 1])
