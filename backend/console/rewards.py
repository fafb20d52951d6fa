"""有奖举报: the reward administrators' pages — claims with the case's photos, evidence and abuse signals, decisions
one by one or in bulk, payout batches and their export, the reward rules (create, edit, deactivate) — on the
services of backend/api/rewards.py, for the same roles (reward_admin, admin).

Reporter protection (举报人保护): no page shows who claims. The claimant's id, openid and the rest appear only on
the answer to the audited reveal, which needs a stated purpose (claims.reveal_identity, as the API's
GET /reward-admin/citizens/<id>?purpose=); the reveal is addressed by claim, so the id is never in a page.
"""

from decimal import Decimal

from flask import flash, redirect, render_template, request, url_for
from marshmallow import ValidationError

from backend.api.common import actor, download, query_args
from backend.auth import REWARD_ROLES
from backend.console import bp, nav
from backend.console.forms import error_message, form_action, integer, integers, load_form, text
from backend.console.session import console_login_required
from backend.extensions import db
from backend.models import ClaimStatus
from backend.schemas.case import StaffCaseSummaryOut
from backend.schemas.common import PageArgs, page_of
from backend.schemas.reward import (
    BatchIn,
    BatchOut,
    BulkDecisionIn,
    ClaimArgs,
    ClaimDetailOut,
    ClaimOut,
    DecisionIn,
    IdentityArgs,
    IdentityOut,
    OfflinePaidIn,
    RejectIn,
    RewardRuleIn,
    RewardRuleOut,
)
from backend.services.responsibility import categories
from backend.services.rewards import claims, payouts, rules

nav.add_entry("console.reward_claims", "奖励申领", REWARD_ROLES, order=70)
nav.add_entry("console.reward_payouts", "支付批次", REWARD_ROLES, order=72)
nav.add_entry("console.reward_rules", "奖励规则", REWARD_ROLES, order=74)

reward_admins = console_login_required(*REWARD_ROLES)

CLAIM_STATUS_NAMES = {
    ClaimStatus.PENDING: "待审核",
    ClaimStatus.HELD: "暂缓（疑似违规）",
    ClaimStatus.APPROVED: "已批准",
    ClaimStatus.REJECTED: "已驳回",
    ClaimStatus.IN_PAYOUT: "支付中",
    ClaimStatus.PAID: "已支付",
}
ITEM_STATUS_NAMES = {"pending": "待支付", "in_flight": "转账中", "success": "已到账", "failed": "失败"}
METHOD_NAMES = {"wechat": "微信转账", "offline": "线下支付"}


def _names() -> dict:
    return {
        "claim_status_names": {status.value: name for status, name in CLAIM_STATUS_NAMES.items()},
        "item_status_names": ITEM_STATUS_NAMES,
        "method_names": METHOD_NAMES,
    }


@bp.get("/rewards/claims")
@reward_admins
def reward_claims():
    """申领 to decide (default: pending and held), with the case's first photo and the signals."""
    args = query_args(ClaimArgs())
    args.pop("user_id")  # claims are never listed by claimant here: the id would say who reported
    listing = claims.list_claims(**args)
    items = [{**ClaimOut().dump(c), "case": StaffCaseSummaryOut().dump(c.case)} for c in listing["items"]]
    return render_template(
        "console/rewards/claims.html",
        items=items,
        listing=page_of(ClaimOut(), listing),
        status=args["status"],
        **_names(),
    )


@bp.get("/rewards/claims/<int:claim_id>")
@reward_admins
def reward_claim(claim_id: int):
    claim = ClaimDetailOut().dump(claims.get_claim(claim_id))
    return render_template(
        "console/rewards/claim.html", claim=claim, decidable=claim["status"] in claims.DECIDABLE, **_names()
    )


@bp.post("/rewards/claims/<int:claim_id>/approve")
@reward_admins
@form_action("console.reward_claim")
def reward_approve(claim_id: int):
    data = load_form(DecisionIn(), {"reason": text("reason")})
    claims.approve(claims.get_claim(claim_id), actor(), data["reason"])
    return "已批准，奖励已计入市民账户"


@bp.post("/rewards/claims/<int:claim_id>/reject")
@reward_admins
@form_action("console.reward_claim")
def reward_reject(claim_id: int):
    data = load_form(RejectIn(), {"reason": text("reason")})
    claims.reject(claims.get_claim(claim_id), actor(), data["reason"])
    return "已驳回，市民会看到驳回原因"


@bp.post("/rewards/claims/bulk")
@reward_admins
@form_action("console.reward_claims")
def reward_bulk():
    fields = {"claim_ids": integers("claim_ids"), "decision": text("decision"), "reason": text("reason")}
    data = load_form(BulkDecisionIn(), fields)
    approve = data["decision"] == "approve"
    results = claims.decide_many(data["claim_ids"], actor(), approve, data["reason"])
    done = [r for r in results if r["ok"]]
    refused = "；".join(f"申领 {r['id']}：{r['error']}" for r in results if not r["ok"])
    message = f"已{'批准' if approve else '驳回'} {len(done)} 件" + (f"；未处理：{refused}" if refused else "")
    return message, url_for("console.reward_claims", status=request.form.get("status") or None)


@bp.post("/rewards/claims/<int:claim_id>/identity")
@reward_admins
def reward_reveal(claim_id: int):
    """Who claims: shown once, on this answer only, and written to the audit trail with the purpose."""
    claim = claims.get_claim(claim_id)
    try:
        purpose = load_form(IdentityArgs(), {"purpose": text("purpose")})["purpose"]
    except ValidationError as error:
        flash(error_message(error), "error")
        return redirect(url_for("console.reward_claim", claim_id=claim_id))
    identity = IdentityOut().dump(claims.reveal_identity(claim.user_id, actor(), purpose))
    db.session.commit()
    return render_template("console/rewards/identity.html", claim_id=claim_id, identity=identity, purpose=purpose)


