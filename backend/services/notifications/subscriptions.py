"""订阅消息 quota: each acceptance in wx.requestSubscribeMessage allows one message of that template."""

from backend.errors import ValidationFailed
from backend.extensions import db
from backend.models import SubscriptionQuota
from backend.services.notifications import notify


def offered_templates() -> dict[str, str]:
    """{kind: template_id} the mini-program should ask the citizen to accept."""
    return {kind: spec["template_id"] for kind, spec in notify.templates().items() if spec.get("template_id")}


def quotas(user_id: int) -> dict[str, int]:
    rows = db.session.scalars(db.select(SubscriptionQuota).where(SubscriptionQuota.user_id == user_id))
    return {row.template_id: row.remaining for row in rows}


def grant(user_id: int, template_ids: list[str]) -> dict[str, int]:
    """Record the templates the citizen accepted (one message each); unknown template ids are refused."""
    known = set(offered_templates().values())
    unknown = [t for t in template_ids if t not in known]
    if unknown:
        raise ValidationFailed(fields={"template_ids": [f"未知的模板：{t}" for t in unknown]})
    for template_id in template_ids:
        row = db.session.scalar(
            db.select(SubscriptionQuota).where(
                SubscriptionQuota.user_id == user_id, SubscriptionQuota.template_id == template_id
            )
        )
        if row is None:
            db.session.add(SubscriptionQuota(user_id=user_id, template_id=template_id, remaining=1))
        else:
            row.remaining = SubscriptionQuota.remaining + 1
    db.session.flush()
    return quotas(user_id)


def take(user_id: int, template_id: str) -> bool:
    """Use one message of quota; a guarded UPDATE, so two deliveries cannot spend the same one."""
    result = db.session.execute(
        db.update(SubscriptionQuota)
        .where(
            SubscriptionQuota.user_id == user_id,
            SubscriptionQuota.template_id == template_id,
            SubscriptionQuota.remaining > 0,
        )
        .values(remaining=SubscriptionQuota.remaining - 1)
    )
    return result.rowcount == 1


def clear(user_id: int, template_id: str) -> None:
    """WeChat says the user has no quota left (43101): believe it."""
    db.session.execute(
        db.update(SubscriptionQuota)
        .where(SubscriptionQuota.user_id == user_id, SubscriptionQuota.template_id == template_id)
        .values(remaining=0)
    )
