"""Staff login lock-out: after STAFF_LOGIN_LOCKOUT failed passwords for one username (e.g. 10 per 15 minutes)
the username is locked until that window ends or an admin unlocks it; a right password does not open it.

The failures are counted in the rate-limit store (Redis), so every web worker and host sees the same lock.
"""

import hashlib
import math
import time
from dataclasses import dataclass

from flask import current_app
from limits import RateLimitItem, parse
from redis.exceptions import RedisError

from backend.errors import NotFound, TooManyRequests
from backend.extensions import db, limiter
from backend.models import Staff
from backend.services.actors import Actor
from backend.services.responsibility import audit

SCOPE = "staff-login-failures"


@dataclass(frozen=True)
class LockState:
    locked: bool
    failed_attempts: int
    retry_after: int | None  # seconds until the lock ends by itself


def _window() -> RateLimitItem:
    return parse(current_app.config["STAFF_LOGIN_LOCKOUT"])


def _identifiers(username: str) -> tuple[str, ...]:
    # hashed: a username is any text the client sent (spaces, control characters, lone surrogates)
    digest = hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return (current_app.config["RATELIMIT_KEY_PREFIX"], SCOPE, digest)


def state(username: str) -> LockState:
    window = _window()
    reset_at, remaining = limiter.limiter.get_window_stats(window, *_identifiers(username))
    locked = remaining <= 0
    return LockState(locked, window.amount - remaining, max(1, math.ceil(reset_at - time.time())) if locked else None)


def ensure_unlocked(username: str) -> None:
    """Refuse a locked username before its password is even checked."""
    try:
        current = state(username)
    except RedisError:
        # Without the store the lock cannot be read; the per-address limit still holds (in memory).
        current_app.logger.warning("staff lock-out store unreachable; not checked", exc_info=True)
        return
    if current.locked:
        raise TooManyRequests(
            "密码错误次数过多，该账号已临时锁定，请稍后再试或联系管理员解锁",
            code="account_locked",
            retry_after=current.retry_after,
        )


def record_failure(username: str) -> None:
    try:
        limiter.limiter.hit(_window(), *_identifiers(username))
    except RedisError:
        current_app.logger.warning("staff lock-out store unreachable; failure not counted", exc_info=True)


def forget_failures(username: str) -> None:
    """A successful login starts the count again."""
    try:
        limiter.limiter.clear(_window(), *_identifiers(username))
    except RedisError:
        current_app.logger.warning("staff lock-out store unreachable; failures not cleared", exc_info=True)


def unlock(staff_id: int, actor: Actor) -> tuple[Staff, LockState]:
    """An admin lifts the lock (and forgets the failures) of a staff account; audited."""
    staff = db.session.get(Staff, staff_id)
    if staff is None:
        raise NotFound("工作人员账号不存在", code="staff_not_found")
    before = state(staff.username)
    limiter.limiter.clear(_window(), *_identifiers(staff.username))
    audit.record(
        actor,
        "unlock",
        "staff",
        staff.id,
        {"locked": before.locked, "failed_attempts": before.failed_attempts},
        {"locked": False, "failed_attempts": 0},
    )
    db.session.flush()
    return staff, before
