"""单位工作台: a unit's queue, case page and actions, its figures. The same services and scoping as
backend/api/unit.py: every case is loaded with `cases.for_unit`, so another unit's case answers 404."""

from flask import current_app, render_template, request, url_for

from backend.api.common import actor, query_args
from backend.console import bp, nav
from backend.console.forms import form_action, integer, load_form, text
from backend.console.session import console_login_required, current_staff
from backend.models import StaffRole
from backend.models.types import utcnow
from backend.schemas.case import CommentIn, ReasonIn, ReplyIn, StaffCaseOut, StaffCaseSummaryOut, UnitCaseArgs
from backend.schemas.common import page_of
from backend.schemas.stats import StatsArgs
from backend.schemas.supervision import ExtensionIn
from backend.services.casework import cases, extensions, workflow
from backend.services.media import photos
from backend.services.stats import figures, ranking

UNIT = StaffRole.UNIT_STAFF
nav.add_entry("console.unit_queue", "我的案件", (UNIT,), order=10)
nav.add_entry("console.unit_stats", "考核排名", (UNIT,), order=20)


def _own_case(case_id: int):
    return cases.for_unit(case_id, current_staff().unit_id)


@bp.get("/unit/cases")
@console_login_required(UNIT)
def unit_queue():
    """Open cases, most urgent first; with ?status= every case of the unit in that status, newest first."""
    unit_id = current_staff().unit_id
    args = query_args(UnitCaseArgs())
    if args["status"] is None and args["role"] is None:
        now = utcnow()
        queue = cases.unit_queue(unit_id, now, current_app.config["REMIND_BEFORE_HOURS"])
        items = [{**StaffCaseSummaryOut().dump(item["case"]), "urgency": item["urgency"]} for item in queue]
        return render_template("console/unit/queue.html", items=items, listing=None, status=None)
    listing = page_of(StaffCaseSummaryOut(), cases.list_for_unit(unit_id, **args))
    return render_template("console/unit/queue.html", items=None, listing=listing, status=args["status"])


@bp.get("/unit/cases/<int:case_id>")
@console_login_required(UNIT)
def unit_case(case_id: int):
    case = _own_case(case_id)
    me = actor()
    allowed = {action: workflow.permitted(case, action, me) for action in ("accept", "return", "reply")}
    return render_template(
        "console/case.html",
        case=StaffCaseOut().dump(case),
        mode="unit",
        allowed=allowed,
        is_lead=case.unit_id == me.unit_id,
    )


@bp.post("/unit/cases/<int:case_id>/accept")
@console_login_required(UNIT)
@form_action("console.unit_case")
def unit_accept(case_id: int):
    workflow.accept(_own_case(case_id), actor())
    return "已签收，请尽快处置"


@bp.post("/unit/cases/<int:case_id>/return")
@console_login_required(UNIT)
@form_action("console.unit_case")
def unit_return(case_id: int):
    case = _own_case(case_id)
    data = load_form(ReasonIn(), {"reason": text("reason")})
    workflow.return_case(case, actor(), data["reason"])
    # the case has left the unit: its page would now be a 404
    return "已退单，案件退回重新派遣", url_for("console.unit_queue")


@bp.post("/unit/cases/<int:case_id>/reply")
@console_login_required(UNIT)
@form_action("console.unit_case")
def unit_reply(case_id: int):
    """反馈 with after-photos uploaded from the page: the upload the API's POST /photos makes, then the reply."""
    case = _own_case(case_id)
    uploads = [f for f in request.files.getlist("photos") if f.filename]
    # content and the number of photos are checked before anything is stored
    load_form(ReplyIn(), {"content": text("content"), "photo_ids": list(range(len(uploads)))})
    me = actor()
    # a refused reply (wrong status, a bad second photo …) rolls back its photo rows: their files go too
    with photos.discarded_on_failure([]) as stored:
        for upload in uploads:
            stored.append(photos.accept_upload(upload, me))
        workflow.reply(case, me, text("content"), [photo.id for photo in stored])
    return "已提交处置反馈，等待调度中心核查"


@bp.post("/unit/cases/<int:case_id>/extension")
@console_login_required(UNIT)
@form_action("console.unit_case")
def unit_extension(case_id: int):
    """延期申请."""
    case = _own_case(case_id)
    hours = integer(request.form.get("extra_working_hours", ""))
    data = load_form(ExtensionIn(), {"reason": text("reason"), "extra_working_hours": hours})
    extensions.request(case, actor(), data["reason"], data["extra_working_hours"])
    return "延期申请已提交，等待调度中心审批"


@bp.post("/unit/cases/<int:case_id>/comment")
@console_login_required(UNIT)
@form_action("console.unit_case")
def unit_comment(case_id: int):
    case = _own_case(case_id)
    data = load_form(CommentIn(), {"content": text("content")})
    workflow.comment(case, actor(), data["content"])
    return "留言已添加"


@bp.get("/unit/stats")
@console_login_required(UNIT)
def unit_stats():
    """My figures and rank: what GET /api/v1/unit/stats answers."""
    period, scope, now = figures.scope_of(query_args(StatsArgs()))
    view = ranking.unit_view(current_staff().unit_id, period, scope, now)
    return render_template("console/unit/stats.html", view=view, period_arg=request.args.get("period", ""))
