"""Case lists: summary items, constant statements per page, keyset paging, the unit's union, date filters."""

from datetime import timedelta

import pytest
from sqlalchemy import event

from backend.extensions import db
from backend.models import Case
from backend.models.types import LOCAL_TZ, utcnow
from tests.helpers import DAHEZHONGLU, RENHE_TOWN, jpeg_bytes
from tests.test_responsibility_map import RENHE_COMMUNITY

LISTS = {
    "citizen": "/api/v1/reports/mine",
    "unit": "/api/v1/unit/cases",
    "dispatcher": "/api/v1/admin/cases",
}


@pytest.fixture
def people(api):
    return {
        "citizen": api.login_citizen(),
        "unit": api.login_staff("dahezhonglu"),
        "dispatcher": api.login_staff("dispatcher"),
    }


def _submit(api, run_jobs, citizen, n, **kwargs):
    ids = [
        api.submit_ok(citizen, photo_ids=[api.upload_ok(citizen, jpeg_bytes(64, 48))], **kwargs)["id"] for _ in range(n)
    ]
    run_jobs()
    return ids


def _statements(app, call):
    seen = []
    with app.app_context():
        engine = db.engine
    listener = lambda *args, **kwargs: seen.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        response = call()
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert response.status_code == 200, response.json
    return len(seen)


def test_list_items_read_as_rows_equal_the_summary_of_the_case(app, api, run_jobs, people):
    """List items are built from plain rows (casework.cases.CaseSummary), not ORM objects: each must show exactly
    what the summary schema shows for the Case itself, in every state a list meets."""
    from backend.schemas.case import CitizenReportSummaryOut, StaffCaseSummaryOut
    from backend.services.casework import cases
    from tests.helpers import OUTSIDE
    from tests.test_responsibility_map import RENHE_COMMUNITY

    citizen = people["citizen"]
    two_photos = [api.upload_ok(citizen), api.upload_ok(citizen)]
    with_co_units = api.submit_ok(citizen, category="street_vendor", location=RENHE_COMMUNITY)["id"]
    closed = api.submit_ok(citizen, photo_ids=two_photos)["id"]
    unrouted = api.submit_ok(citizen, location=OUTSIDE)["id"]
    run_jobs()
    unit = people["unit"]
    assert api.post(f"/api/v1/unit/cases/{closed}/accept", unit).status_code == 200
    assert api.post(f"/api/v1/unit/cases/{closed}/reply", unit, json={"content": "已清理"}).status_code == 200
    rated = api.post(f"/api/v1/reports/{closed}/rating", citizen, json={"rating": "basic", "comment": "还行"})
    assert rated.status_code == 200

    def same(item, schema, case_id):
        with app.test_request_context():
            expected = schema.dump(cases.for_dispatcher(case_id))
        got = dict(item)
        for answer in (expected, got):  # working hours left move with the clock between the two reads
            answer.pop("working_hours_left", None)
        assert got == expected, case_id

    mine = api.get(LISTS["citizen"], citizen).json["items"]
    assert [item["id"] for item in mine] == [unrouted, closed, with_co_units]
    for item in mine:
        same(item, CitizenReportSummaryOut(), item["id"])
    listed = api.get(LISTS["dispatcher"], people["dispatcher"]).json["items"]
    for item in listed:
        same(item, StaffCaseSummaryOut(), item["id"])
    by_id = {item["id"]: item for item in listed}
    assert by_id[unrouted]["unit"] is None and by_id[unrouted]["status"] == "pending"
    assert len(by_id[with_co_units]["co_units"]) == 3
    assert by_id[closed]["rating"]["rating"] == "basic" and len(by_id[closed]["photos"]) == 2
    for item in api.get(LISTS["unit"], unit).json["items"]:
        same(item, StaffCaseSummaryOut(), item["id"])


def test_list_items_are_summaries_with_thumbnails_only(api, run_jobs, people):
    _submit(api, run_jobs, people["citizen"], 1)
    for role, path in LISTS.items():
        item = api.get(path, people[role]).json["items"][0]
        assert "timeline" not in item and "reply" not in item, role
        assert set(item["photos"][0]) == {"id", "thumb_url"}, role
        assert item["status"] == "dispatched" and item["number"] and item["category"]["code"] == "illegal_ad"
    staff_item = api.get(LISTS["unit"], people["unit"]).json["items"][0]
    assert {"deadline", "overdue", "escalation_level", "unit", "co_units"} <= set(staff_item)
    assert "reporter_id" not in staff_item and "openid" not in staff_item


