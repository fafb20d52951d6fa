"""Answers the views build as plain dicts, described for the OpenAPI document (backend/api/spec.py)."""

from marshmallow import Schema, fields

from backend.schemas.map import CandidateOut


class QueueCountsOut(Schema):
    queued = fields.Integer()
    started = fields.Integer()
    scheduled = fields.Integer()
    failed = fields.Integer()


class BacklogOut(Schema):
    cases_waiting_for_routing = fields.Integer()
    cases_waiting_for_manual_dispatch = fields.Integer()
    photos_waiting_for_processing = fields.Integer()


class HealthOut(Schema):
    database = fields.String(metadata={"enum": ["ok", "unavailable"]})
    redis = fields.String(metadata={"enum": ["ok", "unavailable"]})
    queues = fields.Dict(keys=fields.String(), values=fields.Nested(QueueCountsOut))
    workers = fields.Integer()
    backlog = fields.Nested(BacklogOut)


class ExplainOut(Schema):
    candidates = fields.List(fields.Nested(CandidateOut))
    reason_if_none = fields.String(allow_none=True)


class SubscriptionsOut(Schema):
    templates = fields.Dict(keys=fields.String(), values=fields.String(), metadata={"description": "{kind: id}"})
    remaining = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={"description": "{id: count}"})


class BulkResultOut(Schema):
    id = fields.Integer()
    ok = fields.Boolean()
    status = fields.String()
    error = fields.String()


class BulkDecisionOut(Schema):
    results = fields.List(fields.Nested(BulkResultOut))


class SuspensionOut(Schema):
    user_id = fields.Integer()
    suspended = fields.Boolean()
    reason = fields.String()


class AmountsOut(Schema):
    granted_fen = fields.Integer()
    paid_fen = fields.Integer()


class MonthAmountsOut(AmountsOut):
    month = fields.String()


class CategoryAmountsOut(AmountsOut):
    category = fields.String()


class RewardFiguresOut(Schema):
    claims_by_status = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_month = fields.List(fields.Nested(MonthAmountsOut))
    by_category = fields.List(fields.Nested(CategoryAmountsOut))
    generated_at = fields.String(metadata={"format": "date-time"})


SIGNED_URL_QUERY = [
    {"in": "query", "name": "expires", "required": True, "schema": {"type": "string"}, "description": "Unix time"},
    {"in": "query", "name": "sig", "required": True, "schema": {"type": "string"}, "description": "signature"},
]
GEOJSON = {"type": "object", "description": "a GeoJSON FeatureCollection; each feature's properties carry its coord"}
PHOTO_UPLOAD = {
    "multipart/form-data": {
        "schema": {
            "type": "object",
            "properties": {"file": {"type": "string", "format": "binary"}},
            "required": ["file"],
        }
    }
}
WECHATPAY_ANSWER = {
    "application/json": {
        "schema": {
            "type": "object",
            "properties": {"code": {"const": "FAIL"}, "message": {"type": "string"}},
            "required": ["code", "message"],
        }
    }
}
