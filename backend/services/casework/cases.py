"""Reading cases, always scoped to who asks: a citizen their reports, a unit its cases."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy.orm import joinedload, selectinload

from backend.errors import NotFound
from backend.extensions import db
from backend.models import HANDLED_BY_UNIT, Case, CaseEvent, CaseStatus, Category, Photo, Unit
from backend.models.case import case_co_units, case_number
from backend.models.types import LOCAL_TZ
from backend.services import paging
from backend.services.casework import deadlines

_FULL = (
    selectinload(Case.category),
    selectinload(Case.unit),
    selectinload(Case.co_units),
    selectinload(Case.photos),
    selectinload(Case.events).selectinload(CaseEvent.photos),
    selectinload(Case.events).selectinload(CaseEvent.unit),
    selectinload(Case.events).selectinload(CaseEvent.staff),
)


# What a citizen's view of a report shows: no co-units, and no unit or staff on the timeline. One query for the
# case with its category and unit, then photos, events and the events' photos.
_CITIZEN = (
    joinedload(Case.category),
    joinedload(Case.unit),
    selectinload(Case.photos),
    selectinload(Case.events).selectinload(CaseEvent.photos),
)


# A list item shows no timeline, so it loads none: the page's cases with their category and unit in one query,
# then two small IN queries (co-units, photos), whatever the page's size.
_SUMMARY = (
    joinedload(Case.category),
    joinedload(Case.unit),
    selectinload(Case.co_units),
    selectinload(Case.photos),
)


@dataclass(frozen=True, slots=True)
class UnitRef:
    id: int
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class CategoryRef:
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class PhotoRef:
    id: int


@dataclass(frozen=True, slots=True)
class CaseSummary:
    """A list item read as plain rows: the attributes the summary schemas show, under a Case's names.

    Lists are read constantly; building ~140 ORM objects (cases, units, photos) for a page of 50 was a third of
    its CPU (bench/README.md, "Case lists"). A page that acts on its cases asks for them (`full_cases`).
    """

    id: int
    created_at: datetime
    status: CaseStatus
    description: str
    lat: float
    lng: float
    coord: str
    address: str
    rating: object
    rating_comment: str | None
    rated_at: datetime | None
    deadline_at: datetime | None
    signoff_deadline_at: datetime | None
    escalation_level: int
    needs_review: bool
    routing_status: object
    updated_at: datetime
    closed_at: datetime | None
    category: CategoryRef
    unit: UnitRef | None
    co_units: list[UnitRef]
    photos: list[PhotoRef]

    @property
    def number(self) -> str:
        return case_number(self.created_at, self.id)


_CASES = Case.__table__.c
_SUMMARY_COLUMNS = [
    _CASES[name] for name in CaseSummary.__dataclass_fields__ if name not in {"category", "unit", "co_units", "photos"}
]


def _summaries(wanted) -> list[CaseSummary]:
    """The page's cases (ids from the `wanted` subquery), newest first, as summary rows: three statements."""
    categories, units = Category.__table__.c, Unit.__table__.c
    rows = db.session.execute(
        db.select(
            *_SUMMARY_COLUMNS,
            categories.code.label("category_code"),
            categories.name.label("category_name"),
            _CASES.unit_id,
            units.code.label("unit_code"),
            units.name.label("unit_name"),
        )
        .join(wanted, _CASES.id == wanted.c.id)
        .join(Category.__table__, categories.id == _CASES.category_id)
        .outerjoin(Unit.__table__, units.id == _CASES.unit_id)
        .order_by(_CASES.id.desc())
    ).all()
    ids = [row.id for row in rows]
    co_units: dict[int, list[UnitRef]] = {}
    photos: dict[int, list[PhotoRef]] = {}
    if ids:
        for case_id, unit_id, code, name in db.session.execute(
            db.select(case_co_units.c.case_id, units.id, units.code, units.name)
            .join(Unit.__table__, units.id == case_co_units.c.unit_id)
            .where(case_co_units.c.case_id.in_(ids))
            .order_by(units.id)
        ):
            co_units.setdefault(case_id, []).append(UnitRef(unit_id, code, name))
        photo_columns = Photo.__table__.c
        for case_id, photo_id in db.session.execute(
            db.select(photo_columns.case_id, photo_columns.id)
            .where(photo_columns.case_id.in_(ids))
            .order_by(photo_columns.id)
        ):
            photos.setdefault(case_id, []).append(PhotoRef(photo_id))
    return [
        CaseSummary(
            **{column.name: getattr(row, column.name) for column in _SUMMARY_COLUMNS},
            category=CategoryRef(row.category_code, row.category_name),
            unit=UnitRef(row.unit_id, row.unit_code, row.unit_name) if row.unit_id is not None else None,
            co_units=co_units.get(row.id, []),
            photos=photos.get(row.id, []),
        )
        for row in rows
    ]


