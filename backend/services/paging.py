"""One page of a query, in the contract's list shape."""

from flask import current_app

from backend.extensions import db


def capped_count(query) -> tuple[int, bool]:
    """How many rows `query` selects, counted up to LIST_COUNT_CAP, and whether that is the exact number."""
    cap = current_app.config["LIST_COUNT_CAP"]
    first = query.order_by(None).limit(cap + 1).subquery()
    counted = db.session.scalar(db.select(db.func.count()).select_from(first))
    return min(counted, cap), counted <= cap


def paginate(query, page: int, per_page: int, *order_by, options=()) -> dict:
    total, total_exact = capped_count(query)
    rows = db.session.scalars(
        query.options(*options).order_by(*order_by).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return {"items": list(rows), "total": total, "total_exact": total_exact, "page": page, "per_page": per_page}
