"""Operator commands as the contract names them."""

from backend.extensions import db
from backend.models import (
    Case,
    CaseStatus,
    Category,
    ClaimStatus,
    Region,
    RewardClaim,
    RewardRule,
    RoutingRule,
    Staff,
    Unit,
)


def _counts(app):
    with app.app_context():
        models = (Unit, Region, Category, RoutingRule)
        return [db.session.scalar(db.select(db.func.count()).select_from(model)) for model in models]


def test_seed_demo_twice_changes_nothing(app):
    before = _counts(app)
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "demo district loaded" in result.output
    assert _counts(app) == before


def test_seed_demo_again_keeps_what_an_operator_changed(app, api):
    """Found by a defect hunt: loading the demo again reactivated a deactivated unit (its staff could sign in
    again), put back re-imported regions and category units, and said every demo account had the demo password."""
    dispatcher = api.login_staff("dispatcher")
    units = {u["code"]: u["id"] for u in api.get("/api/v1/admin/units", dispatcher).json["items"]}
    off = api.client.patch(
        f"/api/v1/admin/units/{units['qianjin-town']}", json={"active": False}, headers=api.auth(dispatcher)
    )
    assert off.status_code == 200, off.json
    result = app.test_cli_runner().invoke(args=["seed-demo", "--with-staff"])
    assert result.exit_code == 0, result.output
    assert "password of these new demo accounts" not in result.output and "exist already" in result.output
    with app.app_context():
        assert db.session.get(Unit, units["qianjin-town"]).active is False


def test_make_runs_demo_has_work_for_every_login(app, api):
    """`make run` seeds reward rules and one demo report in each state, once: every demo login has work."""
    runner = app.test_cli_runner()
    result = runner.invoke(args=["seed-demo", "--with-staff", "--with-cases"])
    assert result.exit_code == 0, result.output
    assert "demo reports: 4 new" in result.output
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).where(RewardRule.active.is_(True))) >= 1
        cases = {case.status: case for case in db.session.scalars(db.select(Case))}
        assert set(cases) == {CaseStatus.PENDING, CaseStatus.DISPATCHED, CaseStatus.REPLIED, CaseStatus.CLOSED}
        assert cases[CaseStatus.DISPATCHED].unit.code == "dahezhonglu"
        assert all(case.photos for case in cases.values())
        (claim,) = db.session.scalars(db.select(RewardClaim)).all()
        assert claim.status == ClaimStatus.PENDING and claim.case_id == cases[CaseStatus.CLOSED].id
    again = runner.invoke(args=["seed-demo", "--with-staff", "--with-cases"])
    assert again.exit_code == 0 and "demo reports: 0 new" in again.output
    assert runner.invoke(args=["seed-demo", "--with-cases"]).exit_code != 0
    dispatcher = api.login_staff("dispatcher")
    assert api.get("/api/v1/admin/cases?status=pending", dispatcher).json["total"] == 1


def test_create_staff(app, api):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["create-staff", "li.lei", "--password", "s3cret-pass", "--role", "unit_staff", "--unit", "qianjin-town"]
    )
    assert result.exit_code == 0, result.output
    login = api.post("/api/v1/auth/staff", json={"username": "li.lei", "password": "s3cret-pass"}).json
    assert login["staff"]["unit"]["code"] == "qianjin-town"


def test_create_staff_refuses_bad_input(app):
    runner = app.test_cli_runner()
    no_unit = runner.invoke(args=["create-staff", "a", "--password", "long-enough", "--role", "unit_staff"])
    assert no_unit.exit_code != 0 and "--unit" in no_unit.output
    bad_unit = runner.invoke(
        args=["create-staff", "b", "--password", "long-enough", "--role", "unit_staff", "--unit", "nowhere"]
    )
    assert bad_unit.exit_code != 0 and "nowhere" in bad_unit.output
    bad_role = runner.invoke(args=["create-staff", "c", "--password", "long-enough", "--role", "mayor"])
    assert bad_role.exit_code != 0
    short = runner.invoke(args=["create-staff", "d", "--password", "short", "--role", "dispatcher"])
    assert short.exit_code != 0
    duplicate = runner.invoke(args=["create-staff", "dispatcher", "--password", "long-enough", "--role", "dispatcher"])
    assert duplicate.exit_code != 0 and "exists" in duplicate.output
    # accounts the login could never accept (found by a defect hunt: created, or a traceback for a long name)
    unusable = (("", "long-enough"), ("  e ", "long-enough"), ("f" * 65, "long-enough"), ("g", "x" * 257))
    for username, password in unusable:
        refused = runner.invoke(args=["create-staff", username, "--password", password, "--role", "dispatcher"])
        assert refused.exit_code == 1 and "Traceback" not in refused.output, refused.output
    with app.app_context():
        names = ["a", "b", "c", "d", "", "  e ", "e", "f" * 65, "g"]
        assert db.session.scalar(db.select(Staff).where(Staff.username.in_(names))) is None
