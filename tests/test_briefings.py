"""通报 and 月报: the generated XLSX and DOCX opened and checked against the cases of tests/test_stats.py."""

import hashlib
import io
import zipfile
from datetime import UTC, datetime

from docx import Document
from openpyxl import load_workbook

from backend.extensions import db
from backend.models import Briefing
from backend.models.types import LOCAL_TZ
from backend.services.stats import briefings
from tests.stats_scenario import *  # noqa: F403 - the fixtures clock and november
from tests.stats_scenario import _ok
from workers.queues import GENERATE_DUE_BRIEFINGS, PERIODIC, JobRequest, enqueue_unique


def _generate(api, token, **body):
    return _ok(api.post("/api/v1/admin/briefings", token, json=body), 201)


def _rows(sheet) -> list[tuple]:
    return list(sheet.iter_rows(values_only=True))


def test_monthly_briefing_workbook_has_figures_ranking_overdue_and_charts(api, november):
    briefing = _generate(api, november["dispatcher"], kind="monthly", date="2026-11-15")
    assert (briefing["from"], briefing["to"], briefing["kind"]) == ("2026-11-01", "2026-11-30", "monthly")
    assert briefing["as_of"] == "2026-12-01T00:00:00+08:00"  # the period is over: measured at its end
    assert "月报" in briefing["title"] and "2026年11月" in briefing["title"]
    leader = api.login_staff("leader")
    response = api.get(briefing["files"]["xlsx"], leader)
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    assert hashlib.sha256(response.data).hexdigest() == briefing["xlsx_sha256"]
    wb = load_workbook(io.BytesIO(response.data))
    assert wb.sheetnames == ["概况", "单位考核", "排名", "超期案件", "每日受理", "问题类别"]

    units = _rows(wb["单位考核"])
    header = units[0]
    rows = {row[0]: dict(zip(header, row, strict=True)) for row in units[1:]}
    street = rows["大河中路街道"]
    assert (street["派遣数"], street["退单数"], street["按期处置数"], street["按期处置率"]) == (2, 1, 1, 0.5)
    assert (street["结案率"], street["返工数"], street["满意率"], street["平均处置工时"]) == (1, 1, 0.5, 25.5)
    assert rows["合计"]["派遣数"] == 5 and rows["合计"]["超期在办"] == 3
    assert wb["单位考核"]["J2"].number_format == "0.0%"

    ranking = _rows(wb["排名"])
    assert [row[:2] for row in ranking[1:4]] == [(1, "大河中路街道"), (2, "区生态环境局"), (3, "区综合行政执法局")]
    assert ranking[5][:2] == ("红榜", None) and ranking[6][1] == "大河中路街道"
    assert any(row[0] == "黑榜" for row in ranking)

    overdue = _rows(wb["超期案件"])[1:]
    hours = {(row[0], row[9]): row[7] for row in overdue}
    # working hours past the deadline at 1 December 00:00 (E, C) or at the late reply (B)
    assert hours[("区综合行政执法局", "超期在办")] == 142
    assert hours[("大河中路街道", "超期反馈")] == 16
    ecology = sorted(row[7] for row in overdue if row[0] == "区生态环境局")
    assert ecology[-2] == 119 and len(ecology) == 2  # E, and F from October, still open

    daily = _rows(wb["每日受理"])
    assert len(daily) == 31 and daily[2][:3] == ("2026-11-02", 5, 5)
    kinds = {row[0]: row[1] for row in _rows(wb["问题类别"])[1:]}
    assert kinds == {"牛皮癣小广告": 3, "扬尘": 2}

    charts = [chart for sheet in wb for chart in sheet._charts]
    assert len(charts) == 3
    package = zipfile.ZipFile(io.BytesIO(response.data))
    chart_xml = b"".join(package.read(n) for n in package.namelist() if n.startswith("xl/charts/chart"))
    assert chart_xml.count(b"<barChart>") == 2 and chart_xml.count(b"<lineChart>") == 1
    # the on-time chart plots the 按期处置率 column of the units sheet
    assert "'单位考核'!$J$2:$J$4".encode() in chart_xml


