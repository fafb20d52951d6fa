"""Accountability figures (考核指标) per unit, category or region, for a period, from the assignment
ledger. The formulas are documented in miniprogram_api.md ("Figures and formulas").

A period's figures are about the 派遣 made in it (the cohort: assignments with `assigned_at` in the
period, withdrawn ones left out) and what has become of them by `as_of` (normally now; a briefing's is the end
of its period). "Open" and "overdue" are the state at `as_of`, whatever the period.

What the ledger dates is counted by `as_of` exactly (a 签收, 反馈, 结案 or 退单 after it counts as not done yet);
its running totals (返工, 延期, 督办 level, the rating) are as known when the figures are made.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, func, or_

from backend.errors import ValidationFailed
from backend.extensions import db
from backend.models import (
    HANDLED_BY_UNIT,
    AssignmentEnd,
    Case,
    CaseAssignment,
    CaseEvent,
    Category,
    Rating,
    Region,
    Unit,
)
from backend.models.types import utcnow
from backend.services.stats import periods
from backend.services.stats.periods import Period

A = CaseAssignment
GROUPS = {"unit": A.unit_id, "category": A.category_id, "region": A.region_id}
COUNTS = (
    "received",  # 派遣数
    "returned",  # 退单数
    "signed",  # 签收数
    "signed_on_time",  # 按时签收数
    "handled",  # 处置数 = 应结案数
    "due",  # 应处置数
    "handled_on_time",  # 按期处置数
    "closed",  # 结案数
    "reworked",  # 返工数 (cases)
    "rework_events",  # 返工次数
    "extensions_requested",
    "extensions_granted",
    "supervised_level_1",  # 督办 (level 1 or more)
    "supervised_level_2",  # 二级督办
    "rated",
    "satisfied",  # 满意 + 基本满意
    "open",  # 在办 at as_of
    "overdue",  # 超期在办 at as_of
)
# rate name: (numerator, denominator)
RATES = {
    "signoff_on_time_rate": ("signed_on_time", "received"),  # 签收及时率
    "handled_on_time_rate": ("handled_on_time", "due"),  # 按期处置率
    "closed_rate": ("closed", "received"),  # 结案率 (立案数 = 派遣数)
    "rework_rate": ("reworked", "handled"),  # 返工率
    "returned_rate": ("returned", "assigned"),  # 退单率
    "satisfaction_rate": ("satisfied", "rated"),  # 满意率
}


@dataclass(frozen=True)
class Filters:
    category_ids: tuple[int, ...] | None = None
    region_ids: tuple[int, ...] | None = None
    unit_id: int | None = None

    def apply(self, query):
        if self.category_ids is not None:
            query = query.where(A.category_id.in_(self.category_ids))
        if self.region_ids is not None:
            query = query.where(A.region_id.in_(self.region_ids))
        if self.unit_id is not None:
            query = query.where(A.unit_id == self.unit_id)
        return query


def scope_of(args: dict, unit_id: int | None = None) -> tuple[Period, Filters, datetime]:
    """The period, filters and "as of" moment of a figures request (StatsArgs, loaded): the API and the console."""
    now = utcnow().replace(microsecond=0)
    period = periods.resolve(args.pop("start"), args.pop("end"), args.pop("period"), args.pop("day"), now)
    scope = filters(args.pop("category"), args.pop("region"), unit_id)
    return period, scope, now


def filters(category: str | None = None, region: str | None = None, unit_id: int | None = None) -> Filters:
    """A category includes its sub-categories; a region includes the regions of the units under its unit
    (a street's communities and grids)."""
    category_ids = region_ids = None
    if category:
        found = db.session.scalar(db.select(Category).where(Category.code == category))
        if found is None:
            raise ValidationFailed("没有这个问题类别", fields={"category": ["没有这个问题类别"]})
        children = db.session.scalars(db.select(Category.id).where(Category.parent_id == found.id)).all()
        category_ids = (found.id, *children)
    if region:
        found = db.session.scalar(db.select(Region).where(Region.code == region))
        if found is None:
            raise ValidationFailed("没有这个区域", fields={"region": ["没有这个区域"]})
        units = _descendants(found.unit_id)
        others = db.session.scalars(db.select(Region.id).where(Region.unit_id.in_(units - {found.unit_id}))).all()
        region_ids = (found.id, *others)
    return Filters(category_ids, region_ids, unit_id)


def _descendants(unit_id: int) -> set[int]:
    children: dict[int | None, list[int]] = {}
    for uid, parent in db.session.execute(db.select(Unit.id, Unit.parent_id)):
        children.setdefault(parent, []).append(uid)
    found, stack = set(), [unit_id]
    while stack:
        current = stack.pop()
        if current not in found:
            found.add(current)
            stack.extend(children.get(current, []))
    return found


def _cohort(period: Period, *also_counted):
    """The period's assignments, withdrawn ones left out (unless `also_counted` takes them in)."""
    return and_(
        A.assigned_at >= period.start_at,
        A.assigned_at < period.end_at,
        or_(A.end.is_(None), A.end == AssignmentEnd.RETURNED, *also_counted),
    )


def _count(*conditions):
    return func.count().filter(*conditions)


def _sum(column, *conditions):
    expression = func.sum(column)
    return func.coalesce(expression.filter(*conditions) if conditions else expression, 0)


def _aggregates(as_of: datetime, live: bool | None = None) -> list:
    live = is_live(as_of) if live is None else live

    def by_then(column):
        # for figures of now, whatever happened counts (as_of is cut to the second; a sign-off a moment ago is in)
        return column.is_not(None) if live else column <= as_of

    returned = and_(A.end == AssignmentEnd.RETURNED, by_then(A.ended_at))  # a 退单 after as_of: still held then
    held = A.end.is_(None) if live else or_(A.end.is_(None), A.ended_at > as_of)
    signed = and_(held, by_then(A.accepted_at))
    # the latest 反馈 by as_of (a case reworked and replied again after it counts as not handled then)
    replied = and_(A.replies > 0, by_then(A.replied_at))
    return [
        _count(held).label("received"),
        _count(returned).label("returned"),
        _count(signed).label("signed"),
        _count(signed, A.accepted_at <= A.signoff_due_at).label("signed_on_time"),
        _count(replied).label("handled"),
        _count(or_(replied, and_(held, A.deadline_at <= as_of))).label("due"),
        _count(replied, A.replied_on_time.is_(True)).label("handled_on_time"),
        _count(held, by_then(A.closed_at)).label("closed"),
        _count(A.reworks > 0).label("reworked"),
        _sum(A.reworks).label("rework_events"),
        _sum(A.extensions_requested).label("extensions_requested"),
        _sum(A.extensions_granted).label("extensions_granted"),
        _count(A.escalation_level >= 1).label("supervised_level_1"),
        _count(A.escalation_level >= 2).label("supervised_level_2"),
        _count(A.rating.is_not(None)).label("rated"),
        _count(A.rating.in_([Rating.SATISFIED, Rating.BASIC])).label("satisfied"),
        _sum(A.handling_hours, replied).label("handling_hours"),
    ]


def rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _finish_row(row: dict) -> dict:
    row["assigned"] = row["received"] + row["returned"]
    for name, (numerator, denominator) in RATES.items():
        row[name] = rate(row[numerator], row[denominator])
    row["handling_hours"] = round(row["handling_hours"], 2)  # working hours, summed over the handled cases
    row["avg_handling_hours"] = round(row["handling_hours"] / row["handled"], 2) if row["handled"] else None
    return row


def _empty() -> dict:
    return {name: 0 for name in COUNTS} | {"handling_hours": 0.0}


def grouped(period: Period, by: str, scope: Filters, as_of: datetime) -> dict[int | None, dict]:
    """Figures per group key (unit, category or region id), for groups with anything to show."""
    key = GROUPS[by]
    rows: dict[int | None, dict] = {}
    live = is_live(as_of)  # decided once for all the statements of these figures
    # at an earlier as_of, a 派遣 after it had not happened yet and one withdrawn after it was still held then
    cohort = _cohort(period) if live else and_(_cohort(period, A.ended_at > as_of), A.assigned_at <= as_of)
    query = scope.apply(db.select(key.label("key"), *_aggregates(as_of, live)).where(cohort).group_by(key))
    for result in db.session.execute(query).mappings():
        row = rows.setdefault(result["key"], _empty())
        row.update({name: value for name, value in result.items() if name != "key"})
    open_query = _open_cases(by, scope, as_of, live)
    for result in db.session.execute(open_query).mappings():
        row = rows.setdefault(result["key"], _empty())
        row["open"], row["overdue"] = result["open"], result["overdue"]
    return {group: _finish_row({name: _number(value) for name, value in row.items()}) for group, row in rows.items()}


# figures asked for "now" read today's status; an earlier as_of (a briefing's period end) replays the timeline
LIVE_SLACK = timedelta(minutes=1)


def _status_at(as_of: datetime):
    """The status the assignment's case had at as_of: the last transition of its timeline by then."""
    return (
        db.select(CaseEvent.to_status)
        .where(CaseEvent.case_id == A.case_id, CaseEvent.to_status.is_not(None), CaseEvent.at <= as_of)
        .order_by(CaseEvent.at.desc(), CaseEvent.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def open_at(as_of: datetime):
    """The assignments whose case was open at their unit at as_of (dispatched or processing), for an as_of in
    the past. Candidates are the assignments held then and not closed by then (a few percent of the ledger:
    what is open now or was closed since); each one's status is read from its timeline."""
    return and_(
        A.assigned_at <= as_of,
        or_(A.ended_at.is_(None), A.ended_at > as_of),
        or_(A.closed_at.is_(None), A.closed_at > as_of),
        _status_at(as_of).in_([status.value for status in HANDLED_BY_UNIT]),
    )


def is_live(as_of: datetime) -> bool:
    return as_of >= utcnow() - LIVE_SLACK


def _open_cases(by: str, scope: Filters, as_of: datetime, live: bool):
    """Cases open at a unit at as_of, grouped like the figures. For now: straight from the cases table (a few
    percent of it, by the status index) unless a region is asked for (the finest region is only in the ledger).
    For an earlier as_of: from the ledger and the timeline (`open_at`); "overdue" then compares the deadline in
    force now (an extension granted after as_of is not undone)."""
    if not live:
        key = GROUPS[by]
        return scope.apply(
            db.select(key.label("key"), func.count().label("open"), _count(A.deadline_at <= as_of).label("overdue"))
            .where(open_at(as_of))
            .group_by(key)
        )
    if by == "region" or scope.region_ids is not None:
        key = GROUPS[by]
        return scope.apply(
            db.select(key.label("key"), func.count().label("open"), _count(Case.deadline_at <= as_of).label("overdue"))
            .join(Case, Case.id == A.case_id)
            .where(A.end.is_(None), Case.status.in_(HANDLED_BY_UNIT))
            .group_by(key)
        )
    key = Case.unit_id if by == "unit" else Case.category_id
    query = db.select(key.label("key"), func.count().label("open"), _count(Case.deadline_at <= as_of).label("overdue"))
    query = query.where(Case.status.in_(HANDLED_BY_UNIT), Case.unit_id.is_not(None)).group_by(key)
    if scope.category_ids is not None:
        query = query.where(Case.category_id.in_(scope.category_ids))
    if scope.unit_id is not None:
        query = query.where(Case.unit_id == scope.unit_id)
    return query


def _number(value):
    return float(value) if isinstance(value, float) or type(value).__name__ == "Decimal" else int(value)


def total(rows: Iterable[dict]) -> dict:
    """The district line: counts summed, rates recomputed from the sums."""
    summed = _empty()
    for row in rows:
        for name in COUNTS:
            summed[name] += row[name]
        summed["handling_hours"] += row["handling_hours"]
    return _finish_row(summed)


def labels(by: str, keys: Iterable[int | None]) -> dict[int | None, dict]:
    """Who or what each group key is."""
    ids = [key for key in keys if key is not None]
    found: dict[int | None, dict] = {None: {"id": None, "code": None, "name": "未划分区域"}}
    if by == "unit":
        for unit in db.session.scalars(db.select(Unit).where(Unit.id.in_(ids))):
            found[unit.id] = {"id": unit.id, "code": unit.code, "name": unit.name, "kind": str(unit.kind)}
    elif by == "category":
        for category in db.session.scalars(db.select(Category).where(Category.id.in_(ids))):
            found[category.id] = {"id": category.id, "code": category.code, "name": category.name}
    else:
        for region in db.session.scalars(db.select(Region).where(Region.id.in_(ids))):
            found[region.id] = {"id": region.id, "code": region.code, "name": region.name}
    return found


def table(period: Period, by: str, scope: Filters, as_of: datetime) -> dict:
    """The figures API: one row per group, ordered by code, and the total line."""
    rows = grouped(period, by, scope, as_of)
    names = labels(by, rows)
    items = [{by: names[key], **row} for key, row in rows.items()]
    items.sort(key=lambda item: (item[by]["code"] is None, item[by]["code"] or ""))
    return {"period": period.as_dict(), "as_of": as_of, "by": by, "items": items, "total": total(rows.values())}


def _local_day(column):
    if db.engine.dialect.name == "postgresql":
        return func.to_char(func.timezone("Asia/Shanghai", column), "YYYY-MM-DD")
    return func.date(column, "+8 hours")


def trend(period: Period, scope: Filters) -> dict:
    """A daily series: reports received (受理, district-wide, category filter only), and from the ledger the
    派遣 made, 退单, 反馈 (on time or not) and 结案 on each local day."""
    series = {
        day: dict.fromkeys(("reports", "received", "returned", "handled", "handled_on_time", "closed"), 0)
        for day in period.days
    }
    in_period = lambda column: and_(column >= period.start_at, column < period.end_at)  # noqa: E731

    def add(name: str, column, query, *conditions) -> None:
        day = _local_day(column)
        query = query.add_columns(day.label("day"), func.count().label("n")).where(in_period(column), *conditions)
        for found_day, count in db.session.execute(query.group_by(day)):
            series[date.fromisoformat(str(found_day)[:10])][name] += count

    reports = db.select()
    if scope.category_ids is not None:
        reports = reports.where(Case.category_id.in_(scope.category_ids))
    add("reports", Case.created_at, reports.select_from(Case))
    ledger = scope.apply(db.select().select_from(A))
    add("received", A.assigned_at, ledger, A.end.is_(None))
    add("returned", A.assigned_at, ledger, A.end == AssignmentEnd.RETURNED)
    add("handled", A.replied_at, ledger, or_(A.end.is_(None), A.end == AssignmentEnd.RETURNED))
    add("handled_on_time", A.replied_at, ledger, A.replied_on_time.is_(True))
    add("closed", A.closed_at, ledger, A.end.is_(None))
    items = [{"date": day.isoformat(), **counts} for day, counts in series.items()]
    return {"period": period.as_dict(), "items": items}


def hotspots(period: Period, scope: Filters, kind: str | None = None) -> dict:
    """GeoJSON: every region with the cohort's received cases per category, a region counting the cases
    of the regions inside it (a street includes its communities and grids)."""
    query = scope.apply(
        db.select(A.region_id, Category.code, func.count())
        .join(Category, Category.id == A.category_id)
        .where(_cohort(period), A.end.is_(None), A.region_id.is_not(None))
        .group_by(A.region_id, Category.code)
    )
    own: dict[int, dict[str, int]] = {}
    for region_id, code, count in db.session.execute(query):
        own.setdefault(region_id, {})[code] = count
    regions = db.session.scalars(db.select(Region).join(Region.unit).order_by(Region.code)).all()
    units = {uid: parent for uid, parent in db.session.execute(db.select(Unit.id, Unit.parent_id))}
    owners: dict[int, list[Region]] = {}
    for region in regions:
        owners.setdefault(region.unit_id, []).append(region)
    rolled: dict[int, dict[str, int]] = {region.id: {} for region in regions}
    for region in regions:
        counts = own.get(region.id)
        if not counts:
            continue
        targets, unit_id, seen = [region], units.get(region.unit_id), set()
        while unit_id is not None and unit_id not in seen:
            seen.add(unit_id)
            targets.extend(owners.get(unit_id, []))
            unit_id = units.get(unit_id)
        for target in targets:
            for code, count in counts.items():
                rolled[target.id][code] = rolled[target.id].get(code, 0) + count
    features = []
    for region in regions:
        if kind and str(region.unit.kind) != kind:
            continue
        by_category = dict(sorted(rolled[region.id].items()))
        features.append(
            {
                "type": "Feature",
                "id": region.id,
                "geometry": region.geometry,
                "properties": {
                    "code": region.code,
                    "name": region.name,
                    "kind": str(region.unit.kind),
                    "coord": str(region.coord),
                    "unit_id": region.unit_id,
                    "total": sum(by_category.values()),
                    "by_category": by_category,
                },
            }
        )
    return {"type": "FeatureCollection", "period": period.as_dict(), "features": features}
