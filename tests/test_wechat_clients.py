"""Outbound clients against a local fake of api.weixin.qq.com and of webhook receivers, with a real Redis."""

import hashlib
import hmac
import json
import socket
import threading
import time
from datetime import UTC, datetime

import pytest
from redis.exceptions import LockError
from werkzeug import Response

from backend.clients.webhooks import (
    WebhookClient,
    WebhookRejected,
    WebhookUnavailable,
    truncate_utf8,
)
from backend.clients.wechat import (
    AccessTokenCache,
    SubscriptionRefused,
    WeChatClient,
    WeChatError,
    WeChatUnavailable,
    token_cache_for,
    trim_subscribe_data,
)

APPID, SECRET = "wx-test-appid", "wx-test-secret"
STABLE_TOKEN = "/cgi-bin/stable_token"
SEND = "/cgi-bin/message/subscribe/send"


@pytest.fixture
def client(httpserver) -> WeChatClient:
    return WeChatClient(httpserver.url_for("/").rstrip("/"), APPID, SECRET, timeout=2)


def _token_requests(httpserver) -> list:
    return [request for request, _ in httpserver.log if request.path == STABLE_TOKEN]


def _serve_tokens(httpserver, *tokens: str, delay: float = 0.0) -> None:
    """Answer stable_token with the given tokens in turn (the last one repeats)."""
    remaining = list(tokens)

    def handler(request):
        time.sleep(delay)
        token = remaining.pop(0) if len(remaining) > 1 else remaining[0]
        return Response(json.dumps({"access_token": token, "expires_in": 7200}), content_type="application/json")

    httpserver.expect_request(STABLE_TOKEN, method="POST").respond_with_handler(handler)


# access_token ---------------------------------------------------------------------------------------------


def test_stable_token_request_is_the_documented_one(client, httpserver):
    httpserver.expect_oneshot_request(
        STABLE_TOKEN,
        method="POST",
        json={"grant_type": "client_credential", "appid": APPID, "secret": SECRET, "force_refresh": False},
    ).respond_with_json({"access_token": "ACCESS_TOKEN", "expires_in": 7200})
    assert client.fetch_stable_token() == ("ACCESS_TOKEN", 7200)
    httpserver.check_assertions()
    assert _token_requests(httpserver)[0].headers["Content-Type"] == "application/json"


def test_stable_token_force_refresh(client, httpserver):
    httpserver.expect_oneshot_request(
        STABLE_TOKEN,
        method="POST",
        json={"grant_type": "client_credential", "appid": APPID, "secret": SECRET, "force_refresh": True},
    ).respond_with_json({"access_token": "NEW", "expires_in": 7200})
    assert client.fetch_stable_token(force_refresh=True) == ("NEW", 7200)


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ({"errcode": 40013, "errmsg": "invalid appid"}, WeChatError),
        ({"errcode": 40125, "errmsg": "invalid appsecret"}, WeChatError),
        ({"errcode": -1, "errmsg": "system error"}, WeChatUnavailable),
        ({"errcode": 0}, WeChatUnavailable),  # no token in the answer
    ],
)
def test_stable_token_errors(client, httpserver, answer, error):
    httpserver.expect_request(STABLE_TOKEN, method="POST").respond_with_json(answer)
    with pytest.raises(error):
        client.fetch_stable_token()


def test_token_is_cached_in_redis_and_shared_by_workers(client, httpserver, redis):
    _serve_tokens(httpserver, "TOKEN-1")
    worker_a = token_cache_for(client, redis)
    worker_b = AccessTokenCache(redis, APPID, WeChatClient(client.base_url, APPID, SECRET).fetch_stable_token)
    assert worker_a.get() == "TOKEN-1"
    assert worker_b.get() == "TOKEN-1"
    assert worker_a.get() == "TOKEN-1"
    assert len(_token_requests(httpserver)) == 1
    assert 7200 - 300 - 5 <= redis.ttl(worker_a.key) <= 7200 - 300


def test_cache_key_is_per_appid(redis):
    one = AccessTokenCache(redis, "wx-one", lambda: ("T1", 7200))
    other = AccessTokenCache(redis, "wx-other", lambda: ("T2", 7200))
    assert (one.get(), other.get()) == ("T1", "T2")
    assert one.key != other.key


