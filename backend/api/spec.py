"""The OpenAPI 3.1 document of the API, generated from the views themselves.

Each view declares what it takes and answers once, with `@doc(...)`; the generator walks `app.url_map` and turns
the marshmallow schemas into JSON Schema (apispec). What every view shares is added here, not per view: the
bearer token and its 401 (and 403 when a role is required, from the role decorators of backend.auth), 400 and
422 when a body or query is read, 404 for an id in the path, 409 `concurrent_update` on every write, and
`503 service_unavailable`. A view names only its own error codes:

    @bp.post("/cases/<int:case_id>/rework")
    @doc(body=ReasonIn, response=StaffCaseOut, errors={404: "case_not_found", 409: "invalid_transition"})
    @dispatcher_required
    def rework_case(case_id): ...
"""

import re
from collections.abc import Iterable
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, current_app
from marshmallow import Schema

bp = Blueprint("spec", __name__)

ATTRIBUTE = "api_doc"
ERROR_SCHEMA = "Error"
JSON = "application/json"
MULTIPART = "multipart/form-data"

AUTH_CODES = ("unauthorized", "invalid_token", "token_expired", "account_disabled", "unit_disabled")
HTTP_REASONS = {
    200: "OK",
    201: "Created",
    204: "No content",
    400: "Bad request",
    401: "Not logged in",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    413: "Too large",
    422: "Validation failed",
    429: "Too many requests",
    503: "Service unavailable",
}


class Page:
    """A paged list answer: {"items": [...], "total", "page", "per_page"}."""

    def __init__(self, item: type[Schema] | Schema):
        self.item = item

    def schema(self) -> dict:
        return {
            "type": "object",
            "properties": {
                "items": {"type": "array", "items": self.item},
                "total": {"type": "integer", "minimum": 0},
                "page": {"type": "integer", "minimum": 1},
                "per_page": {"type": "integer", "minimum": 1},
                # case lists only: the after_id of the next page (keyset paging), null on the last one
                "next_after_id": {"type": ["integer", "null"]},
                # false when `total` stopped at the count cap (more items match)
                "total_exact": {"type": "boolean"},
            },
            "required": ["items", "total", "total_exact", "page", "per_page"],
        }


class Items(Page):
    """A short catalogue: {"items": [...]} only."""

    def schema(self) -> dict:
        return {"type": "object", "properties": {"items": {"type": "array", "items": self.item}}, "required": ["items"]}


def doc(
    *,
    response: Any = None,
    status: int = 200,
    body: Any = None,
    query: type[Schema] | Schema | list[dict] | None = None,
    errors: dict[int, str | Iterable[str]] | None = None,
    summary: str | None = None,
    content_type: str = JSON,
    public: bool = False,
    responses: dict[int, dict] | None = None,
):
    """Store what the view takes and answers on the view, for the generator.

    response: a marshmallow Schema (class or instance), Page(...)/Items(...), a JSON Schema dict (which may hold
      Schemas), or None for no body (e.g. status=204). content_type: the success answer's media type.
    body: a Schema read as the JSON body, or {media type: Schema or JSON Schema} for anything else (multipart),
      or for a body taken in more than one media type.
    query: the Schema of the query string (read with query_args), or OpenAPI parameter objects the view reads
      itself. errors: {status: "code other_code"} this view can answer besides
      the shared ones. public: no token (a view without a role decorator must say so, so none is forgotten).
    responses: {status: OpenAPI response object} for answers outside the error envelope (WeChat Pay's format).
    """

    def decorate(view):
        setattr(
            view,
            ATTRIBUTE,
            {
                "response": response,
                "status": status,
                "body": body,
                "query": query,
                "errors": {code: _codes(names) for code, names in (errors or {}).items()},
                "summary": summary,
                "content_type": content_type,
                "public": public,
                "responses": responses or {},
            },
        )
        return view

    return decorate


def _codes(names: str | Iterable[str]) -> list[str]:
    return names.split() if isinstance(names, str) else list(names)


_PATH_ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def _path_parameters(rule: str) -> tuple[str, list[dict]]:
    parameters = []

    def replace(match: re.Match) -> str:
        converter, name = match.group(1) or "default", match.group(2)
        if converter == "int":
            schema = {"type": "integer", "minimum": 0}
        else:
            schema = {"type": "string", "minLength": 1, "pattern": "^[^/]+$"}
        parameters.append({"in": "path", "name": name, "required": True, "schema": schema})
        return "{" + name + "}"

    return _PATH_ARGUMENT.sub(replace, rule), parameters


