"""有奖举报: reward rules, claims with their abuse signals, decisions, the ledger, suspensions.

A claim is made when a case closes as valid (a closed case is never a rejected or merged one).
Money only moves through ledger entries; a balance is their sum, never a stored counter.
"""

import math
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy.orm import selectinload

from backend.errors import Conflict, NotFound, ValidationFailed
from backend.extensions import db
from backend.models import (
    Case,
    CaseStatus,
    Category,
    ClaimStatus,
    LedgerEntry,
    LedgerKind,
    PayoutItem,
    PayoutItemStatus,
    Photo,
    RewardClaim,
    RewardRule,
    RewardSuspension,
    User,
)
from backend.models.photo import phash_distance
from backend.models.types import LOCAL_TZ, utcnow
from backend.services import audit
from backend.services.actors import Actor
from backend.services.lookup import get_or_404
from backend.services.paging import paginate
from workers.queues import REWARDS, JobRequest

RULE_FIELDS = (
    "category_id",
    "amount_fen",
    "starts_on",
    "ends_on",
    "daily_cap_fen",
    "monthly_cap_fen",
    "first_reporter_only",
    "active",
)
DECIDABLE = (ClaimStatus.PENDING, ClaimStatus.HELD)
SIMILAR_PHOTO_DAYS = 90  # how far back a similar photo counts
SIGNAL_CASES = 20  # a signal names at most this many other cases (the lowest ids)
SIGNAL_TEXT = {
    "same_photo": "同一张照片用于其他举报",
    "similar_photo": "与其他举报的照片高度相似",
    "old_photo": "照片拍摄时间明显早于举报时间",
    "burst": "短时间内大量举报",
    "same_spot": "同一账号在同一地点多次举报",
    "earlier_report": "已有他人更早举报同一问题",
    "over_daily_cap": "超过每日奖励上限",
    "over_monthly_cap": "超过每月奖励上限",
    "suspended": "该市民已被暂停奖励资格",
}


# Rules -------------------------------------------------------------------------------------------


def list_rules() -> list[RewardRule]:
    return db.session.scalars(db.select(RewardRule).order_by(RewardRule.id)).all()


def get_rule(rule_id: int) -> RewardRule:
    return get_or_404(RewardRule, rule_id, "奖励规则不存在", "reward_rule_not_found")


def _check_rule(rule: RewardRule) -> None:
    if db.session.get(Category, rule.category_id) is None:
        raise ValidationFailed(fields={"category_id": ["类别不存在"]})
    if rule.starts_on and rule.ends_on and rule.ends_on < rule.starts_on:
        raise ValidationFailed(fields={"ends_on": ["结束日期不能早于开始日期"]})


def save_rule(rule: RewardRule | None, data: dict, actor: Actor) -> RewardRule:
    before = audit.snapshot(rule, RULE_FIELDS) if rule else None
    rule = rule or RewardRule()
    for key, value in data.items():
        setattr(rule, key, value)
    _check_rule(rule)
    db.session.add(rule)
    db.session.flush()
    audit.record(
        actor, "update" if before else "create", "reward_rule", rule.id, before, audit.snapshot(rule, RULE_FIELDS)
    )
    return rule


def rule_for(category: Category, on: datetime) -> RewardRule | None:
    """The active rule of the category (or of its parent) in force on that day."""
    day = on.astimezone(LOCAL_TZ).date()
    for node in category.lineage():
        rules = db.session.scalars(
            db.select(RewardRule)
            .where(RewardRule.category_id == node.id, RewardRule.active.is_(True))
            .order_by(RewardRule.id.desc())
        )
        for rule in rules:
            if (rule.starts_on is None or rule.starts_on <= day) and (rule.ends_on is None or day <= rule.ends_on):
                return rule
    return None


# Signals -----------------------------------------------------------------------------------------


