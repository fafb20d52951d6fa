"""Deadlines in working time, 督办, extension requests and notifications, end to end."""

from datetime import timedelta

import pytest
from werkzeug import Response

from backend.extensions import db
from backend.models import Case, Channel, DeliveryStatus, Notification, SubscriptionQuota
from backend.services.casework import deadlines, supervision
from backend.services.notifications import delivery
from tests.helpers import DAHEZHONGLU, RENHE_TOWN, concurrently

UNIT = "renhe-ecology"  # dust in 仁和镇 goes to 区生态环境局


@pytest.fixture
def wechat(app, httpserver):
    app.config["WECHAT_API_BASE"] = httpserver.url_for("/").rstrip("/")
    httpserver.expect_request("/cgi-bin/stable_token", method="POST").respond_with_json(
        {"access_token": "token-1", "expires_in": 7200}
    )
    return httpserver


@pytest.fixture
def routed_case(api, run_jobs):
    citizen = api.login_citizen()
    case_id = api.submit_ok(citizen, category="dust", location=RENHE_TOWN)["id"]
    run_jobs()
    return citizen, case_id


def _case(app, case_id) -> Case:
    with app.app_context():
        case = db.session.get(Case, case_id)
        db.session.expunge(case)
        return case


def _notifications(app, **filters) -> list[Notification]:
    with app.app_context():
        query = db.select(Notification).filter_by(**filters).order_by(Notification.id)
        rows = db.session.scalars(query).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def _supervise(app, now):
    with app.app_context():
        return supervision.run(now)


def test_deadlines_are_counted_in_working_time(app, routed_case):
    _, case_id = routed_case
    with app.test_request_context():
        case = db.session.get(Case, case_id)
        dispatched_at = next(e.at for e in case.events if e.type == "dispatched")
        calendar = deadlines.calendar()
        assert case.deadline_at == calendar.add_working_hours(dispatched_at, 48)
        assert case.signoff_deadline_at == calendar.add_working_hours(dispatched_at, 2)
        assert calendar.working_hours_between(dispatched_at, case.deadline_at) == pytest.approx(48)


def test_staff_case_shows_deadlines_and_time_left(api, routed_case):
    _, case_id = routed_case
    case = api.get(f"/api/v1/admin/cases/{case_id}", api.login_staff("dispatcher")).json
    assert case["deadline"] and case["signoff_deadline"]
    assert 0 < case["working_hours_left"] <= 48
    assert case["overdue"] is False and case["escalation_level"] == 0


def test_supervision_reminds_escalates_twice_and_never_repeats(app, api, routed_case):
    _, case_id = routed_case
    deadline = _case(app, case_id).deadline_at
    signoff = _case(app, case_id).signoff_deadline_at

    assert _supervise(app, signoff + timedelta(minutes=1))["signoff_overdue"] == 1
    assert _supervise(app, signoff + timedelta(minutes=2))["signoff_overdue"] == 0

    with app.app_context():
        an_hour_before = deadlines.calendar().add_working_hours(deadline - timedelta(hours=2), 1)
    first = _supervise(app, min(an_hour_before, deadline - timedelta(minutes=30)))
    assert first["reminded"] == 1
    assert _supervise(app, deadline - timedelta(minutes=10))["reminded"] == 0

    assert _supervise(app, deadline + timedelta(minutes=1))["escalated"] == 1
    assert _supervise(app, deadline + timedelta(minutes=2))["escalated"] == 0
    case = _case(app, case_id)
    assert case.escalation_level == 1 and case.overdue_at is not None

    later = deadline + timedelta(days=10)
    assert _supervise(app, later)["escalated"] == 1
    assert _supervise(app, later)["escalated"] == 0
    assert _case(app, case_id).escalation_level == 2

    dispatcher = api.login_staff("dispatcher")
    timeline = api.get(f"/api/v1/admin/cases/{case_id}", dispatcher).json["timeline"]
    assert [e["type"] for e in timeline].count("overdue") == 2
    assert [e["type"] for e in timeline].count("reminded") == 2  # sign-off and deadline reminders

    unit_inbox = api.get("/api/v1/unit/notifications", api.login_staff(UNIT)).json["items"]
    kinds = sorted(item["kind"] for item in unit_inbox)
    assert kinds == ["case_assigned", "deadline_reminder", "escalated", "escalated_again", "signoff_overdue"]
    # the second level also goes to the parent unit (the district)
    district = _notifications(app, kind="escalated_again", channel=Channel.IN_APP)
    assert {n.unit_id for n in district} >= {_case(app, case_id).unit_id}
    dispatch_inbox = api.get("/api/v1/admin/inbox?unread=true", dispatcher).json["items"]
    assert {"escalated", "escalated_again", "signoff_overdue"} <= {item["kind"] for item in dispatch_inbox}
    # citizens never see supervision events
    citizen_timeline = api.get(f"/api/v1/reports/{case_id}", routed_case[0]).json["timeline"]
    assert not {"reminded", "overdue"} & {e["type"] for e in citizen_timeline}


