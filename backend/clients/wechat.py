"""WeChat mini-program server API (api.weixin.qq.com), on its documented wire format.

- auth.code2Session: GET /sns/jscode2session
- getStableAccessToken: POST /cgi-bin/stable_token, JSON body (normal mode: repeated calls while the token is
  valid return the same token; force_refresh=true invalidates it, is limited to 20 a day and meant for leaks)
- subscribeMessage.send (订阅消息): POST /cgi-bin/message/subscribe/send?access_token=…

WeChat answers HTTP 200 with {"errcode", "errmsg"} on errors. Transient failures (network, timeouts, non-JSON,
HTTP 5xx, errcode -1 busy / 45011 rate limited) raise WeChatUnavailable: retry later. Anything else raises
WeChatError (permanent for this request); 43101 raises its subclass SubscriptionRefused.

The access_token travels in the query string, so error messages are redacted and never chain the requests
exception (whose text holds the URL): RQ stores exception text in Redis and it ends up in logs.
"""

import contextlib
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import requests
from redis import Redis
from redis.exceptions import LockError

from backend.clients.http import DeadlineSession


class WeChatError(Exception):
    """WeChat answered with an errcode (it uses HTTP 200 for errors too)."""

    def __init__(self, errcode: int, errmsg: str):
        super().__init__(f"{errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class SubscriptionRefused(WeChatError):
    """43101: the user has no remaining subscription for this template (never granted, used up, or revoked).
    Not retryable: the user must accept again in wx.requestSubscribeMessage."""


class WeChatUnavailable(Exception):
    """Network trouble, a non-JSON answer, HTTP 5xx or a busy/rate-limit errcode: transient, worth retrying."""

    def __init__(self, message: str, errcode: int | None = None):
        super().__init__(message)
        self.errcode = errcode


# -1 system busy, 45011 rate limited: worth trying again later
TRANSIENT_ERRCODES = {-1, 45011}
# 40001 invalid credential (access_token invalid or not the latest), 42001 access_token expired
TOKEN_ERRCODES = {40001, 42001}
SUBSCRIPTION_REFUSED = 43101

_SECRET_PARAMS = re.compile(r"((?:access_token|secret|js_code)=)[^&\s'\"]+")


def _redact(text: str) -> str:
    return _SECRET_PARAMS.sub(r"\1***", text)


@dataclass(frozen=True)
class Session:
    openid: str
    unionid: str | None


class WeChatClient:
    def __init__(self, base_url: str, appid: str, secret: str, timeout: float = 5.0, session=None):
        self.base_url = base_url.rstrip("/")
        self.appid = appid
        self.secret = secret
        self.timeout = timeout
        self.http = session or DeadlineSession()

    def _get(self, path: str, params: dict) -> dict:
        # code2Session keeps its original mapping: every errcode is a WeChatError (callers check
        # TRANSIENT_ERRCODES themselves); network trouble and non-JSON are WeChatUnavailable.
        try:
            response = self.http.get(f"{self.base_url}{path}", params=params, timeout=self.timeout)
            response.raise_for_status()
            body = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise WeChatUnavailable(f"{path}: {_redact(str(exc))}") from None
        if body.get("errcode"):
            raise WeChatError(int(body["errcode"]), str(body.get("errmsg", "")))
        return body

    def _post(self, path: str, payload: dict, params: dict | None = None) -> dict:
        """POST JSON, map the answer: a dict without errcode, or WeChatUnavailable / WeChatError."""
        try:
            response = self.http.post(f"{self.base_url}{path}", params=params, json=payload, timeout=self.timeout)
        except requests.RequestException as exc:
            raise WeChatUnavailable(f"{path}: {type(exc).__name__}: {_redact(str(exc))}") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise WeChatUnavailable(f"{path}: HTTP {response.status_code}")
        if response.status_code >= 400:
            # WeChat itself never does this; a proxy in the way might. The errcode is the HTTP status.
            raise WeChatError(response.status_code, f"HTTP {response.status_code}")
        try:
            body = response.json()
            errcode = int(body.get("errcode") or 0)
        except (ValueError, TypeError, AttributeError):
            raise WeChatUnavailable(f"{path}: the answer is not a JSON object") from None
        if errcode:
            errmsg = str(body.get("errmsg", ""))
            if errcode in TRANSIENT_ERRCODES:
                raise WeChatUnavailable(f"{path}: {errcode}: {errmsg}", errcode=errcode)
            if errcode == SUBSCRIPTION_REFUSED:
                raise SubscriptionRefused(errcode, errmsg)
            raise WeChatError(errcode, errmsg)
        return body

    def code_to_session(self, code: str) -> Session:
        """wx.login code → openid (auth.code2Session). The session_key is dropped, never stored or logged."""
        body = self._get(
            "/sns/jscode2session",
            {"appid": self.appid, "secret": self.secret, "js_code": code, "grant_type": "authorization_code"},
        )
        if not body.get("openid"):
            raise WeChatUnavailable("jscode2session answered without openid")
        return Session(openid=body["openid"], unionid=body.get("unionid"))

    def fetch_stable_token(self, force_refresh: bool = False) -> tuple[str, int]:
        """getStableAccessToken → (access_token, expires_in seconds).

        Keep force_refresh False: the normal mode is idempotent while the token is valid (and hands out the
        next token in the last 5 minutes, both staying valid meanwhile). Force mode invalidates the current
        token everywhere, is limited to 20 calls a day, 30 s apart, and is meant for a leaked token.
        """
        body = self._post(
            "/cgi-bin/stable_token",
            {
                "grant_type": "client_credential",
                "appid": self.appid,
                "secret": self.secret,
                "force_refresh": force_refresh,
            },
        )
        token, expires_in = body.get("access_token"), body.get("expires_in")
        if not token or not isinstance(expires_in, int):
            raise WeChatUnavailable("stable_token answered without access_token/expires_in")
        return token, expires_in

    def send_subscribe_message(
        self,
        token_cache: "AccessTokenCache",
        openid: str,
        template_id: str,
        data: Mapping[str, Any],
        page: str | None = None,
        miniprogram_state: str = "formal",
        lang: str = "zh_CN",
    ) -> int | None:
        """subscribeMessage.send (订阅消息). `data` is {key: value}; values are trimmed to their type's limits.

        Returns WeChat's msgid when it gives one. On 40001/42001 the cached token is dropped and the call is
        retried exactly once with a fresh one; a second token error is raised as it is.
        """
        payload: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "miniprogram_state": miniprogram_state,
            "lang": lang,
            "data": trim_subscribe_data(data),
        }
        if page:
            payload["page"] = page
        token = token_cache.get()
        try:
            body = self._post("/cgi-bin/message/subscribe/send", payload, {"access_token": token})
        except WeChatError as exc:
            if exc.errcode not in TOKEN_ERRCODES:
                raise
            token_cache.invalidate(token)
            body = self._post("/cgi-bin/message/subscribe/send", payload, {"access_token": token_cache.get()})
        return body.get("msgid")


