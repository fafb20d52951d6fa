"""有奖举报 end to end: claims on closed cases, abuse signals, approval, the ledger, payouts, protection."""

import csv
import io
import itertools
import json

import pytest

from backend.extensions import db
from backend.models import AuditEntry, Case, LedgerEntry, LedgerKind, PayoutItem, RewardClaim
from backend.services import accounts
from backend.services.rewards import payouts
from tests.helpers import concurrently, jpeg_bytes
from tests.test_wechat_pay import (
    APIV3_KEY,
    MCHID,
    MERCHANT_SERIAL,
    PUBLIC_KEY_ID,
    SCENE_ID,
    FakeWeChatPay,
    _new_key,
    _private_pem,
    _public_pem,
)

UNIT = "renhe-ecology"
# 200 spots inside 仁和镇, each over 300 m from the others (the duplicate radius is 100 m)
SPOTS = itertools.cycle((26.46 + row * 0.003, 101.725 + col * 0.004) for row in range(25) for col in range(8))


@pytest.fixture
def finance(app, api):
    with app.app_context():
        accounts.create_staff("finance", "renhe-demo-2026", "reward_admin")
        db.session.commit()
    return api.login_staff("finance")


@pytest.fixture
def rule(api, finance):
    categories = {
        c["code"]: c["id"] for c in api.get("/api/v1/admin/categories", api.login_staff("dispatcher")).json["items"]
    }
    body = {"category_id": categories["dust"], "amount_fen": 500, "daily_cap_fen": 5000, "monthly_cap_fen": 20000}
    response = api.post("/api/v1/reward-admin/rules", finance, json=body)
    assert response.status_code == 201, response.json
    return response.json


def _spot():
    lat, lng = next(SPOTS)
    return {"lat": round(lat, 6), "lng": round(lng, 6), "coord": "gcj02"}


def closed_case(api, run_jobs, citizen=None, location=None, photo=None):
    """A dust report in 仁和镇, handled and closed by the citizen's rating."""
    citizen = citizen or api.login_citizen()
    photo_id = api.upload_ok(citizen, photo or jpeg_bytes(640, 480))
    case_id = api.submit_ok(citizen, category="dust", location=location or _spot(), photo_ids=[photo_id])["id"]
    run_jobs()
    unit = api.login_staff(UNIT)
    api.post(f"/api/v1/unit/cases/{case_id}/accept", unit)
    api.post(f"/api/v1/unit/cases/{case_id}/reply", unit, json={"content": "已洒水降尘"})
    assert (
        api.post(f"/api/v1/reports/{case_id}/rating", citizen, json={"rating": "satisfied"}).json["status"] == "closed"
    )
    run_jobs()  # the reward check runs as a job
    return citizen, case_id


def _claim_of(api, finance, case_id):
    items = api.get("/api/v1/reward-admin/claims?per_page=100", finance).json["items"]
    claim_ids = [c["id"] for c in items]
    for claim_id in claim_ids:
        detail = api.get(f"/api/v1/reward-admin/claims/{claim_id}", finance).json
        if detail["case"]["id"] == case_id:
            return detail
    raise AssertionError(f"no claim for case {case_id}")


def test_a_closed_valid_report_gets_a_claim_the_admin_approves(api, run_jobs, finance, rule):
    citizen, case_id = closed_case(api, run_jobs)
    claim = _claim_of(api, finance, case_id)
    assert claim["status"] == "pending" and claim["amount_fen"] == 500 and claim["signals"] == []
    assert claim["case"]["photos"] and claim["case"]["reply"]["content"] == "已洒水降尘"
    assert "openid" not in json.dumps(claim)
    mine = api.get("/api/v1/rewards/mine", citizen).json
    assert mine["balance_fen"] == 0 and mine["claims"][0]["status"] == "pending"

    approved = api.post(f"/api/v1/reward-admin/claims/{claim['id']}/approve", finance, json={})
    assert approved.json["status"] == "approved"
    mine = api.get("/api/v1/rewards/mine", citizen).json
    assert mine["balance_fen"] == 500 and [e["kind"] for e in mine["ledger"]] == ["granted"]
    again = api.post(f"/api/v1/reward-admin/claims/{claim['id']}/approve", finance, json={})
    assert again.status_code == 409 and api.get("/api/v1/rewards/mine", citizen).json["balance_fen"] == 500