def test_supervision_view(app, api, routed_case):
    _, case_id = routed_case
    deadline = _case(app, case_id).deadline_at
    _supervise(app, deadline + timedelta(minutes=1))
    view = api.get("/api/v1/admin/supervision", api.login_staff("dispatcher")).json
    assert [c["id"] for c in view["overdue"]] == [case_id]
    row = next(r for r in view["by_unit"] if r["unit"]["code"] == UNIT)
    assert row["open"] == 1 and row["overdue"] == 1 and row["level_1"] == 1


def test_unit_reads_its_notifications(api, routed_case):
    unit = api.login_staff(UNIT)
    items = api.get("/api/v1/unit/notifications?unread=true", unit).json["items"]
    assert [i["kind"] for i in items] == ["case_assigned"]
    assert api.post(f"/api/v1/unit/notifications/{items[0]['id']}/read", unit).json["read_at"]
    assert api.get("/api/v1/unit/notifications?unread=true", unit).json["total"] == 0
    other = api.login_staff("qianjin-town")
    assert api.post(f"/api/v1/unit/notifications/{items[0]['id']}/read", other).status_code == 404


def test_replied_case_nobody_rated_closes_after_the_configured_days(app, api, routed_case):
    citizen, case_id = routed_case
    unit = api.login_staff(UNIT)
    api.post(f"/api/v1/unit/cases/{case_id}/accept", unit)
    api.post(f"/api/v1/unit/cases/{case_id}/reply", unit, json={"content": "已覆盖裸土并洒水"})
    replied_at = _case(app, case_id).replied_at
    assert _supervise(app, replied_at + timedelta(days=6))["auto_closed"] == 0
    assert _supervise(app, replied_at + timedelta(days=7, minutes=1))["auto_closed"] == 1
    assert _supervise(app, replied_at + timedelta(days=8))["auto_closed"] == 0
    report = api.get(f"/api/v1/reports/{case_id}", citizen).json
    assert report["status"] == "closed" and "自动办结" in report["timeline"][-1]["note"]


def test_a_case_reworked_after_an_unsatisfied_rating_still_closes_by_itself(app, api, routed_case):
    """A defect hunt's finding: after an unsatisfied rating, a rework and a new reply, the citizen cannot rate
    again and auto-close skipped every rated case, so the case stayed replied until a dispatcher acted."""
    citizen, case_id = routed_case
    unit, dispatcher = api.login_staff(UNIT), api.login_staff("dispatcher")
    api.post(f"/api/v1/unit/cases/{case_id}/accept", unit)
    api.post(f"/api/v1/unit/cases/{case_id}/reply", unit, json={"content": "已覆盖裸土"})
    api.post(f"/api/v1/reports/{case_id}/rating", citizen, json={"rating": "unsatisfied", "comment": "仍有扬尘"})
    rated_at = _case(app, case_id).replied_at
    assert _supervise(app, rated_at + timedelta(days=8))["auto_closed"] == 0  # waiting for the dispatcher
    assert api.post(f"/api/v1/admin/cases/{case_id}/rework", dispatcher, json={"reason": "仍有扬尘"}).status_code == 200
    api.post(f"/api/v1/unit/cases/{case_id}/reply", unit, json={"content": "已洒水并覆盖"})
    replied_at = _case(app, case_id).replied_at
    assert _supervise(app, replied_at + timedelta(days=6))["auto_closed"] == 0
    assert _supervise(app, replied_at + timedelta(days=7, minutes=1))["auto_closed"] == 1
    assert api.get(f"/api/v1/reports/{case_id}", citizen).json["status"] == "closed"


