"""One page of a query, in the contract's list shape."""

from backend.extensions import db


def paginate(query, page: int, per_page: int, *order_by, options=()) -> dict:
    total = db.session.scalar(db.select(db.func.count()).select_from(query.order_by(None).subquery()))
    rows = db.session.scalars(
        query.options(*options).order_by(*order_by).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return {"items": list(rows), "total": total, "page": page, "per_page": per_page}
