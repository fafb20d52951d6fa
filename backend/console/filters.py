"""Template filters: statuses, timeline events and times in Chinese."""

from datetime import datetime

from backend.console import bp
from backend.models import CaseStatus
from backend.services.casework.workflow import STATUS_NAMES

EVENT_NAMES = {
    "submitted": "市民提交",
    "routing_unmatched": "未匹配到单位",
    "dispatched": "派遣",
    "accepted": "签收",
    "returned": "退单",
    "replied": "处置反馈",
    "reworked": "返工",
    "closed": "结案",
    "rejected": "不予受理",
    "rated": "市民评价",
    "commented": "留言",
    "reminded": "临期提醒",
    "overdue": "超期督办",
    "extension_requested": "延期申请",
    "extension_approved": "延期批准",
    "extension_denied": "延期驳回",
}
RATING_NAMES = {"satisfied": "满意", "basic": "基本满意", "unsatisfied": "不满意"}
URGENCY_NAMES = {"overdue": "超期", "due_soon": "临期", "new": "待签收"}
NOTIFICATION_KINDS = {
    "case_dispatched": "案件派遣",
    "case_replied": "处置反馈",
    "case_rejected": "不予受理",
    "case_closed": "结案",
}


@bp.app_template_filter("status_name")
def status_name(status: str | None) -> str:
    try:
        return STATUS_NAMES[CaseStatus(status)]
    except ValueError:
        return status or ""


@bp.app_template_filter("event_name")
def event_name(kind: str) -> str:
    return EVENT_NAMES.get(kind, kind)


@bp.app_template_filter("rating_name")
def rating_name(rating: str | None) -> str:
    return RATING_NAMES.get(rating or "", rating or "")


@bp.app_template_filter("urgency_name")
def urgency_name(urgency: str) -> str:
    return URGENCY_NAMES.get(urgency, "")


@bp.app_template_filter("kind_name")
def kind_name(kind: str) -> str:
    return NOTIFICATION_KINDS.get(kind, kind)


@bp.app_template_filter("when")
def when(value: str | None) -> str:
    """An ISO time with offset (as the schemas dump it, China Standard Time) as "2026-11-20 09:15"."""
    if not value:
        return "—"
    try:
        return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError):
        return str(value)


@bp.app_template_filter("hours_left")
def hours_left(value: float | None) -> str:
    if value is None:
        return ""
    if value < 0:
        return f"已超期 {abs(value):.1f} 个工作小时"
    return f"剩余 {value:.1f} 个工作小时"


@bp.app_template_filter("percent")
def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"
