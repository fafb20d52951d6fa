"""Cases as citizens see them (their own report) and as staff see them (never the reporter)."""

from marshmallow import Schema, ValidationError, fields, post_load, validate
from werkzeug.datastructures import FileStorage

from backend.models import CaseStatus, CoordSystem, EventType, Rating
from backend.models.types import utcnow
from backend.schemas.auth import UnitRefOut
from backend.schemas.common import Day, LocalDateTime, PageArgs, local_iso
from backend.schemas.photo import PhotoRefOut, PhotoThumbOut
from backend.services.casework import deadlines

# What a citizen's timeline leaves out: internal routing chatter between units and dispatchers.
INTERNAL_EVENTS = {
    EventType.RETURNED,
    EventType.ROUTING_UNMATCHED,
    EventType.COMMENTED,
    EventType.REMINDED,
    EventType.OVERDUE,
    EventType.EXTENSION_REQUESTED,
    EventType.EXTENSION_APPROVED,
    EventType.EXTENSION_DENIED,
}


class LocationIn(Schema):
    lat = fields.Float(required=True, validate=validate.Range(min=-90, max=90), allow_nan=False)
    lng = fields.Float(required=True, validate=validate.Range(min=-180, max=180), allow_nan=False)
    coord = fields.String(required=True, validate=validate.OneOf([c.value for c in CoordSystem]))


class ReportIn(Schema):
    category = fields.String(required=True, validate=validate.Length(min=1, max=64))
    description = fields.String(load_default="", validate=validate.Length(max=1000))
    location = fields.Nested(LocationIn, required=True)
    address = fields.String(load_default="", validate=validate.Length(max=255))
    photo_ids = fields.List(
        fields.Integer(strict=True), required=True, validate=validate.Length(min=1, max=9, error="请上传 1 至 9 张照片")
    )


class UploadedFile(fields.Field):
    """A file part of a multipart body (a text field of that name is not a file)."""

    def __init__(self, **kwargs):
        super().__init__(metadata={"type": "string", "format": "binary"}, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, FileStorage):
            raise ValidationError(f"缺少文件字段 {attr}")
        return value


class IdList(fields.Field):
    """Ids in one form value, comma-separated ("101,102"): wx.uploadFile sends every formData value as a string."""

    MAX_DIGITS = 12

    def __init__(self, *, max_items: int, too_many: str, **kwargs):
        pattern = r"^\s*(\d+\s*(,\s*\d+\s*)*)?$"
        description = f"comma-separated ids, at most {max_items}"
        super().__init__(metadata={"type": "string", "pattern": pattern, "description": description}, **kwargs)
        self.max_items, self.too_many = max_items, too_many

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise ValidationError("必须是以逗号分隔的整数")
        parts = [part.strip() for part in value.split(",")]
        if parts == [""]:
            return []
        if not all(part.isascii() and part.isdigit() and len(part) <= self.MAX_DIGITS for part in parts):
            raise ValidationError("必须是以逗号分隔的整数")
        if len(parts) > self.max_items:
            raise ValidationError(self.too_many)
        return [int(part) for part in parts]


class ReportFormIn(Schema):
    """POST /reports as multipart/form-data: one wx.uploadFile call carries the report and its first photo.

    The fields of ReportIn, flat (`lat`, `lng`, `coord` instead of `location`); `photo_ids` names up to 8 more
    photos uploaded before with POST /photos. Loads into ReportIn's shape, with the file under `file`.
    """

    file = UploadedFile(required=True, error_messages={"required": "缺少文件字段 file"})
    category = fields.String(required=True, validate=validate.Length(min=1, max=64))
    description = fields.String(load_default="", validate=validate.Length(max=1000))
    lat = fields.Float(required=True, validate=validate.Range(min=-90, max=90), allow_nan=False)
    lng = fields.Float(required=True, validate=validate.Range(min=-180, max=180), allow_nan=False)
    coord = fields.String(required=True, validate=validate.OneOf([c.value for c in CoordSystem]))
    address = fields.String(load_default="", validate=validate.Length(max=255))
    photo_ids = IdList(max_items=8, too_many="请上传 1 至 9 张照片", load_default=list)

    @post_load
    def as_report(self, data: dict, **kwargs) -> dict:
        location = {name: data.pop(name) for name in ("lat", "lng", "coord")}
        return {**data, "location": location}


class RatingIn(Schema):
    rating = fields.Enum(Rating, by_value=True, required=True)
    comment = fields.String(load_default="", validate=validate.Length(max=500))


class ReasonIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class ReplyIn(Schema):
    content = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    photo_ids = fields.List(fields.Integer(strict=True), load_default=list, validate=validate.Length(max=9))


