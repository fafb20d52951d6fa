"""Query parameters of the figures, briefings and export endpoints, and the briefing as listed."""

from marshmallow import Schema, fields, validate

from backend.models import BriefingKind, UnitKind
from backend.schemas.case import AdminCaseArgs
from backend.schemas.common import Day, LocalDateTime, PageArgs


class StatsArgs(Schema):
    start = Day(data_key="from", load_default=None)
    end = Day(data_key="to", load_default=None)
    period = fields.String(load_default=None, validate=validate.OneOf(["day", "week", "month"]))
    day = Day(data_key="date", load_default=None)
    category = fields.String(load_default=None, validate=validate.Length(max=64))
    region = fields.String(load_default=None, validate=validate.Length(max=64))


class UnitStatsArgs(StatsArgs):
    by = fields.String(load_default="unit", validate=validate.OneOf(["unit", "category", "region"]))


class TrendArgs(StatsArgs):
    unit_id = fields.Integer(load_default=None, validate=validate.Range(min=1, max=2**31 - 1))


class HotspotArgs(StatsArgs):
    kind = fields.String(load_default=None, validate=validate.OneOf([k.value for k in UnitKind]))


class BriefingArgs(PageArgs):
    kind = fields.Enum(BriefingKind, by_value=True, load_default=None)


class BriefingIn(Schema):
    kind = fields.Enum(BriefingKind, by_value=True, required=True)
    day = Day(data_key="date", load_default=None)
    start = Day(data_key="from", load_default=None)
    end = Day(data_key="to", load_default=None)


class BriefingOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    title = fields.String()
    period_start = fields.Date(data_key="from")
    period_end = fields.Date(data_key="to")
    as_of = LocalDateTime()
    generated_at = LocalDateTime()
    xlsx_sha256 = fields.String()
    docx_sha256 = fields.String()
    files = fields.Method("_files")

    def _files(self, briefing) -> dict:
        base = f"/api/v1/admin/briefings/{briefing.id}"
        return {"xlsx": f"{base}/xlsx", "docx": f"{base}/docx"}


class CaseExportArgs(AdminCaseArgs):
    """The dispatcher's list filters; paging does not apply to an export."""

    class Meta:
        exclude = ("page", "per_page", "after_id")
