"""The accountability scenario shared by the figures and briefing tests (fixtures `clock`, `november`).

考核 figures: cases driven through the API on a fixed clock, every figure checked by hand.

November 2026, working hours 09–12 and 13–18 (8 a day), weekends off:
  A  illegal_ad → 大河中路街道: signed on time, replied on time (8 wh), rated satisfied → closed
  B  illegal_ad → 大河中路街道: signed late, replied late (40 wh; 16 wh past its deadline), rated unsatisfied,
     reworked, replied again (43 wh), closed — late, since one reply was late; the rework is 大河中路's
  C  illegal_ad → 大河中路街道 returns it (their 退单) → routed on to 区综合行政执法局, left open, overdue
  D  dust → 区生态环境局: signed on time, extension asked and granted, replied on time (32 wh), not rated
  E  dust → 区生态环境局: never signed, overdue, 督办 level 1
  F  dust → 区生态环境局 on 31 October: outside the November cohort, but open and overdue now
"""

from datetime import UTC, datetime

import pytest

from backend.extensions import db
from backend.models import Case
from backend.models.types import LOCAL_TZ
from backend.services.casework import supervision, workflow
from tests.helpers import DAHEZHONGLU, RENHE_TOWN

__all__ = ["NOVEMBER", "Clock", "_ok", "clock", "november"]

NOVEMBER = "from=2026-11-01&to=2026-11-30"


class Clock:
    def __init__(self):
        self.now = datetime(2026, 11, 2, 2, tzinfo=UTC)

    def at(self, text: str) -> "Clock":
        self.now = datetime.fromisoformat(text).replace(tzinfo=LOCAL_TZ).astimezone(UTC)
        return self

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(workflow, "utcnow", clock)
    return clock


def _ok(response, status=200):
    assert response.status_code == status, response.json
    return response.json


@pytest.fixture
def november(app, api, run_jobs, clock):
    """The six cases above; returns their ids and the tokens used."""
    app.config["STATS_RANK_MIN_CASES"] = 1
    citizen = api.login_citizen()
    dispatcher = api.login_staff("dispatcher")
    street = api.login_staff("dahezhonglu")
    ecology = api.login_staff("renhe-ecology")

    clock.at("2026-10-31 23:30")
    f = api.submit_ok(citizen, category="dust", location=RENHE_TOWN)["id"]
    run_jobs()
    clock.at("2026-11-02 10:00")
    a, b, c = (api.submit_ok(citizen, category="illegal_ad", location=DAHEZHONGLU)["id"] for _ in range(3))
    d, e = (api.submit_ok(citizen, category="dust", location=RENHE_TOWN)["id"] for _ in range(2))
    run_jobs()

    clock.at("2026-11-02 10:30")
    for case_id, token in ((a, street), (d, ecology), (f, ecology)):
        _ok(api.post(f"/api/v1/unit/cases/{case_id}/accept", token))
    clock.at("2026-11-02 11:00")
    _ok(api.post(f"/api/v1/unit/cases/{c}/return", street, json={"reason": "不属于本街道"}))
    run_jobs()  # C is routed on to the category's lead unit
    clock.at("2026-11-02 15:00")
    _ok(api.post(f"/api/v1/unit/cases/{b}/accept", street))
    clock.at("2026-11-03 10:00")
    _ok(api.post(f"/api/v1/unit/cases/{a}/reply", street, json={"content": "已清理"}))
    _ok(api.post(f"/api/v1/reports/{a}/rating", citizen, json={"rating": "satisfied"}))
    extension = _ok(
        api.post(f"/api/v1/unit/cases/{d}/extension", ecology, json={"reason": "需协调", "extra_working_hours": 16}),
        201,
    )
    _ok(api.post(f"/api/v1/admin/extensions/{extension['id']}/approve", dispatcher, json={}))
    clock.at("2026-11-06 10:00")
    _ok(api.post(f"/api/v1/unit/cases/{d}/reply", ecology, json={"content": "已洒水降尘"}))
    clock.at("2026-11-09 10:00")
    _ok(api.post(f"/api/v1/unit/cases/{b}/reply", street, json={"content": "已清理"}))
    _ok(api.post(f"/api/v1/reports/{b}/rating", citizen, json={"rating": "unsatisfied"}))
    clock.at("2026-11-09 11:00")
    _ok(api.post(f"/api/v1/admin/cases/{b}/rework", dispatcher, json={"reason": "仍有残留"}))
    clock.at("2026-11-09 14:00")
    _ok(api.post(f"/api/v1/unit/cases/{b}/reply", street, json={"content": "已彻底清理"}))
    clock.at("2026-11-09 15:00")
    _ok(api.post(f"/api/v1/admin/cases/{b}/close", dispatcher))
    clock.at("2026-11-11 10:00")
    with app.app_context():
        supervision.run(clock.now)
        # cases.created_at is stamped by the column default (the real clock); the 受理 event has the test's
        for case in db.session.scalars(db.select(Case)):
            case.created_at = next(event.at for event in case.events if event.type == "submitted")
        db.session.commit()
    run_jobs()
    return {"ids": dict(a=a, b=b, c=c, d=d, e=e, f=f), "dispatcher": dispatcher, "street": street}
