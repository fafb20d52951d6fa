"""The demo district 攀州市仁和区 from seed 002: units, categories, regions and routing rules; for `make run` also
reward rules (有奖举报) and a few reports in every state, so that each demo login has work on a fresh start.

Loading again only adds what is missing: everything is matched by its code or name, and what exists is left as
an operator may have changed it (a unit deactivated, a region re-imported, a category's units edited).
"""

import io
import random

from PIL import Image, ImageDraw
from werkzeug.datastructures import FileStorage

from backend.extensions import db
from backend.models import (
    Case,
    Category,
    CoordSystem,
    Region,
    RewardRule,
    RoutingRule,
    RuleTarget,
    Staff,
    StaffRole,
    Unit,
    UnitKind,
    User,
)
from backend.services import accounts
from backend.services.actors import Actor
from backend.services.casework import intake, workflow
from backend.services.media import photos
from backend.services.responsibility import geo, routing
from backend.services.rewards import claims as reward_claims

DISTRICT = ("renhe", "攀州市仁和区", UnitKind.DISTRICT)
DEPARTMENTS = [
    ("renhe-enforcement", "区综合行政执法局"),
    ("renhe-ecology", "区生态环境局"),
    ("renhe-housing", "区住建局"),
    ("renhe-commerce", "区商务局"),
    ("renhe-market", "区市场监管局"),
    ("renhe-police", "市公安局仁和区分局"),
]
# Three strips that together cover lat 26.45–26.55, lng 101.68–101.80 (GCJ-02).
TERRITORIES = [
    ("dahezhonglu", "大河中路街道", UnitKind.STREET, (101.68, 101.72)),
    ("renhe-town", "仁和镇", UnitKind.TOWNSHIP, (101.72, 101.76)),
    ("qianjin-town", "前进镇", UnitKind.TOWNSHIP, (101.76, 101.80)),
]
LAT_RANGE = (26.45, 26.55)
# code, name, kind, parent unit code, (west, south, east, north)
NEIGHBOURHOODS = [
    ("dahe-community", "大河社区", UnitKind.COMMUNITY, "dahezhonglu", (101.68, 26.50, 101.72, 26.55)),
    ("zhonglu-community", "中路社区", UnitKind.COMMUNITY, "dahezhonglu", (101.68, 26.45, 101.72, 26.50)),
    ("dahe-grid-1", "大河社区第一网格", UnitKind.GRID, "dahe-community", (101.68, 26.50, 101.70, 26.55)),
    ("dahe-grid-2", "大河社区第二网格", UnitKind.GRID, "dahe-community", (101.70, 26.50, 101.72, 26.55)),
    ("renhe-community", "仁和社区", UnitKind.COMMUNITY, "renhe-town", (101.73, 26.48, 101.75, 26.52)),
]
# code, name, description, deadline hours, lead unit, co-units, territorial co-unit, parent, sort order
CATEGORIES = [
    (
        "illegal_ad",
        "牛皮癣小广告",
        "墙面、电杆、公交站台等处乱贴乱画的小广告",
        24,
        "renhe-enforcement",
        [],
        True,
        None,
        1,
    ),
    (
        "street_vendor",
        "占道经营",
        "跨门经营、流动摊贩、露天烧烤等占用道路经营",
        48,
        "renhe-enforcement",
        ["renhe-commerce", "renhe-market"],
        True,
        None,
        2,
    ),
    ("shopfront_trading", "跨门经营", "商户超出门店经营", None, None, [], False, "street_vendor", 21),
    ("mobile_vendor", "流动摊贩", "流动摊点占道", None, None, [], False, "street_vendor", 22),
    ("outdoor_barbecue", "露天烧烤", "露天烧烤油烟", None, None, ["renhe-ecology"], True, "street_vendor", 23),
    ("dust", "扬尘", "工地扬尘、渣土车抛洒、道路扬尘", 48, "renhe-ecology", [], True, None, 3),
    (
        "construction_dust",
        "工地扬尘",
        "建筑工地未覆盖、未洒水",
        None,
        "renhe-housing",
        ["renhe-ecology"],
        True,
        "dust",
        31,
    ),
    (
        "muck_truck_spill",
        "渣土车抛洒",
        "渣土车未密闭、沿路抛洒",
        24,
        "renhe-enforcement",
        ["renhe-police"],
        False,
        "dust",
        32,
    ),
    ("road_dust", "道路扬尘", "道路积尘、清扫不到位", None, None, [], False, "dust", 33),
    ("billboard", "违规广告和飞线", "违规设置的户外广告、乱拉乱挂的飞线", 72, "renhe-enforcement", [], True, None, 4),
    ("sanitation", "环境卫生", "垃圾乱堆乱放、门前五包不落实", 48, None, [], False, None, 5),
    ("fumes_noise", "油烟噪音", "餐饮油烟、噪音扰民", 72, "renhe-ecology", ["renhe-market"], False, None, 6),
]
DEMO_PASSWORD = "renhe-demo-2026"


