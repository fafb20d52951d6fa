"""The AppError family and the one JSON error envelope of the API."""

import logging
import math
import re
import time

from flask import Flask, current_app, jsonify, request
from flask_limiter.errors import RateLimitExceeded
from marshmallow import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from backend.extensions import db, limiter

log = logging.getLogger(__name__)


class AppError(Exception):
    status = 400
    code = "bad_request"
    message = "请求有误"
    retry_after: int | None = None

    def __init__(
        self,
        message: str | None = None,
        code: str | None = None,
        fields: dict | None = None,
        retry_after: int | None = None,
    ):
        super().__init__(message or self.message)
        if message:
            self.message = message
        if code:
            self.code = code
        self.fields = fields
        if retry_after is not None:
            self.retry_after = retry_after  # seconds, sent as the Retry-After header

    def headers(self) -> dict[str, str]:
        return {} if self.retry_after is None else {"Retry-After": str(self.retry_after)}

    def to_dict(self) -> dict:
        body = {"code": self.code, "message": self.message}
        if self.fields is not None:
            body["fields"] = self.fields
        return {"error": body}


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"
    message = "请先登录"


class Forbidden(AppError):
    status = 403
    code = "forbidden"
    message = "没有权限执行此操作"


class NotFound(AppError):
    status = 404
    code = "not_found"
    message = "内容不存在"


class Conflict(AppError):
    status = 409
    code = "conflict"
    message = "当前状态不允许此操作"


class InUse(Conflict):
    """A delete of something other records still point at (a rule that routed cases, …)."""

    code = "in_use"
    message = "该数据仍被其他记录引用，不能删除；可改为停用"


FOREIGN_KEY_VIOLATION = "23503"  # SQLSTATE, PostgreSQL


def is_foreign_key_violation(error: IntegrityError) -> bool:
    """A foreign key violation, as opposed to a unique or check one, on PostgreSQL and SQLite."""
    if getattr(error.orig, "sqlstate", None) == FOREIGN_KEY_VIOLATION:
        return True
    return "FOREIGN KEY constraint failed" in str(error.orig)


class ValidationFailed(AppError):
    status = 422
    code = "validation_failed"
    message = "提交的内容有误"


class UploadRejected(AppError):
    status = 400
    code = "invalid_image"
    message = "无法识别的图片，请重新拍摄或选择照片"


class PayloadTooLarge(AppError):
    status = 413
    code = "file_too_large"
    message = "图片不能超过 20 MB"


class TooManyRequests(AppError):
    """A rate limit, lock-out or quota: answered 429 with Retry-After (seconds) when a wait helps."""

    status = 429
    code = "rate_limited"
    message = "操作太频繁，请稍后再试"

    def __init__(self, message: str | None = None, code: str | None = None, retry_after: float | None = None):
        super().__init__(message, code)
        self.retry_after = None if retry_after is None else max(1, math.ceil(retry_after))


class ServiceUnavailable(AppError):
    status = 503
    code = "service_unavailable"
    message = "服务繁忙，请稍后再试"
    retry_after = 5  # seconds: a database or Redis failover, a restart


# werkzeug answers 413 for a text part over MAX_FORM_MEMORY_SIZE or more than MAX_FORM_PARTS parts, too: not a
# photo over 20 MB (e.g. a photo sent as a text field instead of a file part)
FORM_TOO_LARGE = ("form_too_large", "表单内容过大：文字字段不能超过 500 KB，图片须作为文件上传")


def _within_body_limit() -> bool:
    length, limit = request.content_length, current_app.config.get("MAX_CONTENT_LENGTH")
    return length is not None and limit is not None and length <= limit


HTTP_CODES = {
    400: ("bad_request", "请求有误"),
    401: ("unauthorized", "请先登录"),
    403: ("forbidden", "没有权限执行此操作"),
    404: ("not_found", "内容不存在"),
    405: ("method_not_allowed", "不支持的请求方式"),
    409: ("conflict", "当前状态不允许此操作"),
    413: ("file_too_large", "图片不能超过 20 MB"),
    415: ("unsupported_media_type", "不支持的内容类型"),
    429: ("too_many_requests", "操作太频繁，请稍后再试"),
}


# marshmallow's messages, said in Chinese for the citizen; anything unknown passes through unchanged.
_FIELD_MESSAGES = [
    (re.compile(r"^Missing data for required field\.$"), "必填"),
    (re.compile(r"^Field may not be null\.$"), "不能为空"),
    (re.compile(r"^Unknown field\.$"), "不支持的字段"),
    (re.compile(r"^Not a valid integer\.$"), "必须是整数"),
    (re.compile(r"^Not a valid number\.$"), "必须是数字"),
    (re.compile(r"^Not a valid string\.$"), "必须是文本"),
    (re.compile(r"^Not a valid boolean\.$"), "必须是 true 或 false"),
    (re.compile(r"^Not a valid list\.$"), "必须是列表"),
    (re.compile(r"^Invalid input type\.$"), "格式不正确"),
    (re.compile(r"^Not a valid date\.$"), "日期格式应为 YYYY-MM-DD"),
    (re.compile(r"^Number too large\.$"), "数值过大"),
    (re.compile(r"^Special numeric values \(nan or infinity\) are not permitted\.$"), "必须是有效数字"),
    (re.compile(r"^Must be one of: (.*)\.$"), r"取值必须是：\1"),
    (re.compile(r"^Must be greater than or equal to (\S+) and less than or equal to (\S+)\.$"), r"取值范围为 \1 至 \2"),
    (re.compile(r"^Must be greater than or equal to (\S+)\.$"), r"不能小于 \1"),
    (re.compile(r"^Must be less than or equal to (\S+)\.$"), r"不能大于 \1"),
    (re.compile(r"^Shorter than minimum length (\d+)\.$"), r"长度不能少于 \1"),
    (re.compile(r"^Longer than maximum length (\d+)\.$"), r"长度不能超过 \1"),
    (re.compile(r"^Length must be between (\d+) and (\d+)\.$"), r"长度须在 \1 至 \2 之间"),
]