def test_extension_request_approved_moves_the_deadline(app, api, routed_case):
    _, case_id = routed_case
    unit, dispatcher = api.login_staff(UNIT), api.login_staff("dispatcher")
    old = _case(app, case_id).deadline_at
    body = {"reason": "需协调住建部门共同处置", "extra_working_hours": 16}
    created = api.post(f"/api/v1/unit/cases/{case_id}/extension", unit, json=body)
    assert created.status_code == 201 and created.json["status"] == "pending"
    again = api.post(f"/api/v1/unit/cases/{case_id}/extension", unit, json=body)
    assert again.status_code == 409 and again.json["error"]["code"] == "extension_pending"
    pending = api.get("/api/v1/admin/extensions", dispatcher).json["items"]
    assert [p["id"] for p in pending] == [created.json["id"]]
    assert api.get("/api/v1/admin/supervision", dispatcher).json["extensions_pending"][0]["id"] == created.json["id"]

    approved = api.post(f"/api/v1/admin/extensions/{created.json['id']}/approve", dispatcher, json={"note": "同意"})
    assert approved.status_code == 200 and approved.json["status"] == "approved"
    with app.test_request_context():
        expected = deadlines.calendar().add_working_hours(old, 16)
    assert _case(app, case_id).deadline_at == expected
    decided = api.post(f"/api/v1/admin/extensions/{created.json['id']}/deny", dispatcher, json={"note": "x"})
    assert decided.status_code == 409
    types = [e["type"] for e in api.get(f"/api/v1/admin/cases/{case_id}", dispatcher).json["timeline"]]
    assert types[-2:] == ["extension_requested", "extension_approved"]
    inbox = api.get("/api/v1/unit/notifications", unit).json["items"]
    assert inbox[0]["kind"] == "extension_decided"


def test_extension_denied_and_only_the_lead_unit_may_ask(app, api, routed_case):
    _, case_id = routed_case
    unit, dispatcher = api.login_staff(UNIT), api.login_staff("dispatcher")
    old = _case(app, case_id).deadline_at
    created = api.post(
        f"/api/v1/unit/cases/{case_id}/extension", unit, json={"reason": "人手不足", "extra_working_hours": 8}
    ).json
    denied = api.post(f"/api/v1/admin/extensions/{created['id']}/deny", dispatcher, json={"note": "请按时办结"})
    assert denied.json["status"] == "denied"
    assert _case(app, case_id).deadline_at == old
    assert api.post(f"/api/v1/admin/extensions/{created['id']}/deny", dispatcher, json={}).status_code == 422
    other = api.login_staff("qianjin-town")
    body = {"reason": "x", "extra_working_hours": 8}
    assert api.post(f"/api/v1/unit/cases/{case_id}/extension", other, json=body).status_code == 404
    bad = api.post(f"/api/v1/unit/cases/{case_id}/extension", unit, json={"reason": "x", "extra_working_hours": 0})
    assert bad.status_code == 422


def test_an_extension_request_belongs_to_the_assignment_it_was_made_in(app, api, routed_case):
    """Found by a defect hunt: a request left pending when the case was dispatched elsewhere could be approved
    after the case came back to the unit, pushing out the new assignment's deadline (and counted as granted in
    figures where it was never requested); meanwhile it blocked a new request with extension_pending."""
    _, case_id = routed_case
    unit, dispatcher = api.login_staff(UNIT), api.login_staff("dispatcher")
    units = {u["code"]: u["id"] for u in api.get("/api/v1/admin/units?per_page=100", dispatcher).json["items"]}
    body = {"reason": "需协调住建部门共同处置", "extra_working_hours": 8}
    stale = api.post(f"/api/v1/unit/cases/{case_id}/extension", unit, json=body).json
    for code in ("qianjin-town", UNIT):
        dispatched = api.post(f"/api/v1/admin/cases/{case_id}/dispatch", dispatcher, json={"unit_id": units[code]})
        assert dispatched.status_code == 200, dispatched.json
    deadline = _case(app, case_id).deadline_at

    approved = api.post(f"/api/v1/admin/extensions/{stale['id']}/approve", dispatcher, json={"note": "同意"})
    assert approved.status_code == 409 and approved.json["error"]["code"] == "invalid_transition"
    assert _case(app, case_id).deadline_at == deadline
    fresh = api.post(f"/api/v1/unit/cases/{case_id}/extension", unit, json=body)
    assert fresh.status_code == 201, fresh.json
    pending = [p["id"] for p in api.get("/api/v1/admin/extensions", dispatcher).json["items"]]
    assert pending == [fresh.json["id"]]  # the stale one was closed when the new one came
    approved = api.post(f"/api/v1/admin/extensions/{fresh.json['id']}/approve", dispatcher, json={"note": "同意"})
    assert approved.status_code == 200
    figures = api.get("/api/v1/unit/stats", unit).json["figures"]  # the first assignment was withdrawn: left out
    assert (figures["extensions_requested"], figures["extensions_granted"]) == (1, 1), figures
    timeline = api.get(f"/api/v1/admin/cases/{case_id}", dispatcher).json["timeline"]
    lapsed = ["处置时限已重新计算（重新派遣或返工），原延期申请失效"]
    assert [e["note"] for e in timeline if e["type"] == "extension_denied"] == lapsed