@bp.get("/rewards/payouts")
@reward_admins
def reward_payouts():
    """支付批次, the approved claims waiting for one, and the programme's figures."""
    batches = page_of(BatchOut(), payouts.list_batches(**query_args(PageArgs())))
    approved = claims.list_claims(1, 100, ClaimStatus.APPROVED)
    waiting = [{**ClaimOut().dump(c), "case": StaffCaseSummaryOut().dump(c.case)} for c in approved["items"]]
    return render_template(
        "console/rewards/payouts.html",
        listing=batches,
        waiting=waiting,
        waiting_total=approved["total"],
        figures=payouts.figures(),
        **_names(),
    )


@bp.post("/rewards/payouts")
@reward_admins
@form_action("console.reward_payouts")
def reward_create_batch():
    fields = {"method": text("method"), "note": text("note")}
    if request.form.get("scope") != "all":  # "all": every approved claim, as the API's omitted claim_ids
        fields["claim_ids"] = integers("claim_ids")
    data = load_form(BatchIn(), fields)
    batch = payouts.create_batch(actor(), data["method"], data["claim_ids"], data["note"])
    return f"已创建支付批次 {batch.id}（{len(batch.items)} 笔）", url_for("console.reward_batch", batch_id=batch.id)


@bp.get("/rewards/payouts/<int:batch_id>")
@reward_admins
def reward_batch(batch_id: int):
    batch = BatchOut().dump(payouts.get_batch(batch_id))
    return render_template("console/rewards/batch.html", batch=batch, **_names())


@bp.post("/rewards/payouts/<int:batch_id>/offline-paid")
@reward_admins
@form_action("console.reward_batch")
def reward_offline_paid(batch_id: int):
    data = load_form(OfflinePaidIn(), {"reference": text("reference")})
    payouts.mark_offline_paid(payouts.get_batch(batch_id), data["reference"], actor())
    return "已标记为线下支付完成"


@bp.get("/rewards/payouts/<int:batch_id>/export.csv")
@reward_admins
def reward_batch_export(batch_id: int):
    """For finance (names the payees' openids): audited, as the API's export."""
    body = payouts.export_csv(payouts.get_batch(batch_id), actor())
    db.session.commit()
    return download(body, "text/csv", f"payout-batch-{batch_id}.csv")


# --- rules -------------------------------------------------------------------------------------------------


def _fen(name: str):
    """An amount typed in yuan (元, "5" or "5.50") as the integer fen RewardRuleIn reads; empty: None. Anything
    else stays text, which the schema refuses with its own message."""
    value = text(name)
    if not value:
        return None
    try:
        fen = Decimal(value) * 100
    except ArithmeticError:  # InvalidOperation (not a number), Overflow ("1e999999")
        return value
    return int(fen) if fen.is_finite() and fen == fen.to_integral_value() and abs(fen) < 10**9 else value


def _rule_form() -> dict:
    """The rule editor's fields as the API's RewardRuleIn reads them (a checkbox absent = false)."""
    return load_form(
        RewardRuleIn(),
        {
            "category_id": integer(text("category_id")) if text("category_id") else None,
            "amount_fen": _fen("amount_yuan"),
            "starts_on": text("starts_on") or None,
            "ends_on": text("ends_on") or None,
            "daily_cap_fen": _fen("daily_cap_yuan"),
            "monthly_cap_fen": _fen("monthly_cap_yuan"),
            "first_reporter_only": "first_reporter_only" in request.form,
            "active": "active" in request.form,
        },
    )


@bp.get("/rewards/rules")
@reward_admins
def reward_rules():
    """奖励规则: which category earns how much, when, within which caps (GET /reward-admin/rules)."""
    items = RewardRuleOut(many=True).dump(rules.list_rules())
    return render_template("console/rewards/rules.html", rules=items, rule=None, categories=categories.list_all())


@bp.get("/rewards/rules/<int:rule_id>")
@reward_admins
def reward_rule(rule_id: int):
    rule = RewardRuleOut().dump(rules.get_rule(rule_id))
    return render_template("console/rewards/rule.html", rule=rule, categories=categories.list_all())


@bp.post("/rewards/rules")
@reward_admins
@form_action("console.reward_rules")
def reward_create_rule():
    """POST /reward-admin/rules: audited by the service."""
    rule = rules.save_rule(None, _rule_form(), actor())
    return f"已新建奖励规则 #{rule.id}（{rule.category.name}）"


@bp.post("/rewards/rules/<int:rule_id>")
@reward_admins
@form_action("console.reward_rule")
def reward_update_rule(rule_id: int):
    """PATCH /reward-admin/rules/<id> with every field of the editor."""
    rules.save_rule(rules.get_rule(rule_id), _rule_form(), actor())
    return f"奖励规则 #{rule_id} 已保存", url_for("console.reward_rules")


@bp.post("/rewards/rules/<int:rule_id>/active")
@reward_admins
@form_action("console.reward_rules")
def reward_rule_active(rule_id: int):
    """停用 / 启用 (PATCH … {"active": false}): a deactivated rule grants nothing to cases closed afterwards."""
    data = load_form(RewardRuleIn(partial=True), {"active": request.form.get("active") == "1"})
    rule = rules.save_rule(rules.get_rule(rule_id), data, actor())
    return f"奖励规则 #{rule.id} 已{'启用' if rule.active else '停用'}"
