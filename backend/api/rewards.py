"""有奖举报: the reward administrators' API, the citizen's view, and WeChat Pay's callback."""

from flask import Blueprint, Response, current_app, request

from backend.api.common import actor, json_body, query_args
from backend.api.spec import Items, Page, doc
from backend.auth import citizen_required, current_principal, reward_admin_required
from backend.clients.wechat_pay import WeChatPaySignatureError
from backend.extensions import db
from backend.schemas.common import PageArgs, page_of
from backend.schemas.map import AuditOut
from backend.schemas.reward import (
    BatchIn,
    BatchOut,
    BulkDecisionIn,
    CitizenRewardsOut,
    ClaimArgs,
    ClaimDetailOut,
    ClaimOut,
    DecisionIn,
    IdentityArgs,
    IdentityOut,
    OfflinePaidIn,
    RejectIn,
    RewardAuditArgs,
    RewardRuleIn,
    RewardRuleOut,
    SuspendIn,
)
from backend.schemas.shapes import WECHATPAY_ANSWER, BulkDecisionOut, RewardFiguresOut, SuspensionOut
from backend.services.responsibility import audit
from backend.services.rewards import claims, payouts, rules

bp = Blueprint("rewards", __name__)


@bp.get("/rewards/mine")
@doc(response=CitizenRewardsOut)
@citizen_required
def my_rewards():
    """我的奖励: claims, ledger and balance."""
    return CitizenRewardsOut().dump(claims.citizen_summary(current_principal().id))


@bp.get("/reward-admin/rules")
@doc(response=Items(RewardRuleOut))
@reward_admin_required
def list_rules():
    return {"items": RewardRuleOut(many=True).dump(rules.list_rules())}


@bp.post("/reward-admin/rules")
@doc(body=RewardRuleIn, response=RewardRuleOut, status=201)
@reward_admin_required
def create_rule():
    rule = rules.save_rule(None, json_body(RewardRuleIn()), actor())
    db.session.commit()
    return RewardRuleOut().dump(rule), 201


@bp.patch("/reward-admin/rules/<int:rule_id>")
@doc(body=RewardRuleIn(partial=True), response=RewardRuleOut, errors={404: "reward_rule_not_found"})
@reward_admin_required
def update_rule(rule_id: int):
    rule = rules.save_rule(rules.get_rule(rule_id), json_body(RewardRuleIn(partial=True)), actor())
    db.session.commit()
    return RewardRuleOut().dump(rule)


@bp.get("/reward-admin/claims")
@doc(query=ClaimArgs, response=Page(ClaimOut))
@reward_admin_required
def list_claims():
    return page_of(ClaimOut(), claims.list_claims(**query_args(ClaimArgs())))


@bp.get("/reward-admin/claims/<int:claim_id>")
@doc(response=ClaimDetailOut, errors={404: "claim_not_found"})
@reward_admin_required
def get_claim(claim_id: int):
    return ClaimDetailOut().dump(claims.get_claim(claim_id))


@bp.post("/reward-admin/claims/<int:claim_id>/approve")
@doc(body=DecisionIn, response=ClaimOut, errors={404: "claim_not_found", 409: "claim_decided citizen_suspended"})
@reward_admin_required
def approve_claim(claim_id: int):
    claim = claims.approve(claims.get_claim(claim_id), actor(), json_body(DecisionIn())["reason"])
    db.session.commit()
    return ClaimOut().dump(claim)


@bp.post("/reward-admin/claims/<int:claim_id>/reject")
@doc(body=RejectIn, response=ClaimOut, errors={404: "claim_not_found", 409: "claim_decided"})
@reward_admin_required
def reject_claim(claim_id: int):
    claim = claims.reject(claims.get_claim(claim_id), actor(), json_body(RejectIn())["reason"])
    db.session.commit()
    return ClaimOut().dump(claim)


@bp.post("/reward-admin/claims/bulk")
@doc(body=BulkDecisionIn, response=BulkDecisionOut)
@reward_admin_required
def decide_claims():
    data = json_body(BulkDecisionIn())
    results = claims.decide_many(data["claim_ids"], actor(), data["decision"] == "approve", data["reason"])
    db.session.commit()
    return {"results": results}


