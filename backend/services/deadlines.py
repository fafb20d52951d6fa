"""Handling deadlines (处置时限)."""

from datetime import datetime, timedelta

from backend.models import Category


def due_at(category: Category, start: datetime) -> datetime:
    """When a case of this category dispatched at `start` is due.

    Counted in calendar hours for now; working-time counting (weekends, holidays, 调休) is issue #4.
    """
    return start + timedelta(hours=category.effective_deadline_hours)
