"""有奖举报 reward rules: which category earns how much, when, within which daily and monthly caps."""

from datetime import datetime

from backend.errors import ValidationFailed
from backend.extensions import db
from backend.models import Category, RewardRule
from backend.models.types import LOCAL_TZ
from backend.services.actors import Actor
from backend.services.lookup import get_or_404
from backend.services.responsibility import audit

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
