from backend.extensions import db
from backend.services.rewards import payouts


def send_payout_item(item_id: int) -> str:
    """One transfer; safe to retry (same out_bill_no). Transient WeChat Pay errors re-raise for RQ."""
    item = payouts.send(item_id)
    db.session.commit()
    return "missing" if item is None else str(item.status)


def poll_payouts() -> int:
    """Settle transfers still on their way (e.g. waiting for the citizen to confirm receipt)."""
    return payouts.poll_in_flight()