def test_rejection_reason_reaches_the_citizen_and_withdrawal_reverses(api, run_jobs, finance, rule):
    citizen, case_id = closed_case(api, run_jobs)
    claim = _claim_of(api, finance, case_id)
    api.post(f"/api/v1/reward-admin/claims/{claim['id']}/approve", finance, json={})
    withdrawn = api.post(
        f"/api/v1/reward-admin/claims/{claim['id']}/reject", finance, json={"reason": "经核查为重复举报"}
    )
    assert withdrawn.json["status"] == "rejected"
    mine = api.get("/api/v1/rewards/mine", citizen).json
    assert mine["balance_fen"] == 0 and mine["claims"][0]["reason"] == "经核查为重复举报"
    assert sorted(e["kind"] for e in mine["ledger"]) == ["granted", "reversed"]
    assert api.post(f"/api/v1/reward-admin/claims/{claim['id']}/reject", finance, json={}).status_code == 422


def test_no_claim_without_a_rule_or_for_a_rejected_report(app, api, run_jobs, finance):
    closed_case(api, run_jobs)  # no rule yet
    citizen = api.login_citizen()
    case_id = api.submit_ok(citizen, category="dust", location=_spot())["id"]
    run_jobs()
    api.post(f"/api/v1/admin/cases/{case_id}/reject", api.login_staff("dispatcher"), json={"reason": "无效"})
    assert api.get("/api/v1/reward-admin/claims", finance).json["total"] == 0


def test_concurrent_approvals_grant_once(app, api, run_jobs, finance, rule):
    citizen, case_id = closed_case(api, run_jobs)
    claim_id = _claim_of(api, finance, case_id)["id"]
    headers = {"Authorization": f"Bearer {finance}"}

    def approve():
        return (
            app.test_client()
            .post(f"/api/v1/reward-admin/claims/{claim_id}/approve", json={}, headers=headers)
            .status_code
        )

    assert sorted(concurrently(approve, approve, approve)) == [200, 409, 409]
    assert api.get("/api/v1/rewards/mine", citizen).json["balance_fen"] == 500


def test_bulk_decisions_report_each_claim(api, run_jobs, finance, rule):
    ids = [_claim_of(api, finance, closed_case(api, run_jobs)[1])["id"] for _ in range(3)]
    api.post(f"/api/v1/reward-admin/claims/{ids[0]}/reject", finance, json={"reason": "不符合条件"})
    results = api.post(
        "/api/v1/reward-admin/claims/bulk", finance, json={"claim_ids": [*ids, 99999], "decision": "approve"}
    ).json["results"]
    assert [r["ok"] for r in results] == [False, True, True, False]


@pytest.mark.parametrize("signal", ["same_photo", "old_photo", "burst", "same_spot", "earlier_report", "suspended"])
def test_abuse_signals_hold_the_claim(app, api, run_jobs, finance, rule, signal):
    app.config["REWARD_BURST_PER_HOUR"] = 2
    citizen, other = api.login_citizen(), api.login_citizen()
    spot = _spot()
    if signal == "same_photo":
        closed_case(api, run_jobs, other, photo=jpeg_bytes(700, 500))
        _, case_id = closed_case(api, run_jobs, citizen, photo=jpeg_bytes(700, 500))
    elif signal == "old_photo":
        _, case_id = closed_case(api, run_jobs, citizen, photo=jpeg_bytes(gps=True))  # EXIF 2026-11-20
    elif signal == "burst":
        for _ in range(2):
            closed_case(api, run_jobs, citizen)
        _, case_id = closed_case(api, run_jobs, citizen)
    elif signal == "same_spot":
        for _ in range(2):
            closed_case(api, run_jobs, citizen, location=spot)
        _, case_id = closed_case(api, run_jobs, citizen, location=spot)
    elif signal == "earlier_report":
        closed_case(api, run_jobs, other, location=spot)
        _, case_id = closed_case(api, run_jobs, citizen, location=spot)
    else:
        citizen, user_id = _citizen_with_id(api)
        api.post(f"/api/v1/reward-admin/citizens/{user_id}/suspend", finance, json={"reason": "多次虚假举报"})
        _, case_id = closed_case(api, run_jobs, citizen)
    claim = _claim_of(api, finance, case_id)
    assert claim["status"] == "held"
    assert signal in [s["code"] for s in claim["signals"]], claim["signals"]