def _ensure_unit(code: str, name: str, kind: UnitKind, parent: Unit | None) -> Unit:
    unit = db.session.scalar(db.select(Unit).where(Unit.code == code))
    if unit is None:
        unit = Unit(code=code, name=name, kind=kind, parent=parent, active=True)
        db.session.add(unit)
    return unit


def _rectangle(west: float, south: float, east: float, north: float) -> dict:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


def _ensure_region(code: str, name: str, unit: Unit, geometry: dict) -> Region:
    region = db.session.scalar(db.select(Region).where(Region.code == code))
    if region is None:
        region = Region(code=code, name=name, unit=unit, coord=CoordSystem.GCJ02, geometry=geometry)
        region.min_lat, region.min_lng, region.max_lat, region.max_lng = geo.bounding_box(geometry)
        db.session.add(region)
    return region


def _ensure_rule(category: Category | None, region: Region | None, target: RuleTarget, unit: Unit | None) -> None:
    db.session.flush()
    by_category = RoutingRule.category_id == category.id if category else RoutingRule.category_id.is_(None)
    by_region = RoutingRule.region_id == region.id if region else RoutingRule.region_id.is_(None)
    if db.session.scalar(db.select(RoutingRule).where(by_category, by_region)) is None:
        db.session.add(RoutingRule(category=category, region=region, target=target, unit=unit))


def load() -> dict:
    district = _ensure_unit(*DISTRICT, parent=None)
    units = {code: _ensure_unit(code, name, UnitKind.DEPARTMENT, district) for code, name in DEPARTMENTS}
    regions = {}
    for code, name, kind, (west, east) in TERRITORIES:
        units[code] = _ensure_unit(code, name, kind, district)
        regions[code] = _ensure_region(code, name, units[code], _rectangle(west, LAT_RANGE[0], east, LAT_RANGE[1]))
    for code, name, kind, parent, box in NEIGHBOURHOODS:
        units[code] = _ensure_unit(code, name, kind, units[parent])
        regions[code] = _ensure_region(code, name, units[code], _rectangle(*box))

    categories: dict[str, Category] = {}
    for code, name, description, hours, lead, co, co_territorial, parent, order in CATEGORIES:
        category = db.session.scalar(db.select(Category).where(Category.code == code))
        if category is None:
            category = Category(code=code, name=name, description=description, deadline_hours=hours)
            category.lead_unit, category.co_units = units.get(lead), [units[c] for c in co]
            category.co_territorial, category.parent = co_territorial, categories.get(parent)
            category.sort_order, category.active = order, True
            db.session.add(category)
        categories[code] = category

    # Lead departments handle their categories district-wide (the category default); everything else
    # goes to the territorial unit. 大河中路街道 runs its own small-ads clean-up team: a category ×
    # region rule that beats the category default there.
    _ensure_rule(categories["illegal_ad"], regions["dahezhonglu"], RuleTarget.TERRITORIAL, None)
    db.session.flush()
    return {"units": len(units) + 1, "regions": len(regions), "categories": len(categories)}


def create_demo_staff() -> list[tuple[str, str, str]]:
    """Demo logins: an admin, a dispatcher, a read-only leader, a reward administrator and one unit_staff per unit
    (username = unit code). Returns the accounts it created (existing ones are left as they are)."""
    wanted = [("admin", StaffRole.ADMIN, None), ("dispatcher", StaffRole.DISPATCHER, None)]
    wanted += [("leader", StaffRole.LEADER, None)]
    wanted += [("reward", StaffRole.REWARD_ADMIN, None)]  # 有奖举报: claims and payouts
    wanted += [(code, StaffRole.UNIT_STAFF, code) for code, *_ in DEPARTMENTS + TERRITORIES + NEIGHBOURHOODS]
    created = []
    for username, role, unit_code in wanted:
        if db.session.scalar(db.select(Staff).where(Staff.username == username)) is None:
            accounts.create_staff(username, DEMO_PASSWORD, role.value, unit_code)
            created.append((username, role.value, unit_code or ""))
    return created


