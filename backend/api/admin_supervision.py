"""督办 for dispatchers: the supervision view, extension decisions, notifications and their failures."""

from flask import Blueprint

from backend.api.common import actor, json_body, query_args
from backend.api.spec import Page, doc
from backend.auth import dispatcher_required
from backend.extensions import db
from backend.schemas.common import PageArgs, page_of
from backend.schemas.supervision import (
    DenyIn,
    ExtensionDecisionIn,
    ExtensionOut,
    InboxArgs,
    InboxItemOut,
    NotificationArgs,
    NotificationOut,
    SupervisionArgs,
    SupervisionOut,
)
from backend.services.casework import extensions, supervision
from backend.services.notifications import delivery, inbox

bp = Blueprint("admin_supervision", __name__, url_prefix="/admin")


@bp.get("/supervision")
@doc(query=SupervisionArgs, response=SupervisionOut)
@dispatcher_required
def supervision_view():
    return SupervisionOut().dump(supervision.overview(**query_args(SupervisionArgs())))


@bp.get("/extensions")
@doc(query=PageArgs, response=Page(ExtensionOut))
@dispatcher_required
def pending_extensions():
    return page_of(ExtensionOut(), extensions.pending(**query_args(PageArgs())))


@bp.post("/extensions/<int:extension_id>/approve")
@doc(
    body=ExtensionDecisionIn,
    response=ExtensionOut,
    errors={404: "extension_not_found", 409: "extension_decided invalid_transition"},
)
@dispatcher_required
def approve_extension(extension_id: int):
    data = json_body(ExtensionDecisionIn())
    extension = extensions.approve(extensions.get(extension_id), actor(), data["note"], data["extra_working_hours"])
    db.session.commit()
    return ExtensionOut().dump(extension)


@bp.post("/extensions/<int:extension_id>/deny")
@doc(body=DenyIn, response=ExtensionOut, errors={404: "extension_not_found", 409: "extension_decided"})
@dispatcher_required
def deny_extension(extension_id: int):
    extension = extensions.deny(extensions.get(extension_id), actor(), json_body(DenyIn())["note"])
    db.session.commit()
    return ExtensionOut().dump(extension)


@bp.get("/notifications")
@doc(query=NotificationArgs, response=Page(NotificationOut))
@dispatcher_required
def list_notifications():
    """Every outbox row, e.g. ?status=failed for what could not be delivered."""
    return page_of(NotificationOut(), delivery.listing(**query_args(NotificationArgs())))


@bp.post("/notifications/<int:notification_id>/retry")
@doc(response=NotificationOut, errors={404: "notification_not_found", 409: "not_failed"})
@dispatcher_required
def retry_notification(notification_id: int):
    notification = delivery.retry(notification_id)
    db.session.commit()
    return NotificationOut().dump(notification)


@bp.get("/inbox")
@doc(query=InboxArgs, response=Page(InboxItemOut))
@dispatcher_required
def dispatch_inbox():
    """The dispatch center's in-app notifications (returns, replies to verify, 督办, extension requests)."""
    return page_of(InboxItemOut(), inbox.listing(None, **query_args(InboxArgs())))


@bp.post("/inbox/<int:notification_id>/read")
@doc(response=InboxItemOut, errors={404: "notification_not_found"})
@dispatcher_required
def read_dispatch_notification(notification_id: int):
    notification = inbox.mark_read(notification_id, None)
    db.session.commit()
    return InboxItemOut().dump(notification)
