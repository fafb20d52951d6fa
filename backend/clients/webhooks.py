"""Outbound webhooks to units: a WeCom (企业微信) group robot, or a plain JSON endpoint.

- "wecom": POST {"msgtype": "markdown", "markdown": {"content": …}} to the robot's webhook URL
  (https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…). Content is UTF-8, at most 4096 bytes. WeCom answers
  HTTP 200 with {"errcode", "errmsg"}: 0 ok; 45009 (rate limit: 20 messages a minute per robot) and -1 (busy)
  are transient; anything else is permanent. The robot has no idempotency key: a retry after a timeout may post
  twice.
- "json": POST {"event", "title", "text", "data", "id"} with `Idempotency-Key: <id>` and, when the client has
  a secret, `X-Suishoupai-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes>`. Any 2xx is success.

Timeouts, connection errors, HTTP 5xx, 408 and 429 raise WebhookUnavailable (retry later); other 3xx/4xx and
unusable URLs raise WebhookRejected (record it, don't retry). Redirects are not followed. Error messages never
carry the URL's query string: a WeCom robot key is a credential.
"""

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from typing import Any

import requests

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
    def __init__(self, timeout: float, session: requests.Session | None = None, secret: str | None = None):
        self.timeout = timeout
        self.secret = secret
        self.http = session or requests.Session()

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
        try:
            response = self.http.post(url, data=body, headers=headers, timeout=self.timeout, allow_redirects=False)
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise WebhookUnavailable(f"{type(exc).__name__}: {redact(str(exc))}") from None
        except requests.RequestException as exc:  # invalid or unsupported URL: a configuration problem
            raise WebhookRejected(f"{type(exc).__name__}: {redact(str(exc))}") from None
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
    return WebhookClient(config["HTTP_TIMEOUT_SECONDS"], secret=config.get("WEBHOOK_SECRET") or None)
