"""The whole loop through HTTP: report → routed by a worker → unit accepts and replies → citizen rates → closed."""

from tests.helpers import DAHEZHONGLU, RENHE_TOWN, jpeg_bytes


def test_report_is_routed_handled_replied_rated_and_closed(api, run_jobs):
    citizen = api.login_citizen()
    report = api.submit_ok(citizen, category="illegal_ad", location=DAHEZHONGLU)
    assert report["status"] == "pending"
    assert report["unit"] is None
    assert report["number"].endswith(f"{report['id']:06d}")
    assert [event["type"] for event in report["timeline"]] == ["submitted"]

    assert run_jobs() >= 2  # the photo and the routing job
    report = api.get(f"/api/v1/reports/{report['id']}", citizen).json
    assert report["status"] == "dispatched"
    assert report["unit"] == {"name": "大河中路街道"}

    unit = api.login_staff("dahezhonglu")
    listed = api.get("/api/v1/unit/cases", unit).json
    assert [case["id"] for case in listed["items"]] == [report["id"]]
    case = api.get(f"/api/v1/unit/cases/{report['id']}", unit).json
    assert case["deadline"] is not None
    assert "规则" in case["timeline"][-1]["data"]["reason"]

    case = api.post(f"/api/v1/unit/cases/{report['id']}/accept", unit).json
    assert case["status"] == "processing"
    after_photo = api.upload_ok(unit, jpeg_bytes(800, 600))
    case = api.post(
        f"/api/v1/unit/cases/{report['id']}/reply",
        unit,
        json={"content": "已清除小广告 12 处", "photo_ids": [after_photo]},
    ).json
    assert case["status"] == "replied"

    report = api.get(f"/api/v1/reports/{report['id']}", citizen).json
    assert report["status"] == "replied"
    assert report["reply"]["content"] == "已清除小广告 12 处"
    assert [photo["id"] for photo in report["reply"]["photos"]] == [after_photo]
    assert [event["type"] for event in report["timeline"]] == ["submitted", "dispatched", "accepted", "replied"]

    report = api.post(f"/api/v1/reports/{report['id']}/rating", citizen, json={"rating": "satisfied"}).json
    assert report["status"] == "closed"
    assert report["rating"]["rating"] == "satisfied"
    assert report["timeline"][-1]["type"] == "closed"

    mine = api.get("/api/v1/reports/mine", citizen).json
    assert mine["total"] == 1 and mine["items"][0]["status"] == "closed"


def test_category_rule_routes_to_lead_department(api, run_jobs):
    citizen = api.login_citizen()
    report = api.submit_ok(citizen, category="dust", location=RENHE_TOWN)
    run_jobs()
    assert api.get(f"/api/v1/reports/{report['id']}", citizen).json["unit"] == {"name": "区生态环境局"}


def test_every_default_category_anywhere_in_the_district_is_dispatched(api, run_jobs):
    citizen = api.login_citizen()
    ids = []
    for lat in (26.45, 26.50, 26.55):
        for lng in (101.68, 101.72, 101.75, 101.80):
            for category in ("illegal_ad", "street_vendor", "dust"):
                location = {"lat": lat, "lng": lng, "coord": "gcj02"}
                ids.append(api.submit_ok(citizen, category=category, location=location)["id"])
    run_jobs()
    statuses = {api.get(f"/api/v1/reports/{i}", citizen).json["status"] for i in ids}
    assert statuses == {"dispatched"}


def test_a_reply_with_a_photo_it_may_not_use_is_refused_and_changes_nothing(api, run_jobs):
    citizen = api.login_citizen()
    case_id = api.submit_ok(citizen)["id"]
    run_jobs()
    unit = api.login_staff("dahezhonglu")
    assert api.post(f"/api/v1/unit/cases/{case_id}/accept", unit).status_code == 200
    citizens_photo = api.upload_ok(citizen)
    own = api.upload_ok(unit)

    refused = api.post(
        f"/api/v1/unit/cases/{case_id}/reply", unit, json={"content": "已清理", "photo_ids": [own, citizens_photo]}
    )
    assert refused.status_code == 422
    assert refused.json["error"]["fields"]["photo_ids"] == [f"图片 {citizens_photo} 不存在"]
    case = api.get(f"/api/v1/unit/cases/{case_id}", unit).json
    assert case["status"] == "processing" and case["reply"] is None

    replied = api.post(f"/api/v1/unit/cases/{case_id}/reply", unit, json={"content": "已清理", "photo_ids": [own]})
    assert replied.status_code == 200
    assert [photo["id"] for photo in replied.json["reply"]["photos"]] == [own]
    again = api.post(f"/api/v1/unit/cases/{case_id}/reply", unit, json={"content": "x", "photo_ids": [own]})
    assert again.status_code in (409, 422)
