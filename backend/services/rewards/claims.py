"""有奖举报 claims: made when a case closes, decided (one by one or in bulk), the ledger, citizens' summaries,
suspensions and the audited identity reveal.

A claim is made when a case closes as valid (a closed case is never a rejected or merged one).
Money only moves through ledger entries; a balance is their sum, never a stored counter.
"""

from flask import current_app
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from backend.errors import Conflict, NotFound, ValidationFailed
from backend.extensions import db
from backend.models import (
    Case,
    CaseStatus,
    ClaimStatus,
    LedgerEntry,
    LedgerKind,
    PayoutItem,
    PayoutItemStatus,
    RewardClaim,
    RewardSuspension,
    User,
)
from backend.models.types import utcnow
from backend.services.actors import Actor
from backend.services.lookup import get_or_404
from backend.services.paging import paginate
from backend.services.responsibility import audit
from backend.services.rewards.rules import rule_for
from backend.services.rewards.signals import signals_for, suspension_of
from workers.queues import REWARDS, JobRequest

DECIDABLE = (ClaimStatus.PENDING, ClaimStatus.HELD)


# Claims ------------------------------------------------------------------------------------------

CONSIDER_CLAIM = "workers.jobs.rewards.consider_claim"


def reward_claim_job(case_id: int) -> JobRequest:
    return JobRequest(REWARDS, CONSIDER_CLAIM, (case_id,), f"reward-claim-{case_id}")


def consider(case_id: int) -> RewardClaim | None:
    """After a case closes: a claim for its reporter if a rule applies. Idempotent: once per case."""
    case = db.session.get(Case, case_id)
    if case is None or case.status != CaseStatus.CLOSED:
        return None
    _mark_reward_checked(case)
    rule = rule_for(case.category, case.created_at)
    if rule is None or db.session.scalar(db.select(RewardClaim.id).where(RewardClaim.case_id == case.id)):
        return None
    found = signals_for(case, rule)
    holding = {code.strip() for code in current_app.config["REWARD_HOLD_SIGNALS"].split(",")}
    status = ClaimStatus.HELD if any(s["code"] in holding for s in found) else ClaimStatus.PENDING
    claim = RewardClaim(
        case_id=case.id,
        user_id=case.reporter_id,
        rule_id=rule.id,
        amount_fen=rule.amount_fen,
        status=status,
        signals=found,
    )
    db.session.add(claim)
    db.session.flush()
    return claim


def _mark_reward_checked(case: Case) -> None:
    """Done whatever the outcome (the sweep checks again only after a rule changes).

    Bookkeeping, not an edit: written past the unit of work, so neither the version that guards concurrent
    edits nor updated_at moves (a citizen rating the case this moment must not get 409 concurrent_update)."""
    now = utcnow()
    db.session.execute(
        db.update(Case.__table__)
        .where(Case.__table__.c.id == case.id)
        .values(reward_checked_at=now, updated_at=Case.__table__.c.updated_at)
    )
    set_committed_value(case, "reward_checked_at", now)


def get_claim(claim_id: int) -> RewardClaim:
    return get_or_404(RewardClaim, claim_id, "奖励申领不存在", "claim_not_found")


def list_claims(page: int, per_page: int, status: ClaimStatus | None = None, user_id: int | None = None) -> dict:
    query = db.select(RewardClaim)
    if status is not None:
        query = query.where(RewardClaim.status == status)
    if user_id is not None:
        query = query.where(RewardClaim.user_id == user_id)
    return paginate(query, page, per_page, RewardClaim.id.desc())


def record_ledger_entry(
    claim: RewardClaim, kind: LedgerKind, amount: int, actor: Actor | None, note: str = "", item_id: int | None = None
) -> None:
    """The only writer of ledger entries (append-only; one per claim and kind)."""
    db.session.add(
        LedgerEntry(
            user_id=claim.user_id,
            claim_id=claim.id,
            payout_item_id=item_id,
            kind=kind,
            amount_fen=amount,
            staff_id=actor.staff_id if actor else None,
            note=note,
        )
    )


def approve(claim: RewardClaim, actor: Actor, note: str = "") -> RewardClaim:
    """Grant the reward: the claim is approved and the ledger gains +amount, exactly once."""
    if claim.status not in DECIDABLE:
        raise Conflict("该申领已处理", code="claim_decided")
    if suspension_of(claim.user_id) is not None:
        raise Conflict("该市民已被暂停奖励资格，先解除暂停才能批准", code="citizen_suspended")
    claim.status, claim.decided_by_id, claim.decided_at = ClaimStatus.APPROVED, actor.staff_id, utcnow()
    claim.decision_reason = note
    record_ledger_entry(claim, LedgerKind.GRANTED, claim.amount_fen, actor, note)
    db.session.flush()
    return claim