def test_statements_per_list_page_do_not_grow_with_the_page(app, api, run_jobs, people):
    _submit(api, run_jobs, people["citizen"], 2)
    small = {role: _statements(app, lambda p=path, r=role: api.get(p, people[r])) for role, path in LISTS.items()}
    _submit(api, run_jobs, people["citizen"], 8)
    large = {role: _statements(app, lambda p=path, r=role: api.get(p, people[r])) for role, path in LISTS.items()}
    assert small == large


def test_keyset_pages_walk_every_case_once_in_offset_order(api, run_jobs, people):
    ids = _submit(api, run_jobs, people["citizen"], 7)
    for role, path in LISTS.items():
        walked, after = [], None
        while True:
            query = f"{path}?per_page=3" + (f"&after_id={after}" if after else "")
            page = api.get(query, people[role]).json
            assert page["total"] == 7
            walked += [item["id"] for item in page["items"]]
            after = page["next_after_id"]
            if after is None:
                break
        assert walked == sorted(ids, reverse=True), role
        by_offset = [api.get(f"{path}?per_page=3&page={n}", people[role]).json["items"] for n in (1, 2, 3)]
        assert [item["id"] for page in by_offset for item in page] == walked
    assert api.get(f"{LISTS['citizen']}?after_id=0", people["citizen"]).status_code == 422


def test_totals_stop_at_the_count_cap_and_say_so(app, api, run_jobs, people):
    ids = _submit(api, run_jobs, people["citizen"], 7)
    app.config["LIST_COUNT_CAP"] = 5
    for role, path in LISTS.items():
        capped = api.get(f"{path}?per_page=3", people[role]).json
        assert (capped["total"], capped["total_exact"]) == (5, False), role
        beyond_the_cap = api.get(f"{path}?per_page=3&page=3", people[role]).json
        assert [item["id"] for item in beyond_the_cap["items"]] == [min(ids)], role
    app.config["LIST_COUNT_CAP"] = 7
    for role, path in LISTS.items():
        exact = api.get(path, people[role]).json
        assert (exact["total"], exact["total_exact"]) == (7, True), role


def test_every_paged_list_caps_its_count(app, api, run_jobs, people):
    _submit(api, run_jobs, people["citizen"], 3)  # three dispatches: three notifications in the unit's inbox
    inbox = "/api/v1/unit/notifications?per_page=1"
    exact = api.get(inbox, people["unit"]).json
    assert (exact["total"], exact["total_exact"]) == (3, True)
    app.config["LIST_COUNT_CAP"] = 2
    capped = api.get(inbox, people["unit"]).json
    assert (capped["total"], capped["total_exact"], len(capped["items"])) == (2, False, 1)
    assert len(api.get(f"{inbox}&page=3", people["unit"]).json["items"]) == 1


def test_unit_list_unions_led_and_co_handled_cases(api, run_jobs):
    citizen = api.login_citizen()
    co_handled = _submit(api, run_jobs, citizen, 1, category="street_vendor", location=RENHE_COMMUNITY)
    _submit(api, run_jobs, citizen, 1, category="dust", location=RENHE_TOWN)  # another unit's case
    commerce = api.login_staff("renhe-commerce")
    assert [c["id"] for c in api.get("/api/v1/unit/cases", commerce).json["items"]] == co_handled
    assert api.get("/api/v1/unit/cases?role=lead", commerce).json["total"] == 0
    lead = api.login_staff("renhe-enforcement")
    everything = api.get("/api/v1/unit/cases", lead).json
    assert [c["id"] for c in everything["items"]] == co_handled and everything["total"] == 1
    assert api.get("/api/v1/unit/cases?status=processing", lead).json["total"] == 0
    assert api.get("/api/v1/unit/cases?status=dispatched&role=lead", lead).json["total"] == 1


def test_dispatcher_filters_by_creation_day_in_china_time(app, api, run_jobs, people):
    old, new = _submit(api, run_jobs, people["citizen"], 2, location=DAHEZHONGLU)
    with app.app_context():
        db.session.get(Case, old).created_at = utcnow() - timedelta(days=10)
        db.session.commit()
    today = utcnow().astimezone(LOCAL_TZ).date()
    ten_days_ago = today - timedelta(days=10)

    def ids(query):
        return [c["id"] for c in api.get(f"/api/v1/admin/cases?{query}", people["dispatcher"]).json["items"]]

    assert ids(f"created_from={today}") == [new]
    assert ids(f"created_to={ten_days_ago}") == [old]
    assert ids(f"created_from={ten_days_ago}&created_to={today}") == [new, old]
    bad = api.get("/api/v1/admin/cases?created_from=yesterday", people["dispatcher"])
    assert bad.status_code == 422 and "created_from" in bad.json["error"]["fields"]