def _error_response(status: int, codes: list[str]) -> dict:
    codes = sorted(set(codes))
    response = {
        "description": ", ".join(f"`{code}`" for code in codes),
        "content": {
            JSON: {
                "schema": {
                    "allOf": [
                        {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"},
                        {"properties": {"error": {"properties": {"code": {"enum": codes}}}}},
                    ]
                }
            }
        },
        "x-error-codes": codes,
    }
    if status == 503:
        response["headers"] = {
            "Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}
        }
    return response


def _success_response(meta: dict) -> dict:
    response: dict = {"description": HTTP_REASONS.get(meta["status"], "OK")}
    answer = meta["response"]
    if answer is None:
        return response
    if isinstance(answer, Page):
        answer = answer.schema()
    response["content"] = {meta["content_type"]: {"schema": answer}}
    return response


def _operation(view, rule, method: str) -> dict:
    meta = getattr(view, ATTRIBUTE)
    roles = getattr(view, "auth_roles", None)
    path, parameters = _path_parameters(rule.rule)
    errors: dict[int, list[str]] = {503: ["service_unavailable"]}

    def add(status: int, *codes: str) -> None:
        errors.setdefault(status, []).extend(codes)

    operation: dict = {
        "operationId": view.__module__.rsplit(".", 1)[-1] + "." + view.__name__,
        "tags": [rule.endpoint.split(".")[-2] if rule.endpoint.count(".") >= 1 else "api"],
        "parameters": parameters,
    }
    summary = meta["summary"] or (view.__doc__ or "").strip().split("\n")[0]
    if summary:
        operation["summary"] = summary
    if roles:
        operation["security"] = [{"bearer": []}]
        operation["x-roles"] = list(roles)
        add(401, *AUTH_CODES)
        if getattr(view, "auth_checks_role", True):
            add(403, "forbidden")
    elif not meta["public"]:
        raise LookupError(f"{rule.endpoint}: a view without a role decorator must say @doc(public=True)")
    else:
        operation["security"] = []
    if parameters and any(p["schema"]["type"] == "integer" for p in parameters):
        add(404, "not_found")  # an id too large for the database names nothing
    query = meta["query"]
    if isinstance(query, list):  # parameters the view reads itself, as OpenAPI parameter objects
        operation["parameters"] = [*parameters, *query]
    elif query is not None:
        operation["parameters"] = [*parameters, {"in": "query", "schema": query}]
        add(422, "validation_failed")
    body = meta["body"]
    if body is not None:
        if isinstance(body, dict):
            operation["requestBody"] = {"required": True, "content": {kind: {"schema": s} for kind, s in body.items()}}
            if JSON in body:
                add(400, "invalid_json")
            if any(isinstance(s, Schema) or (isinstance(s, type) and issubclass(s, Schema)) for s in body.values()):
                add(422, "validation_failed")
        else:
            operation["requestBody"] = {"required": True, "content": {JSON: {"schema": body}}}
            add(400, "invalid_json")
            add(422, "validation_failed")
    if method != "get":
        add(409, "concurrent_update")  # a unique or foreign key constraint caught a race
    for status, codes in meta["errors"].items():
        add(status, *codes)
    operation["responses"] = {str(meta["status"]): _success_response(meta)}
    for status in sorted(errors):
        operation["responses"][str(status)] = _error_response(status, errors[status])
    for status, answer in meta["responses"].items():
        operation["responses"][str(status)] = answer
    return path, operation


def _error_schema() -> dict:
    return {
        "type": "object",
        "description": "The one error envelope of the API (section 1.3 of miniprogram_api.md).",
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "code": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
                    "message": {"type": "string", "minLength": 1},
                    "fields": {"type": "object", "description": "validation errors: field name → messages"},
                },
                "required": ["code", "message"],
                "additionalProperties": False,
            }
        },
        "required": ["error"],
        "additionalProperties": False,
    }


def _schema_name(schema) -> str:
    """Component names: the class name; a partial load of an ...In schema (PATCH) is ...Patch."""
    cls = schema if isinstance(schema, type) else type(schema)
    name = cls.__name__
    if not isinstance(schema, type) and schema.partial and not name.endswith("Patch"):
        return name.removesuffix("In") + "Patch"
    return name


# What the document describes: the JSON API and the signed photo links. The staff console (/console) serves HTML
# pages, not API operations, and stays out of it.
API_PREFIXES = ("/api/v1", "/media")


def undocumented(app: Flask) -> list[str]:
    """Every route and method the generator cannot describe: a view without @doc."""
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(API_PREFIXES):
            continue
        view = app.view_functions[rule.endpoint]
        if not hasattr(view, ATTRIBUTE):
            missing += [f"{method} {rule.rule}" for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return missing


def build(app: Flask) -> dict:
    spec = APISpec(
        title="随手拍 API",
        version="1",
        openapi_version="3.1.0",
        plugins=[MarshmallowPlugin(schema_name_resolver=_schema_name)],
        info={"description": "Generated from the views and their marshmallow schemas; see miniprogram_api.md."},
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema(ERROR_SCHEMA, _error_schema())
    paths: dict[str, dict] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        view = app.view_functions[rule.endpoint]
        if not rule.rule.startswith(API_PREFIXES) or not hasattr(view, ATTRIBUTE):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            path, operation = _operation(view, rule, method.lower())
            paths.setdefault(path, {})[method.lower()] = operation
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def document(app: Flask) -> dict:
    """Built once per app: the routes do not change while it runs."""
    if "openapi" not in app.extensions:
        app.extensions["openapi"] = build(app)
    return app.extensions["openapi"]


@bp.get("/openapi.json")
@doc(response={"type": "object", "description": "this document"}, public=True)
def openapi():
    """The OpenAPI 3.1 document of this API."""
    return document(current_app._get_current_object())