class DispatchIn(Schema):
    unit_id = fields.Integer(required=True, strict=True)
    co_unit_ids = fields.List(fields.Integer(strict=True), load_default=list, validate=validate.Length(max=10))


class CommentIn(Schema):
    content = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class CaseListArgs(PageArgs):
    # keyset paging for deep pages: the items after (older than) this case id; `page` is then ignored
    after_id = fields.Integer(load_default=None, validate=validate.Range(min=1))


class UnitCaseArgs(CaseListArgs):
    status = fields.Enum(CaseStatus, by_value=True, load_default=None)
    role = fields.String(load_default=None, validate=validate.OneOf(["lead", "co"]))


class AdminCaseArgs(CaseListArgs):
    status = fields.Enum(CaseStatus, by_value=True, load_default=None)
    unit_id = fields.Integer(load_default=None)
    category = fields.String(load_default=None)
    needs_review = fields.Boolean(load_default=None)
    created_from = Day(load_default=None)  # China Standard Time days, inclusive
    created_to = Day(load_default=None)


class LocationOut(Schema):
    lat = fields.Float()
    lng = fields.Float()
    coord = fields.String()


class UnitNameOut(Schema):
    name = fields.String()


class CitizenEventOut(Schema):
    type = fields.String()
    at = LocalDateTime()
    note = fields.String()
    photos = fields.List(fields.Nested(PhotoRefOut))


class StaffRefOut(Schema):
    id = fields.Integer()
    username = fields.String()


class StaffEventOut(CitizenEventOut):
    actor_kind = fields.String()
    staff = fields.Nested(StaffRefOut, allow_none=True)
    unit = fields.Nested(UnitRefOut, allow_none=True)
    from_status = fields.String(allow_none=True)
    to_status = fields.String(allow_none=True)
    data = fields.Dict()


class ReplyOut(Schema):
    content = fields.String(attribute="note")
    photos = fields.List(fields.Nested(PhotoRefOut))
    at = LocalDateTime()


def _location(case) -> dict:
    return {"lat": case.lat, "lng": case.lng, "coord": str(case.coord)}


def _category(case) -> dict:
    return {"code": case.category.code, "name": case.category.name}


def _rating(case) -> dict | None:
    if case.rating is None:
        return None
    return {"rating": str(case.rating), "comment": case.rating_comment or "", "at": local_iso(case.rated_at)}


class _CaseSummaryBase(Schema):
    """What a list item shows: no timeline, no reply, thumbnails only (a list is read constantly)."""

    id = fields.Integer()
    number = fields.String()
    category = fields.Function(_category)
    status = fields.String()
    description = fields.String()
    location = fields.Function(_location)
    address = fields.String()
    photos = fields.List(fields.Nested(PhotoThumbOut))
    created_at = LocalDateTime()
    rating = fields.Function(_rating)


class _StaffFields(Schema):
    """No reporter_id, openid, name or phone: the fields simply do not exist here."""

    unit = fields.Nested(UnitRefOut, allow_none=True)
    co_units = fields.List(fields.Nested(UnitRefOut))
    deadline = LocalDateTime(attribute="deadline_at", allow_none=True)
    signoff_deadline = LocalDateTime(attribute="signoff_deadline_at", allow_none=True)
    working_hours_left = fields.Function(lambda case: deadlines.working_hours_left(case, utcnow()))
    overdue = fields.Function(lambda case: deadlines.is_overdue(case, utcnow()))
    escalation_level = fields.Integer()
    needs_review = fields.Boolean()
    routing_status = fields.String()
    updated_at = LocalDateTime()
    closed_at = LocalDateTime(allow_none=True)


class CitizenReportSummaryOut(_CaseSummaryBase):
    unit = fields.Nested(UnitNameOut, allow_none=True)


class StaffCaseSummaryOut(_StaffFields, _CaseSummaryBase):
    pass


class _CaseBase(_CaseSummaryBase):
    photos = fields.List(fields.Nested(PhotoRefOut))
    reply = fields.Nested(ReplyOut, attribute="reply_event", allow_none=True)


_CITIZEN_TIMELINE = CitizenEventOut(many=True)  # one instance: a schema's construction costs more than a dump


class CitizenReportOut(_CaseBase):
    unit = fields.Nested(UnitNameOut, allow_none=True)
    timeline = fields.Function(
        lambda case: _CITIZEN_TIMELINE.dump([e for e in case.events if e.type not in INTERNAL_EVENTS])
    )


class StaffCaseOut(_StaffFields, _CaseBase):
    routing_reason = fields.String(allow_none=True)
    timeline = fields.List(fields.Nested(StaffEventOut), attribute="events")
