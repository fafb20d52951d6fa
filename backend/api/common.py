"""Small helpers every blueprint uses: parse input, build the actor."""

import re
from urllib.parse import quote

from flask import Response, current_app, request
from marshmallow import EXCLUDE, Schema

from backend.api.spec import JSON, MULTIPART
from backend.auth import Principal, current_principal
from backend.errors import AppError, ValidationFailed
from backend.models import StaffRole
from backend.schemas.case import StaffCaseOut
from backend.services.actors import Actor
from backend.services.casework import cases

# No JSON body of this API nests deeper than a GeoJSON MultiPolygon (about 9 levels).
MAX_JSON_DEPTH = 32
# Text no database column can hold: NUL (PostgreSQL refuses it) and lone UTF-16 surrogates (not encodable as
# UTF-8, so neither the database nor a JSON answer could carry them). One policy for every field of every body.
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
UNSTORABLE_TEXT = "不能包含空字符或无效的 Unicode 字符"


def _not_json() -> AppError:
    return AppError("请求内容必须是 JSON 对象", code="invalid_json")


def _printable(key: str) -> str:
    """A field name safe to echo in an answer: NUL written as \\u0000, a lone surrogate as U+FFFD."""
    return _UNSTORABLE.sub(lambda m: "\\u0000" if m.group() == "\x00" else "\ufffd", key)


# Every integer column is INTEGER (32-bit in PostgreSQL): a larger id or filter names nothing and would fail
# in the database (DataError, OverflowError on SQLite past 64 bits). One policy for every loaded integer.
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
TOO_LARGE = "数值过大"


def _problems(document, value_problem, key_problem=lambda key: None) -> dict:
    """Every value (or key) with a problem, as marshmallow reports errors: nested by path, list items by
    index. Iterative, and refuses nesting deeper than MAX_JSON_DEPTH."""
    errors: dict = {}

    def mark(path: list, message: str) -> None:
        node = errors
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = [message]

    stack = [(document, [])]
    while stack:
        value, path = stack.pop()
        if len(path) > MAX_JSON_DEPTH:
            raise _not_json()
        if isinstance(value, dict):
            for key, item in value.items():
                if message := key_problem(key):
                    mark([*path, _printable(key)], message)
                else:
                    stack.append((item, [*path, key]))
        elif isinstance(value, list | tuple):
            stack.extend((item, [*path, index]) for index, item in enumerate(value))
        elif message := value_problem(value):
            mark(path, message)
    return errors


def _unstorable(value) -> str | None:
    return UNSTORABLE_TEXT if isinstance(value, str) and _UNSTORABLE.search(value) else None


def _out_of_range(value) -> str | None:
    is_int = isinstance(value, int) and not isinstance(value, bool)
    return TOO_LARGE if is_int and not INT_MIN <= value <= INT_MAX else None


def _checked(data: dict, problem, key_problem=lambda key: None) -> dict:
    if errors := _problems(data, problem, key_problem):
        raise ValidationFailed(fields=errors)
    return data


def _check_declared(kind: str, schema: Schema, media_type: str = JSON) -> None:
    """In tests and development: the schema a view reads must be the one its @doc declares, so the OpenAPI
    document cannot drift from the code."""
    if not (current_app.testing or current_app.debug):
        return
    meta = getattr(current_app.view_functions.get(request.endpoint), "api_doc", None)
    if meta is None:
        return
    declared = meta[kind]
    if isinstance(declared, dict):  # a body in more than one media type
        declared = declared.get(media_type)
    same = isinstance(declared, type) and type(schema) is declared and not schema.partial
    same = same or (
        isinstance(declared, Schema) and type(schema) is type(declared) and schema.partial == declared.partial
    )
    if not same:
        raise RuntimeError(f"{request.endpoint} reads {type(schema).__name__} but @doc declares {kind}={declared!r}")


def json_body(schema: Schema) -> dict:
    _check_declared("body", schema)
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # nested too deep even for the parser
        raise _not_json() from None
    return load_json(body, schema)


REPEATED_PART = "只能有一个值"
# werkzeug decodes form text that is not UTF-8 with errors="replace": refuse it rather than store U+FFFD
UNDECODABLE_TEXT = "不是有效的 UTF-8 文本"


def form_body(schema: Schema) -> dict:
    """A multipart body through an input schema: the form's text fields (as wx.uploadFile sends its formData,
    all strings) and its file parts under their names, by the rules of every body. A name sent twice is a
    422, not its first value (nothing the client sent is dropped unsaid)."""
    _check_declared("body", schema, MULTIPART)
    repeated = {
        name: [REPEATED_PART]
        for parts in (request.form, request.files)
        for name, values in parts.lists()
        if len(values) > 1
    }
    undecodable = {name: [UNDECODABLE_TEXT] for name, value in request.form.items() if "\ufffd" in value}
    if problems := {**undecodable, **repeated}:
        raise ValidationFailed(fields={_printable(name): messages for name, messages in problems.items()})
    body = {**request.form.to_dict(), **request.files.to_dict()}
    return _checked(schema.load(storable(body)), _out_of_range)


def load_json(body, schema: Schema) -> dict:
    """A parsed JSON document through an input schema, by the rules of every JSON body (also a file the staff
    console uploads, such as a GeoJSON import)."""
    if not isinstance(body, dict):
        raise _not_json()
    return _checked(schema.load(storable(body)), _out_of_range)


def storable(data: dict) -> dict:
    """The data, if no key or text in it is unstorable (NUL, lone surrogates); else a 422 naming each field.
    The rule of every JSON body, and of the staff console's forms."""
    return _checked(data, _unstorable, _unstorable)


def query_args(schema: Schema) -> dict:
    """Blank parameters mean "no filter" and unknown ones (cache-busters) are ignored."""
    _check_declared("query", schema)
    known = {field.data_key or name for name, field in schema.load_fields.items()}
    present = {key: value for key, value in request.args.items() if value.strip() and key in known}
    _checked(present, _unstorable)
    return _checked(schema.load(present, unknown=EXCLUDE), _out_of_range)


def download(body: bytes | str, mimetype: str, name: str) -> Response:
    """A file to save: an ASCII fallback name and the real (Chinese) one (RFC 6266)."""
    ascii_name = "download." + name.rsplit(".", 1)[-1]
    disposition = f"attachment; filename={ascii_name}; filename*=UTF-8''{quote(name)}"
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": disposition})


def header_text(name: str, max_length: int) -> str | None:
    """An optional text header, trimmed and cut to max_length; unstorable text is a 422 naming the header."""
    value = request.headers.get(name, "").strip()[:max_length]
    if _UNSTORABLE.search(value):
        raise ValidationFailed(fields={name: [UNSTORABLE_TEXT]})
    return value or None


def staff_case(case_id: int) -> dict:
    """The case as staff see it after an action (read again, so the answer shows what was committed)."""
    return StaffCaseOut().dump(cases.for_dispatcher(case_id))


def actor() -> Actor:
    principal: Principal = current_principal()
    if principal.is_staff:
        return Actor.staff(principal.id, StaffRole(principal.role), principal.unit_id)
    return Actor.citizen(principal.id)
