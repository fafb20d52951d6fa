from backend.models.audit import AuditEntry
from backend.models.calendar import CalendarDay
from backend.models.case import (
    HANDLED_BY_UNIT,
    ActorKind,
    Case,
    CaseEvent,
    CaseStatus,
    EventType,
    Rating,
    RoutingStatus,
)
from backend.models.category import Category
from backend.models.extension import ExtensionRequest, ExtensionStatus
from backend.models.job_attempt import JobAttempt
from backend.models.notification import Channel, DeliveryStatus, Notification, SubscriptionQuota
from backend.models.photo import Photo, PhotoStatus
from backend.models.region import CoordSystem, MapState, Region, RoutingRule, RuleTarget
from backend.models.reward import (
    ClaimStatus,
    LedgerEntry,
    LedgerKind,
    PayoutBatch,
    PayoutItem,
    PayoutItemStatus,
    PayoutMethod,
    RewardClaim,
    RewardRule,
    RewardSuspension,
)
from backend.models.stats import AssignmentEnd, Briefing, BriefingKind, CaseAssignment
from backend.models.unit import Staff, StaffRole, Unit, UnitKind
from backend.models.user import User

__all__ = [
    "HANDLED_BY_UNIT",
    "ActorKind",
    "AssignmentEnd",
    "AuditEntry",
    "Briefing",
    "BriefingKind",
    "CalendarDay",
    "Case",
    "CaseAssignment",
    "CaseEvent",
    "CaseStatus",
    "Category",
    "Channel",
    "ClaimStatus",
    "CoordSystem",
    "DeliveryStatus",
    "EventType",
    "ExtensionRequest",
    "ExtensionStatus",
    "JobAttempt",
    "LedgerEntry",
    "LedgerKind",
    "MapState",
    "Notification",
    "PayoutBatch",
    "PayoutItem",
    "PayoutItemStatus",
    "PayoutMethod",
    "Photo",
    "PhotoStatus",
    "Rating",
    "Region",
    "RewardClaim",
    "RewardRule",
    "RewardSuspension",
    "RoutingRule",
    "RoutingStatus",
    "RuleTarget",
    "Staff",
    "StaffRole",
    "SubscriptionQuota",
    "Unit",
    "UnitKind",
    "User",
]
