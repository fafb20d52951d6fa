"""WeChat mini-program server API (api.weixin.qq.com), on its documented wire format."""

from dataclasses import dataclass

import requests


class WeChatError(Exception):
    """WeChat answered with an errcode (it uses HTTP 200 for errors too)."""

    def __init__(self, errcode: int, errmsg: str):
        super().__init__(f"{errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class WeChatUnavailable(Exception):
    """Network trouble or a non-JSON answer: transient, worth retrying."""


# -1 system busy, 45011 rate limited: worth trying again later
TRANSIENT_ERRCODES = {-1, 45011}


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
        self.http = session or requests.Session()

    def _get(self, path: str, params: dict) -> dict:
        try:
            response = self.http.get(f"{self.base_url}{path}", params=params, timeout=self.timeout)
            response.raise_for_status()
            body = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise WeChatUnavailable(str(exc)) from exc
        if body.get("errcode"):
            raise WeChatError(int(body["errcode"]), str(body.get("errmsg", "")))
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


def client_from_config(config) -> WeChatClient:
    return WeChatClient(
        config["WECHAT_API_BASE"], config["WECHAT_APPID"], config["WECHAT_SECRET"], config["HTTP_TIMEOUT_SECONDS"]
    )
