"""账号: every staff member changes their own password; an administrator manages the staff accounts (reset a
password, 停用 / 启用, lift a lock-out). A password change, reset or deactivation raises the account's credential
version (accounts._new_credentials), which ends its other console sessions and its API tokens.
"""

from flask import render_template, request, url_for

from backend.api.common import actor, storable
from backend.console import bp, nav
from backend.console.forms import form_action
from backend.console.session import ROLE_NAMES, console_login_required, current_staff, start_session
from backend.models import StaffRole
from backend.services import accounts, lockout

nav.add_entry("console.account_staff", "账号管理", (StaffRole.ADMIN,), order=95)

admins = console_login_required(StaffRole.ADMIN)


@bp.get("/account/password")
@console_login_required()
def account_password():
    return render_template("console/account/password.html")


@bp.post("/account/password")
@console_login_required()
@form_action("console.account_password")
def account_change_password():
    form = storable({name: request.form.get(name, "") for name in ("current_password", "new_password")})
    staff = accounts.change_password(current_staff(), form["current_password"], form["new_password"], actor())
    start_session(staff)  # this session goes on under the new credentials; every other one has ended
    return "密码已修改；其他设备上的登录已失效"


@bp.get("/account/staff")
@admins
def account_staff():
    return render_template("console/account/staff.html", staff_list=accounts.list_staff(), role_names=ROLE_NAMES)


@bp.post("/account/staff/<int:staff_id>/password")
@admins
@form_action("console.account_staff")
def account_reset_password(staff_id: int):
    password = storable({"password": request.form.get("password", "")})["password"]
    staff = accounts.reset_password(accounts.get_staff(staff_id), password, actor())
    if staff.id == current_staff().id:
        start_session(staff)
    return f"已重置 {staff.username} 的密码，其所有登录已失效", url_for("console.account_staff")


@bp.post("/account/staff/<int:staff_id>/active")
@admins
@form_action("console.account_staff")
def account_staff_active(staff_id: int):
    staff = accounts.set_active(accounts.get_staff(staff_id), request.form.get("active") == "1", actor())
    done = "已启用（请重置密码后告知本人）" if staff.active else "已停用，其所有登录已失效"
    return f"{staff.username} {done}", url_for("console.account_staff")


@bp.post("/account/staff/<int:staff_id>/unlock")
@admins
@form_action("console.account_staff")
def account_unlock(staff_id: int):
    """POST /admin/staff/<id>/unlock: the lock-out after too many wrong passwords is lifted."""
    staff, before = lockout.unlock(staff_id, actor())
    return f"{staff.username} {'已解锁' if before.locked else '未被锁定，失败次数已清零'}", url_for(
        "console.account_staff"
    )