def _metres(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Equirectangular distance: exact enough at the scale of a street."""
    x = math.radians(lng2 - lng1) * math.cos(math.radians((lat1 + lat2) / 2))
    return math.hypot(x, math.radians(lat2 - lat1)) * 6_371_000


def _nearby(case: Case, metres: float, since: datetime, **where) -> list[Case]:
    degrees = metres / 111_000 * 1.5
    query = db.select(Case).where(
        Case.id != case.id,
        Case.created_at >= since,
        Case.wgs84_lat.between(case.wgs84_lat - degrees, case.wgs84_lat + degrees),
        Case.wgs84_lng.between(case.wgs84_lng - degrees, case.wgs84_lng + degrees),
    )
    for key, value in where.items():
        query = query.where(getattr(Case, key) == value)
    return [
        c
        for c in db.session.scalars(query)
        if _metres(case.wgs84_lat, case.wgs84_lng, c.wgs84_lat, c.wgs84_lng) <= metres
    ]


def signals_for(case: Case, rule: RewardRule) -> list[dict]:
    config = current_app.config
    found: list[dict] = []

    def signal(code: str, detail: str) -> None:
        found.append({"code": code, "text": SIGNAL_TEXT[code], "detail": detail})

    photos = db.session.scalars(db.select(Photo).where(Photo.case_id == case.id)).all()
    hashes = [p.sha256 for p in photos]
    if hashes:
        reused = db.session.scalars(
            db.select(Photo.case_id)
            .where(Photo.sha256.in_(hashes), Photo.case_id != case.id, Photo.case_id.is_not(None))
            .group_by(Photo.case_id)
            .order_by(Photo.case_id)
            .limit(SIGNAL_CASES)
        ).all()
        if reused:
            signal("same_photo", f"照片也出现在案件 {list(reused)}")
    phashes = sorted({p.phash for p in photos if p.phash})
    if phashes and not any(s["code"] == "same_photo" for s in found):
        # compared by the database over the window (an index on created_at): only the matching cases come back
        bits = config["REWARD_SIMILAR_PHOTO_BITS"]
        matches = (
            db.select(Photo.case_id)
            .where(
                Photo.created_at >= case.created_at - timedelta(days=SIMILAR_PHOTO_DAYS),
                Photo.case_id.is_not(None),
                Photo.case_id != case.id,
                Photo.phash.is_not(None),
                db.or_(*(phash_distance(Photo.phash, phash) <= bits for phash in phashes)),
            )
            .cte("similar_photos")
            # PostgreSQL would otherwise walk every photo in case_id order hoping for 20 matches early
            .prefix_with("MATERIALIZED", dialect="postgresql")
        )
        similar = db.session.scalars(
            db.select(matches.c.case_id).group_by(matches.c.case_id).order_by(matches.c.case_id).limit(SIGNAL_CASES)
        ).all()
        if similar:
            signal("similar_photo", f"与案件 {list(similar)} 的照片相似")
    old = [
        p
        for p in photos
        if p.taken_at and p.taken_at < case.created_at - timedelta(days=config["REWARD_OLD_PHOTO_DAYS"])
    ]
    if old:
        signal("old_photo", f"拍摄于 {min(p.taken_at for p in old).astimezone(LOCAL_TZ):%Y-%m-%d}")

    in_hour = db.session.scalar(
        db.select(db.func.count(Case.id)).where(
            Case.reporter_id == case.reporter_id,
            Case.created_at.between(case.created_at - timedelta(hours=1), case.created_at),
        )
    )
    if in_hour > config["REWARD_BURST_PER_HOUR"]:
        signal("burst", f"一小时内举报 {in_hour} 次")
    same_spot = [
        c
        for c in _nearby(
            case, config["REWARD_SAME_SPOT_METERS"], case.created_at - timedelta(days=30), reporter_id=case.reporter_id
        )
        if c.created_at <= case.created_at
    ]
    if len(same_spot) + 1 >= config["REWARD_SAME_SPOT_COUNT"]:
        signal("same_spot", f"30 天内在 {config['REWARD_SAME_SPOT_METERS']} 米内举报 {len(same_spot) + 1} 次")
    if rule.first_reporter_only:
        earlier = [
            c
            for c in _nearby(
                case,
                config["REWARD_DUPLICATE_METERS"],
                case.created_at - timedelta(days=config["REWARD_DUPLICATE_DAYS"]),
            )
            if c.created_at < case.created_at
            and c.reporter_id != case.reporter_id
            and c.category_id == case.category_id
            and c.status != CaseStatus.REJECTED
        ]
        if earlier:
            signal("earlier_report", f"案件 {sorted(c.id for c in earlier)} 更早报告了同一位置的同类问题")

    reported = case.created_at.astimezone(LOCAL_TZ)
    day = reported.replace(hour=0, minute=0, second=0, microsecond=0)
    month = day.replace(day=1)
    next_month = (month + timedelta(days=32)).replace(day=1)
    for code, cap, start, end in (
        ("over_daily_cap", rule.daily_cap_fen, day, day + timedelta(days=1)),
        ("over_monthly_cap", rule.monthly_cap_fen, month, next_month),
    ):
        if cap is None:
            continue
        # what this citizen's other reports made in the same day or month already claim
        claimed = db.session.scalar(
            db.select(db.func.coalesce(db.func.sum(RewardClaim.amount_fen), 0))
            .join(RewardClaim.case)
            .where(
                RewardClaim.user_id == case.reporter_id,
                RewardClaim.status != ClaimStatus.REJECTED,
                Case.created_at >= start,
                Case.created_at < end,
            )
        )
        if claimed + rule.amount_fen > cap:
            signal(code, f"已申领 {claimed} 分，上限 {cap} 分")
    if suspension_of(case.reporter_id) is not None:
        signal("suspended", suspension_of(case.reporter_id).reason)
    return found


# Claims ------------------------------------------------------------------------------------------

CONSIDER_CLAIM = "workers.jobs.rewards.consider_claim"


def reward_claim_job(case_id: int) -> JobRequest:
    return JobRequest(REWARDS, CONSIDER_CLAIM, (case_id,), f"reward-claim-{case_id}")


def consider(case_id: int) -> RewardClaim | None:
    """After a case closes: a claim for its reporter if a rule applies. Idempotent: once per case."""
    case = db.session.get(Case, case_id)
    if case is None or case.status != CaseStatus.CLOSED:
        return None
    # done whatever the outcome (the sweep checks again only after a rule changes)
    case.reward_checked_at = utcnow()
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


def suspension_of(user_id: int) -> RewardSuspension | None:
    return db.session.scalar(
        db.select(RewardSuspension).where(RewardSuspension.user_id == user_id, RewardSuspension.lifted_at.is_(None))
    )


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
