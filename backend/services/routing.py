"""派遣 by rule: the category picks the department, the location picks the territorial unit (属地).

Precedence, most specific first: category × region > category anywhere > any category × region.
No region contains the point, or no rule matches → the case waits for manual dispatch.
"""

from dataclasses import dataclass

from backend.extensions import db
from backend.models import Case, CaseStatus, Region, RoutingRule, RoutingStatus, RuleTarget, Unit, UnitKind
from backend.services import geo, workflow

# Finest areas first: a grid beats its community, a community its street.
REGION_SPECIFICITY = {UnitKind.GRID: 0, UnitKind.COMMUNITY: 1, UnitKind.STREET: 2, UnitKind.TOWNSHIP: 2}
# Generous enough to cover the GCJ-02 offset (well under 0.01°) when prefiltering by bounding box.
BBOX_MARGIN_DEG = 0.01


@dataclass(frozen=True)
class Match:
    unit: Unit
    rule: RoutingRule
    region: Region
    reason: str


def _point_in_region_system(case: Case, region: Region) -> tuple[float, float]:
    """The phone's own coordinates when the systems agree, so shared boundaries stay exact."""
    if case.coord == region.coord:
        return case.lat, case.lng
    return geo.to_system(case.wgs84_lat, case.wgs84_lng, region.coord)


def region_at(case: Case) -> Region | None:
    """The most specific region containing the case's point (regions keep their own coordinate system)."""
    wgs84_lat, wgs84_lng = case.wgs84_lat, case.wgs84_lng
    candidates = db.session.scalars(
        db.select(Region)
        .join(Region.unit)
        .where(
            Unit.active.is_(True),
            Region.min_lat <= wgs84_lat + BBOX_MARGIN_DEG,
            Region.max_lat >= wgs84_lat - BBOX_MARGIN_DEG,
            Region.min_lng <= wgs84_lng + BBOX_MARGIN_DEG,
            Region.max_lng >= wgs84_lng - BBOX_MARGIN_DEG,
        )
        .order_by(Region.id)
    ).all()
    inside = [region for region in candidates if geo.contains(region.geometry, *_point_in_region_system(case, region))]
    inside.sort(key=lambda region: REGION_SPECIFICITY.get(region.unit.kind, 3))
    return inside[0] if inside else None


def _rule_rank(rule: RoutingRule) -> int:
    if rule.category_id is not None and rule.region_id is not None:
        return 0
    if rule.category_id is not None:
        return 1
    return 2


def resolve(case: Case) -> Match | str:
    """The unit a case goes to and why, or the reason no unit was found."""
    region = region_at(case)
    if region is None:
        return "位置不在任何已划分的辖区内，等待人工派遣"
    rules = db.session.scalars(
        db.select(RoutingRule).where(
            RoutingRule.active.is_(True),
            db.or_(RoutingRule.category_id == case.category_id, RoutingRule.category_id.is_(None)),
            db.or_(RoutingRule.region_id == region.id, RoutingRule.region_id.is_(None)),
            db.or_(RoutingRule.category_id.is_not(None), RoutingRule.region_id.is_not(None)),
        )
    ).all()
    for rule in sorted(rules, key=lambda r: (_rule_rank(r), r.id)):
        unit = region.unit if rule.target == RuleTarget.TERRITORIAL else rule.unit
        if unit is None or not unit.active:
            continue
        scope = f"{case.category.name}" if rule.category_id else "所有类型"
        where = f"{region.name}" if rule.region_id else "全区"
        target = "属地单位" if rule.target == RuleTarget.TERRITORIAL else "指定单位"
        reason = f"规则#{rule.id}（{scope} × {where} → {target}）：位于{region.name}，派遣至{unit.name}"
        return Match(unit=unit, rule=rule, region=region, reason=reason)
    return f"位于{region.name}，但没有适用的派遣规则，等待人工派遣"


def route_case(case_id: int) -> Case | None:
    """Idempotent: only a pending case still waiting for routing is routed."""
    case = db.session.get(Case, case_id)
    if case is None or case.status != CaseStatus.PENDING or case.routing_status != RoutingStatus.QUEUED:
        return case
    match = resolve(case)
    if isinstance(match, str):
        return workflow.mark_unrouted(case, match)
    return workflow.route(case, match.unit, match.region.id, match.rule.id, match.reason)
