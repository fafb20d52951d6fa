"""Outbound webhooks to units: a WeCom (企业微信) group robot, or a plain JSON endpoint.

- "wecom": POST {"msgtype": "markdown", "markdown": {"content": …}} to the robot's webhook URL
  (https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…). Content is UTF-8, at most 4096 bytes. WeCom answers
  HTTP 200 with {"errcode", "errmsg"}: 0 ok; 45009 (rate limit: 20 messages a minute per robot) and -1 (busy)
  are transient; anything else is permanent. The robot has no idempotency key: a retry after a timeout may post
  twice.
- "json": POST {"event", "title", "text", "data", "id"} with `Idempotency-Key: <id>` and, when the client has
  a secret, `X-Suishoupai-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes>`. Any 2xx is success.

Timeouts, connection errors, HTTP 5xx, 408 and 429 raise WebhookUnavailable (retry later); other 3xx/4xx and
unusable URLs raise WebhookRejected (record it, don't retry). Redirects are not followed (a 3xx is a failure).
Error messages never carry the URL's query string: a WeCom robot key is a credential.

No SSRF: a unit's webhook may only reach the public internet. `check_target` (at save and again at every send)
accepts http/https on port 80, 443 or ≥ 1024, without credentials in the URL, resolves the host and refuses it
unless *every* address is public (not loopback, private, link-local such as 169.254.169.254, CGNAT 100.64/10,
multicast, reserved, unspecified, also inside IPv4-mapped IPv6) or inside the allow-list `WEBHOOK_ALLOWED_NETWORKS`
(intranet deployments). The request then connects to the checked address itself (Host header, TLS SNI and
certificate check keep the name), so a DNS answer that changes between check and connect cannot redirect it, and
ignores proxy settings from the environment. A refused target fails with TargetRefused, whose message says only
that (never the address, a status or a body: the failed-notifications list must not be a port scanner).
"""

import hashlib
import hmac
import ipaddress
import json
import re
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from backend.clients.http import DeadlineSession

WECOM = "wecom"
JSON = "json"
KINDS = (WECOM, JSON)

WECOM_MAX_CONTENT_BYTES = 4096
WECOM_TRANSIENT_ERRCODES = {-1, 45009}  # busy, rate limited
SIGNATURE_HEADER = "X-Suishoupai-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"

# How case fields read in a group chat; other keys are shown as they are.
FIELD_LABELS = {
    "number": "编号",
    "category": "类别",
    "address": "地址",
    "unit": "承办单位",
    "deadline": "办理时限",
    "status": "状态",
    "note": "说明",
    "at": "时间",
}
_QUERY = re.compile(r"\?[^\s'\"]*")


class WebhookError(Exception):
    def __init__(self, message: str, status: int | None = None, errcode: int | None = None):
        super().__init__(message)
        self.status = status
        self.errcode = errcode


class WebhookUnavailable(WebhookError):
    """Transient: timeout, connection error, HTTP 5xx/408/429, WeCom busy or rate limited. Retry later."""


class WebhookRejected(WebhookError):
    """Permanent: the endpoint refused the message (4xx, WeCom errcode) or the URL is unusable."""


class TargetRefused(WebhookRejected):
    """The URL may not be called: not http(s), an odd port, or a host that is (or resolves to) a non-public
    address outside the allow-list. `reason` is for the person saving the URL; str() stays generic."""

    GENERIC = "target refused: not an allowed public http(s) address"

    def __init__(self, reason: str):
        super().__init__(self.GENERIC)
        self.reason = reason


Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(text: str | Iterable[str] | None) -> tuple[Network, ...]:
    """WEBHOOK_ALLOWED_NETWORKS: "10.1.0.0/16,192.168.5.7/32" (a bare address means that one address)."""
    items = text.split(",") if isinstance(text, str) else (text or ())
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in items if item and item.strip())


def _public(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def _allowed(address: Address, allowed: tuple[Network, ...]) -> bool:
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return any(candidate in network for network in allowed for candidate in (address, mapped) if candidate)


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    address: str  # the checked address the request connects to


def check_target(url: str, allowed: tuple[Network, ...] = (), unresolved_ok: bool = False) -> Target | None:
    """The address to call for `url`, or TargetRefused. Resolves the host: call it again right before sending.
    With `unresolved_ok` (saving a URL) a name that does not resolve now passes (None): DNS may be down for a
    moment, and the send checks it again."""
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        raise TargetRefused("地址格式不正确") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefused("只支持 http 或 https 地址")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("地址中不能包含用户名或密码")
    if port not in (80, 443) and not 1024 <= port <= 65535:
        raise TargetRefused("端口只能是 80、443 或 1024 以上")
    try:
        answers = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        if unresolved_ok:
            return None
        raise TargetRefused("无法解析该地址的域名") from None
    addresses = [ipaddress.ip_address(answer[4][0].split("%")[0]) for answer in answers]
    if not addresses:
        raise TargetRefused("无法解析该地址的域名")
    for address in addresses:
        if not (_public(address) or _allowed(address, allowed)):
            raise TargetRefused("只能推送到公网地址（内网地址需加入 WEBHOOK_ALLOWED_NETWORKS）")
    return Target(parts.hostname, port, str(addresses[0]))


def _pinned(connection_class: type, address: str) -> type:
    class Pinned(connection_class):
        """Connects to the checked address; Host, SNI and the certificate check keep the URL's name."""

        def _new_conn(self):
            name, self._dns_host = self._dns_host, address
            try:
                return super()._new_conn()
            finally:
                self._dns_host = name

    return Pinned


class _PinnedAdapter(HTTPAdapter):
    def __init__(self, address: str):
        self.address = address
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        address = self.address
        http = type("PinnedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": _pinned(HTTPConnection, address)})
        https = type("PinnedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": _pinned(HTTPSConnection, address)})
        self.poolmanager.pool_classes_by_scheme = {"http": http, "https": https}