def reject(claim: RewardClaim, actor: Actor, reason: str) -> RewardClaim:
    """Refuse (or withdraw an approved, unpaid) reward, with a reason the citizen reads."""
    if claim.status == ClaimStatus.APPROVED:
        record_ledger_entry(claim, LedgerKind.REVERSED, -claim.amount_fen, actor, reason)
    elif claim.status not in DECIDABLE:
        raise Conflict("该申领已进入支付或已处理，不能驳回", code="claim_decided")
    claim.status, claim.decided_by_id, claim.decided_at = ClaimStatus.REJECTED, actor.staff_id, utcnow()
    claim.decision_reason = reason
    db.session.flush()
    return claim


def decide_many(claim_ids: list[int], actor: Actor, approve_them: bool, reason: str) -> list[dict]:
    """Bulk approval or rejection, each claim on its own: one that fails does not stop the others."""
    if not approve_them and not reason.strip():
        raise ValidationFailed(fields={"reason": ["驳回需要填写原因，市民会看到"]})
    results = []
    for claim_id in dict.fromkeys(claim_ids):
        # every check comes before any write, so a refused claim leaves nothing half done
        try:
            claim = get_claim(claim_id)
            approve(claim, actor, reason) if approve_them else reject(claim, actor, reason)
            results.append({"id": claim_id, "ok": True, "status": str(claim.status)})
        except (NotFound, Conflict) as exc:
            results.append({"id": claim_id, "ok": False, "error": exc.message})
    return results


# Ledger and citizens -----------------------------------------------------------------------------


def balance_fen(user_id: int) -> int:
    return db.session.scalar(
        db.select(db.func.coalesce(db.func.sum(LedgerEntry.amount_fen), 0)).where(LedgerEntry.user_id == user_id)
    )


def ledger_of(user_id: int) -> list[LedgerEntry]:
    return db.session.scalars(
        db.select(LedgerEntry).where(LedgerEntry.user_id == user_id).order_by(LedgerEntry.id.desc())
    ).all()


def citizen_summary(user_id: int) -> dict:
    """ "Where is my reward": claims, the ledger and the balance, for the citizen themselves."""
    claims = db.session.scalars(
        db.select(RewardClaim)
        .where(RewardClaim.user_id == user_id)
        .options(selectinload(RewardClaim.case))
        .order_by(RewardClaim.id.desc())
    ).all()
    entries = ledger_of(user_id)
    paid = -sum(e.amount_fen for e in entries if e.kind == LedgerKind.PAID_OUT)
    # 商家转账 waits for the citizen to confirm receipt: the mini-program calls
    # wx.requestMerchantTransfer({mchId, appId, package}) with these
    waiting = db.session.scalars(
        db.select(PayoutItem).where(
            PayoutItem.user_id == user_id,
            PayoutItem.status == PayoutItemStatus.IN_FLIGHT,
            PayoutItem.wechat_state == "WAIT_USER_CONFIRM",
            PayoutItem.package_info.is_not(None),
        )
    ).all()
    config = current_app.config
    to_confirm = [
        {
            "claim_id": item.claim_id,
            "amount_fen": item.amount_fen,
            "mch_id": config["WECHATPAY_MCHID"],
            "app_id": config["WECHAT_APPID"],
            "package": item.package_info,
        }
        for item in waiting
    ]
    return {
        "balance_fen": balance_fen(user_id),
        "paid_fen": paid,
        "claims": claims,
        "ledger": entries,
        "to_confirm": to_confirm,
    }


def suspend(user_id: int, reason: str, actor: Actor) -> RewardSuspension:
    if db.session.get(User, user_id) is None:
        raise NotFound("市民不存在", code="citizen_not_found")
    if suspension_of(user_id) is not None:
        raise Conflict("该市民已被暂停奖励资格", code="already_suspended")
    suspension = RewardSuspension(user_id=user_id, reason=reason, created_by_id=actor.staff_id)
    db.session.add(suspension)
    db.session.flush()
    audit.record(actor, "create", "reward_suspension", suspension.id, None, {"user_id": user_id, "reason": reason})
    return suspension


def lift_suspension(user_id: int, actor: Actor) -> RewardSuspension:
    suspension = suspension_of(user_id)
    if suspension is None:
        raise NotFound("该市民没有被暂停", code="not_suspended")
    suspension.lifted_at, suspension.lifted_by_id = utcnow(), actor.staff_id
    audit.record(actor, "delete", "reward_suspension", suspension.id, {"user_id": user_id}, None)
    db.session.flush()
    return suspension


def reveal_identity(user_id: int, actor: Actor, purpose: str) -> dict:
    """Who a claimant is: only for reward administrators, and every look is in the audit trail."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("市民不存在", code="citizen_not_found")
    audit.record_access(actor, "user", user_id, {"purpose": purpose})
    db.session.flush()
    suspension = suspension_of(user_id)
    return {
        "id": user.id,
        "openid": user.openid,
        "unionid": user.unionid,
        "created_at": user.created_at,
        "suspended": suspension is not None,
        "suspension_reason": suspension.reason if suspension else None,
        "claims": db.session.scalar(db.select(db.func.count(RewardClaim.id)).where(RewardClaim.user_id == user_id)),
        "balance_fen": balance_fen(user_id),
    }
