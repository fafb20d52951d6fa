from backend.extensions import db
from backend.services import rewards


def consider_claim(case_id: int) -> str:
    """The reward claim of a closed case, with its abuse signals. Safe to run twice: one claim per case."""
    claim = rewards.consider(case_id)
    db.session.commit()
    return "no claim" if claim is None else f"claim {claim.id} {claim.status}"