def _citizen_with_id(api):
    login = api.client.post("/api/v1/auth/dev", json={"openid": "suspect"}).json
    return login["token"], login["user"]["id"]


def test_daily_cap_holds_claims_beyond_it(api, run_jobs, finance, rule):
    api.client.patch(f"/api/v1/reward-admin/rules/{rule['id']}", json={"daily_cap_fen": 800}, headers=api.auth(finance))
    citizen = api.login_citizen()
    first = _claim_of(api, finance, closed_case(api, run_jobs, citizen)[1])
    second = _claim_of(api, finance, closed_case(api, run_jobs, citizen)[1])
    assert first["status"] == "pending" and second["status"] == "held"
    assert "over_daily_cap" in [s["code"] for s in second["signals"]]


def test_identity_is_for_reward_admins_only_and_every_look_is_audited(app, api, run_jobs, finance, rule):
    citizen, case_id = closed_case(api, run_jobs)
    claim = _claim_of(api, finance, case_id)
    user_id = claim["citizen_id"]
    assert api.get(f"/api/v1/reward-admin/citizens/{user_id}", finance).status_code == 422  # says why
    identity = api.get(f"/api/v1/reward-admin/citizens/{user_id}?purpose=核实举报人", finance).json
    assert identity["openid"].startswith("dev-")
    with app.app_context():
        entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "view_identity"))
        assert entry.entity_id == user_id and entry.changes == {"purpose": "核实举报人"}
    for username in ("dispatcher", UNIT):
        token = api.login_staff(username)
        assert api.get("/api/v1/reward-admin/claims", token).status_code == 403
        assert api.get(f"/api/v1/reward-admin/citizens/{user_id}?purpose=x", token).status_code == 403
    assert api.get("/api/v1/reward-admin/claims", citizen).status_code == 403


@pytest.fixture
def wechat_pay(app, httpserver, tmp_path):
    merchant, platform = _new_key(), _new_key()
    (tmp_path / "merchant.pem").write_bytes(_private_pem(merchant))
    (tmp_path / "platform.pem").write_bytes(_public_pem(platform))
    app.config.update(
        WECHATPAY_API_BASE=httpserver.url_for("/").rstrip("/"),
        WECHATPAY_MCHID=MCHID,
        WECHATPAY_SERIAL_NO=MERCHANT_SERIAL,
        WECHATPAY_PRIVATE_KEY_PATH=str(tmp_path / "merchant.pem"),
        WECHATPAY_PUBLIC_KEYS={PUBLIC_KEY_ID: str(tmp_path / "platform.pem")},
        WECHATPAY_APIV3_KEY=APIV3_KEY,
        WECHATPAY_TRANSFER_SCENE_ID=SCENE_ID,
    )
    return FakeWeChatPay(httpserver, merchant, platform)


def _approved(api, run_jobs, finance, n=2, citizen=None):
    ids = []
    for _ in range(n):
        _, case_id = closed_case(api, run_jobs, citizen)
        claim_id = _claim_of(api, finance, case_id)["id"]
        api.post(f"/api/v1/reward-admin/claims/{claim_id}/approve", finance, json={})
        ids.append(claim_id)
    return ids


def _items(app):
    with app.app_context():
        rows = db.session.scalars(db.select(PayoutItem).order_by(PayoutItem.id)).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def _poll(app):
    with app.app_context():
        settled = payouts.poll_in_flight()
        db.session.commit()
        return settled


