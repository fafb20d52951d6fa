"""Tokens, the current principal and role checks."""

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from flask import current_app, g, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from backend.errors import Forbidden, Unauthorized
from backend.extensions import db
from backend.models import Staff, StaffRole, User
from backend.models.types import utcnow

CITIZEN = "citizen"
STAFF = "staff"
DISPATCH_ROLES = (StaffRole.DISPATCHER, StaffRole.ADMIN)
# 考核 figures and 通报: the dispatch centre and the read-only leader role
STATS_ROLES = (StaffRole.DISPATCHER, StaffRole.ADMIN, StaffRole.LEADER)


@dataclass(frozen=True)
class Principal:
    kind: str
    id: int
    role: StaffRole | None = None
    unit_id: int | None = None

    @property
    def is_staff(self) -> bool:
        return self.kind == STAFF


UNIT_DISABLED_MESSAGE = "所在单位已停用，请联系调度中心"


def unit_disabled(staff: Staff) -> bool:
    """A deactivated unit's staff can neither sign in nor use the tokens they hold: its cases are recalled."""
    return staff.unit is not None and not staff.unit.active


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="api-token")


def token_ttl(kind: str) -> int:
    return current_app.config["STAFF_TOKEN_TTL" if kind == STAFF else "CITIZEN_TOKEN_TTL"]


def issue_token(kind: str, subject_id: int, credential_version: int | None = None) -> str:
    """A signed token; a staff token also carries the account's credential version (see credentials_current)."""
    claims = {"k": kind, "id": subject_id}
    if credential_version is not None:
        claims["v"] = credential_version
    return _serializer().dumps(claims)


def credentials_current(staff: Staff, issued_under) -> bool:
    """Was a token or console session issued under the account's present credentials? A password change or reset
    and a deactivation raise `credential_version`, which ends everything issued before (tokens and sessions from
    before the version existed count as version 1)."""
    return (issued_under if issued_under is not None else 1) == staff.credential_version


CREDENTIALS_CHANGED_MESSAGE = "密码已修改或账号已被重置，请重新登录"


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def password_matches(password_hash: str, password: str) -> bool:
    return check_password_hash(password_hash, password)


_DUMMY_HASHES: dict[str, str] = {}


def dummy_password_hash() -> str:
    """A hash of the configured method matching no password, to check when a login names nobody: an unknown
    username then costs what a known one costs."""
    method = current_app.config["PASSWORD_HASH_METHOD"]
    if method not in _DUMMY_HASHES:
        _DUMMY_HASHES[method] = generate_password_hash(secrets.token_urlsafe(32), method=method)
    return _DUMMY_HASHES[method]


def _principal_from_request() -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized()
    try:
        claims, issued_at = _serializer().loads(token.strip(), return_timestamp=True)
        kind, subject_id = claims["k"], int(claims["id"])
    except (BadSignature, KeyError, TypeError, ValueError) as exc:
        raise Unauthorized("登录信息无效，请重新登录", code="invalid_token") from exc
    if (utcnow() - issued_at).total_seconds() > token_ttl(kind):
        raise Unauthorized("登录已过期，请重新登录", code="token_expired")

    if kind == CITIZEN:
        if db.session.scalar(db.select(User.id).where(User.id == subject_id)) is None:  # one indexed read, no entity
            raise Unauthorized("登录信息无效，请重新登录", code="invalid_token")
        return Principal(CITIZEN, subject_id)
    staff = db.session.get(Staff, subject_id, options=[joinedload(Staff.unit)])
    if staff is None:
        raise Unauthorized("登录信息无效，请重新登录", code="invalid_token")
    if not staff.active:
        raise Unauthorized("账号已停用", code="account_disabled")
    if not credentials_current(staff, claims.get("v")):
        raise Unauthorized(CREDENTIALS_CHANGED_MESSAGE, code="invalid_token")
    if unit_disabled(staff):
        raise Unauthorized(UNIT_DISABLED_MESSAGE, code="unit_disabled")
    return Principal(STAFF, staff.id, staff.role, staff.unit_id)


def current_principal() -> Principal:
    return g.principal


def _requires(check: Callable[[Principal], bool], roles: tuple[str, ...]):
    """roles: who passes the check, as the OpenAPI document (backend/api/spec.py) and the fuzz run name them."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            principal = _principal_from_request()
            if not check(principal):
                raise Forbidden()
            g.principal = principal
            return view(*args, **kwargs)

        wrapper.auth_roles = roles
        wrapper.auth_checks_role = roles != ANYONE
        return wrapper

    return decorator


ANYONE = (CITIZEN, *(role.value for role in StaffRole))
login_required = _requires(lambda p: True, ANYONE)
# any login but the read-only leader (photo uploads: citizens' reports and units' replies)
writer_required = _requires(
    lambda p: p.role != StaffRole.LEADER, tuple(who for who in ANYONE if who != StaffRole.LEADER.value)
)
citizen_required = _requires(lambda p: p.kind == CITIZEN, (CITIZEN,))
unit_staff_required = _requires(
    lambda p: p.role == StaffRole.UNIT_STAFF and p.unit_id is not None, (StaffRole.UNIT_STAFF.value,)
)
dispatcher_required = _requires(lambda p: p.role in DISPATCH_ROLES, tuple(role.value for role in DISPATCH_ROLES))
admin_required = _requires(lambda p: p.role == StaffRole.ADMIN, (StaffRole.ADMIN.value,))
stats_reader_required = _requires(lambda p: p.role in STATS_ROLES, tuple(role.value for role in STATS_ROLES))
# Only reward administrators see who claims a reward (报告人保护); admins can too.
REWARD_ROLES = (StaffRole.REWARD_ADMIN, StaffRole.ADMIN)
reward_admin_required = _requires(lambda p: p.role in REWARD_ROLES, tuple(role.value for role in REWARD_ROLES))