# category code, amount (fen), daily and monthly cap per citizen (fen)
REWARD_RULES = [("illegal_ad", 500, 5000, 20000), ("dust", 1000, 5000, 20000)]


def create_demo_reward_rules() -> int:
    """Active 有奖举报 rules for two categories (none is added to a category that has a rule already)."""
    added = 0
    for code, amount, daily, monthly in REWARD_RULES:
        category = db.session.scalar(db.select(Category).where(Category.code == code))
        if category is None or db.session.scalar(db.select(RewardRule.id).where(RewardRule.category_id == category.id)):
            continue
        rule = RewardRule(category=category, amount_fen=amount, daily_cap_fen=daily, monthly_cap_fen=monthly)
        db.session.add(rule)
        added += 1
    db.session.flush()
    return added


DEMO_CITIZEN = "dev-demo-citizen"  # the development login {"openid": "demo-citizen"}
# what, category, (lat, lng) GCJ-02, how far the case goes: pending (nobody's area), dispatched, replied, closed
DEMO_CASES = [
    ("区界外路口的垃圾堆了好几天没人清理", "sanitation", (26.58, 101.74), "pending"),
    ("公交站台贴满了办证小广告", "illegal_ad", (26.52, 101.69), "dispatched"),
    ("电线杆上的小广告又贴回来了", "illegal_ad", (26.47, 101.70), "replied"),
    ("工地门口渣土没有覆盖，风一吹全是灰", "dust", (26.50, 101.74), "closed"),
]


def _demo_photo(seed: int, actor: Actor) -> int:
    """A made-up picture, different enough from the others that no abuse signal calls them alike."""
    shapes = random.Random(seed)
    image = Image.new("RGB", (800, 600), (150, 160, 170))
    draw = ImageDraw.Draw(image)
    for _ in range(24):
        x, y = shapes.randrange(700), shapes.randrange(500)
        colour = tuple(shapes.randrange(256) for _ in range(3))
        draw.rectangle((x, y, x + shapes.randrange(40, 300), y + shapes.randrange(40, 300)), fill=colour)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    upload = FileStorage(io.BytesIO(out.getvalue()), filename="demo.jpg", content_type="image/jpeg")
    photo = photos.accept_upload(upload, actor)
    photos.process(photo.id)  # here, not by the worker: the pages show it at once
    return photo.id


def create_demo_cases() -> int:
    """A demo citizen's reports, each taken as far as the workflow goes by the demo staff: one waiting for manual
    dispatch (outside every region), one waiting for 大河中路街道 to sign off, one replied and waiting for the
    dispatcher's verification, one closed with a 有奖举报 claim to decide. Once only (skipped when the demo citizen
    has reports)."""
    citizen = db.session.scalar(db.select(User).where(User.openid == DEMO_CITIZEN))
    if citizen is None:
        citizen = User(openid=DEMO_CITIZEN)
        db.session.add(citizen)
        db.session.flush()
    elif db.session.scalar(db.select(Case.id).where(Case.reporter_id == citizen.id).limit(1)):
        return 0
    reporter = Actor.citizen(citizen.id)
    staff = {s.username: s for s in db.session.scalars(db.select(Staff))}
    dispatcher = staff["dispatcher"]
    as_dispatcher = Actor.staff(dispatcher.id, dispatcher.role, None)
    for number, (description, category, (lat, lng), stage) in enumerate(DEMO_CASES):
        payload = {
            "category": category,
            "description": description,
            "location": {"lat": lat, "lng": lng, "coord": "gcj02"},
            "photo_ids": [_demo_photo(2 * number, reporter)],
        }
        case, _ = intake.submit_report(reporter, payload, f"demo-{number}")
        routing.route_case(case.id)  # here, not by the worker: the queues are filled at once
        if stage == "pending":
            continue
        unit = staff.get(case.unit.code) if case.unit else None
        if unit is None:
            continue
        as_unit = Actor.staff(unit.id, unit.role, unit.unit_id)
        if stage == "dispatched":
            continue
        workflow.accept(case, as_unit)
        workflow.reply(case, as_unit, "已安排人员清理完毕，现场已恢复整洁。", [_demo_photo(2 * number + 1, as_unit)])
        if stage == "closed":
            workflow.close(case, as_dispatcher, "核查属实，已办结")
            db.session.flush()
            reward_claims.consider(case.id)  # the claim the reward administrator decides
    db.session.flush()
    return len(DEMO_CASES)
