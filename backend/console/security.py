"""What every console response carries: a CSRF token check on every POST, a Content-Security-Policy that allows
no inline script or style, and HTML error pages (the JSON API keeps its JSON envelope)."""

import hmac
import secrets
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, render_template, request, session
from flask_limiter.errors import RateLimitExceeded
from werkzeug.exceptions import HTTPException

from backend.console import bp
from backend.console.forms import envelope_message
from backend.errors import HTTP_CODES, AppError, _rollback

CSRF_FIELD = "csrf_token"
PREFIX = "/console"


def csrf_token() -> str:
    """The session's CSRF token (made on first use); every form posts it back as `csrf_token`."""
    if CSRF_FIELD not in session:
        session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return session[CSRF_FIELD]


def new_csrf_token() -> None:
    """A fresh token at login and logout: a token seen before the login does not work after it."""
    session[CSRF_FIELD] = secrets.token_urlsafe(32)


@bp.before_request
def check_csrf():
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    sent = request.form.get(CSRF_FIELD, "")
    expected = session.get(CSRF_FIELD, "")
    if not sent or not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(400, description="页面已过期或请求来源无效，请刷新页面后重试")


def tile_source(tile_url: str) -> str:
    """The CSP source of the configured tile server: scheme and host, a `{s}` subdomain becoming `*`."""
    if not tile_url:
        return ""
    parts = urlsplit(tile_url)
    labels = parts.netloc.split(".")
    host = ".".join("*" if "{" in label else label for label in labels)
    return f"{parts.scheme}://{host}"


def content_security_policy() -> str:
    images = " ".join(filter(None, ["'self'", "data:", "blob:", tile_source(current_app.config["CONSOLE_TILE_URL"])]))
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src {images}; connect-src 'self'; font-src 'self'; object-src 'none'; "
        "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    )


def add_headers(response):
    if not request.path.startswith(PREFIX):
        return response
    response.headers["Content-Security-Policy"] = content_security_policy()
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    if not request.path.startswith(f"{PREFIX}/static/"):
        response.headers["Cache-Control"] = "no-store"
    return response


def error_page(status: int, message: str, headers: dict | None = None):
    return render_template("console/error.html", status=status, message=message), status, headers or {}


def _http_message(error: HTTPException) -> str:
    if error.code == 400 and error.description and not error.description.startswith("The browser"):
        return error.description
    return HTTP_CODES.get(error.code or 500, ("", "请求有误"))[1]


@bp.errorhandler(AppError)
def handle_app_error(error: AppError):
    _rollback()
    return error_page(error.status, error.message, error.headers())


@bp.errorhandler(HTTPException)
def handle_http_error(error: HTTPException):
    _rollback()
    return error_page(error.code or 500, _http_message(error))


@bp.errorhandler(RateLimitExceeded)
def handle_rate_limited(error: RateLimitExceeded):
    message = error.description if error.limit.error_message else "操作太频繁，请稍后再试"
    return error_page(429, message)


def _outside_blueprint(status: int, body: dict, headers: dict | None = None):
    """Errors under /console that the console's own handlers did not answer (an unknown address, a bad query
    parameter, a database that is down …): an HTML page too."""
    if request.path.startswith(PREFIX):
        return error_page(status, envelope_message(body), headers)
    return None


def init_app(app: Flask) -> None:
    for name in ("CONSOLE_TILE_COORD",):
        if app.config[name] not in ("gcj02", "wgs84"):
            raise RuntimeError(f"{name} must be gcj02 or wgs84, not {app.config[name]!r}")
    app.after_request(add_headers)
    app.extensions.setdefault("html_error_pages", []).append(_outside_blueprint)
    app.jinja_env.globals["csrf_token"] = csrf_token