def _in_chinese(messages):
    if isinstance(messages, dict):
        return {key: _in_chinese(value) for key, value in messages.items()}
    if isinstance(messages, list):
        return [_in_chinese(value) for value in messages]
    if isinstance(messages, str):
        for pattern, replacement in _FIELD_MESSAGES:
            if pattern.match(messages):
                return pattern.sub(replacement, messages)
    return messages


def _json(body: dict, status: int, headers: dict | None = None):
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def _seconds_until_reset(error: RateLimitExceeded) -> float:
    """When the breached window frees a request again; the whole window if the store cannot tell."""
    try:
        current = limiter.current_limit
        if current is not None and current.breached:
            return current.window.reset_time - time.time()
    except RedisError:  # the counts live in Redis, which may have just gone away
        log.warning("could not read the rate limit window", exc_info=True)
    return error.limit.limit.get_expiry()


def _rollback() -> None:
    """Roll back what the request did; a database that is gone has nothing to roll back."""
    try:
        db.session.rollback()
    except (OperationalError, InterfaceError, PoolTimeoutError):
        log.warning("rollback failed: the database is unreachable")


# SQLSTATEs of a transaction that lost a race (deadlock_detected, serialization_failure)
LOST_A_RACE = {"40P01", "40001"}
# the answer when another writer got there first (a unique key, a deleted row, a deadlock)
RACE_LOST = Conflict("数据刚被其他操作修改，请刷新后重试", code="concurrent_update")


def register_error_handlers(app: Flask) -> None:
    def answer(body: dict, status: int, headers: dict | None = None):
        """An error as the front-end at this address shows errors: its HTML page (the staff console registers a
        renderer for its addresses, given the envelope), else the API's JSON envelope. Every handler below
        answers through here."""
        for render in app.extensions.get("html_error_pages", ()):
            if (page := render(status, body, headers)) is not None:
                return page
        return _json(body, status, headers)

    @app.errorhandler(AppError)
    def handle_app_error(error: AppError):
        _rollback()
        return answer(error.to_dict(), error.status, error.headers())

    @app.errorhandler(RateLimitExceeded)
    def handle_rate_limited(error: RateLimitExceeded):
        # the limit's own Chinese message (error_message of the decorator), else the generic one
        message = error.description if error.limit.error_message else None
        return handle_app_error(TooManyRequests(message, retry_after=_seconds_until_reset(error)))

    @app.errorhandler(ValidationError)
    def handle_validation_error(error: ValidationError):
        db.session.rollback()
        messages = error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
        return answer(ValidationFailed(fields=_in_chinese(messages)).to_dict(), 422)

    @app.errorhandler(StaleDataError)
    def handle_concurrent_update(error: StaleDataError):
        db.session.rollback()
        return answer(Conflict("该案件刚被其他人更新，请刷新后重试", code="concurrent_update").to_dict(), 409)

    @app.errorhandler(IntegrityError)
    def handle_integrity_error(error: IntegrityError):
        # A constraint caught what the service checks could not see: a delete of something still referenced
        # (in_use), else a race with another writer (a unique key taken, a referenced row deleted meanwhile).
        db.session.rollback()
        log.warning("integrity error: %s", error.orig)
        if is_foreign_key_violation(error) and (error.statement or "").lstrip().upper().startswith("DELETE"):
            return answer(InUse().to_dict(), 409)
        return answer(RACE_LOST.to_dict(), 409)

    @app.errorhandler(OverflowError)
    @app.errorhandler(DataError)
    def handle_out_of_range(error: Exception):
        # an id or number larger than the database can hold: it cannot name anything
        db.session.rollback()
        return answer(NotFound().to_dict(), 404)

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    @app.errorhandler(PoolTimeoutError)
    @app.errorhandler(RedisConnectionError)
    @app.errorhandler(RedisTimeoutError)
    def handle_backend_down(error: Exception):
        if getattr(getattr(error, "orig", None), "sqlstate", None) in LOST_A_RACE:
            # not an outage: two transactions wanted the same rows (PostgreSQL chose this one to give up)
            _rollback()
            return answer(RACE_LOST.to_dict(), 409)
        # the database or Redis is down, restarting or overloaded: a retry later can succeed
        _rollback()
        log.error("backing service unavailable: %s", error)
        unavailable = ServiceUnavailable()
        return answer(unavailable.to_dict(), unavailable.status, unavailable.headers())

    @app.errorhandler(HTTPException)
    def handle_http_exception(error: HTTPException):
        db.session.rollback()
        code, message = HTTP_CODES.get(error.code or 500, ("http_error", error.description or "请求有误"))
        status = error.code or 500
        if status == 413 and _within_body_limit():
            code, message = FORM_TOO_LARGE  # the body fits: werkzeug's per-part limits of a form said no
        return answer({"error": {"code": code, "message": message}}, status)

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):
        _rollback()
        log.exception("unhandled error")
        message = "服务器开小差了，请稍后再试"
        return answer({"error": {"code": "internal_error", "message": message}}, 500)