def _one(query, options=_FULL) -> Case:
    case = db.session.scalar(query.options(*options))
    if case is None:
        raise NotFound("案件不存在", code="case_not_found")
    return case


def _page(branches, page: int, per_page: int, after_id: int | None = None, full_cases: bool = False) -> dict:
    """One page of the cases whose ids the selects in `branches` pick (disjoint sets, one id column each),
    newest first.

    Each branch gives its newest ids from an index read backwards (so it needs an index ending in the id), the
    page is the newest of those, and only its cases are loaded. With `after_id` (keyset paging) a deep page costs
    what the first one does. The total is counted up to LIST_COUNT_CAP matches (`total_exact` says whether
    it stopped there). Items are CaseSummary rows, or with `full_cases` the Case objects with their summary
    relations loaded.
    """
    branches = [branch.subquery() for branch in branches]
    total, total_exact = paging.capped_count(db.union_all(*(db.select(b.c.id) for b in branches)))
    offset = 0 if after_id else (page - 1) * per_page

    def newest(branch):
        ids = db.select(branch.c.id).where(branch.c.id < after_id) if after_id else db.select(branch.c.id)
        return ids.order_by(branch.c.id.desc()).limit(offset + per_page).subquery()

    merged = db.union_all(*(db.select(top.c.id) for top in map(newest, branches))).subquery()
    wanted = db.select(merged.c.id).order_by(merged.c.id.desc()).offset(offset).limit(per_page).subquery()
    if full_cases:
        query = db.select(Case).join(wanted, Case.id == wanted.c.id).options(*_SUMMARY).order_by(Case.id.desc())
        items = db.session.scalars(query).unique().all()
    else:
        items = _summaries(wanted)
    next_after_id = items[-1].id if len(items) == per_page else None
    return {
        "items": items,
        "total": total,
        "total_exact": total_exact,
        "page": page,
        "per_page": per_page,
        "next_after_id": next_after_id,
    }


def for_reporter(case_id: int, user_id: int) -> Case:
    return _one(db.select(Case).where(Case.id == case_id, Case.reporter_id == user_id), _CITIZEN)


def by_idempotency_key(user_id: int, idempotency_key: str) -> Case | None:
    """The report this key already created, loaded for the citizen's view (the replay's answer).

    First a plain read of the id (an index probe, and a statement cheap to build: most keys are new); only a
    replay pays for loading the case."""
    case_id = db.session.scalar(
        db.select(Case.id).where(Case.reporter_id == user_id, Case.idempotency_key == idempotency_key)
    )
    return None if case_id is None else for_reporter(case_id, user_id)


