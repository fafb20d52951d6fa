"""Small helpers every blueprint uses: parse input, build the actor."""

from flask import request
from marshmallow import EXCLUDE, Schema

from backend.auth import Principal, current_principal
from backend.errors import AppError
from backend.models import StaffRole
from backend.schemas.case import StaffCaseOut
from backend.services import cases
from backend.services.actors import Actor


def json_body(schema: Schema) -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise AppError("请求内容必须是 JSON 对象", code="invalid_json")
    return schema.load(body)


def query_args(schema: Schema) -> dict:
    """Blank parameters mean "no filter" and unknown ones (cache-busters) are ignored."""
    present = {key: value for key, value in request.args.items() if value.strip()}
    return schema.load(present, unknown=EXCLUDE)


def staff_case(case_id: int) -> dict:
    """The case as staff see it after an action (read again, so the answer shows what was committed)."""
    return StaffCaseOut().dump(cases.for_dispatcher(case_id))


def actor() -> Actor:
    principal: Principal = current_principal()
    if principal.is_staff:
        return Actor.staff(principal.id, StaffRole(principal.role), principal.unit_id)
    return Actor.citizen(principal.id)
