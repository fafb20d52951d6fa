"""schemathesis against a live server, over every operation of /api/v1/openapi.json, with a token of each role
allowed to call it: no 5xx, and every 4xx in the error envelope with a status and code the document declares.

Marked `fuzz`: the normal suite deselects it (pyproject.toml); `make fuzz` runs it (and .ci/run after the tests).
A real HTTP server (werkzeug, threaded, 127.0.0.1) serves the app on the suite's database (SQLite unless
DATABASE_URL is set) and embedded Redis, with the demo district and a few cases, claims and a payout batch, so
that generated ids often name something that exists. WeChat and WeChat Pay are a local stub server.
FUZZ_EXAMPLES sets the examples per operation (default 12); the run takes a few minutes on 2 cores.
"""

import json
import logging
import os
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field

import pytest
import requests
import schemathesis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pytest_httpserver import HTTPServer
from rq import SimpleWorker
from schemathesis.checks import not_a_server_error
from werkzeug.serving import make_server

import config
from backend import create_app
from backend.api import spec
from backend.extensions import db
from backend.services import accounts
from backend.services.responsibility import demo_district
from tests.conftest import _empty_tables
from tests.helpers import RENHE_TOWN, Api
from workers.queues import ALL_QUEUES

pytestmark = pytest.mark.fuzz

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))
UNIT = "renhe-ecology"  # handles dust in 仁和镇
ROLE_ACCOUNTS = {
    "unit_staff": UNIT,
    "dispatcher": "dispatcher",
    "admin": "admin",
    "reward_admin": "finance",
    "leader": "leader",
}


@dataclass
class Live:
    base_url: str
    tokens: dict[str, str]
    session: requests.Session = field(default_factory=requests.Session)
    statuses: Counter = field(default_factory=Counter)


def _pem_files(directory) -> dict:
    """A merchant key and a WeChat Pay platform key, so the payout callback verifies (and refuses) signatures."""
    paths = {}
    for name in ("merchant", "platform"):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if name == "merchant":
            data = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        else:
            data = key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        paths[name] = directory / f"{name}.pem"
        paths[name].write_bytes(data)
    return paths


def _seed(app, api: Api, citizen: str) -> None:
    """Cases in every state the fuzzer can act on, a reward rule, a claim and an offline payout batch."""

    def drain():
        with app.app_context():
            SimpleWorker(ALL_QUEUES, connection=app.extensions["redis"]).work(burst=True, logging_level="ERROR")

    dispatcher, finance, unit = (api.login_staff(name) for name in ("dispatcher", "finance", UNIT))
    categories = {c["code"]: c["id"] for c in api.get("/api/v1/admin/categories", dispatcher).json["items"]}
    body = {"category_id": categories["dust"], "amount_fen": 500}
    assert api.post("/api/v1/reward-admin/rules", finance, json=body).status_code == 201
    cases = []
    for n in range(5):
        location = {**RENHE_TOWN, "lat": RENHE_TOWN["lat"] + n * 0.002}
        cases.append(api.submit_ok(citizen, category="dust", location=location)["id"])
    drain()
    closed, processing, replied = cases[0], cases[1], cases[2]
    for case_id in (closed, processing, replied):
        assert api.post(f"/api/v1/unit/cases/{case_id}/accept", unit).status_code == 200
    for case_id in (closed, replied):
        assert api.post(f"/api/v1/unit/cases/{case_id}/reply", unit, json={"content": "已处理"}).status_code == 200
    assert api.post(f"/api/v1/reports/{closed}/rating", citizen, json={"rating": "satisfied"}).status_code == 200
    body = {"reason": "需要协调", "extra_working_hours": 8}
    assert api.post(f"/api/v1/unit/cases/{processing}/extension", unit, json=body).status_code == 201
    drain()
    claims = api.get("/api/v1/reward-admin/claims", finance).json["items"]
    assert claims, "the closed case should have a reward claim"
    api.post(f"/api/v1/reward-admin/claims/{claims[0]['id']}/approve", finance, json={})
    assert api.post("/api/v1/reward-admin/payouts", finance, json={"method": "offline"}).status_code == 201


