"""派遣 by rule: who handles a report, and why.

Candidates, in order of precedence (the first whose unit is active and has not returned the case wins):
  1. a rule for the category (or its parent category) × a region containing the point,
     finest region first (grid > community > street/township), the category before its parent;
  2. the category default: a rule for the category without a region, then the category's lead unit
     (牵头单位), the category's own before its parent's;
  3. a rule for a region without a category (everything reported there goes to one unit), finest first;
  4. the territorial unit (属地): the unit that owns the finest region containing the point;
  5. nothing: the case waits for manual dispatch.
Co-units (配合单位) come with the winning rule or category: named units, plus the territorial unit when
the rule or category says so.
"""

from dataclasses import dataclass, field

from backend.errors import ValidationFailed
from backend.extensions import db
from backend.models import (
    ActorKind,
    Case,
    CaseEvent,
    CaseStatus,
    Category,
    EventType,
    Region,
    RoutingRule,
    RoutingStatus,
    RuleTarget,
    Unit,
)
from backend.services.casework import workflow
from backend.services.responsibility import geo, region_index

LEVEL_NAMES = {0: "网格", 1: "社区", 2: "街道/乡镇", 3: "辖区"}


@dataclass(frozen=True)
class Candidate:
    unit: Unit
    reason: str
    rule_id: int | None = None
    region_id: int | None = None
    co_units: list[Unit] = field(default_factory=list)
    deadline_hours: int | None = None  # a rule's override of the category's 处置时限


@dataclass(frozen=True)
class Point:
    lat: float
    lng: float
    coord: str
    wgs84_lat: float
    wgs84_lng: float


def _co_units(named: list[Unit], territorial: bool, territorial_unit: Unit | None, lead: Unit) -> list[Unit]:
    units = list(named) + ([territorial_unit] if territorial and territorial_unit else [])
    seen, result = {lead.id}, []
    for unit in units:
        if unit.active and unit.id not in seen:
            seen.add(unit.id)
            result.append(unit)
    return result


def candidates(point: Point, category: Category) -> tuple[list[Candidate], str]:
    """All candidates in precedence order, and a reason to show when there are none."""
    hits = region_index.current().containing(point.lat, point.lng, point.coord, point.wgs84_lat, point.wgs84_lng)
    if not hits:
        return [], "位置不在任何已划分的辖区内，等待人工派遣"
    regions = {r.id: r for r in db.session.scalars(db.select(Region).where(Region.id.in_([h.region_id for h in hits])))}
    ordered_regions = [regions[h.region_id] for h in hits]
    finest = ordered_regions[0]
    territorial = finest.unit
    lineage = category.lineage()
    rules = db.session.scalars(
        db.select(RoutingRule).where(
            RoutingRule.active.is_(True),
            db.or_(RoutingRule.category_id.in_([c.id for c in lineage]), RoutingRule.category_id.is_(None)),
            db.or_(RoutingRule.region_id.in_(list(regions)), RoutingRule.region_id.is_(None)),
        )
    ).all()
    by_key = {(rule.category_id, rule.region_id): rule for rule in sorted(rules, key=lambda r: -r.id)}

    found: list[Candidate] = []

    def from_rule(rule: RoutingRule, region: Region | None, label: str) -> None:
        unit = (region or finest).unit if rule.target == RuleTarget.TERRITORIAL else rule.unit
        if unit is not None:
            co = _co_units(rule.co_units, rule.co_territorial, territorial, unit)
            reason = f"规则#{rule.id}（{label}）：派遣至{unit.name}"
            found.append(Candidate(unit, reason, rule.id, (region or finest).id, co, rule.deadline_hours))

    for region in ordered_regions:
        for cat in lineage:
            if rule := by_key.get((cat.id, region.id)):
                from_rule(rule, region, f"{cat.name} × {region.name}")
    # a sub-category inherits what it leaves unset, each part from its nearest ancestor that sets it: the lead
    # unit, and the co-units (with their 属地 flag) — not the co-units of whichever category has the lead unit
    co_source = next((cat for cat in lineage if cat.co_units), None)
    for cat in lineage:
        if rule := by_key.get((cat.id, None)):
            from_rule(rule, None, f"{cat.name} × 全辖区")
        if cat.lead_unit is not None:
            source = co_source or cat
            co = _co_units(source.co_units, source.co_territorial, territorial, cat.lead_unit)
            reason = f"类别默认：{cat.name}的牵头单位{cat.lead_unit.name}"
            found.append(Candidate(cat.lead_unit, reason, None, finest.id, co))
            break
    for region in ordered_regions:
        if rule := by_key.get((None, region.id)):
            from_rule(rule, region, f"所有类型 × {region.name}")
    for region in ordered_regions:
        level = LEVEL_NAMES[min(h.level for h in hits if h.region_id == region.id)]
        found.append(
            Candidate(region.unit, f"属地：位于{region.name}（{level}），由{region.unit.name}处理", None, region.id)
        )

    unique, seen = [], set()
    for candidate in found:
        if candidate.unit.active and candidate.unit.id not in seen:
            seen.add(candidate.unit.id)
            unique.append(candidate)
    return unique, "位置所在辖区没有可派遣的单位，等待人工派遣"


def point_of(case: Case) -> Point:
    return Point(case.lat, case.lng, str(case.coord), case.wgs84_lat, case.wgs84_lng)


def units_that_returned(case: Case) -> set[int]:
    """Units that returned this case themselves (退单); a recall by the system when a unit was
    deactivated does not count, so a reactivated unit can be chosen again."""
    return {
        event.data.get("unit_id")
        for event in db.session.scalars(
            db.select(CaseEvent).where(
                CaseEvent.case_id == case.id,
                CaseEvent.type == EventType.RETURNED,
                CaseEvent.actor_kind == ActorKind.STAFF,
            )
        )
    }


def remaining_candidates(case: Case) -> tuple[list[Candidate], str]:
    """Who routing would pick for the case now, in precedence order, leaving out the units that returned it; and
    why nobody, when nobody is left (what a dispatcher sees beside a case waiting for manual dispatch)."""
    found, reason_if_none = candidates(point_of(case), case.category)
    returned = units_that_returned(case)
    remaining = [c for c in found if c.unit.id not in returned]
    if not remaining and found:
        reason_if_none = "候选单位均已退单，等待人工派遣"
    return remaining, reason_if_none


def route_case(case_id: int) -> Case | None:
    """Idempotent: only a pending case still waiting for routing is routed."""
    case = db.session.get(Case, case_id)
    if case is None or case.status != CaseStatus.PENDING or case.routing_status != RoutingStatus.QUEUED:
        return case
    remaining, reason_if_none = remaining_candidates(case)
    if not remaining:
        return workflow.mark_unrouted(case, reason_if_none)
    choice = remaining[0]
    return workflow.route(
        case, choice.unit, choice.co_units, choice.region_id, choice.rule_id, choice.reason, choice.deadline_hours
    )


def explain(lat: float, lng: float, coord: str, category: str) -> tuple[list[Candidate], str]:
    """The candidates a report of `category` at this point would get, in precedence order."""
    found = db.session.scalar(db.select(Category).where(Category.code == category))
    if found is None:
        raise ValidationFailed(fields={"category": ["不支持的问题类型"]})
    wgs84_lat, wgs84_lng = geo.to_wgs84(lat, lng, coord)
    return candidates(Point(lat, lng, coord, wgs84_lat, wgs84_lng), found)