def test_briefing_document_names_overdue_cases_by_unit(api, november):
    briefing = _generate(api, november["dispatcher"], kind="monthly", date="2026-11-01")
    response = api.get(briefing["files"]["docx"], api.login_staff("leader"))
    assert response.status_code == 200
    document = Document(io.BytesIO(response.data))
    text = "\n".join(p.text for p in document.paragraphs)
    assert "本期共派遣案件 5 件，退单 1 件" in text and "按期处置率 40.0%" in text
    assert "红榜（表扬）：大河中路街道" in text and "黑榜（通报批评）：区综合行政执法局" in text
    assert "区生态环境局（2 件）" in text and "区综合行政执法局（1 件）" in text
    headline, ranking, *by_unit = document.tables
    assert [c.text for c in headline.rows[1].cells] == ["派遣数", "5"]
    assert [c.text for c in ranking.rows[1].cells][:3] == ["1", "大河中路街道", "59.17"]
    assert len(ranking.rows) == 4
    numbers = {row.cells[0].text for table in by_unit for row in table.rows[1:]}
    assert len(numbers) == 4  # B (late reply), C, E, F
    assert document.core_properties.created.replace(tzinfo=None) == datetime(2026, 11, 30, 16)  # as_of, in UTC


def test_regenerating_from_the_same_data_gives_the_same_bytes(app, api, november, media_root):
    first = _generate(api, november["dispatcher"], kind="biweekly", date="2026-11-03")
    assert (first["from"], first["to"]) == ("2026-11-01", "2026-11-15")
    files = [api.get(first["files"][kind], november["dispatcher"]).data for kind in ("xlsx", "docx")]
    again = _generate(api, november["dispatcher"], kind="biweekly", date="2026-11-10")
    assert again["id"] == first["id"]
    assert (again["xlsx_sha256"], again["docx_sha256"]) == (first["xlsx_sha256"], first["docx_sha256"])
    assert [api.get(again["files"][kind], november["dispatcher"]).data for kind in ("xlsx", "docx")] == files
    listing = _ok(api.get("/api/v1/admin/briefings", api.login_staff("leader")))
    assert listing["total"] == 1 and listing["items"][0]["id"] == first["id"]
    assert api.get("/api/v1/admin/briefings/999999", november["dispatcher"]).status_code == 404


def test_scheduled_briefings_on_the_first_at_eight(app, api, november):
    def local(text):
        return datetime.fromisoformat(text).replace(tzinfo=LOCAL_TZ)

    with app.app_context():
        before = {(k, p.start.isoformat()) for k, p in briefings.due(local("2026-12-01 07:59"))}
        assert ("monthly", "2026-11-01") not in before
        made = briefings.generate_due(local("2026-12-01 08:00"))
        kinds = {(b.kind, b.period_start.isoformat(), b.period_end.isoformat()) for b in map(_get, made)}
        assert kinds == {("monthly", "2026-11-01", "2026-11-30"), ("biweekly", "2026-11-16", "2026-11-30")}
        assert briefings.generate_due(local("2026-12-01 09:00")) == []
        assert {(k, p.start.isoformat()) for k, p in briefings.due(local("2026-12-16 08:00"))} == {
            ("biweekly", "2026-12-01")
        }


def _get(briefing_id: int) -> Briefing:
    return db.session.get(Briefing, briefing_id)


def test_the_periodic_job_runs_through_rq(app, redis, run_jobs, november):
    with app.app_context():
        expected = {(str(kind), period.start) for kind, period in briefings.due(datetime.now(UTC))}
    assert ("monthly", 1) in {(kind, start.day) for kind, start in expected}
    enqueue_unique(redis, JobRequest(PERIODIC, GENERATE_DUE_BRIEFINGS, (), "periodic-briefings-test"))
    run_jobs()
    with app.app_context():
        made = {(str(b.kind), b.period_start) for b in db.session.scalars(db.select(Briefing))}
        assert made == expected
    run_jobs()  # nothing left to do
    enqueue_unique(redis, JobRequest(PERIODIC, GENERATE_DUE_BRIEFINGS, (), "periodic-briefings-again"))
    run_jobs()
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Briefing)) == len(expected)


def test_leader_reads_but_cannot_generate(api, november):
    leader = api.login_staff("leader")
    response = api.post("/api/v1/admin/briefings", leader, json={"kind": "monthly"})
    assert response.status_code == 403
    bad = api.post("/api/v1/admin/briefings", november["dispatcher"], json={"kind": "yearly"})
    assert bad.status_code == 422
    body = {"kind": "custom", "from": "2026-11-02", "to": "2026-11-03"}
    custom = api.post("/api/v1/admin/briefings", november["dispatcher"], json=body)
    assert custom.status_code == 201 and custom.json["from"] == "2026-11-02"
