"""调度台: the dispatch centre's pages. The same services as backend/api/admin.py and admin_supervision.py."""

from flask import render_template, request, url_for

from backend.api.common import actor, query_args
from backend.auth import DISPATCH_ROLES
from backend.console import bp, nav
from backend.console.forms import form_action, integer, integers, load_form, text
from backend.console.session import console_login_required
from backend.models import CaseStatus, DeliveryStatus
from backend.schemas.case import AdminCaseArgs, CommentIn, DispatchIn, ReasonIn, StaffCaseOut, StaffCaseSummaryOut
from backend.schemas.common import PageArgs, page_of
from backend.schemas.supervision import DenyIn, ExtensionDecisionIn, NotificationOut, SupervisionArgs, SupervisionOut
from backend.services.casework import cases, extensions, supervision, workflow
from backend.services.notifications import delivery
from backend.services.responsibility import categories, routing, units

nav.add_entry("console.dispatch_pending", "待派遣", DISPATCH_ROLES, order=10)
nav.add_entry("console.dispatch_verify", "待核查", DISPATCH_ROLES, order=20)
nav.add_entry("console.dispatch_supervision", "督办看板", DISPATCH_ROLES, order=30)
nav.add_entry("console.dispatch_notifications", "发送失败", DISPATCH_ROLES, order=40)
nav.add_entry("console.dispatch_cases", "全部案件", DISPATCH_ROLES, order=50)

PER_PAGE = 20
dispatcher_only = console_login_required(*DISPATCH_ROLES)


def _explained(case) -> dict:
    """A pending case with who routing would pick now (none: why), for one-click dispatch."""
    candidates, reason = routing.remaining_candidates(case)
    return {**StaffCaseSummaryOut().dump(case), "candidates": candidates, "why_none": reason}


@bp.get("/dispatch/pending")
@dispatcher_only
def dispatch_pending():
    """待派遣: what routing could not place (or units returned), with the routing explanation."""
    listing = cases.list_for_dispatcher(status=CaseStatus.PENDING, full_cases=True, **query_args(PageArgs()))
    items = [_explained(case) for case in listing["items"]]
    return render_template(
        "console/dispatch/pending.html",
        items=items,
        listing=page_of(StaffCaseSummaryOut(), listing),
        units=units.list_all(active=True),
    )


@bp.get("/dispatch/verify")
@dispatcher_only
def dispatch_verify():
    """核查: replies waiting for the dispatcher, before and after photos side by side."""
    args = query_args(PageArgs())
    args["per_page"] = min(args["per_page"], 10)
    listing = cases.list_for_dispatcher(status=CaseStatus.REPLIED, **args)
    items = [StaffCaseOut().dump(cases.for_dispatcher(case.id)) for case in listing["items"]]
    return render_template("console/dispatch/verify.html", items=items, listing=page_of(StaffCaseSummaryOut(), listing))


@bp.get("/dispatch/cases")
@dispatcher_only
def dispatch_cases():
    args = query_args(AdminCaseArgs())
    listing = page_of(StaffCaseSummaryOut(), cases.list_for_dispatcher(**args))
    return render_template(
        "console/dispatch/cases.html", listing=listing, status=args["status"], units=units.list_all(), args=args
    )


@bp.get("/dispatch/cases/<int:case_id>")
@dispatcher_only
def dispatch_case(case_id: int):
    case = cases.for_dispatcher(case_id)
    me = actor()
    allowed = {action: workflow.permitted(case, action, me) for action in ("dispatch", "reject", "close", "rework")}
    explained = routing.remaining_candidates(case) if allowed["dispatch"] else ([], "")
    return render_template(
        "console/case.html",
        case=StaffCaseOut().dump(case),
        mode="dispatch",
        allowed=allowed,
        candidates=explained[0],
        why_none=explained[1],
        units=units.list_all(active=True),
    )


