"""随手拍 citizen-report backend."""

import gc

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

import config as settings
from backend.extensions import db, enforce_foreign_keys, limiter, migrate, redis_store
from backend.jsonio import JSONProvider
from backend.request import Request
from backend.storage import init_storage


def create_app(config: type[settings.Config] | None = None, overrides: dict | None = None) -> Flask:
    config = config or settings.config_from_env()
    app = Flask(__name__)
    app.json = JSONProvider(app)
    app.request_class = Request
    app.config.from_object(config)
    app.config.update(overrides or {})
    if problems := config.problems(app.config):
        raise RuntimeError(f"refusing to start ({config.__name__}): " + "; ".join(problems))
    from backend.services.casework.workcalendar import parse_work_hours

    parse_work_hours(app.config["WORK_HOURS"])  # a malformed WORK_HOURS fails here, not at the first deadline
    from backend.clients.webhooks import parse_networks

    parse_networks(app.config["WEBHOOK_ALLOWED_NETWORKS"])  # likewise a malformed allow-list
    if app.config.get("BEHIND_PROXY"):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)

    db.init_app(app)
    enforce_foreign_keys(app)
    migrate.init_app(app, db, directory=str(settings.BASE_DIR / "migrations"), render_as_batch=True)
    redis_store.init_app(app)
    limiter.init_app(app)
    init_storage(app)

    from backend import models  # noqa: F401 - registers the tables for migrations
    from backend.api import register_blueprints
    from backend.cli import register_commands
    from backend.errors import register_error_handlers

    register_blueprints(app)
    from backend.console import init_console

    init_console(app)
    register_error_handlers(app)
    register_commands(app)
    return app


def settle_heap() -> None:
    """Once a server process has loaded the app: move what it loaded out of the garbage collector's view and let
    it run less often. A request allocates thousands of short-lived objects (ORM rows, dicts for JSON); with
    CPython's default threshold (700) that sets off several collections per request, each walking the imports,
    the URL map and the ORM's mappings again. Measured in bench/bench_lists.py: a list page of 50 cases, about
    15 % less CPU."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