def test_a_request_made_before_a_rework_cannot_move_the_reworks_deadline(app, api, routed_case):
    """A review finding: a rework starts a new 处置时限 in the same assignment; a request made before the reply
    could still be approved after it and moved the new deadline."""
    _, case_id = routed_case
    unit, dispatcher = api.login_staff(UNIT), api.login_staff("dispatcher")
    api.post(f"/api/v1/unit/cases/{case_id}/accept", unit)
    body = {"reason": "需协调", "extra_working_hours": 8}
    stale = api.post(f"/api/v1/unit/cases/{case_id}/extension", unit, json=body).json
    assert api.post(f"/api/v1/unit/cases/{case_id}/reply", unit, json={"content": "已处置"}).status_code == 200
    assert api.post(f"/api/v1/admin/cases/{case_id}/rework", dispatcher, json={"reason": "仍有扬尘"}).status_code == 200
    deadline = _case(app, case_id).deadline_at
    approved = api.post(f"/api/v1/admin/extensions/{stale['id']}/approve", dispatcher, json={})
    assert approved.status_code == 409 and approved.json["error"]["code"] == "invalid_transition"
    assert _case(app, case_id).deadline_at == deadline
    assert (
        api.post(f"/api/v1/admin/extensions/{stale['id']}/deny", dispatcher, json={"note": "已返工"}).status_code == 200
    )


def test_approving_and_denying_one_extension_at_once_one_wins_the_other_409(app, api, routed_case, database_url):
    """Found by a defect hunt on PostgreSQL: approve and deny wrote the extension and the case rows in opposite
    orders, deadlocked, and the loser answered 503 service_unavailable (6 races in 10)."""
    _, case_id = routed_case
    unit, dispatcher = api.login_staff(UNIT), api.login_staff("dispatcher")
    for round_ in range(4):
        body = {"reason": f"需协调 {round_}", "extra_working_hours": 8}
        extension = api.post(f"/api/v1/unit/cases/{case_id}/extension", unit, json=body).json
        path = f"/api/v1/admin/extensions/{extension['id']}"

        def approve(path=path):
            return api.post(f"{path}/approve", dispatcher, json={"note": "同意"})

        def deny(path=path):
            return api.post(f"{path}/deny", dispatcher, json={"note": "不同意"})

        answers = concurrently(approve, deny)
        assert sorted(a.status_code for a in answers) == [200, 409]
        loser = next(a for a in answers if a.status_code == 409)
        if database_url.startswith("postgresql"):  # it waited on the case row, then saw the decision
            assert loser.json["error"]["code"] == "extension_decided"
        decided = [e for e in api.get("/api/v1/admin/extensions?per_page=100", dispatcher).json["items"]]
        assert extension["id"] not in [e["id"] for e in decided]  # no longer pending
        timeline = api.get(f"/api/v1/admin/cases/{case_id}", dispatcher).json["timeline"]
        decisions = [e for e in timeline if e["type"] in ("extension_approved", "extension_denied")]
        assert len(decisions) == round_ + 1  # one decision recorded per request


