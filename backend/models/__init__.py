from backend.models.audit import AuditEntry
from backend.models.case import ActorKind, Case, CaseEvent, CaseStatus, EventType, Rating, RoutingStatus
from backend.models.category import Category
from backend.models.photo import Photo, PhotoStatus
from backend.models.region import CoordSystem, Region, RoutingRule, RuleTarget
from backend.models.unit import Staff, StaffRole, Unit, UnitKind
from backend.models.user import User

__all__ = [
    "ActorKind",
    "AuditEntry",
    "Case",
    "CaseEvent",
    "CaseStatus",
    "Category",
    "CoordSystem",
    "EventType",
    "Photo",
    "PhotoStatus",
    "Rating",
    "Region",
    "RoutingRule",
    "RoutingStatus",
    "RuleTarget",
    "Staff",
    "StaffRole",
    "Unit",
    "UnitKind",
    "User",
]