@bp.get("/reward-admin/citizens/<int:user_id>")
@doc(query=IdentityArgs, response=IdentityOut, errors={404: "citizen_not_found"})
@reward_admin_required
def reveal_citizen(user_id: int):
    """Who the claimant is. Audited: the request must say why (?purpose=)."""
    identity = claims.reveal_identity(user_id, actor(), query_args(IdentityArgs())["purpose"])
    db.session.commit()
    return IdentityOut().dump(identity)


@bp.post("/reward-admin/citizens/<int:user_id>/suspend")
@doc(body=SuspendIn, response=SuspensionOut, errors={404: "citizen_not_found", 409: "already_suspended"})
@reward_admin_required
def suspend_citizen(user_id: int):
    suspension = claims.suspend(user_id, json_body(SuspendIn())["reason"], actor())
    db.session.commit()
    return {"user_id": user_id, "suspended": True, "reason": suspension.reason}


@bp.post("/reward-admin/citizens/<int:user_id>/unsuspend")
@doc(response=SuspensionOut, errors={404: "not_suspended"})
@reward_admin_required
def unsuspend_citizen(user_id: int):
    claims.lift_suspension(user_id, actor())
    db.session.commit()
    return {"user_id": user_id, "suspended": False}


@bp.get("/reward-admin/audit")
@doc(query=RewardAuditArgs, response=Page(AuditOut))
@reward_admin_required
def reward_audit():
    """Rule changes, suspensions and every look at a citizen's identity."""
    args = query_args(RewardAuditArgs())
    return page_of(AuditOut(), audit.recent(**args, entities=audit.REWARD_ENTITIES))


@bp.get("/reward-admin/payouts")
@doc(query=PageArgs, response=Page(BatchOut))
@reward_admin_required
def list_batches():
    return page_of(BatchOut(), payouts.list_batches(**query_args(PageArgs())))


@bp.post("/reward-admin/payouts")
@doc(body=BatchIn, response=BatchOut, status=201, errors={409: "wechat_pay_not_configured"})
@reward_admin_required
def create_batch():
    data = json_body(BatchIn())
    batch = payouts.create_batch(actor(), data["method"], data["claim_ids"], data["note"])
    db.session.commit()
    return BatchOut().dump(batch), 201


@bp.get("/reward-admin/payouts/<int:batch_id>")
@doc(response=BatchOut, errors={404: "batch_not_found"})
@reward_admin_required
def get_batch(batch_id: int):
    return BatchOut().dump(payouts.get_batch(batch_id))


@bp.post("/reward-admin/payouts/<int:batch_id>/offline-paid")
@doc(body=OfflinePaidIn, response=BatchOut, errors={404: "batch_not_found", 409: "not_offline_batch batch_settled"})
@reward_admin_required
def mark_offline_paid(batch_id: int):
    batch = payouts.mark_offline_paid(payouts.get_batch(batch_id), json_body(OfflinePaidIn())["reference"], actor())
    db.session.commit()
    return BatchOut().dump(batch)


@bp.get("/reward-admin/payouts/<int:batch_id>/export.csv")
@doc(response={"type": "string"}, content_type="text/csv", errors={404: "batch_not_found"})
@reward_admin_required
def export_batch(batch_id: int):
    body = payouts.export_csv(payouts.get_batch(batch_id), actor())
    db.session.commit()
    headers = {"Content-Disposition": f"attachment; filename=payout-batch-{batch_id}.csv"}
    return Response(body, mimetype="text/csv", headers=headers)


@bp.get("/reward-admin/stats")
@doc(response=RewardFiguresOut)
@reward_admin_required
def reward_figures():
    return payouts.figures()


@bp.post("/wechatpay/transfer-notify")
@doc(
    body={"application/json": {"schema": {"type": "object"}}},
    response=None,
    status=204,
    public=True,
    responses={
        401: {"description": "signature check failed", "content": WECHATPAY_ANSWER},
        503: {"description": "WeChat Pay not configured", "content": WECHATPAY_ANSWER},
    },
)
def wechatpay_transfer_notify():
    """WeChat Pay's callback for a transfer's final state; its signature is the authentication."""
    try:
        payouts.handle_callback(request.headers, request.get_data())
    except WeChatPaySignatureError:
        # WeChat retries a notice that is not answered 2xx; its documented failure answer
        return {"code": "FAIL", "message": "签名验证失败"}, 401
    except (OSError, KeyError, ValueError):
        current_app.logger.exception("WeChat Pay is not configured; the notice will be retried by WeChat")
        return {"code": "FAIL", "message": "暂不可用"}, 503
    db.session.commit()
    return "", 204