def redact(text: str | None) -> str | None:
    """The URL (or message) without query strings: a WeCom robot's key is a credential."""
    return None if text is None else _QUERY.sub("?…", text)


def sign(secret: str, body: bytes) -> str:
    """The X-Suishoupai-Signature value for `body`: the receiver recomputes it over the raw request body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def truncate_utf8(text: str, max_bytes: int) -> str:
    """At most max_bytes of UTF-8, cut on a character boundary, ending in "…" when cut."""
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    ellipsis = "…"
    room = max_bytes - len(ellipsis.encode("utf-8"))
    return encoded[:room].decode("utf-8", errors="ignore") + ellipsis


def wecom_markdown(title: str, text: str, data: Mapping[str, Any]) -> str:
    lines = [f"**{title}**"] if title else []
    if text:
        lines.append(text)
    for key, value in data.items():
        if key in ("title", "text") or value is None or value == "" or isinstance(value, (dict, list)):
            continue
        lines.append(f"> {FIELD_LABELS.get(key, key)}：{value}")
    return truncate_utf8("\n".join(lines), WECOM_MAX_CONTENT_BYTES)


class WebhookClient:
    def __init__(self, timeout: float, secret: str | None = None, allowed_networks: str | Iterable[str] | None = None):
        self.timeout = timeout
        self.secret = secret
        self.allowed = parse_networks(allowed_networks)

    def send(
        self,
        url: str,
        kind: str,
        title: str,
        text: str,
        data: Mapping[str, Any],
        dedupe_key: str,
        event: str = "notification",
    ) -> None:
        """Deliver one message; returns on success, raises WebhookUnavailable or WebhookRejected."""
        if kind == WECOM:
            payload = {"msgtype": "markdown", "markdown": {"content": wecom_markdown(title, text, data)}}
            response = self._post(url, json.dumps(payload, ensure_ascii=False).encode(), {})
            self._check_wecom(response)
        elif kind == JSON:
            body = json.dumps(
                {"event": event, "title": title, "text": text, "data": dict(data), "id": dedupe_key},
                ensure_ascii=False,
                default=str,
            ).encode()
            headers = {IDEMPOTENCY_HEADER: dedupe_key}
            if self.secret:
                headers[SIGNATURE_HEADER] = sign(self.secret, body)
            self._post(url, body, headers)
        else:
            raise WebhookRejected(f"unknown webhook kind {kind!r}")

    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> requests.Response:
        headers = {"Content-Type": "application/json; charset=utf-8", **headers}
        target = check_target(url, self.allowed)
        with DeadlineSession() as http:
            http.trust_env = False  # no proxy from the environment: the checked address is the one called
            http.mount("http://", _PinnedAdapter(target.address))
            http.mount("https://", _PinnedAdapter(target.address))
            try:
                response = http.post(url, data=body, headers=headers, timeout=self.timeout, allow_redirects=False)
            except (requests.Timeout, requests.ConnectionError) as exc:
                # the kind of failure only: a message telling "refused" from "timed out" would map ports
                raise WebhookUnavailable(type(exc).__name__) from None
            except requests.RequestException as exc:  # invalid or unsupported URL: a configuration problem
                raise WebhookRejected(type(exc).__name__) from None
        status = response.status_code
        if status >= 500 or status in (408, 429):
            raise WebhookUnavailable(f"HTTP {status}", status=status)
        if status >= 300:
            raise WebhookRejected(f"HTTP {status}", status=status)
        return response

    @staticmethod
    def _check_wecom(response: requests.Response) -> None:
        try:
            answer = response.json()
            errcode = int(answer.get("errcode", 0))
        except (ValueError, TypeError, AttributeError):
            raise WebhookUnavailable("WeCom answered without a JSON errcode", status=response.status_code) from None
        if errcode == 0:
            return
        message = f"WeCom errcode {errcode}: {redact(str(answer.get('errmsg', '')))}"
        if errcode in WECOM_TRANSIENT_ERRCODES:
            raise WebhookUnavailable(message, status=response.status_code, errcode=errcode)
        raise WebhookRejected(message, status=response.status_code, errcode=errcode)


def client_from_config(config) -> WebhookClient:
    return WebhookClient(
        config["HTTP_TIMEOUT_SECONDS"],
        secret=config.get("WEBHOOK_SECRET") or None,
        allowed_networks=config.get("WEBHOOK_ALLOWED_NETWORKS"),
    )