def list_for_reporter(user_id: int, page: int, per_page: int, after_id: int | None = None) -> dict:
    return _page([db.select(Case.id).where(Case.reporter_id == user_id)], page, per_page, after_id)


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
    unit_id: int,
    page: int,
    per_page: int,
    status: CaseStatus | None = None,
    role: str | None = None,
    after_id: int | None = None,
) -> dict:
    # Led and co-handled cases as two branches, each an index scan (an OR across the two would scan every case).
    # They never overlap: a case's lead unit is never among its co-units (workflow._assign).
    led = db.select(Case.id).where(Case.unit_id == unit_id)
    co_handled = db.select(case_co_units.c.case_id.label("id")).where(case_co_units.c.unit_id == unit_id)
    if status is not None:
        led = led.where(Case.status == status)
        co_handled = co_handled.join(Case, Case.id == case_co_units.c.case_id).where(Case.status == status)
    branches = {"lead": [led], "co": [co_handled]}.get(role, [led, co_handled])
    return _page(branches, page, per_page, after_id)


# 超期/督办 first, then 临期, then new (awaiting 签收), then the rest by deadline
URGENCY_ORDER = {"overdue": 0, "due_soon": 1, "new": 2, "": 3}
QUEUE_LIMIT = 200


def urgency(case: Case, now: datetime, soon_until: datetime) -> str:
    """How pressing an open case is: "overdue" (past its deadline or under 督办), "due_soon" (临期), "new" (not
    signed off yet) or ""."""
    if case.escalation_level >= 1 or deadlines.is_overdue(case, now):
        return "overdue"
    if case.status in HANDLED_BY_UNIT and case.deadline_at is not None and case.deadline_at <= soon_until:
        return "due_soon"
    return "new" if case.status == CaseStatus.DISPATCHED else ""


def unit_queue(unit_id: int, now: datetime, remind_before_hours: float, limit: int = QUEUE_LIMIT) -> list[dict]:
    """A unit's open cases (led or co-handled, awaiting 签收 or being handled), most urgent first, each with its
    urgency. The staff console's 我的案件."""
    soon_until = deadlines.due_soon_until(now, remind_before_hours)
    query = (
        db.select(Case)
        .where(_handled_by(unit_id), Case.status.in_(HANDLED_BY_UNIT))
        .options(*_SUMMARY)
        .order_by(Case.deadline_at.is_(None), Case.deadline_at, Case.id)
        .limit(limit)
    )
    items = [{"case": case, "urgency": urgency(case, now, soon_until)} for case in db.session.scalars(query)]
    far = datetime.max.replace(tzinfo=LOCAL_TZ)
    items.sort(key=lambda item: (URGENCY_ORDER[item["urgency"]], item["case"].deadline_at or far, item["case"].id))
    return items


def for_dispatcher(case_id: int) -> Case:
    return _one(db.select(Case).where(Case.id == case_id))


def _local_day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=LOCAL_TZ)


def list_for_dispatcher(
    page: int, per_page: int, after_id: int | None = None, full_cases: bool = False, **filters
) -> dict:
    return _page([dispatcher_filter(db.select(Case.id), **filters)], page, per_page, after_id, full_cases)


def dispatcher_filter(
    query,
    status: CaseStatus | None = None,
    unit_id: int | None = None,
    category: str | None = None,
    needs_review: bool | None = None,
    created_from: date | None = None,
    created_to: date | None = None,
):
    """The dispatcher's case filters on a select of cases or of case ids (the list and the export share them)."""
    if status is not None:
        query = query.where(Case.status == status)
    if unit_id is not None:
        query = query.where(Case.unit_id == unit_id)
    if category:
        query = query.where(Case.category_id.in_(db.select(Category.id).where(Category.code == category)))
    if needs_review is not None:
        query = query.where(Case.needs_review.is_(needs_review))
    if created_from is not None:
        query = query.where(Case.created_at >= _local_day_start(created_from))
    if created_to is not None:
        query = query.where(Case.created_at < _local_day_start(created_to + timedelta(days=1)))
    return query


def list_categories() -> list[Category]:
    return db.session.scalars(
        db.select(Category).where(Category.active.is_(True)).order_by(Category.sort_order, Category.id)
    ).all()
