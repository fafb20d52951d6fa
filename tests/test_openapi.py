"""GET /api/v1/openapi.json: generated from the views' @doc and their marshmallow schemas, covering every route."""

import re
from pathlib import Path

from backend.api import spec

METHODS = {"get", "post", "put", "patch", "delete"}
# codes of the generic classes and HTTP mappings: what no view answers on purpose (miniprogram_api.md section 2)
GENERIC_CODES = {
    "bad_request",
    "conflict",
    "http_error",
    "internal_error",
    "method_not_allowed",
    "too_many_requests",
    "unsupported_media_type",
}


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>", r"{\1}", rule)


def test_the_document_is_public_openapi_3_1(api):
    response = api.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json
    assert document["openapi"] == "3.1.0"
    assert document["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    assert document["paths"]["/api/v1/openapi.json"]["get"]["security"] == []


def test_every_route_and_method_is_in_the_document_with_its_metadata(app, api):
    assert spec.undocumented(app) == [], "views without @doc(...) (backend/api/spec.py)"
    paths = api.get("/api/v1/openapi.json").json["paths"]
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(("/api/v1", "/media")):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if method.lower() not in paths.get(_openapi_path(rule.rule), {}):
                missing.append(f"{method} {rule.rule}")
    assert not missing, f"missing from /api/v1/openapi.json: {missing}"
    served = {(path, method) for path, operations in paths.items() for method in operations}
    routed = {
        (_openapi_path(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
        if rule.rule.startswith(spec.API_PREFIXES)  # not the staff console's HTML pages
    }
    assert served == routed


def test_every_operation_declares_its_answers_and_errors(api):
    document = api.get("/api/v1/openapi.json").json
    schemas = document["components"]["schemas"]
    ids = [operation["operationId"] for operations in document["paths"].values() for operation in operations.values()]
    assert len(ids) == len(set(ids))
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert method in METHODS
            where = f"{method.upper()} {path}"
            responses = operation["responses"]
            assert any(status.startswith("2") for status in responses), where
            assert "503" in responses, where
            for name in re.findall(r"\{(\w+)\}", path):
                assert any(p["in"] == "path" and p["name"] == name for p in operation["parameters"]), where
            if operation["security"]:
                assert operation["x-roles"], where
                assert set(responses["401"]["x-error-codes"]) >= {"unauthorized", "invalid_token", "token_expired"}
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body and "$ref" in body["schema"]:
                assert body["schema"]["$ref"].removeprefix("#/components/schemas/") in schemas, where
                assert "invalid_json" in responses["400"]["x-error-codes"], where
                assert "validation_failed" in responses["422"]["x-error-codes"], where
            for status, response in responses.items():
                if status.startswith(("4", "5")) and "x-error-codes" in response:
                    schema = response["content"]["application/json"]["schema"]
                    assert schema["allOf"][0] == {"$ref": "#/components/schemas/Error"}, where


def test_request_schemas_come_from_the_marshmallow_schemas(api):
    schemas = api.get("/api/v1/openapi.json").json["components"]["schemas"]
    report = schemas["ReportIn"]
    assert set(report["required"]) == {"category", "location", "photo_ids"}
    assert report["additionalProperties"] is False  # unknown fields are refused
    assert report["properties"]["photo_ids"] == {
        "type": "array",
        "minItems": 1,
        "maxItems": 9,
        "items": {"type": "integer"},
    }
    assert report["properties"]["location"] == {"$ref": "#/components/schemas/LocationIn"}
    assert "required" not in schemas["RulePatch"]  # PATCH loads partially
    reports = api.get("/api/v1/openapi.json").json["paths"]["/api/v1/reports"]["post"]
    assert reports["x-roles"] == ["citizen"]
    assert reports["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CitizenReportOut"
    }
    # the same operation takes the report with its photo in one multipart request (wx.uploadFile)
    assert reports["requestBody"]["content"]["multipart/form-data"]["schema"] == {
        "$ref": "#/components/schemas/ReportFormIn"
    }
    form = schemas["ReportFormIn"]
    assert form["properties"]["file"] == {"type": "string", "format": "binary"}
    assert set(form["required"]) == {"file", "category", "lat", "lng", "coord"}
    assert form["properties"]["photo_ids"]["type"] == "string"  # comma-separated: formData values are strings
    mine = api.get("/api/v1/openapi.json").json["paths"]["/api/v1/reports/mine"]["get"]
    assert [p["name"] for p in mine["parameters"]] == ["page", "per_page", "after_id"]


def test_every_error_code_of_the_code_is_declared_by_some_operation(api):
    document = api.get("/api/v1/openapi.json").json
    declared = {
        code
        for operations in document["paths"].values()
        for operation in operations.values()
        for response in operation["responses"].values()
        for code in response.get("x-error-codes", [])
    }
    root = Path(__file__).resolve().parent.parent / "backend"
    used = set()
    for path in root.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r'code="([a-z_]+)"', text))
        used |= set(re.findall(r'^\s+code = "([a-z_]+)"', text, re.M))
    assert sorted(used - declared - GENERIC_CODES) == []
    doc = (root.parent / "miniprogram_api.md").read_text(encoding="utf-8")
    assert sorted(code for code in declared if f"`{code}`" not in doc) == []


def test_a_view_that_reads_another_schema_than_it_declares_fails_loudly(app):
    from flask import Blueprint

    from backend.api.common import json_body
    from backend.schemas.case import CommentIn, ReasonIn

    bp = Blueprint("drift", __name__)

    @bp.post("/drift")
    @spec.doc(body=ReasonIn, response=None, status=204, public=True)
    def drift():
        json_body(CommentIn())
        return "", 204

    app.register_blueprint(bp)
    response = app.test_client().post("/drift", json={"content": "x"})
    assert response.status_code == 500
