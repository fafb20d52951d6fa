"""The briefing files: an XLSX workbook (openpyxl, native Excel charts) and a DOCX 通报 (python-docx).

Both are built from one `contents` dict and are byte-for-byte reproducible: document properties carry
the briefing's `as_of`, and every zip entry gets that fixed time (both libraries otherwise stamp "now").
"""

import io
import re
import zipfile
from datetime import UTC, datetime

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Pt
from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from backend.models.types import LOCAL_TZ
from backend.services.exports import safe_cell

PERCENT = "0.0%"
AUTHOR = "随手拍考核系统"
# (key, heading, is a rate) — the per-unit table, in the workbook and in the document
UNIT_COLUMNS = [
    ("received", "派遣数", False),
    ("returned", "退单数", False),
    ("returned_rate", "退单率", True),
    ("signed_on_time", "按时签收数", False),
    ("signoff_on_time_rate", "签收及时率", True),
    ("handled", "处置数", False),
    ("due", "应处置数", False),
    ("handled_on_time", "按期处置数", False),
    ("handled_on_time_rate", "按期处置率", True),
    ("closed", "结案数", False),
    ("closed_rate", "结案率", True),
    ("reworked", "返工数", False),
    ("rework_rate", "返工率", True),
    ("extensions_requested", "延期申请", False),
    ("extensions_granted", "延期批准", False),
    ("supervised_level_1", "督办", False),
    ("supervised_level_2", "二级督办", False),
    ("rated", "评价数", False),
    ("satisfied", "满意数", False),
    ("satisfaction_rate", "满意率", True),
    ("avg_handling_hours", "平均处置工时", False),
    ("open", "在办", False),
    ("overdue", "超期在办", False),
]
OVERDUE_COLUMNS = ["单位", "案件编号", "问题类别", "地址", "派遣时间", "处置时限", "反馈时间"]
OVERDUE_COLUMNS += ["超期工作小时", "督办级别", "状态"]
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _local(at: datetime | None) -> str:
    return "" if at is None else at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


def _header(ws, row: int, names: list[str]) -> None:
    for column, name in enumerate(names, start=1):
        cell = ws.cell(row=row, column=column, value=name)
        cell.font, cell.fill = Font(bold=True), HEADER_FILL
        cell.alignment = Alignment(horizontal="center", wrap_text=True)


def _put(ws, row: int, values: list, rates: set[int] = frozenset()) -> None:
    for column, value in enumerate(values, start=1):
        cell = ws.cell(row=row, column=column, value=safe_cell(value))
        if column in rates and value is not None:
            cell.number_format = PERCENT


def _widths(ws, first: int, others: int, count: int) -> None:
    ws.column_dimensions["A"].width = first
    for column in range(2, count + 1):
        ws.column_dimensions[get_column_letter(column)].width = others