def client_from_config(config) -> WeChatClient:
    return WeChatClient(
        config["WECHAT_API_BASE"], config["WECHAT_APPID"], config["WECHAT_SECRET"], config["HTTP_TIMEOUT_SECONDS"]
    )


# access_token: one per deployment, in Redis --------------------------------------------------------------

# Delete the key only if it still holds the token we were told is bad (another worker may have refreshed it).
_COMPARE_AND_DELETE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


class AccessTokenCache:
    """The access_token shared by every web and worker process, stored in Redis under a key per appid.

    get() reads the cache; on a miss one process fetches under a Redis lock while the others wait and then
    re-read the cache, so a cold start or expiry costs one call to WeChat, not one per worker.
    """

    def __init__(
        self,
        redis: Redis,
        appid: str,
        fetch: Callable[[], tuple[str, int]],
        margin_seconds: int = 300,
        lock_timeout: float = 30.0,
        blocking_timeout: float = 10.0,
    ):
        self.redis = redis
        self.appid = appid
        self.fetch = fetch
        self.margin_seconds = margin_seconds
        self.lock_timeout = lock_timeout  # longer than one fetch (the HTTP timeout), so the lock outlives it
        self.blocking_timeout = blocking_timeout
        self.key = f"wechat:access_token:{appid}"
        self.lock_key = f"{self.key}:lock"
        self._compare_and_delete = redis.register_script(_COMPARE_AND_DELETE)

    def _cached(self) -> str | None:
        value = self.redis.get(self.key)
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else value

    def ttl_for(self, expires_in: int) -> int:
        """expires_in minus the margin. WeChat promises expires_in >= 300 (it hands out the next token in the
        last 5 minutes), so when the margin would eat (nearly) all of it, keep half instead."""
        ttl = expires_in - self.margin_seconds
        return ttl if ttl >= 60 else max(1, expires_in // 2)

    def get(self) -> str:
        token = self._cached()
        if token:
            return token
        lock = self.redis.lock(self.lock_key, timeout=self.lock_timeout, blocking_timeout=self.blocking_timeout)
        if not lock.acquire():
            token = self._cached()
            if token:
                return token
            raise WeChatUnavailable("another process is still refreshing the access_token")
        try:
            token = self._cached()  # whoever held the lock before us has probably stored one
            if token:
                return token
            token, expires_in = self.fetch()
            self.redis.set(self.key, token, ex=self.ttl_for(int(expires_in)))
            return token
        finally:
            with contextlib.suppress(LockError):  # it expired while we fetched: nothing of ours to release
                lock.release()

    def invalidate(self, token: str) -> bool:
        """Forget `token` if it is still the cached one; True when it was deleted."""
        return bool(self._compare_and_delete(keys=[self.key], args=[token]))


def token_cache_for(client: WeChatClient, redis: Redis, margin_seconds: int = 300) -> AccessTokenCache:
    """The deployment's token cache, refreshed through the client's getStableAccessToken (normal mode)."""
    return AccessTokenCache(redis, client.appid, client.fetch_stable_token, margin_seconds=margin_seconds)


# Subscribe message data: trim to each key type's limits ---------------------------------------------------

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
_KEY_TYPE = re.compile(r"^(.*?)\d*$")


def _is_han(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" or "\uf900" <= ch <= "\ufaff"


def _is_ascii_letter(ch: str) -> bool:
    return ch.isascii() and ch.isalpha()


def _is_symbol(ch: str) -> bool:
    # "符号": common symbols other than Chinese, letters and digits; no line breaks or other control characters
    return not (_is_han(ch) or ch.isalnum() or ch.isspace() or unicodedata.category(ch).startswith("C"))


def _printable(value: str) -> str:
    """Line breaks and other control characters become spaces; runs of spaces collapse."""
    cleaned = "".join(" " if ch.isspace() or unicodedata.category(ch).startswith("C") else ch for ch in value)
    return re.sub(" {2,}", " ", cleaned).strip()


def _cut(value: str, limit: int, ellipsis: bool = False) -> str:
    if len(value) <= limit:
        return value
    return value[: limit - 1] + "…" if ellipsis else value[:limit]


def _number(value: str) -> str:
    digits, seen_point = [], False
    for ch in value:
        if ch.isascii() and ch.isdigit():
            digits.append(ch)
        elif ch == "." and not seen_point and digits:
            digits.append(ch)
            seen_point = True
    return "".join(digits)[:32].rstrip(".")


def _name(value: str) -> str:
    # 10 Chinese characters, or 20 letters/symbols; mixed Chinese and letters counts as a Chinese name
    return value[:10] if any(_is_han(ch) for ch in value) else value[:20]


def _format_when(value: Any, with_time: bool) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(LOCAL_TZ)
        return value.strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d")
    return _printable(str(value))


_TRIMMERS: dict[str, Callable[[str], str]] = {
    "thing": lambda v: _cut(_printable(v), 20, ellipsis=True),
    "character_string": lambda v: "".join(ch for ch in v if " " <= ch <= "~").strip()[:32].rstrip(),
    "phrase": lambda v: "".join(ch for ch in v if _is_han(ch))[:5],
    "name": lambda v: _name(_printable(v)),
    "number": _number,
    "letter": lambda v: "".join(ch for ch in v if _is_ascii_letter(ch))[:32],
    "symbol": lambda v: "".join(ch for ch in v if _is_symbol(ch))[:5],
    "car_number": lambda v: "".join(ch for ch in v if _is_han(ch) or (ch.isascii() and ch.isalnum())).upper()[:8],
    "phone_number": lambda v: "".join(ch for ch in v if (ch.isascii() and ch.isdigit()) or _is_symbol(ch))[:17],
    "amount": lambda v: re.sub(r"[\s,，]", "", v)[:32],
}
# When trimming leaves nothing, WeChat answers 47003 ("value is empty"); say "none" in a form the type accepts.
_PLACEHOLDERS = {"thing": "-", "character_string": "-", "symbol": "-", "phone_number": "-", "name": "-", "phrase": "无"}


def trim_subscribe_data(data: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """{key: value} → WeChat's {key: {"value": trimmed}}, trimmed to the limits of the key's type prefix
    (thing1 → thing, character_string2 → character_string …). Trims, never fails. Values that are already
    {"value": …} are unwrapped first; time/date values may be datetimes (shown in Asia/Shanghai time)."""
    trimmed: dict[str, dict[str, str]] = {}
    for key, raw in data.items():
        if isinstance(raw, Mapping):
            raw = raw.get("value", "")
        kind = _KEY_TYPE.match(key).group(1)
        if kind in ("time", "date"):
            value = _format_when(raw, with_time=kind == "time")
        else:
            text = "" if raw is None else str(raw)
            trimmer = _TRIMMERS.get(kind)
            value = trimmer(text) if trimmer else _printable(text)  # enum and unknown types: as given
            if not value and text.strip():
                value = _PLACEHOLDERS.get(kind, value)
        trimmed[key] = {"value": value}
    return trimmed
