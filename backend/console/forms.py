"""Forms: read through the API's own input schemas (same limits, same Chinese messages), act, commit once, then
POST-redirect-GET with a flash message.

    @bp.post("/unit/cases/<int:case_id>/accept")
    @console_login_required(StaffRole.UNIT_STAFF)
    @form_action("console.unit_case")
    def unit_accept(case_id):
        workflow.accept(cases.for_unit(case_id, current_staff().unit_id), actor())
        return "已签收"

A refused action (409 wrong status, 403, 422 bad input, 429 …) rolls back and comes back to `back` (called with
the view's own arguments: those `back` does not take become a harmless query string) with the reason flashed; a
view may return (message, url) to go elsewhere.
"""

from functools import wraps

from flask import flash, redirect, request, url_for
from marshmallow import Schema, ValidationError
from sqlalchemy.orm.exc import StaleDataError

from backend.api.common import storable
from backend.errors import AppError, NotFound, _in_chinese, _rollback
from backend.extensions import db

FIELD_LABELS = {
    "reason": "原因",
    "content": "内容",
    "photo_ids": "照片",
    "file": "照片",
    "unit_id": "单位",
    "co_unit_ids": "配合单位",
    "extra_working_hours": "延长工时",
    "note": "说明",
    "category_id": "问题类别",
    "amount_fen": "奖励金额",
    "starts_on": "开始日期",
    "ends_on": "结束日期",
    "daily_cap_fen": "每日上限",
    "monthly_cap_fen": "每月上限",
    "current_password": "当前密码",
    "new_password": "新密码",
    "password": "新密码",
}


def load_form(schema: Schema, data: dict) -> dict:
    """Form values through an input schema of the API; text no database can store is refused as the API does."""
    return schema.load(storable(data))


def text(name: str) -> str:
    return request.form.get(name, "").strip()


def integer(value: str):
    """A form's number as an int for the API's strict schemas; anything else stays text, which they refuse.
    ASCII digits only: "²" is a digit to str.isdigit() but not to int()."""
    value = value.strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else value


def integers(name: str) -> list:
    return [integer(value) for value in request.form.getlist(name) if value.strip()]


def _flatten(fields: dict) -> list[str]:
    lines = []
    for name, messages in fields.items():
        if isinstance(messages, dict):  # a list field's items, by index
            lines += _flatten({name: [m for item in messages.values() for m in item]})
            continue
        label = FIELD_LABELS.get(name, name)
        lines += [f"{label}：{message}" for message in messages]
    return lines


def error_message(error: Exception) -> str:
    if isinstance(error, ValidationError):
        messages = error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
        return "；".join(_flatten(_in_chinese(messages))) or "提交的内容有误"
    if isinstance(error, StaleDataError):
        return "该案件刚被其他人更新，请刷新后重试"
    return envelope_message(error.to_dict())


def envelope_message(body: dict) -> str:
    """An error envelope (the API's JSON answer) as one line for a page: its message, then its fields'."""
    error = body["error"]
    details = _flatten(error["fields"]) if error.get("fields") else []
    return "；".join([error["message"], *details])


def form_action(back: str):
    """Run the action, commit once, flash its message and redirect (to `back`, or where the view says)."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            back_url = url_for(back, **kwargs)
            try:
                result = view(*args, **kwargs)
                db.session.commit()
            except NotFound:
                raise  # not the caller's (another unit's case) or gone: the 404 page, as the API answers 404
            except (AppError, ValidationError, StaleDataError) as error:
                _rollback()
                flash(error_message(error), "error")
                return redirect(back_url)
            message, url = result if isinstance(result, tuple) else (result, back_url)
            if message:
                flash(message, "success")
            return redirect(url)

        return wrapper

    return decorator