def _grant(api, citizen, *kinds):
    ids = [f"tmpl-{kind}" for kind in kinds]
    response = api.post("/api/v1/subscriptions", citizen, json={"template_ids": ids})
    assert response.status_code == 200, response.json
    return response.json


def test_citizen_gets_a_subscribe_message_where_quota_remains(app, api, run_jobs, wechat):
    sent = []

    def send(request):
        sent.append(request.get_json())
        return Response('{"errcode": 0, "errmsg": "ok", "msgid": 1}', content_type="application/json")

    wechat.expect_request("/cgi-bin/message/subscribe/send", method="POST").respond_with_handler(send)
    citizen = api.login_citizen("citizen-openid-1")
    offered = api.get("/api/v1/subscriptions", citizen).json["templates"]
    assert offered["case_dispatched"] == "tmpl-case_dispatched"
    assert _grant(api, citizen, "case_dispatched")["remaining"] == {"tmpl-case_dispatched": 1}
    bad = api.post("/api/v1/subscriptions", citizen, json={"template_ids": ["tmpl-unknown"]})
    assert bad.status_code == 422

    case_id = api.submit_ok(citizen, category="dust", location=RENHE_TOWN)["id"]
    run_jobs()  # routes, which writes the outbox row
    run_jobs()  # delivers it
    assert len(sent) == 1
    message = sent[0]
    assert message["touser"] == "dev-citizen-openid-1"
    assert message["template_id"] == "tmpl-case_dispatched"
    assert message["page"] == f"pages/report/detail?id={case_id}"
    assert message["data"]["phrase3"] == {"value": "已派遣"}
    assert message["data"]["thing2"] == {"value": "扬尘"}
    rows = _notifications(app, case_id=case_id, channel=Channel.WECHAT_SUBSCRIBE)
    assert [r.status for r in rows] == [DeliveryStatus.SENT]
    assert api.get("/api/v1/subscriptions", citizen).json["remaining"] == {"tmpl-case_dispatched": 0}

    # no quota for the reply: nothing is sent, the row says why
    unit = api.login_staff(UNIT)
    api.post(f"/api/v1/unit/cases/{case_id}/accept", unit)
    api.post(f"/api/v1/unit/cases/{case_id}/reply", unit, json={"content": "已处理"})
    run_jobs()
    replied = _notifications(app, case_id=case_id, kind="case_replied", channel=Channel.WECHAT_SUBSCRIBE)
    assert replied[0].status == DeliveryStatus.SKIPPED and len(sent) == 1


def test_refused_subscription_43101_is_skipped_and_clears_the_quota(app, api, run_jobs, wechat):
    wechat.expect_request("/cgi-bin/message/subscribe/send", method="POST").respond_with_json(
        {"errcode": 43101, "errmsg": "user refuse to accept the msg"}
    )
    citizen = api.login_citizen()
    _grant(api, citizen, "case_dispatched", "case_dispatched")
    api.submit_ok(citizen, category="dust", location=RENHE_TOWN)
    run_jobs()
    run_jobs()
    row = _notifications(app, channel=Channel.WECHAT_SUBSCRIBE)[0]
    assert row.status == DeliveryStatus.SKIPPED and "43101" in row.last_error
    with app.app_context():
        assert db.session.scalar(db.select(SubscriptionQuota.remaining)) == 0