def test_five_threads_at_once_make_one_token_request(client, httpserver, redis):
    _serve_tokens(httpserver, "TOKEN-1", delay=0.3)
    start = threading.Barrier(5)
    results, errors = [], []

    def worker():
        cache = AccessTokenCache(redis, APPID, WeChatClient(client.base_url, APPID, SECRET).fetch_stable_token)
        start.wait()
        try:
            results.append(cache.get())
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert results == ["TOKEN-1"] * 5
    assert len(_token_requests(httpserver)) == 1


def test_a_waiter_that_times_out_does_not_fetch(redis):
    calls = []
    cache = AccessTokenCache(redis, APPID, lambda: calls.append(1) or ("T", 7200), blocking_timeout=0.2)
    held = redis.lock(cache.lock_key, timeout=5)
    assert held.acquire()
    try:
        with pytest.raises(WeChatUnavailable):
            cache.get()
    finally:
        held.release()
    assert calls == []
    assert cache.get() == "T"


def test_a_lock_that_expired_during_the_fetch_is_not_an_error(redis):
    cache = AccessTokenCache(redis, APPID, lambda: time.sleep(0.3) or ("T", 7200), lock_timeout=0.1)
    assert cache.get() == "T"
    with pytest.raises(LockError):  # what the cache swallows
        redis.lock(cache.lock_key).release()


def test_invalidate_only_deletes_the_token_it_names(redis):
    tokens = iter(["T1", "T2"])
    cache = AccessTokenCache(redis, APPID, lambda: (next(tokens), 7200))
    assert cache.get() == "T1"
    assert cache.invalidate("STALE") is False
    assert cache.get() == "T1"
    assert cache.invalidate("T1") is True
    assert cache.get() == "T2"


@pytest.mark.parametrize(("expires_in", "ttl"), [(7200, 6900), (600, 300), (300, 150)])
def test_ttl_keeps_a_margin_even_for_short_lived_tokens(redis, expires_in, ttl):
    # WeChat only promises expires_in >= 300: a 300 s margin must not make the TTL zero
    assert AccessTokenCache(redis, APPID, lambda: ("T", expires_in)).ttl_for(expires_in) == ttl


# subscribeMessage.send ------------------------------------------------------------------------------------


def _send(client, redis, **kwargs):
    defaults = {"openid": "o-citizen", "template_id": "TPL-1", "data": {"thing1": "路灯不亮"}}
    return client.send_subscribe_message(token_cache_for(client, redis), **(defaults | kwargs))


def test_send_body(client, httpserver, redis):
    _serve_tokens(httpserver, "TOKEN-1")
    httpserver.expect_request(SEND, method="POST", query_string={"access_token": "TOKEN-1"}).respond_with_json(
        {"errcode": 0, "errmsg": "ok", "msgid": 294402298110051942}
    )
    msgid = _send(
        client,
        redis,
        page="pages/report/detail?id=123",
        miniprogram_state="trial",
        data={
            "thing1": "人民路与解放路交叉口东北角的路灯连续三晚不亮",
            "character_string2": "SSP-2026-000123 编号",
            "time3": "2026-11-22 10:30",
            "phrase4": "已办结了",
            "phrase5": "办理完毕已回访",
        },
    )
    assert msgid == 294402298110051942
    sent = [request for request, _ in httpserver.log if request.path == SEND]
    assert len(sent) == 1
    assert sent[0].get_json() == {
        "touser": "o-citizen",
        "template_id": "TPL-1",
        "page": "pages/report/detail?id=123",
        "miniprogram_state": "trial",
        "lang": "zh_CN",
        "data": {
            "thing1": {"value": "人民路与解放路交叉口东北角的路灯连续三…"},
            "character_string2": {"value": "SSP-2026-000123"},
            "time3": {"value": "2026-11-22 10:30"},
            "phrase4": {"value": "已办结了"},
            "phrase5": {"value": "办理完毕已"},
        },
    }


def test_send_without_page_leaves_it_out(client, httpserver, redis):
    _serve_tokens(httpserver, "TOKEN-1")
    httpserver.expect_request(SEND, method="POST").respond_with_json({"errcode": 0, "errmsg": "ok"})
    assert _send(client, redis) is None
    body = next(request for request, _ in httpserver.log if request.path == SEND).get_json()
    assert "page" not in body
    assert (body["miniprogram_state"], body["lang"]) == ("formal", "zh_CN")


