from flask import Blueprint

from backend.api.common import json_body
from backend.api.spec import doc
from backend.api.throttle import per_ip
from backend.extensions import db
from backend.schemas.auth import CitizenSessionOut, DevLoginIn, StaffLoginIn, StaffSessionOut, WeChatLoginIn
from backend.services import accounts

bp = Blueprint("auth", __name__, url_prefix="/auth")


LOGIN_TOO_OFTEN = "登录太频繁，请稍后再试"


@bp.post("/wechat")
@doc(
    body=WeChatLoginIn,
    response=CitizenSessionOut,
    public=True,
    errors={401: "wechat_login_failed", 429: "rate_limited", 503: "wechat_busy wechat_unavailable"},
)
@per_ip("CITIZEN_LOGIN_IP_LIMIT", LOGIN_TOO_OFTEN)
def wechat_login():
    data = json_body(WeChatLoginIn())
    session = accounts.login_with_wechat(data["code"])
    db.session.commit()
    return CitizenSessionOut().dump(session)


@bp.post("/dev")
@doc(body=DevLoginIn, response=CitizenSessionOut, public=True, errors={404: "not_found", 429: "rate_limited"})
@per_ip("CITIZEN_LOGIN_IP_LIMIT", LOGIN_TOO_OFTEN)
def dev_login():
    accounts.require_dev_login()
    session = accounts.login_for_development(json_body(DevLoginIn())["openid"])
    db.session.commit()
    return CitizenSessionOut().dump(session)


@bp.post("/staff")
@doc(
    body=StaffLoginIn,
    response=StaffSessionOut,
    public=True,
    errors={401: "invalid_credentials", 403: "account_disabled unit_disabled", 429: "rate_limited account_locked"},
)
@per_ip("STAFF_LOGIN_IP_LIMIT", "登录失败次数过多，请稍后再试", only_failures=True)
def staff_login():
    data = json_body(StaffLoginIn())
    return StaffSessionOut().dump(accounts.login_staff(data["username"], data["password"]))
