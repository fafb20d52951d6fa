"""有奖举报 on the wire: reward administrators see claimants by id only (identity is a separate, audited
call); citizens see their own claims, ledger and balance."""

from marshmallow import Schema, fields, validate

from backend.models import ClaimStatus, PayoutMethod
from backend.schemas.case import StaffCaseOut
from backend.schemas.common import Day, LocalDateTime, PageArgs

# WeChat Pay transfers of 2,000 yuan or more need the encrypted real name, which we do not collect
FEN = validate.Range(min=1, max=199_999)


class RewardRuleIn(Schema):
    category_id = fields.Integer(required=True, strict=True)
    amount_fen = fields.Integer(required=True, strict=True, validate=FEN)
    starts_on = Day(load_default=None, allow_none=True)
    ends_on = Day(load_default=None, allow_none=True)
    daily_cap_fen = fields.Integer(load_default=None, allow_none=True, strict=True, validate=FEN)
    monthly_cap_fen = fields.Integer(load_default=None, allow_none=True, strict=True, validate=FEN)
    first_reporter_only = fields.Boolean(load_default=True)
    active = fields.Boolean(load_default=True)


class RewardRuleOut(Schema):
    id = fields.Integer()
    category = fields.Function(lambda r: {"id": r.category.id, "code": r.category.code, "name": r.category.name})
    amount_fen = fields.Integer()
    starts_on = fields.Date(allow_none=True)
    ends_on = fields.Date(allow_none=True)
    daily_cap_fen = fields.Integer(allow_none=True)
    monthly_cap_fen = fields.Integer(allow_none=True)
    first_reporter_only = fields.Boolean()
    active = fields.Boolean()


class ClaimArgs(PageArgs):
    status = fields.Enum(ClaimStatus, by_value=True, load_default=None)
    user_id = fields.Integer(load_default=None)


class ClaimOut(Schema):
    """For reward administrators: the claimant as a bare id, the evidence in full."""

    id = fields.Integer()
    status = fields.String()
    amount_fen = fields.Integer()
    citizen_id = fields.Integer(attribute="user_id")
    signals = fields.List(fields.Dict())
    decision_reason = fields.String()
    decided_at = LocalDateTime(allow_none=True)
    created_at = LocalDateTime()
    rule_id = fields.Integer()


class ClaimDetailOut(ClaimOut):
    case = fields.Nested(StaffCaseOut)  # photos, timeline, reply


class DecisionIn(Schema):
    reason = fields.String(load_default="", validate=validate.Length(max=500))


class RejectIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class BulkDecisionIn(Schema):
    claim_ids = fields.List(fields.Integer(strict=True), required=True, validate=validate.Length(min=1, max=500))
    decision = fields.String(required=True, validate=validate.OneOf(["approve", "reject"]))
    reason = fields.String(load_default="", validate=validate.Length(max=500))


class BatchIn(Schema):
    method = fields.Enum(PayoutMethod, by_value=True, required=True)
    # omitted: every approved claim; a list must name at least one (an empty selection pays nobody)
    claim_ids = fields.List(fields.Integer(strict=True), load_default=None, validate=validate.Length(min=1, max=1000))
    note = fields.String(load_default="", validate=validate.Length(max=500))


class OfflinePaidIn(Schema):
    reference = fields.String(required=True, validate=validate.Length(min=1, max=128))


class PayoutItemOut(Schema):
    id = fields.Integer()
    claim_id = fields.Integer()
    citizen_id = fields.Integer(attribute="user_id")
    out_bill_no = fields.String()
    amount_fen = fields.Integer()
    status = fields.String()
    wechat_state = fields.String(allow_none=True)
    transfer_bill_no = fields.String(allow_none=True)
    fail_reason = fields.String(allow_none=True)
    attempts = fields.Integer()


class BatchOut(Schema):
    id = fields.Integer()
    method = fields.String()
    created_at = LocalDateTime()
    reference = fields.String()
    note = fields.String()
    total_fen = fields.Function(lambda b: sum(i.amount_fen for i in b.items))
    items = fields.List(fields.Nested(PayoutItemOut))


class RewardAuditArgs(PageArgs):
    entity = fields.String(load_default=None, validate=validate.OneOf(["reward_rule", "reward_suspension", "user"]))
    entity_id = fields.Integer(load_default=None)


class SuspendIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class IdentityArgs(Schema):
    purpose = fields.String(required=True, validate=validate.Length(min=2, max=200))


class IdentityOut(Schema):
    id = fields.Integer()
    openid = fields.String()
    unionid = fields.String(allow_none=True)
    created_at = LocalDateTime()
    suspended = fields.Boolean()
    suspension_reason = fields.String(allow_none=True)
    claims = fields.Integer()
    balance_fen = fields.Integer()


class CitizenClaimOut(Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    number = fields.Function(lambda c: c.case.number)
    amount_fen = fields.Integer()
    # a held claim is reviewed like any other: the citizen is not told it was flagged
    status = fields.Function(lambda c: "pending" if c.status == "held" else str(c.status))
    reason = fields.String(attribute="decision_reason")
    created_at = LocalDateTime()


class LedgerEntryOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    amount_fen = fields.Integer()
    claim_id = fields.Integer()
    note = fields.String()
    created_at = LocalDateTime()


class TransferToConfirmOut(Schema):
    claim_id = fields.Integer()
    amount_fen = fields.Integer()
    mch_id = fields.String()
    app_id = fields.String()
    package = fields.String()


class CitizenRewardsOut(Schema):
    balance_fen = fields.Integer()
    paid_fen = fields.Integer()
    claims = fields.List(fields.Nested(CitizenClaimOut))
    ledger = fields.List(fields.Nested(LedgerEntryOut))
    to_confirm = fields.List(fields.Nested(TransferToConfirmOut))
