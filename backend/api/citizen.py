from flask import Blueprint, request

from backend.api.common import actor, form_body, header_text, json_body, query_args
from backend.api.spec import JSON, MULTIPART, Items, Page, doc
from backend.api.throttle import per_account
from backend.auth import citizen_required, current_principal, writer_required
from backend.extensions import db
from backend.schemas.case import (
    CaseListArgs,
    CitizenReportOut,
    CitizenReportSummaryOut,
    RatingIn,
    ReportFormIn,
    ReportIn,
)
from backend.schemas.catalogue import CategoryOut
from backend.schemas.common import page_of
from backend.schemas.photo import PhotoUploadedOut
from backend.schemas.shapes import PHOTO_UPLOAD, SubscriptionsOut
from backend.schemas.supervision import SubscriptionsIn
from backend.services.casework import cases, intake, workflow
from backend.services.media import photos
from backend.services.notifications import subscriptions

bp = Blueprint("citizen", __name__)

# The schemas of the create, built once: marshmallow copies every declared field when a schema is constructed,
# which cost more than loading or dumping a report (schemas hold no state between calls).
REPORT_IN, REPORT_FORM_IN, REPORT_OUT = ReportIn(), ReportFormIn(), CitizenReportOut()


@bp.get("/categories")
@doc(response=Items(CategoryOut), public=True)
def list_categories():
    return {"items": CategoryOut(many=True).dump(cases.list_categories())}


@bp.post("/photos")
@doc(
    body=PHOTO_UPLOAD,
    response=PhotoUploadedOut,
    status=201,
    errors={
        400: "bad_request invalid_image empty_file",
        413: "file_too_large form_too_large",
        422: "validation_failed",
        429: "rate_limited upload_quota_exceeded",
    },
)
@writer_required
@per_account("PHOTO_UPLOAD_LIMIT", "上传图片太频繁，请稍后再试")
def upload_photo():
    photo = photos.accept_upload(request.files.get("file"), actor())
    answer = PhotoUploadedOut().dump(photo)  # before the commit expires the row: no re-read
    db.session.commit()
    return answer, 201


@bp.post("/reports")
@doc(
    body={JSON: ReportIn, MULTIPART: ReportFormIn},
    response=CitizenReportOut,
    status=201,
    errors={400: "bad_request invalid_image empty_file", 413: "file_too_large form_too_large", 429: "rate_limited"},
)
@citizen_required
@per_account("REPORT_SUBMIT_LIMIT", "提交举报太频繁，请稍后再试")
def submit_report():
    """A JSON report naming uploaded photos, or (multipart, one wx.uploadFile call) the report with its photo."""
    key = header_text("Idempotency-Key", 128)
    if request.mimetype == MULTIPART:
        data = form_body(REPORT_FORM_IN)
        case, created = intake.submit_report(actor(), data, key, upload=data.pop("file"))
    else:
        case, created = intake.submit_report(actor(), json_body(REPORT_IN), key)
    answer = REPORT_OUT.dump(case)  # from what was just written (or the replayed case): no re-read
    db.session.commit()
    return answer, 201 if created else 200


@bp.get("/reports/mine")
@doc(query=CaseListArgs, response=Page(CitizenReportSummaryOut))
@citizen_required
def my_reports():
    args = query_args(CaseListArgs())
    return page_of(CitizenReportSummaryOut(), cases.list_for_reporter(current_principal().id, **args))


@bp.get("/reports/<int:case_id>")
@doc(response=CitizenReportOut, errors={404: "case_not_found"})
@citizen_required
def get_report(case_id: int):
    return CitizenReportOut().dump(cases.for_reporter(case_id, current_principal().id))


@bp.post("/reports/<int:case_id>/rating")
@doc(body=RatingIn, response=CitizenReportOut, errors={404: "case_not_found", 409: "invalid_transition already_rated"})
@citizen_required
def rate_report(case_id: int):
    data = json_body(RatingIn())
    case = cases.for_reporter(case_id, current_principal().id)
    workflow.rate(case, actor(), data["rating"], data["comment"])
    db.session.commit()
    return CitizenReportOut().dump(cases.for_reporter(case_id, current_principal().id))


@bp.get("/subscriptions")
@doc(response=SubscriptionsOut)
@citizen_required
def my_subscriptions():
    """Templates to offer in wx.requestSubscribeMessage, and how many messages the citizen has granted."""
    return {"templates": subscriptions.offered_templates(), "remaining": subscriptions.quotas(current_principal().id)}


@bp.post("/subscriptions")
@doc(body=SubscriptionsIn, response=SubscriptionsOut)
@citizen_required
def grant_subscriptions():
    """The template ids the citizen accepted (the "accept" results of wx.requestSubscribeMessage)."""
    remaining = subscriptions.grant(current_principal().id, json_body(SubscriptionsIn())["template_ids"])
    db.session.commit()
    return {"templates": subscriptions.offered_templates(), "remaining": remaining}