@pytest.fixture(scope="module")
def live(database_url, redis_url, tmp_path_factory):
    directory = tmp_path_factory.mktemp("fuzz")
    wechat = HTTPServer(host="127.0.0.1", port=0)
    wechat.start()
    # every wx.login code is refused (40029), every WeChat Pay call answered with an error
    wechat.expect_request("/sns/jscode2session").respond_with_json({"errcode": 40029, "errmsg": "invalid code"})
    wechat.expect_request("/").respond_with_json({"code": "PARAM_ERROR", "message": "fuzz"}, status=400)
    keys = _pem_files(directory)
    stub = wechat.url_for("/").rstrip("/")
    app = create_app(
        config.TestingConfig,
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "REDIS_URL": redis_url,
            "MEDIA_ROOT": str(directory / "media"),
            "WECHAT_API_BASE": stub,
            "WECHATPAY_API_BASE": stub,
            "WECHATPAY_MCHID": "1900000001",
            "WECHATPAY_SERIAL_NO": "FUZZSERIAL",
            "WECHATPAY_PRIVATE_KEY_PATH": str(keys["merchant"]),
            "WECHATPAY_PUBLIC_KEYS": json.dumps({"PUB_KEY_ID_FUZZ": str(keys["platform"])}),
            "WECHATPAY_APIV3_KEY": "0123456789abcdef0123456789abcdef",
            "WECHATPAY_TRANSFER_SCENE_ID": "1000",
            "WEBHOOK_SECRET": "fuzz",
        },
    )
    with app.app_context():
        _empty_tables()
        demo_district.load()
        demo_district.create_demo_staff()
        accounts.create_staff("finance", demo_district.DEMO_PASSWORD, "reward_admin")
        db.session.commit()
        app.extensions["redis"].flushdb()
    api = Api(app.test_client())
    tokens = {"citizen": api.login_citizen("fuzz-citizen")}
    tokens |= {role: api.login_staff(username) for role, username in ROLE_ACCOUNTS.items()}
    _seed(app, api, tokens["citizen"])

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    live = Live(f"http://127.0.0.1:{server.server_port}", tokens)
    yield live
    total = sum(live.statuses.values())
    by_status = ", ".join(f"{status}: {count}" for status, count in sorted(live.statuses.items()))
    sys.__stdout__.write(f"\nfuzz: {total} requests; by status {by_status}\n")
    server.shutdown()
    thread.join(timeout=10)
    wechat.clear()
    wechat.stop()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _load_schema():
    """The document as the app generates it; built at import (the factory is pure, nothing connects)."""
    app = create_app(config.TestingConfig, {"SQLALCHEMY_DATABASE_URI": "sqlite://", "REDIS_URL": ""})
    with app.app_context():
        loaded = schemathesis.openapi.from_dict(spec.build(app))
    loaded.config.generation.update(max_examples=EXAMPLES, deterministic=True, database="none")
    return loaded


schema = _load_schema()


# what any route answers to a method it does not have (schemathesis also tries those)
ANY_ROUTE = {405: {"x-error-codes": ["method_not_allowed"]}}


def _declared_response(case, status: int) -> dict | None:
    return case.operation.definition.raw["responses"].get(str(status)) or ANY_ROUTE.get(status)


def error_envelope(ctx, response, case):
    """Every 4xx (and 5xx) answers in the error envelope, with a status and a code this operation declares."""
    status = response.status_code
    if status < 400:
        return None
    declared = _declared_response(case, status)
    assert declared is not None, f"{status} is not declared for {case.operation.label}: {response.text[:300]}"
    try:
        body = json.loads(response.text)
    except ValueError:
        raise AssertionError(f"{status} answer is not JSON: {response.text[:300]!r}") from None
    if "x-error-codes" not in declared:  # declared in another format (WeChat Pay's callback)
        assert isinstance(body, dict) and {"code", "message"} <= set(body), body
        return None
    assert isinstance(body, dict) and set(body) == {"error"}, f"not the error envelope: {body}"
    error = body["error"]
    assert isinstance(error, dict) and {"code", "message"} <= set(error) <= {"code", "message", "fields"}, error
    assert isinstance(error["message"], str) and error["message"], error
    assert error["code"] in declared["x-error-codes"], (
        f"{status} {error['code']} is not declared for {case.operation.label} (declares {declared['x-error-codes']})"
    )
    if "fields" in error:
        assert status == 422 and isinstance(error["fields"], dict), error
    if status == 503:
        assert int(response.headers["Retry-After"]) > 0
    return None


def _often_existing(path_parameters: dict) -> dict:
    """Half of the generated ids (the even ones) become small ids that name seeded rows."""
    return {
        name: value % 12 + 1 if isinstance(value, int) and not isinstance(value, bool) and value % 2 == 0 else value
        for name, value in path_parameters.items()
    }


@schema.parametrize()
def test_no_5xx_and_every_error_in_the_envelope(case, live):
    if case.path_parameters:
        case.path_parameters = _often_existing(case.path_parameters)
    roles = case.operation.definition.raw.get("x-roles") or [None]
    for role in roles:
        headers = {"Authorization": f"Bearer {live.tokens[role]}"} if role else {}
        response = case.call(base_url=live.base_url, session=live.session, headers=headers, timeout=30)
        live.statuses[response.status_code] += 1
        case.validate_response(response, checks=[not_a_server_error, error_envelope], headers=headers)
