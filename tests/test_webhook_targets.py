"""No SSRF through unit webhooks: non-public targets are refused when the URL is saved and again at every send."""

import socket

import pytest
from werkzeug import Response

from backend.clients.webhooks import TargetRefused, WebhookClient, WebhookRejected, check_target, parse_networks
from backend.extensions import db
from backend.models import Channel, DeliveryStatus, Notification, Unit
from tests.helpers import RENHE_TOWN

UNIT = "renhe-ecology"  # dust in 仁和镇 goes to 区生态环境局

REFUSED = [
    "http://127.0.0.1:8080/hook",
    "http://localhost:6379/",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.5:8080/admin",
    "http://172.16.3.4/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",  # CGNAT
    "http://0.0.0.0:8080/",
    "http://224.0.0.1/",
    "http://240.0.0.1/",  # reserved
    "http://[::1]:8080/",
    "http://[::ffff:127.0.0.1]:8080/",  # IPv4-mapped IPv6
    "http://[::ffff:169.254.169.254]/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://2130706433/",  # 127.0.0.1 as one number
    "http://8.8.8.8:22/",  # a privileged port other than 80/443
    "ftp://8.8.8.8/",
    "file:///etc/passwd",
    "http://user:pass@8.8.8.8/",
]


@pytest.mark.parametrize("url", REFUSED)
def test_non_public_targets_are_refused(url):
    with pytest.raises(TargetRefused) as refused:
        check_target(url)
    assert str(refused.value) == TargetRefused.GENERIC and refused.value.reason


@pytest.mark.parametrize("url", ["http://8.8.8.8/hook", "https://1.1.1.1:8443/x", "http://[2001:4860::8888]/"])
def test_public_addresses_pass(url):
    assert check_target(url).address in url


def test_the_allow_list_admits_named_networks_only():
    allowed = parse_networks("10.1.0.0/16, 192.168.5.7")
    assert check_target("http://10.1.2.3:8080/h", allowed).address == "10.1.2.3"
    assert check_target("http://[::ffff:10.1.2.3]:8080/h", allowed)
    assert check_target("http://192.168.5.7/", allowed)
    for url in ("http://10.2.0.1/", "http://192.168.5.8/", "http://127.0.0.1:8080/", "http://169.254.169.254/"):
        with pytest.raises(TargetRefused):
            check_target(url, allowed)
    with pytest.raises(ValueError):
        parse_networks("10.1.0.0/16,not-a-network")


@pytest.fixture
def dispatcher(api):
    return api.login_staff("dispatcher")


def _unit_id(api, dispatcher, code=UNIT):
    return next(u["id"] for u in api.get("/api/v1/admin/units", dispatcher).json["items"] if u["code"] == code)


def _patch(api, dispatcher, url):
    return api.client.patch(
        f"/api/v1/admin/units/{_unit_id(api, dispatcher)}",
        json={"webhook_url": url, "webhook_kind": "json"},
        headers=api.auth(dispatcher),
    )


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/latest/meta-data/", "http://localhost:6379/", "http://10.0.0.5:8080/admin"]
)
def test_saving_a_non_public_webhook_is_422(api, dispatcher, url):
    response = _patch(api, dispatcher, url)
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] == "validation_failed" and response.json["error"]["fields"]["webhook_url"]
    bad = api.post(
        "/api/v1/admin/units", dispatcher, json={"code": "x-2", "name": "x", "kind": "grid", "webhook_url": url}
    )
    assert bad.status_code == 422 and "webhook_url" in bad.json["error"]["fields"]


def test_an_allow_listed_intranet_webhook_is_saved_and_called(app, api, run_jobs, dispatcher, httpserver):
    app.config["WEBHOOK_ALLOWED_NETWORKS"] = "127.0.0.1/32"
    httpserver.expect_request("/hook", method="POST").respond_with_json({"ok": True})
    assert _patch(api, dispatcher, httpserver.url_for("/hook")).status_code == 200
    api.submit_ok(api.login_citizen(), category="dust", location=RENHE_TOWN)
    run_jobs()
    assert len(httpserver.log) >= 1
    with app.app_context():
        rows = db.session.scalars(db.select(Notification).where(Notification.channel == Channel.WEBHOOK)).all()
        assert rows and {row.status for row in rows} == {DeliveryStatus.SENT}


def test_a_stored_non_public_webhook_is_refused_at_send_and_the_list_is_no_oracle(app, api, run_jobs, httpserver):
    """A URL saved while the allow-list named it (or before this check existed): the send checks again."""
    hits = []
    httpserver.expect_request("/internal/admin").respond_with_handler(
        lambda request: hits.append(request.get_data()) or Response("nope", status=404)
    )
    with app.app_context():
        unit = db.session.scalar(db.select(Unit).where(Unit.code == UNIT))
        unit.webhook_url, unit.webhook_kind = httpserver.url_for("/internal/admin"), "json"
        db.session.commit()
    dispatcher = api.login_staff("dispatcher")
    api.submit_ok(api.login_citizen(), category="dust", location=RENHE_TOWN)
    run_jobs()
    assert hits == [] and httpserver.log == []
    failed = api.get("/api/v1/admin/notifications?status=failed", dispatcher).json["items"]
    errors = [n["last_error"] for n in failed if n["channel"] == "webhook"]
    assert errors and set(errors) == {TargetRefused.GENERIC}


def test_a_redirect_is_a_failure_and_not_followed(httpserver):
    httpserver.expect_request("/hook").respond_with_response(
        Response(status=302, headers={"Location": httpserver.url_for("/elsewhere")})
    )
    with pytest.raises(WebhookRejected) as rejected:
        WebhookClient(timeout=2, allowed_networks="127.0.0.1/32").send(
            httpserver.url_for("/hook"), "json", "t", "x", {}, "d-1"
        )
    assert str(rejected.value) == "HTTP 302"
    assert [request.path for request, _ in httpserver.log] == ["/hook"]


def test_the_checked_address_is_the_one_called(httpserver, monkeypatch):
    """DNS rebinding: the name resolves to an allowed address when checked, to another one a moment later.
    The request still goes to the checked address, with the name in the Host header."""
    real = socket.getaddrinfo
    answers = iter(["127.0.0.1"] + ["10.255.255.1"] * 10)

    def rebinding(host, port, *args, **kwargs):
        if host == "rebind.test":
            return real(next(answers), port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    httpserver.expect_request("/hook").respond_with_json({"ok": True})
    url = f"http://rebind.test:{httpserver.port}/hook"
    WebhookClient(timeout=2, allowed_networks="127.0.0.1/32").send(url, "json", "t", "x", {}, "d-1")
    [(request, _)] = httpserver.log
    assert request.headers["Host"] == f"rebind.test:{httpserver.port}"