def test_webhook_failures_retry_then_end_visible_and_can_be_resent(app, api, run_jobs, httpserver):
    calls = []

    def flaky(request):
        calls.append(request.get_json())
        return Response("busy", status=500)

    app.config["WEBHOOK_ALLOWED_NETWORKS"] = "127.0.0.1/32"  # pytest-httpserver listens on loopback
    httpserver.expect_request("/hook", method="POST").respond_with_handler(flaky)
    dispatcher = api.login_staff("dispatcher")
    units = {u["code"]: u["id"] for u in api.get("/api/v1/admin/units", dispatcher).json["items"]}
    patched = api.client.patch(
        f"/api/v1/admin/units/{units[UNIT]}",
        json={"webhook_url": httpserver.url_for("/hook"), "webhook_kind": "json"},
        headers=api.auth(dispatcher),
    )
    assert patched.status_code == 200, patched.json
    citizen = api.login_citizen()
    api.submit_ok(citizen, category="dust", location=RENHE_TOWN)
    run_jobs(allow_failures=True)  # the webhook's first attempt fails and waits for RQ's retry
    [row] = _notifications(app, channel=Channel.WEBHOOK)
    with app.app_context():
        for _ in range(app.config["NOTIFY_MAX_ATTEMPTS"]):
            try:
                delivery.deliver(row.id)
            except Exception as exc:
                assert "500" in str(exc)
    [row] = _notifications(app, channel=Channel.WEBHOOK)
    assert row.status == DeliveryStatus.FAILED and row.attempts == app.config["NOTIFY_MAX_ATTEMPTS"]
    assert calls[0]["data"]["number"] and "reporter" not in str(calls[0])

    failed = api.get("/api/v1/admin/notifications?status=failed", dispatcher).json
    assert [item["id"] for item in failed["items"]] == [row.id]
    httpserver.clear()
    httpserver.expect_request("/hook", method="POST").respond_with_json({"ok": True})
    assert api.post(f"/api/v1/admin/notifications/{row.id}/retry", dispatcher).json["status"] == "pending"
    run_jobs()
    assert _notifications(app, channel=Channel.WEBHOOK)[0].status == DeliveryStatus.SENT
    assert api.post(f"/api/v1/admin/notifications/{row.id}/retry", dispatcher).status_code == 409


def test_transient_wechat_error_is_retried_and_quota_spent_once(app, api, run_jobs, wechat):
    answers = iter([{"errcode": -1, "errmsg": "system error"}, {"errcode": 0, "errmsg": "ok"}])
    wechat.expect_request("/cgi-bin/message/subscribe/send", method="POST").respond_with_handler(
        lambda request: Response(__import__("json").dumps(next(answers)), content_type="application/json")
    )
    citizen = api.login_citizen()
    _grant(api, citizen, "case_dispatched")
    api.submit_ok(citizen, category="dust", location=RENHE_TOWN)
    run_jobs(allow_failures=True)  # routes; the delivery's first attempt gets -1 and waits for RQ's retry
    row = _notifications(app, channel=Channel.WECHAT_SUBSCRIBE)[0]
    assert row.status == DeliveryStatus.PENDING and row.attempts == 1 and row.next_attempt_at
    with app.app_context():
        delivery.deliver(row.id)  # what the retry does
    row = _notifications(app, channel=Channel.WECHAT_SUBSCRIBE)[0]
    assert row.status == DeliveryStatus.SENT and row.attempts == 2
    assert api.get("/api/v1/subscriptions", citizen).json["remaining"] == {"tmpl-case_dispatched": 0}


def test_running_the_supervision_job_twice_through_rq_sends_nothing_twice(app, api, run_jobs, routed_case, redis):
    from rq import Queue

    _, case_id = routed_case
    deadline = _case(app, case_id).deadline_at
    with app.app_context():
        supervision.run(deadline + timedelta(minutes=1))
    before = len(_notifications(app))
    Queue("periodic", connection=redis).enqueue("workers.jobs.supervision.run_supervision")
    Queue("periodic", connection=redis).enqueue("workers.jobs.supervision.run_supervision")
    run_jobs()
    assert len(_notifications(app)) == before


def test_handled_cases_are_not_shown_as_overdue(app, api, routed_case):
    _, case_id = routed_case
    unit = api.login_staff(UNIT)
    api.post(f"/api/v1/unit/cases/{case_id}/accept", unit)
    case = api.post(f"/api/v1/unit/cases/{case_id}/reply", unit, json={"content": "已处理"}).json
    assert case["working_hours_left"] is None and case["overdue"] is False


def test_a_request_left_behind_by_a_returned_case_can_still_be_denied(app, api, routed_case):
    _, case_id = routed_case
    unit, dispatcher = api.login_staff(UNIT), api.login_staff("dispatcher")
    body = {"reason": "需要更多时间", "extra_working_hours": 8}
    extension = api.post(f"/api/v1/unit/cases/{case_id}/extension", unit, json=body).json
    api.post(f"/api/v1/unit/cases/{case_id}/return", unit, json={"reason": "不属于本单位"})
    approve = api.post(f"/api/v1/admin/extensions/{extension['id']}/approve", dispatcher, json={})
    assert approve.status_code == 409
    deny = api.post(f"/api/v1/admin/extensions/{extension['id']}/deny", dispatcher, json={"note": "案件已退回"})
    assert deny.status_code == 200 and deny.json["status"] == "denied"
    assert api.get("/api/v1/admin/extensions", dispatcher).json["total"] == 0


