"""The dispatcher's case list as CSV or XLSX: the same filters, formula-safe cells (exports.safe_cell),
and nothing that identifies the reporter (报告人保护)."""

import io
from collections.abc import Iterator

from openpyxl import Workbook
from sqlalchemy.orm import selectinload

from backend.extensions import db
from backend.models import Case
from backend.models.types import local_time
from backend.services.casework import cases
from backend.services.casework.workflow import STATUS_NAMES
from backend.services.exports import csv_text, safe_cell

HEADER = [
    "案件编号",
    "状态",
    "问题类别",
    "地址",
    "问题描述",
    "责任单位",
    "受理时间",
    "处置时限",
    "反馈时间",
    "结案时间",
    "评价",
    "督办级别",
]
RATING_NAMES = {"satisfied": "满意", "basic": "基本满意", "unsatisfied": "不满意"}
MAX_ROWS = 100_000


def _time(at) -> str:
    return local_time(at) if at else ""


def rows(**filters) -> Iterator[list]:
    query = (
        cases.dispatcher_filter(db.select(Case), **filters)
        .options(selectinload(Case.category), selectinload(Case.unit))
        .order_by(Case.id)
        .limit(MAX_ROWS)
    )
    for case in db.session.scalars(query):
        yield [
            case.number,
            STATUS_NAMES[case.status],
            case.category.name,
            case.address,
            case.description,
            case.unit.name if case.unit else "",
            _time(case.created_at),
            _time(case.deadline_at),
            _time(case.replied_at),
            _time(case.closed_at),
            RATING_NAMES.get(str(case.rating), "") if case.rating else "",
            case.escalation_level,
        ]


def as_csv(**filters) -> str:
    return csv_text(HEADER, rows(**filters))


def as_xlsx(**filters) -> bytes:
    wb = Workbook(write_only=True)
    sheet = wb.create_sheet("案件")
    sheet.append(HEADER)
    for row in rows(**filters):
        sheet.append([safe_cell(value) for value in row])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
