"""Citizen login through WeChat, staff login, staff accounts."""

from flask import current_app
from sqlalchemy.orm import joinedload

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
from backend.errors import Conflict, Forbidden, NotFound, ServiceUnavailable, Unauthorized, ValidationFailed
from backend.extensions import db
from backend.models import Staff, StaffRole, Unit, User
from backend.models.types import utcnow
from backend.schemas.auth import MAX_PASSWORD_LENGTH, MAX_USERNAME_LENGTH
from backend.services import lockout
from backend.services.actors import Actor
from backend.services.responsibility import audit


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
    token = issue_token(STAFF, staff.id, staff.credential_version)
    return {"token": token, "expires_in": token_ttl(STAFF), "staff": staff}


MIN_PASSWORD_LENGTH = 8


def _new_credentials(staff: Staff, password: str | None, actor: Actor, action: str, changes: dict) -> Staff:
    """Set the password (when given) and raise the credential version: every token and console session issued
    before is refused from now on. Audited without the password, of course."""
    if password is not None:
        staff.password_hash = hash_password(password)
    before = {"credential_version": staff.credential_version, **{key: old for key, (old, _) in changes.items()}}
    staff.credential_version += 1
    after = {"credential_version": staff.credential_version, **{key: new for key, (_, new) in changes.items()}}
    audit.record(actor, action, "staff", staff.id, before, after)
    db.session.flush()
    return staff


def _checked_password(password: str, field: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(fields={field: [f"密码至少 {MIN_PASSWORD_LENGTH} 个字符"]})
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationFailed(fields={field: [f"密码最多 {MAX_PASSWORD_LENGTH} 个字符"]})
    return password


def change_password(staff: Staff, current: str, new: str, actor: Actor) -> Staff:
    """A staff member changes their own password: the current one first (a wrong one counts towards the
    lock-out, like a failed login); their other sessions and tokens end."""
    lockout.ensure_unlocked(staff.username)
    if not password_matches(staff.password_hash, current):
        lockout.record_failure(staff.username)
        raise ValidationFailed(fields={"current_password": ["当前密码不正确"]})
    _checked_password(new, "new_password")
    if password_matches(staff.password_hash, new):
        raise ValidationFailed(fields={"new_password": ["新密码不能与当前密码相同"]})
    return _new_credentials(staff, new, actor, "change_password", {})


def reset_password(staff: Staff, new: str, actor: Actor) -> Staff:
    """An administrator sets a new password (a forgotten one, or a suspected leak): every session of the account
    ends, and its lock-out is lifted."""
    _checked_password(new, "password")
    _new_credentials(staff, new, actor, "reset_password", {})
    lockout.forget_failures(staff.username)
    return staff


def set_active(staff: Staff, active: bool, actor: Actor) -> Staff:
    """停用 / 启用 an account. Deactivating ends its sessions for good: reactivating does not revive them."""
    if staff.active == active:
        return staff
    if not active and staff.id == actor.staff_id:
        raise Conflict("不能停用自己的账号")  # console and CLI only: no API code of its own
    if not active:
        staff.active = False
        return _new_credentials(staff, None, actor, "update", {"active": (True, False)})
    staff.active = True
    audit.record(actor, "update", "staff", staff.id, {"active": False}, {"active": True})
    db.session.flush()
    return staff


def list_staff() -> list[Staff]:
    return db.session.scalars(
        db.select(Staff).options(joinedload(Staff.unit)).order_by(Staff.role, Staff.username)
    ).all()


def get_staff(staff_id: int) -> Staff:
    staff = db.session.get(Staff, staff_id)
    if staff is None:
        raise NotFound("工作人员账号不存在", code="staff_not_found")
    return staff


def find_staff(username: str) -> Staff:
    staff = db.session.scalar(db.select(Staff).where(Staff.username == username))
    if staff is None:
        raise NotFound("工作人员账号不存在", code="staff_not_found")
    return staff


def create_staff(username: str, password: str, role: str, unit_code: str | None = None) -> Staff:
    try:
        staff_role = StaffRole(role)
    except ValueError as exc:
        raise ValidationFailed(f"unknown role {role!r}; one of {', '.join(r.value for r in StaffRole)}") from exc
    if not 1 <= len(username) <= MAX_USERNAME_LENGTH or username != username.strip():
        raise ValidationFailed(f"username must have 1 to {MAX_USERNAME_LENGTH} characters, no spaces around it")
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise ValidationFailed(f"password must have {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters")
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
