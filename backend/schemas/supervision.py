"""Deadlines, supervision, extension requests, notifications and subscriptions on the wire."""

from marshmallow import Schema, fields, validate

from backend.models import Channel, DeliveryStatus
from backend.schemas.auth import UnitRefOut
from backend.schemas.common import LocalDateTime, PageArgs


class ExtensionIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))
    extra_working_hours = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=8 * 60))


class ExtensionDecisionIn(Schema):
    note = fields.String(load_default="", validate=validate.Length(max=500))
    extra_working_hours = fields.Integer(
        load_default=None, allow_none=True, strict=True, validate=validate.Range(min=1, max=8 * 60)
    )


class DenyIn(Schema):
    note = fields.String(required=True, validate=validate.Length(min=1, max=500))


class ExtensionOut(Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    unit = fields.Nested(UnitRefOut)
    reason = fields.String()
    extra_working_hours = fields.Integer()
    status = fields.String()
    created_at = LocalDateTime()
    decided_at = LocalDateTime(allow_none=True)
    decision_note = fields.String()
    old_deadline = LocalDateTime(attribute="old_deadline_at", allow_none=True)
    new_deadline = LocalDateTime(attribute="new_deadline_at", allow_none=True)


class NotificationArgs(PageArgs):
    status = fields.Enum(DeliveryStatus, by_value=True, load_default=None)
    channel = fields.Enum(Channel, by_value=True, load_default=None)


class InboxArgs(PageArgs):
    unread = fields.Boolean(load_default=None)


class NotificationOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    channel = fields.String()
    case_id = fields.Integer(allow_none=True)
    unit_id = fields.Integer(allow_none=True)
    status = fields.String()
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    created_at = LocalDateTime()
    sent_at = LocalDateTime(allow_none=True)
    next_attempt_at = LocalDateTime(allow_none=True)
    title = fields.Function(lambda n: n.payload.get("title", ""))
    text = fields.Function(lambda n: n.payload.get("text", ""))
    number = fields.Function(lambda n: n.payload.get("number", ""))


class InboxItemOut(NotificationOut):
    read_at = LocalDateTime(allow_none=True)


class SubscriptionsIn(Schema):
    template_ids = fields.List(
        fields.String(validate=validate.Length(min=1, max=128)), required=True, validate=validate.Length(min=1, max=10)
    )


class SupervisionCaseOut(Schema):
    id = fields.Integer()
    number = fields.String()
    status = fields.String()
    category = fields.Function(lambda case: case.category.name)
    unit = fields.Nested(UnitRefOut, allow_none=True)
    deadline = LocalDateTime(attribute="deadline_at")
    escalation_level = fields.Integer()
    overdue_since = LocalDateTime(attribute="overdue_at", allow_none=True)


class UnitLoadOut(Schema):
    unit = fields.Nested(UnitRefOut)
    open = fields.Integer()
    overdue = fields.Integer()
    due_soon = fields.Integer()
    level_1 = fields.Integer()
    level_2 = fields.Integer()


class SupervisionArgs(PageArgs):
    """The board's lists are paged together: page N of overdue, of due_soon and of extensions_pending."""

    per_page = fields.Integer(load_default=100, validate=validate.Range(min=1, max=100))


class SupervisionOut(Schema):
    now = LocalDateTime()
    overdue = fields.List(fields.Nested(SupervisionCaseOut))
    due_soon = fields.List(fields.Nested(SupervisionCaseOut))
    by_unit = fields.List(fields.Nested(UnitLoadOut))
    extensions_pending = fields.List(fields.Nested(ExtensionOut))
    overdue_total = fields.Integer()
    due_soon_total = fields.Integer()
    extensions_pending_total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
