"""Citizen login through WeChat, staff login, staff accounts."""

from flask import current_app

from backend.auth import (
    CITIZEN,
    STAFF,
    UNIT_DISABLED_MESSAGE,
    dummy_password_hash,
    hash_password,
    issue_token,
    password_matches,
    token_ttl,
    unit_disabled,
)
from backend.clients.wechat import TRANSIENT_ERRCODES, WeChatError, WeChatUnavailable, client_from_config
from backend.errors import Forbidden, NotFound, ServiceUnavailable, Unauthorized, ValidationFailed
from backend.extensions import db
from backend.models import Staff, StaffRole, Unit, User
from backend.models.types import utcnow
from backend.services import lockout


def _user_for_openid(openid: str, unionid: str | None = None) -> User:
    user = db.session.scalar(db.select(User).where(User.openid == openid))
    if user is None:
        user = User(openid=openid, unionid=unionid)
        db.session.add(user)
    elif unionid and not user.unionid:
        user.unionid = unionid
    user.last_login_at = utcnow()
    db.session.flush()
    return user


def _citizen_session(user: User) -> dict:
    return {"token": issue_token(CITIZEN, user.id), "expires_in": token_ttl(CITIZEN), "user": user}


def login_with_wechat(code: str) -> dict:
    client = client_from_config(current_app.config)
    try:
        session = client.code_to_session(code)
    except WeChatError as exc:
        if exc.errcode in TRANSIENT_ERRCODES:
            raise ServiceUnavailable("微信服务繁忙，请稍后再试", code="wechat_busy") from exc
        raise Unauthorized("微信登录失败，请重新进入小程序", code="wechat_login_failed") from exc
    except WeChatUnavailable as exc:
        raise ServiceUnavailable("微信服务暂时不可用，请稍后再试", code="wechat_unavailable") from exc
    return _citizen_session(_user_for_openid(session.openid, session.unionid))


def require_dev_login() -> None:
    """The development login exists only where DEV_LOGIN_ENABLED is set (never in production)."""
    if not current_app.config["DEV_LOGIN_ENABLED"]:
        raise NotFound()


def login_for_development(openid: str) -> dict:
    """Log in as any openid without WeChat."""
    require_dev_login()
    return _citizen_session(_user_for_openid(f"dev-{openid}"))


def login_staff(username: str, password: str) -> dict:
    lockout.ensure_unlocked(username)
    staff = db.session.scalar(db.select(Staff).where(Staff.username == username))
    # One password check whether the username exists or not, so the answer's timing does not tell.
    matched = password_matches(staff.password_hash if staff else dummy_password_hash(), password)
    if staff is None or not matched:
        lockout.record_failure(username)
        raise Unauthorized("用户名或密码错误", code="invalid_credentials")
    if not staff.active:
        raise Forbidden("账号已停用", code="account_disabled")
    if unit_disabled(staff):
        raise Forbidden(UNIT_DISABLED_MESSAGE, code="unit_disabled")
    lockout.forget_failures(username)
    return {"token": issue_token(STAFF, staff.id), "expires_in": token_ttl(STAFF), "staff": staff}


def create_staff(username: str, password: str, role: str, unit_code: str | None = None) -> Staff:
    try:
        staff_role = StaffRole(role)
    except ValueError as exc:
        raise ValidationFailed(f"unknown role {role!r}; one of {', '.join(r.value for r in StaffRole)}") from exc
    if len(password) < 8:
        raise ValidationFailed("password must have at least 8 characters")
    unit = None
    if staff_role == StaffRole.UNIT_STAFF:
        if not unit_code:
            raise ValidationFailed("unit_staff needs --unit UNIT_CODE")
        unit = db.session.scalar(db.select(Unit).where(Unit.code == unit_code))
        if unit is None:
            raise ValidationFailed(f"no unit with code {unit_code!r}")
    elif unit_code:
        raise ValidationFailed(f"role {role} does not belong to a unit")
    if db.session.scalar(db.select(Staff).where(Staff.username == username)) is not None:
        raise ValidationFailed(f"staff {username!r} exists already")
    staff = Staff(username=username, password_hash=hash_password(password), role=staff_role, unit=unit)
    db.session.add(staff)
    db.session.flush()
    return staff