def test_wechat_batch_pays_each_claim_once_after_the_citizen_confirms(app, api, run_jobs, finance, rule, wechat_pay):
    citizen = api.login_citizen()
    ids = _approved(api, run_jobs, finance, 2, citizen)
    batch = api.post("/api/v1/reward-admin/payouts", finance, json={"method": "wechat"})
    assert batch.status_code == 201 and batch.json["total_fen"] == 1000
    run_jobs()
    assert wechat_pay.payments == 2
    assert {i.status for i in _items(app)} == {"in_flight"}
    waiting = api.get("/api/v1/rewards/mine", citizen).json
    assert waiting["balance_fen"] == 1000  # not paid until the citizen confirms receipt
    assert len(waiting["to_confirm"]) == 2 and waiting["to_confirm"][0]["mch_id"] == MCHID
    assert waiting["to_confirm"][0]["package"] == wechat_pay.bills[_items(app)[0].out_bill_no]["package_info"]

    with app.app_context():  # a retried job: same out_bill_no, no second payment
        for item in _items(app):
            payouts.send(item.id)
    assert wechat_pay.payments == 2
    for item in _items(app):
        wechat_pay.user_confirms(item.out_bill_no)
    assert _poll(app) == 2
    mine = api.get("/api/v1/rewards/mine", citizen).json
    assert mine["balance_fen"] == 0 and mine["paid_fen"] == 1000
    assert {c["status"] for c in mine["claims"]} == {"paid"} and mine["to_confirm"] == []
    assert (
        api.post("/api/v1/reward-admin/payouts", finance, json={"method": "wechat", "claim_ids": ids}).status_code
        == 422
    )


def test_the_reward_check_leaves_the_case_version_alone(app, api, run_jobs, rule):
    """Found by a defect hunt: the reward check (a job right after a close) marked the case through the ORM,
    which bumped the version that guards concurrent edits; a citizen rating at that moment got 409
    concurrent_update though no person had touched the case. It also moved updated_at."""
    citizen = api.login_citizen()
    photo_id = api.upload_ok(citizen, jpeg_bytes(640, 480))
    case_id = api.submit_ok(citizen, category="dust", location=_spot(), photo_ids=[photo_id])["id"]
    run_jobs()
    unit = api.login_staff(UNIT)
    api.post(f"/api/v1/unit/cases/{case_id}/accept", unit)
    api.post(f"/api/v1/unit/cases/{case_id}/reply", unit, json={"content": "已洒水降尘"})
    assert api.post(f"/api/v1/admin/cases/{case_id}/close", api.login_staff("dispatcher"), json={}).status_code == 200

    def stamp():
        with app.app_context():
            case = db.session.get(Case, case_id)
            return case.version, case.updated_at, case.reward_checked_at

    version, updated_at, checked = stamp()
    assert checked is None
    run_jobs()  # the reward check
    assert stamp()[:2] == (version, updated_at) and stamp()[2] is not None
    rated = api.post(f"/api/v1/reports/{case_id}/rating", citizen, json={"rating": "unsatisfied", "comment": "还有灰"})
    assert rated.status_code == 200, rated.json


def test_a_wechat_batch_is_refused_while_wechat_pay_is_not_configured(app, api, run_jobs, finance, rule):
    """Found by a defect hunt: with no WeChat Pay settings a wechat batch was accepted, its send jobs failed on
    the empty key path, and its claims stayed in_payout for good (no reject, no other batch)."""
    citizen = api.login_citizen()
    [claim_id] = _approved(api, run_jobs, finance, 1, citizen)
    refused = api.post("/api/v1/reward-admin/payouts", finance, json={"method": "wechat"})
    assert refused.status_code == 409, refused.json
    assert refused.json["error"]["code"] == "wechat_pay_not_configured"
    assert "WECHATPAY_MCHID" in refused.json["error"]["message"]
    with app.app_context():
        assert db.session.get(RewardClaim, claim_id).status == "approved"
        assert db.session.scalar(db.select(db.func.count()).select_from(PayoutItem)) == 0
    assert api.get("/api/v1/rewards/mine", citizen).json["claims"][0]["status"] == "approved"
    offline = api.post("/api/v1/reward-admin/payouts", finance, json={"method": "offline"})
    assert offline.status_code == 201 and [i["claim_id"] for i in offline.json["items"]] == [claim_id]


