from datetime import date

from backend.extensions import db
from backend.models import BriefingKind
from backend.services.stats import briefings
from backend.services.stats.periods import Period


def generate_due_briefings() -> list[int]:
    """月报 and 半月通报 whose time has come and that do not exist yet. Safe to run twice: one per period."""
    return briefings.generate_due()


def generate_briefing(kind: str, start: str, end: str) -> int:
    """One briefing on demand, rebuilt from the data as it is (same data, same bytes)."""
    briefing = briefings.generate(BriefingKind(kind), Period(date.fromisoformat(start), date.fromisoformat(end)))
    db.session.commit()
    return briefing.id