def workbook(contents: dict) -> bytes:
    wb = Workbook()
    summary = wb.active
    summary.title = "概况"
    summary["A1"] = contents["title"]
    summary["A1"].font = Font(bold=True, size=14)
    period = contents["period"]
    summary["A2"] = f"统计区间：{contents['period_label']}（{period['from']} 至 {period['to']}）"
    summary["A3"] = f"数据截至：{_local(contents['as_of'])}"
    _header(summary, 5, ["指标", "数值"])
    total = contents["total"]
    for offset, (key, name, is_rate) in enumerate(UNIT_COLUMNS):
        _put(summary, 6 + offset, [name, total[key]], {2} if is_rate else set())
    _widths(summary, 24, 14, 2)

    units = wb.create_sheet("单位考核")
    _header(units, 1, ["单位", *[name for _, name, _ in UNIT_COLUMNS]])
    rates = {index + 2 for index, (_, _, is_rate) in enumerate(UNIT_COLUMNS) if is_rate}
    for index, item in enumerate(contents["units"], start=2):
        _put(units, index, [item["unit"]["name"], *[item[key] for key, _, _ in UNIT_COLUMNS]], rates)
    last = len(contents["units"]) + 1
    _put(units, last + 1, ["合计", *[total[key] for key, _, _ in UNIT_COLUMNS]], rates)
    units.cell(row=last + 1, column=1).font = Font(bold=True)
    _widths(units, 22, 11, len(UNIT_COLUMNS) + 1)
    units.freeze_panes = "B2"
    if last >= 2:
        on_time = BarChart()
        on_time.type, on_time.title, on_time.y_axis.title = "bar", "各单位按期处置率", "按期处置率"
        column = 2 + [key for key, _, _ in UNIT_COLUMNS].index("handled_on_time_rate")
        on_time.add_data(Reference(units, min_col=column, min_row=1, max_row=last), titles_from_data=True)
        on_time.set_categories(Reference(units, min_col=1, min_row=2, max_row=last))
        on_time.y_axis.number_format, on_time.y_axis.scaling.min, on_time.y_axis.scaling.max = PERCENT, 0, 1
        on_time.height, on_time.width = 3 + 0.6 * (last - 1), 18
        units.add_chart(on_time, f"A{last + 4}")

    board = wb.create_sheet("排名")
    names = ["名次", "单位", "综合得分", "按期处置率", "签收及时率", "结案率", "满意率", "返工率", "退单率", "派遣数"]
    _header(board, 1, names)
    ranking = contents["ranking"]
    for index, row in enumerate(ranking["items"], start=2):
        values = [row["rank"], row["unit"]["name"], row["score"], row["handled_on_time_rate"]]
        values += [row["signoff_on_time_rate"], row["closed_rate"], row["satisfaction_rate"]]
        values += [row["rework_rate"], row["returned_rate"], row["received"]]
        _put(board, index, values, {4, 5, 6, 7, 8, 9})
    row_number = len(ranking["items"]) + 3
    for title, rows in (("红榜", ranking["red_list"]), ("黑榜", ranking["black_list"])):
        board.cell(row=row_number, column=1, value=title).font = Font(bold=True)
        for offset, row in enumerate(rows, start=1):
            _put(board, row_number + offset, [row["rank"], row["unit"]["name"], row["score"]])
        row_number += len(rows) + 2
    weights = "，".join(f"{name} {weight:g}" for name, weight in ranking["weights"].items())
    board.cell(row=row_number, column=1, value=f"权重：{weights}")
    _widths(board, 8, 12, len(names))
    board.column_dimensions["B"].width = 22

    late = wb.create_sheet("超期案件")
    _header(late, 1, OVERDUE_COLUMNS)
    for index, case in enumerate(contents["overdue"], start=2):
        _put(late, index, _overdue_values(case))
    _widths(late, 20, 16, len(OVERDUE_COLUMNS))
    late.column_dimensions["D"].width = 30

    daily = wb.create_sheet("每日受理")
    _header(daily, 1, ["日期", "受理", "派遣", "退单", "反馈", "按期反馈", "结案"])
    for index, day in enumerate(contents["trend"], start=2):
        values = [day["date"], day["reports"], day["received"], day["returned"], day["handled"]]
        _put(daily, index, [*values, day["handled_on_time"], day["closed"]])
    last_day = len(contents["trend"]) + 1
    intake = LineChart()
    intake.title, intake.y_axis.title, intake.x_axis.title = "每日受理与派遣", "件数", "日期"
    intake.add_data(Reference(daily, min_col=2, max_col=3, min_row=1, max_row=last_day), titles_from_data=True)
    intake.set_categories(Reference(daily, min_col=1, min_row=2, max_row=last_day))
    intake.height, intake.width = 8, 22
    daily.add_chart(intake, "I2")
    _widths(daily, 12, 9, 7)

    kinds = wb.create_sheet("问题类别")
    _header(kinds, 1, ["问题类别", "派遣数", "按期处置率", "结案率", "满意率"])
    for index, item in enumerate(contents["categories"], start=2):
        values = [item["category"]["name"], item["received"], item["handled_on_time_rate"]]
        _put(kinds, index, [*values, item["closed_rate"], item["satisfaction_rate"]], {3, 4, 5})
    last_kind = len(contents["categories"]) + 1
    if last_kind >= 2:
        by_kind = BarChart()
        by_kind.type, by_kind.title, by_kind.y_axis.title = "col", "各类问题派遣数", "件数"
        by_kind.add_data(Reference(kinds, min_col=2, min_row=1, max_row=last_kind), titles_from_data=True)
        by_kind.set_categories(Reference(kinds, min_col=1, min_row=2, max_row=last_kind))
        by_kind.height, by_kind.width = 8, 18
        kinds.add_chart(by_kind, "G2")
    _widths(kinds, 18, 12, 5)

    stamp = contents["as_of"].astimezone(UTC).replace(tzinfo=None, microsecond=0)
    wb.properties.creator = wb.properties.lastModifiedBy = AUTHOR
    wb.properties.title = contents["title"]
    wb.properties.created = wb.properties.modified = stamp
    out = io.BytesIO()
    wb.save(out)
    return deterministic_zip(out.getvalue(), contents["as_of"])


def _overdue_values(case: dict) -> list:
    return [
        case["unit"],
        case["number"],
        case["category"],
        case["address"],
        _local(case["assigned_at"]),
        _local(case["deadline_at"]),
        _local(case["replied_at"]),
        case["overdue_hours"],
        case["escalation_level"],
        case["state"],
    ]