@pytest.mark.parametrize("errcode", [40001, 42001])
def test_token_error_refreshes_once_and_retries_once(client, httpserver, redis, errcode):
    _serve_tokens(httpserver, "OLD", "NEW")

    def send(request):
        if request.args["access_token"] == "OLD":
            return Response(json.dumps({"errcode": errcode, "errmsg": "invalid credential"}))
        return Response(json.dumps({"errcode": 0, "errmsg": "ok", "msgid": 7}))

    httpserver.expect_request(SEND, method="POST").respond_with_handler(send)
    assert _send(client, redis) == 7
    sent = [request.args["access_token"] for request, _ in httpserver.log if request.path == SEND]
    assert sent == ["OLD", "NEW"]
    assert len(_token_requests(httpserver)) == 2
    assert redis.get(f"wechat:access_token:{APPID}") == b"NEW"


def test_a_second_token_error_is_raised_not_looped(client, httpserver, redis):
    _serve_tokens(httpserver, "OLD", "NEW")
    httpserver.expect_request(SEND).respond_with_json({"errcode": 40001, "errmsg": "invalid credential"})
    with pytest.raises(WeChatError) as error:
        _send(client, redis)
    assert error.value.errcode == 40001
    assert len([request for request, _ in httpserver.log if request.path == SEND]) == 2
    assert len(_token_requests(httpserver)) == 2


def test_43101_is_subscription_refused(client, httpserver, redis):
    _serve_tokens(httpserver, "TOKEN-1")
    httpserver.expect_request(SEND).respond_with_json({"errcode": 43101, "errmsg": "user refuse to accept the msg"})
    with pytest.raises(SubscriptionRefused) as error:
        _send(client, redis)
    assert error.value.errcode == 43101
    assert isinstance(error.value, WeChatError)


@pytest.mark.parametrize("errcode", [-1, 45011])
def test_busy_is_unavailable(client, httpserver, redis, errcode):
    _serve_tokens(httpserver, "TOKEN-1")
    httpserver.expect_request(SEND).respond_with_json({"errcode": errcode, "errmsg": "system error"})
    with pytest.raises(WeChatUnavailable) as error:
        _send(client, redis)
    assert error.value.errcode == errcode


@pytest.mark.parametrize("errcode", [40003, 40037, 47003, 41030])
def test_bad_request_errcodes_are_permanent(client, httpserver, redis, errcode):
    _serve_tokens(httpserver, "TOKEN-1")
    httpserver.expect_request(SEND).respond_with_json({"errcode": errcode, "errmsg": "invalid"})
    with pytest.raises(WeChatError) as error:
        _send(client, redis)
    assert not isinstance(error.value, SubscriptionRefused)
    assert error.value.errcode == errcode


@pytest.mark.parametrize(
    "respond",
    [
        lambda expectation: expectation.respond_with_data("<html>busy</html>", content_type="text/html"),
        lambda expectation: expectation.respond_with_data("oops", status=502),
    ],
)
def test_non_json_and_5xx_are_unavailable(client, httpserver, redis, respond):
    _serve_tokens(httpserver, "TOKEN-1")
    respond(httpserver.expect_request(SEND))
    with pytest.raises(WeChatUnavailable):
        _send(client, redis)


def test_unreachable_is_unavailable_and_hides_the_token(redis):
    client = WeChatClient("http://127.0.0.1:9", APPID, SECRET, timeout=1)
    cache = AccessTokenCache(redis, APPID, lambda: ("SECRET-TOKEN", 7200))
    with pytest.raises(WeChatUnavailable) as error:
        client.send_subscribe_message(cache, "o", "TPL", {"thing1": "x"})
    assert "SECRET-TOKEN" not in str(error.value)
    assert error.value.__cause__ is None and error.value.__suppress_context__


def _trickle(request):
    """Headers at once, then a byte every 0.3 s for 6 s: each wait on the socket is short, the answer is not."""

    def body():
        for _ in range(20):
            yield b" "
            time.sleep(0.3)
        yield b"{}"

    return Response(body(), content_type="application/json")


def test_a_server_that_trickles_its_answer_is_cut_off_at_the_timeout(httpserver, redis):
    """Found by a defect hunt: requests' timeout bounds each socket wait, so an endpoint sending a byte every
    few seconds held the worker until its job timed out (120 s) while routing waited behind it."""
    httpserver.expect_request(SEND, method="POST").respond_with_handler(_trickle)
    client = WeChatClient(httpserver.url_for("/").rstrip("/"), APPID, SECRET, timeout=1)
    cache = AccessTokenCache(redis, APPID, lambda: ("TOKEN", 7200))
    began = time.monotonic()
    with pytest.raises(WeChatUnavailable):
        client.send_subscribe_message(cache, "o", "TPL", {"thing1": "x"})
    assert time.monotonic() - began < 3


