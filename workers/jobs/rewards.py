from backend.extensions import db
from backend.services.rewards import claims


def consider_claim(case_id: int) -> str:
    """The reward claim of a closed case, with its abuse signals. Safe to run twice: one claim per case."""
    claim = claims.consider(case_id)
    db.session.commit()
    return "no claim" if claim is None else f"claim {claim.id} {claim.status}"