def _table(document, header: list[str], rows: list[list]) -> None:
    table = document.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    for cell, name in zip(table.rows[0].cells, header, strict=True):
        cell.text = name
        cell.paragraphs[0].runs[0].font.bold = True
    for values in rows:
        cells = table.add_row().cells
        for cell, value in zip(cells, values, strict=True):
            cell.text = "" if value is None else str(value)


def report(contents: dict) -> bytes:
    document = Document()
    style = document.styles["Normal"]
    style.font.name, style.font.size = "SimSun", Pt(11)
    heading = document.add_heading(contents["title"], level=0)
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    document.add_paragraph(
        f"统计区间：{contents['period_label']}（{contents['period']['from']} 至 {contents['period']['to']}），"
        f"数据截至 {_local(contents['as_of'])}。"
    )
    total = contents["total"]
    document.add_heading("一、总体情况", level=1)
    document.add_paragraph(
        f"本期共派遣案件 {total['received']} 件，退单 {total['returned']} 件；应处置 {total['due']} 件，"
        f"按期处置 {total['handled_on_time']} 件，按期处置率 {_pct(total['handled_on_time_rate'])}；"
        f"结案 {total['closed']} 件，结案率 {_pct(total['closed_rate'])}；返工 {total['reworked']} 件，"
        f"返工率 {_pct(total['rework_rate'])}；满意率 {_pct(total['satisfaction_rate'])}。"
        f"截至目前在办 {total['open']} 件，其中超期 {total['overdue']} 件。"
    )
    headline = [
        ["派遣数", total["received"]],
        ["签收及时率", _pct(total["signoff_on_time_rate"])],
        ["按期处置率", _pct(total["handled_on_time_rate"])],
        ["结案率", _pct(total["closed_rate"])],
        ["返工率", _pct(total["rework_rate"])],
        ["退单率", _pct(total["returned_rate"])],
        ["满意率", _pct(total["satisfaction_rate"])],
        ["督办 / 二级督办", f"{total['supervised_level_1']} / {total['supervised_level_2']}"],
        ["超期在办", total["overdue"]],
    ]
    _table(document, ["指标", "数值"], headline)

    ranking = contents["ranking"]
    document.add_heading("二、单位排名", level=1)
    _table(
        document,
        ["名次", "单位", "综合得分", "按期处置率", "结案率", "满意率", "派遣数"],
        [
            [
                row["rank"],
                row["unit"]["name"],
                f"{row['score']:.2f}",
                _pct(row["handled_on_time_rate"]),
                _pct(row["closed_rate"]),
                _pct(row["satisfaction_rate"]),
                row["received"],
            ]
            for row in ranking["items"]
        ],
    )
    red = "、".join(row["unit"]["name"] for row in ranking["red_list"]) or "无"
    black = "、".join(row["unit"]["name"] for row in ranking["black_list"]) or "无"
    document.add_paragraph(f"红榜（表扬）：{red}。")
    document.add_paragraph(f"黑榜（通报批评）：{black}。")

    document.add_heading("三、超期案件", level=1)
    by_unit: dict[str, list[dict]] = {}
    for case in contents["overdue"]:
        by_unit.setdefault(case["unit"], []).append(case)
    if not by_unit:
        document.add_paragraph("本期无超期案件。")
    for unit_name, cases in by_unit.items():
        document.add_heading(f"{unit_name}（{len(cases)} 件）", level=2)
        _table(
            document,
            ["案件编号", "问题类别", "地址", "处置时限", "超期工作小时", "督办级别", "状态"],
            [
                [
                    c["number"],
                    c["category"],
                    c["address"],
                    _local(c["deadline_at"]),
                    c["overdue_hours"],
                    c["escalation_level"],
                    c["state"],
                ]
                for c in cases
            ],
        )

    props = document.core_properties
    props.author = props.last_modified_by = AUTHOR
    props.title = contents["title"]
    props.created = props.modified = contents["as_of"].replace(microsecond=0)
    props.revision = 1
    out = io.BytesIO()
    document.save(out)
    return deterministic_zip(out.getvalue(), contents["as_of"])


_CORE_TIMES = re.compile(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)")


def deterministic_zip(data: bytes, stamp: datetime) -> bytes:
    """The same package with every entry dated `stamp` and the core properties' times set to it."""
    local = stamp.astimezone(LOCAL_TZ)
    date_time = (max(local.year, 1980), local.month, local.day, local.hour, local.minute, local.second)
    iso = stamp.astimezone(UTC).replace(tzinfo=None, microsecond=0).isoformat()
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            body = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = _CORE_TIMES.sub(lambda m: m.group(1) + iso.encode() + b"Z" + m.group(3), body)
            entry = zipfile.ZipInfo(info.filename, date_time)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            target.writestr(entry, body)
    return out.getvalue()
