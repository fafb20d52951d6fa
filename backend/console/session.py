"""Console login: the same credential check, lock-out and per-address limit as `POST /api/v1/auth/staff`
(accounts.login_staff), then a session cookie holding the staff id, the login time and the account's credential
version instead of a token.

Each request loads the staff again: a deactivated account, a disabled unit, an expired session or one from before
a password change or reset (auth.credentials_current) is logged out on its next request. Views declare who may
open them with `console_login_required(*roles)`.
"""

import logging
import secrets
import time
from functools import wraps
from urllib.parse import urlsplit

from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from redis.exceptions import RedisError
from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import joinedload

from backend.api.common import storable
from backend.api.throttle import per_ip
from backend.auth import (
    CREDENTIALS_CHANGED_MESSAGE,
    STAFF,
    UNIT_DISABLED_MESSAGE,
    Principal,
    credentials_current,
    unit_disabled,
)
from backend.console import bp, nav
from backend.console.security import error_page, new_csrf_token
from backend.errors import AppError
from backend.extensions import db, redis_store
from backend.models import Staff, StaffRole
from backend.services import accounts

log = logging.getLogger(__name__)

SESSION_STAFF = "staff_id"
SESSION_LOGIN_AT = "login_at"
SESSION_CREDENTIALS = "credential_version"
SESSION_ID = "session_id"  # names this login; logging out ends it on the server too (ENDED_KEY)
ENDED_KEY = "console:session-ended:{}"
ROLE_NAMES = {
    StaffRole.UNIT_STAFF: "单位工作人员",
    StaffRole.DISPATCHER: "调度员",
    StaffRole.REWARD_ADMIN: "奖励管理员",
    StaffRole.ADMIN: "系统管理员",
    StaffRole.LEADER: "领导",
}


def current_staff() -> Staff | None:
    """The logged-in staff of this console request, or None."""
    return g.get("console_staff")


def _end_session(message: str) -> None:
    for key in (SESSION_STAFF, SESSION_LOGIN_AT, SESSION_CREDENTIALS, SESSION_ID):
        session.pop(key, None)
    new_csrf_token()
    flash(message, "error")


@bp.before_app_request
def load_staff():
    """Who is logged in to the console, checked again on every console request."""
    if request.blueprint != "console" or request.endpoint == "console.static" or SESSION_STAFF not in session:
        return
    staff = db.session.get(Staff, session[SESSION_STAFF], options=[joinedload(Staff.unit)])
    login_at = session.get(SESSION_LOGIN_AT, 0)
    if time.time() - login_at > current_app.config["CONSOLE_SESSION_TTL"]:
        _end_session("登录已过期，请重新登录")
    elif _ended(session.get(SESSION_ID)):
        _end_session("已退出登录，请重新登录")
    elif staff is None or not staff.active:
        _end_session("账号已停用")
    elif not credentials_current(staff, session.get(SESSION_CREDENTIALS)):
        _end_session(CREDENTIALS_CHANGED_MESSAGE)
    elif unit_disabled(staff):
        _end_session(UNIT_DISABLED_MESSAGE)
    else:
        g.console_staff = staff
        # the principal the API's helpers read (actor(), per-account rate limits)
        g.principal = Principal(STAFF, staff.id, staff.role, staff.unit_id)


def console_login_required(*roles: StaffRole):
    """Logged in (else to the login page, coming back afterwards) and, when roles are named, one of them (else 403)."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            staff = current_staff()
            if staff is None:
                return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
            if roles and staff.role not in roles:
                return error_page(403, "没有权限访问此页面")
            if staff.role == StaffRole.UNIT_STAFF and staff.unit_id is None:
                return error_page(403, "账号未关联单位")
            return view(*args, **kwargs)

        wrapper.console_roles = roles
        return wrapper

    return decorator


def _safe_next(target: str | None) -> str | None:
    """Only a console address of this site (no scheme, no host, no //evil): never an open redirect."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/console") or target.startswith("//"):
        return None
    return target


def home_url(staff: Staff) -> str:
    endpoint = nav.home_endpoint(staff.role)
    return url_for(endpoint) if endpoint else url_for("console.no_pages")


@bp.get("/")
def index():
    staff = current_staff()
    return redirect(home_url(staff) if staff else url_for("console.login"))


@bp.get("/welcome")
@console_login_required()
def no_pages():
    """A role with no console pages yet."""
    return render_template("console/welcome.html")


@bp.get("/login")
def login():
    staff = current_staff()
    if staff is not None:
        return redirect(home_url(staff))
    return render_template("console/login.html", next=_safe_next(request.args.get("next")))


@bp.post("/login")
@per_ip("STAFF_LOGIN_IP_LIMIT", "登录失败次数过多，请稍后再试", only_failures=True)
def login_submit():
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    next_url = _safe_next(request.form.get("next"))
    try:
        if not username or not password:
            raise AppError("请输入用户名和密码", code="invalid_credentials")
        storable({"username": username, "password": password})  # as the API refuses them (NUL never reaches SQL)
        # 401 for a wrong password, like the API, so the per-address limit counts it
        staff = accounts.login_staff(username, password)["staff"]
    except AppError as error:
        page = render_template("console/login.html", next=next_url, username=username, error=error.message)
        status = 401 if error.status == 400 else error.status
        return page, status, error.headers()
    start_session(staff)
    return redirect(next_url or home_url(staff))


def start_session(staff: Staff) -> None:
    """A fresh session (and CSRF token) for the staff, under their present credentials."""
    session.clear()
    session[SESSION_STAFF] = staff.id
    session[SESSION_LOGIN_AT] = int(time.time())
    session[SESSION_CREDENTIALS] = staff.credential_version
    session[SESSION_ID] = secrets.token_urlsafe(16)
    new_csrf_token()


def _ended(session_id: str | None) -> bool:
    """Logged out (or from before sessions had ids): the signed cookie alone no longer lets anyone in.

    With Redis unreachable the session goes on (logged): staff keep working through an outage, as the rate
    limits and the lock-out do; what is lost meanwhile is only that a cookie copied before a logout would work."""
    if session_id is None:
        return True
    try:
        return bool(redis_store.client.exists(ENDED_KEY.format(session_id)))
    except RedisError as exc:
        log.warning("console session check skipped, redis unavailable: %s", exc)
        return False


@bp.post("/logout")
def logout():
    # The cookie is signed, not stored: a copy taken before logout would stay valid until its TTL unless the
    # server remembers that this session ended (for as long as the cookie could otherwise live).
    session_id = session.get(SESSION_ID)
    session.clear()
    if session_id:
        try:
            redis_store.client.set(ENDED_KEY.format(session_id), 1, ex=current_app.config["CONSOLE_SESSION_TTL"])
        except RedisError as exc:  # this browser is logged out all the same
            log.warning("console logout not remembered, redis unavailable: %s", exc)
    new_csrf_token()
    flash("已退出登录", "info")
    return redirect(url_for("console.login"))


@bp.app_context_processor
def console_context():
    if request.blueprint != "console":
        return {}
    staff = current_staff()
    if staff is not None and inspect(staff).expired:
        # an error page after a rollback: the staff row would be read again, from a database that may be down
        try:
            db.session.refresh(staff)
        except SQLAlchemyError:
            staff = None
    return {
        "current_staff": staff,
        "nav_entries": nav.entries_for(staff.role) if staff else [],
        "role_name": ROLE_NAMES.get(staff.role, "") if staff else "",
    }