def test_the_robot_key_in_a_webhook_url_is_never_shown(api):
    dispatcher = api.login_staff("dispatcher")
    units = {u["code"]: u["id"] for u in api.get("/api/v1/admin/units", dispatcher).json["items"]}
    url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=secret-robot-key"
    response = api.client.patch(
        f"/api/v1/admin/units/{units[UNIT]}",
        json={"webhook_url": url, "webhook_kind": "wecom"},
        headers=api.auth(dispatcher),
    )
    assert response.status_code == 200 and "secret-robot-key" not in response.get_data(as_text=True)
    assert "secret-robot-key" not in api.get("/api/v1/admin/units", dispatcher).get_data(as_text=True)
    assert "secret-robot-key" not in api.get("/api/v1/admin/audit?entity=unit", dispatcher).get_data(as_text=True)


def test_a_row_that_keeps_failing_in_unexpected_ways_ends_failed(app, api, routed_case):
    [row] = [n for n in _notifications(app) if n.channel == Channel.IN_APP][:1]
    with app.app_context():
        notification = db.session.get(Notification, row.id)
        notification.status, notification.attempts = DeliveryStatus.PENDING, app.config["NOTIFY_MAX_ATTEMPTS"]
        db.session.commit()
        assert delivery.deliver(row.id).status == DeliveryStatus.FAILED


def _replied_and_reworked(app, api, run_jobs, dispatch_by_hand: bool = False) -> Case:
    citizen, dispatcher, unit = api.login_citizen(), api.login_staff("dispatcher"), api.login_staff("dahezhonglu")
    probe = api.submit_ok(citizen, location=DAHEZHONGLU)["id"]
    run_jobs()
    with app.app_context():
        rule_id = db.session.get(Case, probe).routing_rule_id
    override = {"deadline_hours": 4}
    patched = api.client.patch(f"/api/v1/admin/rules/{rule_id}", json=override, headers=api.auth(dispatcher))
    assert patched.status_code == 200, patched.json
    case_id = api.submit_ok(citizen, location=DAHEZHONGLU)["id"]
    run_jobs()
    if dispatch_by_hand:
        assert api.post(f"/api/v1/unit/cases/{case_id}/return", unit, json={"reason": "不归我管"}).status_code == 200
        run_jobs()
        units = {u["code"]: u["id"] for u in api.get("/api/v1/admin/units", dispatcher).json["items"]}
        body = {"unit_id": units["dahezhonglu"]}
        assert api.post(f"/api/v1/admin/cases/{case_id}/dispatch", dispatcher, json=body).status_code == 200
    assert api.post(f"/api/v1/unit/cases/{case_id}/accept", unit).status_code == 200
    assert api.post(f"/api/v1/unit/cases/{case_id}/reply", unit, json={"content": "ok"}).status_code == 200
    reworked = api.post(f"/api/v1/admin/cases/{case_id}/rework", dispatcher, json={"reason": "again"})
    assert reworked.status_code == 200, reworked.json
    return case_id


def _deadline_after_rework(app, case_id: int) -> tuple:
    with app.app_context():
        case = db.session.get(Case, case_id)
        reworked = next(e.at for e in case.events if e.type == "reworked")
        return case.deadline_at, reworked, case.category.effective_deadline_hours


def test_rework_keeps_the_routing_rules_deadline(app, api, run_jobs):
    case_id = _replied_and_reworked(app, api, run_jobs)
    deadline, reworked, category_hours = _deadline_after_rework(app, case_id)
    with app.app_context():
        assert category_hours != 4
        assert deadline == deadlines.calendar().add_working_hours(reworked, 4)  # the rule's, not the category's


def test_rework_after_a_dispatch_by_hand_takes_the_categorys_deadline(app, api, run_jobs):
    case_id = _replied_and_reworked(app, api, run_jobs, dispatch_by_hand=True)
    deadline, reworked, category_hours = _deadline_after_rework(app, case_id)
    with app.app_context():
        assert deadline == deadlines.calendar().add_working_hours(reworked, category_hours)
