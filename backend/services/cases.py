"""Reading cases, always scoped to who asks: a citizen their reports, a unit its cases."""

from sqlalchemy.orm import selectinload

from backend.errors import NotFound
from backend.extensions import db
from backend.models import Case, CaseEvent, CaseStatus, Category
from backend.models.case import case_co_units
from backend.services.paging import paginate

_FULL = (
    selectinload(Case.category),
    selectinload(Case.unit),
    selectinload(Case.co_units),
    selectinload(Case.photos),
    selectinload(Case.events).selectinload(CaseEvent.photos),
    selectinload(Case.events).selectinload(CaseEvent.unit),
    selectinload(Case.events).selectinload(CaseEvent.staff),
)


def _one(query) -> Case:
    case = db.session.scalar(query.options(*_FULL))
    if case is None:
        raise NotFound("案件不存在", code="case_not_found")
    return case


def _page(query, page: int, per_page: int) -> dict:
    return paginate(query, page, per_page, Case.id.desc(), options=_FULL)


def for_reporter(case_id: int, user_id: int) -> Case:
    return _one(db.select(Case).where(Case.id == case_id, Case.reporter_id == user_id))


def list_for_reporter(user_id: int, page: int, per_page: int) -> dict:
    return _page(db.select(Case).where(Case.reporter_id == user_id), page, per_page)


def _handled_by(unit_id: int, role: str | None = None):
    """Cases a unit leads, co-handles (配合), or either."""
    co_handled = Case.id.in_(db.select(case_co_units.c.case_id).where(case_co_units.c.unit_id == unit_id))
    if role == "lead":
        return Case.unit_id == unit_id
    if role == "co":
        return co_handled
    return db.or_(Case.unit_id == unit_id, co_handled)


def for_unit(case_id: int, unit_id: int) -> Case:
    return _one(db.select(Case).where(Case.id == case_id, _handled_by(unit_id)))


def list_for_unit(
    unit_id: int, page: int, per_page: int, status: CaseStatus | None = None, role: str | None = None
) -> dict:
    query = db.select(Case).where(_handled_by(unit_id, role))
    if status is not None:
        query = query.where(Case.status == status)
    return _page(query, page, per_page)


def for_dispatcher(case_id: int) -> Case:
    return _one(db.select(Case).where(Case.id == case_id))


def list_for_dispatcher(page: int, per_page: int, **filters) -> dict:
    return _page(dispatcher_query(**filters), page, per_page)


def dispatcher_query(
    status: CaseStatus | None = None,
    unit_id: int | None = None,
    category: str | None = None,
    needs_review: bool | None = None,
):
    """The dispatcher's case filters (the list and the export share them)."""
    query = db.select(Case)
    if status is not None:
        query = query.where(Case.status == status)
    if unit_id is not None:
        query = query.where(Case.unit_id == unit_id)
    if category:
        query = query.join(Case.category).where(Category.code == category)
    if needs_review is not None:
        query = query.where(Case.needs_review.is_(needs_review))
    return query


def list_categories() -> list[Category]:
    return db.session.scalars(
        db.select(Category).where(Category.active.is_(True)).order_by(Category.sort_order, Category.id)
    ).all()
