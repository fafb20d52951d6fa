"""有奖举报 abuse signals: what a reward administrator should know about a claim before deciding it
(reused or similar photos, old photos, bursts, the same spot, an earlier reporter, caps, a suspension)."""

import math
from datetime import datetime, timedelta

from flask import current_app

from backend.extensions import db
from backend.models import Case, CaseStatus, ClaimStatus, Photo, RewardClaim, RewardRule, RewardSuspension
from backend.models.photo import phash_distance
from backend.models.types import LOCAL_TZ

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


# read here for the "suspended" signal; claims.suspend and lift_suspension are the writers
def suspension_of(user_id: int) -> RewardSuspension | None:
    return db.session.scalar(
        db.select(RewardSuspension).where(RewardSuspension.user_id == user_id, RewardSuspension.lifted_at.is_(None))
    )
