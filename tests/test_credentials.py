"""A password change, an administrator's reset and a deactivation end the account's console sessions and API
tokens (staff.credential_version): everything issued before is refused, the new password works."""

import re

from backend.auth import STAFF, issue_token
from backend.extensions import db
from backend.models import AuditEntry, Staff
from backend.services.responsibility.demo_district import DEMO_PASSWORD
from tests.helpers import Console

NEW_PASSWORD = "a-new-secret-2027"


def console_of(app, username: str, password: str = DEMO_PASSWORD) -> Console:
    console = Console(app.test_client())
    response = console.login(username, password)
    assert response.status_code == 302, response.get_data(as_text=True)
    return console


def logged_out(console: Console) -> bool:
    response = console.client.get("/console/account/password")
    return response.status_code == 302 and "/console/login" in response.headers["Location"]


def flashes(html: str) -> list[str]:
    return re.findall(r'class="flash flash-\w+"[^>]*>([^<]*)<', html)


def staff_id(app, username: str) -> int:
    with app.app_context():
        return db.session.scalar(db.select(Staff.id).where(Staff.username == username))


def token_works(api, token: str) -> int:
    return api.get("/api/v1/unit/cases", token).status_code


def test_a_password_change_ends_the_other_sessions_and_tokens(app, api):
    here, elsewhere = console_of(app, "dahezhonglu"), console_of(app, "dahezhonglu")
    token = api.login_staff("dahezhonglu")
    assert token_works(api, token) == 200

    wrong = here.post("/console/account/password", {"current_password": "not-it", "new_password": NEW_PASSWORD})
    assert "当前密码：当前密码不正确" in " ".join(flashes(here.page(wrong.headers["Location"])))
    short = here.post("/console/account/password", {"current_password": DEMO_PASSWORD, "new_password": "short"})
    assert "新密码：密码至少 8 个字符" in " ".join(flashes(here.page(short.headers["Location"])))
    assert token_works(api, token) == 200 and not logged_out(elsewhere)  # refused changes change nothing

    done = here.post("/console/account/password", {"current_password": DEMO_PASSWORD, "new_password": NEW_PASSWORD})
    assert "密码已修改" in " ".join(flashes(here.page(done.headers["Location"])))
    assert not logged_out(here)  # the session that changed it goes on
    assert here.client.get("/console/unit/cases").status_code == 200
    assert logged_out(elsewhere)
    assert "密码已修改或账号已被重置" in " ".join(flashes(elsewhere.page("/console/login")))
    refused = api.get("/api/v1/unit/cases", token)
    assert refused.status_code == 401 and refused.json["error"]["code"] == "invalid_token"

    assert Console(app.test_client()).login("dahezhonglu").status_code == 401  # the old password
    fresh = api.post("/api/v1/auth/staff", json={"username": "dahezhonglu", "password": NEW_PASSWORD})
    assert token_works(api, fresh.json["token"]) == 200
    with app.app_context():
        entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "change_password"))
        assert entry.entity_id == staff_id(app, "dahezhonglu") and "password_hash" not in str(entry.changes)


def test_an_admins_reset_and_deactivation_end_every_session(app, api):
    unit = console_of(app, "renhe-town")
    token = api.login_staff("renhe-town")
    admin = console_of(app, "admin")
    target = staff_id(app, "renhe-town")
    assert 'data-staff="renhe-town"' in admin.page("/console/account/staff")

    admin.post(f"/console/account/staff/{target}/password", {"password": NEW_PASSWORD})
    assert logged_out(unit) and api.get("/api/v1/unit/cases", token).status_code == 401
    unit = console_of(app, "renhe-town", NEW_PASSWORD)
    token = api.login_staff("renhe-town", NEW_PASSWORD)

    off = admin.post(f"/console/account/staff/{target}/active", {"active": "0"})
    assert "已停用" in " ".join(flashes(admin.page(off.headers["Location"])))
    assert logged_out(unit)
    # reactivated: what was issued before the deactivation stays dead
    admin.post(f"/console/account/staff/{target}/active", {"active": "1"})
    assert api.get("/api/v1/unit/cases", token).status_code == 401
    assert token_works(api, api.login_staff("renhe-town", NEW_PASSWORD)) == 200

    own = staff_id(app, "admin")
    refused = admin.post(f"/console/account/staff/{own}/active", {"active": "0"})
    assert "不能停用自己的账号" in " ".join(flashes(admin.page(refused.headers["Location"])))
    with app.app_context():
        actions = db.session.scalars(
            db.select(AuditEntry.action).where(AuditEntry.entity == "staff", AuditEntry.entity_id == target)
        ).all()
    assert actions == ["reset_password", "update", "update"]


def test_only_an_admin_manages_accounts_and_everyone_changes_their_own(app):
    for username in ("dispatcher", "leader", "reward", "dahezhonglu"):
        console = console_of(app, username)
        assert console.client.get("/console/account/staff").status_code == 403, username
        assert (
            console.post(f"/console/account/staff/{staff_id(app, 'admin')}/active", {"active": "0"}).status_code == 403
        )
        assert "修改密码" in console.page("/console/account/password")
    assert console_of(app, "admin").client.post("/console/account/password", data={}).status_code == 400  # no CSRF


def test_tokens_from_before_the_version_count_as_the_first(app, api):
    with app.test_request_context():
        legacy = issue_token(STAFF, staff_id(app, "dispatcher"))  # no "v": issued before credential versions
    assert api.get("/api/v1/admin/cases", legacy).status_code == 200
    runner = app.test_cli_runner()
    result = runner.invoke(args=["reset-staff-password", "dispatcher", "--password", NEW_PASSWORD])
    assert result.exit_code == 0, result.output
    assert api.get("/api/v1/admin/cases", legacy).status_code == 401
    assert runner.invoke(args=["reset-staff-password", "dispatcher", "--password", "short"]).exit_code != 0
    assert runner.invoke(args=["reset-staff-password", "nobody", "--password", NEW_PASSWORD]).exit_code != 0
    token = api.login_staff("dispatcher", NEW_PASSWORD)
    assert runner.invoke(args=["set-staff-active", "dispatcher", "--inactive"]).exit_code == 0
    assert runner.invoke(args=["set-staff-active", "dispatcher", "--active"]).exit_code == 0
    assert api.get("/api/v1/admin/cases", token).status_code == 401