def _after(case_id: int, message: str):
    """Back to the list the form was on (pending, verify), else to the case."""
    lists = {"pending": "console.dispatch_pending", "verify": "console.dispatch_verify"}
    endpoint = lists.get(request.form.get("from", ""))
    return message, url_for(endpoint) if endpoint else url_for("console.dispatch_case", case_id=case_id)


@bp.post("/dispatch/cases/<int:case_id>/dispatch")
@dispatcher_only
@form_action("console.dispatch_case")
def dispatch_dispatch(case_id: int):
    data = load_form(
        DispatchIn(), {"unit_id": integer(request.form.get("unit_id", "")), "co_unit_ids": integers("co_unit_ids")}
    )
    co_units = categories.active_units(data["co_unit_ids"], "co_unit_ids")
    unit = units.get(data["unit_id"])
    workflow.dispatch(cases.for_dispatcher(case_id), unit, actor(), co_units)
    return _after(case_id, f"已派遣至{unit.name}")


@bp.post("/dispatch/cases/<int:case_id>/reject")
@dispatcher_only
@form_action("console.dispatch_case")
def dispatch_reject(case_id: int):
    data = load_form(ReasonIn(), {"reason": text("reason")})
    workflow.reject(cases.for_dispatcher(case_id), actor(), data["reason"])
    return _after(case_id, "已作不予受理处理")


@bp.post("/dispatch/cases/<int:case_id>/close")
@dispatcher_only
@form_action("console.dispatch_case")
def dispatch_close(case_id: int):
    workflow.close(cases.for_dispatcher(case_id), actor())
    return _after(case_id, "核查通过，已结案")


@bp.post("/dispatch/cases/<int:case_id>/rework")
@dispatcher_only
@form_action("console.dispatch_case")
def dispatch_rework(case_id: int):
    data = load_form(ReasonIn(), {"reason": text("reason")})
    workflow.rework(cases.for_dispatcher(case_id), actor(), data["reason"])
    return _after(case_id, "已退回返工")


@bp.post("/dispatch/cases/<int:case_id>/comment")
@dispatcher_only
@form_action("console.dispatch_case")
def dispatch_comment(case_id: int):
    data = load_form(CommentIn(), {"content": text("content")})
    workflow.comment(cases.for_dispatcher(case_id), actor(), data["content"])
    return "留言已添加"


@bp.get("/dispatch/supervision")
@dispatcher_only
def dispatch_supervision():
    """督办看板 (挂图作战): late and nearly late cases, per unit, and extension requests to decide."""
    board = SupervisionOut().dump(supervision.overview(**query_args(SupervisionArgs())))
    return render_template("console/dispatch/supervision.html", board=board)


@bp.post("/dispatch/extensions/<int:extension_id>/approve")
@dispatcher_only
@form_action("console.dispatch_supervision")
def dispatch_approve_extension(extension_id: int):
    hours = integer(request.form.get("extra_working_hours", ""))
    data = load_form(ExtensionDecisionIn(), {"note": text("note"), "extra_working_hours": hours or None})
    extensions.approve(extensions.get(extension_id), actor(), data["note"], data["extra_working_hours"])
    return "已批准延期"


@bp.post("/dispatch/extensions/<int:extension_id>/deny")
@dispatcher_only
@form_action("console.dispatch_supervision")
def dispatch_deny_extension(extension_id: int):
    data = load_form(DenyIn(), {"note": text("note")})
    extensions.deny(extensions.get(extension_id), actor(), data["note"])
    return "已驳回延期申请"


@bp.get("/dispatch/notifications")
@dispatcher_only
def dispatch_notifications():
    """Notifications that could not be delivered, to resend."""
    listing = page_of(NotificationOut(), delivery.listing(status=DeliveryStatus.FAILED, **query_args(PageArgs())))
    return render_template("console/dispatch/notifications.html", listing=listing)


@bp.post("/dispatch/notifications/<int:notification_id>/retry")
@dispatcher_only
@form_action("console.dispatch_notifications")
def dispatch_retry_notification(notification_id: int):
    delivery.retry(notification_id)
    return "已重新发送"