# trimming -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("thing1", "短文本", "短文本"),
        ("thing1", "一二三四五六七八九十一二三四五六七八九十", "一二三四五六七八九十一二三四五六七八九十"),
        ("thing1", "一二三四五六七八九十一二三四五六七八九十多", "一二三四五六七八九十一二三四五六七八九…"),
        ("thing2", "第一行\n第二行\t结束", "第一行 第二行 结束"),
        ("character_string3", "SSP-2026-000123", "SSP-2026-000123"),
        ("character_string3", "编号：AB-12 #3", "AB-12 #3"),
        ("character_string3", "X" * 40, "X" * 32),
        ("phrase4", "已办结", "已办结"),
        ("phrase4", "处理中(2)", "处理中"),
        ("phrase4", "办理完毕已回访", "办理完毕已"),
        ("phrase4", "done", "无"),
        ("name5", "张三", "张三"),
        ("name5", "欧阳一二三四五六七八九", "欧阳一二三四五六七八"),
        ("name5", "Alexander Hamilton-Burr Jr", "Alexander Hamilton-B"),
        ("number6", "1234", "1234"),
        ("number6", "约 12.50 元", "12.50"),
        ("number6", "9" * 40, "9" * 32),
        ("letter7", "abc-123-DEF", "abcDEF"),
        ("letter7", "a" * 40, "a" * 32),
        ("symbol8", "a+-*/=b?", "+-*/="),
        ("time9", "2026-11-22 10:30", "2026-11-22 10:30"),
        ("time9", "15:01~16:30", "15:01~16:30"),
        ("date10", "2019年10月1日", "2019年10月1日"),
        ("car_number11", "粤A·8Z888挂", "粤A8Z888挂"),
        ("car_number11", "京a12345678", "京A123456"),
        ("phone_number12", "+86-0766-66888866", "+86-0766-66888866"),
        ("phone_number12", "电话 138 0000 1111 转 8", "138000011118"),
        ("phone_number12", "+86-0766-66888866-1234", "+86-0766-66888866"),
        ("amount13", "¥1,200.50", "¥1200.50"),
        ("amount13", "50 元", "50元"),
        ("enum14", "A", "A"),
    ],
)
def test_trimming_table(key, value, expected):
    assert trim_subscribe_data({key: value}) == {key: {"value": expected}}


def test_trimming_never_fails_and_unwraps():
    data = trim_subscribe_data({"thing1": None, "number2": 42, "thing3": {"value": "已包装"}, "thing4": ""})
    assert data == {
        "thing1": {"value": ""},
        "number2": {"value": "42"},
        "thing3": {"value": "已包装"},
        "thing4": {"value": ""},
    }


def test_trimming_formats_datetimes_in_china_time():
    at = datetime(2026, 11, 22, 2, 30, tzinfo=UTC)
    assert trim_subscribe_data({"time1": at, "date2": at}) == {
        "time1": {"value": "2026-11-22 10:30"},
        "date2": {"value": "2026-11-22"},
    }


# webhooks -------------------------------------------------------------------------------------------------

LOOPBACK = "127.0.0.1/32"  # pytest-httpserver: the webhook allow-list must name it explicitly


def _local_client(timeout: float = 2, **kwargs) -> WebhookClient:
    return WebhookClient(timeout=timeout, allowed_networks=LOOPBACK, **kwargs)


CASE = {"number": "SSP-2026-000123", "category": "路灯", "address": "人民路 1 号", "case_id": 5}


def test_wecom_markdown_body(httpserver):
    httpserver.expect_request("/cgi-bin/webhook/send", method="POST", query_string={"key": "ROBOT"}).respond_with_json(
        {"errcode": 0, "errmsg": "ok"}
    )
    _local_client().send(
        httpserver.url_for("/cgi-bin/webhook/send?key=ROBOT"), "wecom", "新派遣案件", "请及时签收", CASE, "d-1"
    )
    request = httpserver.log[0][0]
    assert request.get_json() == {
        "msgtype": "markdown",
        "markdown": {
            "content": "**新派遣案件**\n请及时签收\n"
            "> 编号：SSP-2026-000123\n> 类别：路灯\n> 地址：人民路 1 号\n> case_id：5"
        },
    }
    assert request.headers["Content-Type"].startswith("application/json")