def test_a_failed_transfer_never_loses_the_claim_and_never_pays_twice(app, api, run_jobs, finance, rule, wechat_pay):
    citizen = api.login_citizen()
    [claim_id] = _approved(api, run_jobs, finance, 1, citizen)
    wechat_pay.force(403, "NOT_ENOUGH", "商户运营账户资金不足")
    api.post("/api/v1/reward-admin/payouts", finance, json={"method": "wechat"})
    run_jobs()
    [item] = _items(app)
    assert item.status == "in_flight" and item.wechat_state == "UNKNOWN" and wechat_pay.payments == 0
    _poll(app)  # WeChat has no such bill: it failed for sure, the claim is payable again
    [item] = _items(app)
    assert item.status == "failed"
    with app.app_context():
        assert db.session.get(RewardClaim, claim_id).status == "approved"
    api.post("/api/v1/reward-admin/payouts", finance, json={"method": "wechat"})
    run_jobs()
    second = _items(app)[1]
    assert second.out_bill_no != item.out_bill_no and wechat_pay.payments == 1
    wechat_pay.expires(second.out_bill_no)  # the citizen never confirmed: FAIL
    _poll(app)
    assert _items(app)[1].status == "failed"
    assert api.get("/api/v1/rewards/mine", citizen).json["balance_fen"] == 500


def test_transient_error_retries_with_the_same_bill_number(app, api, run_jobs, finance, rule, wechat_pay):
    _approved(api, run_jobs, finance, 1)
    wechat_pay.force(500, "SYSTEM_ERROR", "系统繁忙")
    api.post("/api/v1/reward-admin/payouts", finance, json={"method": "wechat"})
    run_jobs(allow_failures=True)
    [item] = _items(app)
    assert item.status == "pending" and wechat_pay.payments == 0
    with app.app_context():
        payouts.send(item.id)
        db.session.commit()
    assert _items(app)[0].status == "in_flight" and wechat_pay.payments == 1


def test_callback_settles_the_transfer_and_a_forged_one_is_refused(app, api, run_jobs, finance, rule, wechat_pay):
    _approved(api, run_jobs, finance, 1)
    api.post("/api/v1/reward-admin/payouts", finance, json={"method": "wechat"})
    run_jobs()
    [item] = _items(app)
    wechat_pay.user_confirms(item.out_bill_no)
    headers, body = wechat_pay.callback(item.out_bill_no)
    forged = body.replace(b"mch_payment", b"mch_paymenx", 1)
    assert api.client.post("/api/v1/wechatpay/transfer-notify", data=forged, headers=headers).status_code == 401
    assert _items(app)[0].status == "in_flight"
    for _ in range(2):  # notices repeat; applying one twice changes nothing
        assert api.client.post("/api/v1/wechatpay/transfer-notify", data=body, headers=headers).status_code == 204
    assert _items(app)[0].status == "success"
    with app.app_context():
        assert (
            db.session.scalar(db.select(db.func.count(LedgerEntry.id)).where(LedgerEntry.kind == LedgerKind.PAID_OUT))
            == 1
        )


def test_offline_batch_export_and_figures(app, api, run_jobs, finance, rule):
    _approved(api, run_jobs, finance, 2)
    batch = api.post("/api/v1/reward-admin/payouts", finance, json={"method": "offline", "note": "11月线下发放"}).json
    paid = api.post(
        f"/api/v1/reward-admin/payouts/{batch['id']}/offline-paid", finance, json={"reference": "财务凭证 2026-118"}
    )
    assert {i["status"] for i in paid.json["items"]} == {"success"}
    again = api.post(f"/api/v1/reward-admin/payouts/{batch['id']}/offline-paid", finance, json={"reference": "x"})
    assert again.status_code == 409
    export = api.get(f"/api/v1/reward-admin/payouts/{batch['id']}/export.csv", finance)
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True).lstrip("\ufeff"))))
    assert (
        len(rows) == 2 and {r["amount_yuan"] for r in rows} == {"5.00"} and rows[0]["reference"] == "财务凭证 2026-118"
    )
    stats = api.get("/api/v1/reward-admin/stats", finance).json
    assert stats["claims_by_status"] == {"paid": 2}
    assert stats["by_month"][0]["granted_fen"] == 1000 and stats["by_month"][0]["paid_fen"] == 1000
    assert stats["by_category"] == [{"category": "扬尘", "granted_fen": 1000, "paid_fen": 1000}]


