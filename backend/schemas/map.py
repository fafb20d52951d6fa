"""The responsibility map as administrators edit it: units, categories, routing rules, the audit trail."""

from marshmallow import Schema, fields, validate

from backend.clients.webhooks import redact
from backend.models import CoordSystem, RuleTarget, UnitKind
from backend.schemas.auth import UnitRefOut
from backend.schemas.common import LocalDateTime, PageArgs

CODE = validate.Regexp(r"^[a-z0-9][a-z0-9_\-]{0,63}$", error="只能包含小写字母、数字、-和_")
PHONE = validate.Length(max=64)


class UnitIn(Schema):
    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=validate.Length(min=1, max=128))
    kind = fields.Enum(UnitKind, by_value=True, required=True)
    parent_id = fields.Integer(load_default=None, allow_none=True, strict=True)
    contact_name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))
    contact_phone = fields.String(load_default=None, allow_none=True, validate=PHONE)
    leader_name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))
    leader_phone = fields.String(load_default=None, allow_none=True, validate=PHONE)
    webhook_url = fields.Url(load_default=None, allow_none=True, schemes={"http", "https"}, require_tld=False)
    webhook_kind = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(["wecom", "json"]))
    active = fields.Boolean(load_default=True)


class UnitPatch(UnitIn):
    class Meta:
        exclude = ("code",)


class UnitArgs(Schema):
    kind = fields.Enum(UnitKind, by_value=True, load_default=None)
    active = fields.Boolean(load_default=None)


class UnitDetailOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    kind = fields.String()
    parent_id = fields.Integer(allow_none=True)
    contact_name = fields.String(allow_none=True)
    contact_phone = fields.String(allow_none=True)
    leader_name = fields.String(allow_none=True)
    leader_phone = fields.String(allow_none=True)
    webhook_url = fields.Function(lambda unit: redact(unit.webhook_url))  # never echo the robot key
    webhook_kind = fields.String(allow_none=True)
    active = fields.Boolean()
    updated_at = LocalDateTime()


class CategoryIn(Schema):
    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    description = fields.String(load_default="", validate=validate.Length(max=2000))
    icon = fields.String(load_default="", validate=validate.Length(max=255))
    parent_id = fields.Integer(load_default=None, allow_none=True, strict=True)
    deadline_hours = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=8 * 250))
    signoff_hours = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=8 * 20))
    lead_unit_id = fields.Integer(load_default=None, allow_none=True, strict=True)
    co_unit_ids = fields.List(fields.Integer(strict=True), load_default=list, validate=validate.Length(max=20))
    co_territorial = fields.Boolean(load_default=False)
    sort_order = fields.Integer(load_default=0)
    active = fields.Boolean(load_default=True)


class CategoryPatch(CategoryIn):
    class Meta:
        exclude = ("code",)


class CategoryDetailOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    description = fields.String()
    icon = fields.String()
    parent_id = fields.Integer(allow_none=True)
    deadline_hours = fields.Integer(allow_none=True)
    effective_deadline_hours = fields.Integer()
    signoff_hours = fields.Integer(allow_none=True)
    lead_unit = fields.Nested(UnitRefOut, allow_none=True)
    co_units = fields.List(fields.Nested(UnitRefOut))
    co_territorial = fields.Boolean()
    sort_order = fields.Integer()
    active = fields.Boolean()


class RuleIn(Schema):
    category_id = fields.Integer(load_default=None, allow_none=True, strict=True)
    region_id = fields.Integer(load_default=None, allow_none=True, strict=True)
    target = fields.Enum(RuleTarget, by_value=True, required=True)
    unit_id = fields.Integer(load_default=None, allow_none=True, strict=True)
    co_unit_ids = fields.List(fields.Integer(strict=True), load_default=list, validate=validate.Length(max=20))
    co_territorial = fields.Boolean(load_default=False)
    deadline_hours = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=8 * 250))
    note = fields.String(load_default="", validate=validate.Length(max=500))
    active = fields.Boolean(load_default=True)


class RuleArgs(Schema):
    category_id = fields.Integer(load_default=None)
    region_id = fields.Integer(load_default=None)


class RegionRefOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()


class CategoryRefOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()


class RuleOut(Schema):
    id = fields.Integer()
    category = fields.Nested(CategoryRefOut, allow_none=True)
    region = fields.Nested(RegionRefOut, allow_none=True)
    target = fields.String()
    unit = fields.Nested(UnitRefOut, allow_none=True)
    co_units = fields.List(fields.Nested(UnitRefOut))
    co_territorial = fields.Boolean()
    deadline_hours = fields.Integer(allow_none=True)
    note = fields.String()
    active = fields.Boolean()


class AuditArgs(PageArgs):
    entity = fields.String(
        load_default=None, validate=validate.OneOf(["unit", "region", "category", "rule", "calendar", "staff"])
    )
    entity_id = fields.Integer(load_default=None)


class AuditOut(Schema):
    id = fields.Integer()
    at = LocalDateTime()
    staff = fields.Function(lambda e: {"id": e.staff.id, "username": e.staff.username} if e.staff else None)
    action = fields.String()
    entity = fields.String()
    entity_id = fields.Integer(allow_none=True)
    changes = fields.Dict()


class ExplainArgs(Schema):
    lat = fields.Float(required=True, validate=validate.Range(min=-90, max=90), allow_nan=False)
    lng = fields.Float(required=True, validate=validate.Range(min=-180, max=180), allow_nan=False)
    coord = fields.String(load_default="gcj02", validate=validate.OneOf([c.value for c in CoordSystem]))
    category = fields.String(required=True)


class CandidateOut(Schema):
    unit = fields.Nested(UnitRefOut)
    co_units = fields.List(fields.Nested(UnitRefOut))
    reason = fields.String()
    rule_id = fields.Integer(allow_none=True)
    region_id = fields.Integer(allow_none=True)
