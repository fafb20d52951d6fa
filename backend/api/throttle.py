"""Rate limits on views, by client address or by the logged-in account. Limits come from settings.

An account limit goes *below* the auth decorator, so it counts the principal the token names:

    @bp.post("/photos")
    @login_required
    @per_account("PHOTO_UPLOAD_LIMIT", "上传图片太频繁，请稍后再试")
    def upload_photo(): ...
"""

from flask import current_app

from backend.auth import current_principal
from backend.extensions import limiter


def _setting(name: str):
    return lambda: current_app.config[name]


def _account_key() -> str:
    principal = current_principal()
    return f"{principal.kind}:{principal.id}"


def per_ip(setting: str, message: str, *, only_failures: bool = False):
    """Requests from one client address; with `only_failures`, only answers 401 count (failed logins)."""
    return limiter.limit(
        _setting(setting),
        scope=setting,
        error_message=message,
        deduct_when=(lambda response: response.status_code == 401) if only_failures else None,
    )


def per_account(setting: str, message: str):
    return limiter.limit(_setting(setting), key_func=_account_key, scope=setting, error_message=message)