def test_ledger_invariants_hold(app, api, run_jobs, finance, rule):
    citizen = api.login_citizen()
    ids = _approved(api, run_jobs, finance, 3, citizen)
    api.post(f"/api/v1/reward-admin/claims/{ids[0]}/reject", finance, json={"reason": "撤销"})
    batch = api.post("/api/v1/reward-admin/payouts", finance, json={"method": "offline"}).json
    api.post(f"/api/v1/reward-admin/payouts/{batch['id']}/offline-paid", finance, json={"reference": "v1"})
    with app.app_context():
        entries = db.session.scalars(db.select(LedgerEntry)).all()
        total = sum(e.amount_fen for e in entries)
        assert total == 0 and total == api.get("/api/v1/rewards/mine", citizen).json["balance_fen"]
        running = 0
        for entry in sorted(entries, key=lambda e: e.id):
            running += entry.amount_fen
            assert running >= 0
        pairs = [(e.claim_id, e.kind) for e in entries]
        assert len(pairs) == len(set(pairs))


def test_reward_audit_is_for_reward_admins_and_hidden_from_dispatchers(app, api, run_jobs, finance, rule):
    _, case_id = closed_case(api, run_jobs)
    user_id = _claim_of(api, finance, case_id)["citizen_id"]
    api.post(f"/api/v1/reward-admin/citizens/{user_id}/suspend", finance, json={"reason": "虚假举报"})
    api.get(f"/api/v1/reward-admin/citizens/{user_id}?purpose=核实", finance)
    trail = api.get("/api/v1/reward-admin/audit", finance).json["items"]
    assert {"view_identity", "create"} <= {e["action"] for e in trail}
    dispatcher_view = api.get("/api/v1/admin/audit?per_page=100", api.login_staff("dispatcher")).get_data(as_text=True)
    assert "虚假举报" not in dispatcher_view and "view_identity" not in dispatcher_view


def test_a_transfer_refused_before_sending_fails_visibly_and_frees_the_claim(
    app, api, run_jobs, finance, rule, wechat_pay
):
    [claim_id] = _approved(api, run_jobs, finance, 1)
    app.config["WECHATPAY_TRANSFER_SCENE_ID"] = ""
    api.post("/api/v1/reward-admin/payouts", finance, json={"method": "wechat"})
    run_jobs()
    [item] = _items(app)
    assert item.status == "failed" and "scene" in item.fail_reason and wechat_pay.payments == 0
    with app.app_context():
        assert db.session.get(RewardClaim, claim_id).status == "approved"


def test_suspension_blocks_approval_and_bulk_reject_needs_a_reason(api, run_jobs, finance, rule):
    _, case_id = closed_case(api, run_jobs)
    claim = _claim_of(api, finance, case_id)
    bulk = api.post(
        "/api/v1/reward-admin/claims/bulk", finance, json={"claim_ids": [claim["id"]], "decision": "reject"}
    )
    assert bulk.status_code == 422
    api.post(f"/api/v1/reward-admin/citizens/{claim['citizen_id']}/suspend", finance, json={"reason": "调查中"})
    refused = api.post(f"/api/v1/reward-admin/claims/{claim['id']}/approve", finance, json={})
    assert refused.status_code == 409 and refused.json["error"]["code"] == "citizen_suspended"
    empty = api.post("/api/v1/reward-admin/payouts", finance, json={"method": "offline", "claim_ids": []})
    assert empty.status_code == 422