def test_wecom_content_is_trimmed_to_4096_utf8_bytes(httpserver):
    httpserver.expect_request("/robot").respond_with_json({"errcode": 0, "errmsg": "ok"})
    _local_client().send(httpserver.url_for("/robot"), "wecom", "标题", "长" * 3000, {}, "d-1")
    content = httpserver.log[0][0].get_json()["markdown"]["content"]
    assert len(content.encode("utf-8")) <= 4096
    assert content.startswith("**标题**\n长长") and content.endswith("…")
    assert truncate_utf8("长" * 3, 7) == "长…"  # 3 + 3 bytes, never half a character


@pytest.mark.parametrize(
    ("errcode", "error"), [(45009, WebhookUnavailable), (-1, WebhookUnavailable), (93000, WebhookRejected)]
)
def test_wecom_errcodes(httpserver, errcode, error):
    httpserver.expect_request("/robot").respond_with_json({"errcode": errcode, "errmsg": "no"})
    with pytest.raises(error) as raised:
        _local_client().send(httpserver.url_for("/robot"), "wecom", "t", "x", {}, "d-1")
    assert raised.value.errcode == errcode


def test_json_webhook_body_headers_and_signature(httpserver):
    httpserver.expect_request("/hook", method="POST", headers={"Idempotency-Key": "case-5:assigned"}).respond_with_data(
        "", status=204
    )
    client = _local_client(secret="shared-secret")
    client.send(
        httpserver.url_for("/hook"), "json", "新派遣案件", "请及时签收", CASE, "case-5:assigned", event="case_assigned"
    )
    request = httpserver.log[0][0]
    raw = request.get_data()
    assert json.loads(raw) == {
        "event": "case_assigned",
        "title": "新派遣案件",
        "text": "请及时签收",
        "data": CASE,
        "id": "case-5:assigned",
    }
    expected = "sha256=" + hmac.new(b"shared-secret", raw, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["X-Suishoupai-Signature"], expected)


def test_json_webhook_without_secret_is_unsigned(httpserver):
    httpserver.expect_request("/hook").respond_with_data("ok")
    _local_client().send(httpserver.url_for("/hook"), "json", "t", "x", {}, "d-1")
    assert "X-Suishoupai-Signature" not in httpserver.log[0][0].headers


@pytest.mark.parametrize(
    ("status", "error"),
    [(500, WebhookUnavailable), (503, WebhookUnavailable), (429, WebhookUnavailable), (404, WebhookRejected)],
)
def test_http_status_mapping(httpserver, status, error):
    httpserver.expect_request("/hook").respond_with_data("no", status=status)
    with pytest.raises(error) as raised:
        _local_client().send(httpserver.url_for("/hook"), "json", "t", "x", {}, "d-1")
    assert raised.value.status == status


def test_redirects_are_not_followed(httpserver):
    httpserver.expect_request("/hook").respond_with_data("", status=302, headers={"Location": "/elsewhere"})
    with pytest.raises(WebhookRejected):
        _local_client().send(httpserver.url_for("/hook"), "json", "t", "x", {}, "d-1")
    assert [request.path for request, _ in httpserver.log] == ["/hook"]


def test_timeout_is_transient(httpserver):
    def slow(request):
        time.sleep(0.6)
        return Response("late")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    with pytest.raises(WebhookUnavailable):
        _local_client(0.1).send(httpserver.url_for("/slow?key=ROBOT-KEY"), "wecom", "t", "x", {}, "d-1")


def test_connection_error_is_transient_and_hides_the_key():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(WebhookUnavailable) as raised:
        _local_client(1).send(f"http://127.0.0.1:{port}/send?key=ROBOT-KEY", "wecom", "t", "x", {}, "d-1")
    assert str(raised.value) == "ConnectionError"  # neither the key nor how the connection failed


@pytest.mark.parametrize(("url", "kind"), [("not a url", "json"), ("http://127.0.0.1:9/x", "sms")])
def test_unusable_configuration_is_permanent(url, kind):
    with pytest.raises(WebhookRejected):
        WebhookClient(timeout=1).send(url, kind, "t", "x", {}, "d-1")
