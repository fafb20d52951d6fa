"""随手拍 citizen-report backend."""

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

import config as settings
from backend.extensions import db, migrate, redis_store
from backend.jsonio import JSONProvider
from backend.storage import init_storage


def create_app(config: type[settings.Config] | None = None, overrides: dict | None = None) -> Flask:
    config = config or settings.config_from_env()
    app = Flask(__name__)
    app.json = JSONProvider(app)
    app.config.from_object(config)
    app.config.update(overrides or {})
    if config is settings.ProductionConfig and (problems := config.problems()):
        raise RuntimeError("refusing to start in production: " + "; ".join(problems))
    from backend.services.workcalendar import parse_work_hours

    parse_work_hours(app.config["WORK_HOURS"])  # a malformed WORK_HOURS fails here, not at the first deadline
    if app.config.get("BEHIND_PROXY"):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(settings.BASE_DIR / "migrations"), render_as_batch=True)
    redis_store.init_app(app)
    init_storage(app)

    from backend import models  # noqa: F401 - registers the tables for migrations
    from backend.api import register_blueprints
    from backend.cli import register_commands
    from backend.errors import register_error_handlers

    register_blueprints(app)
    register_error_handlers(app)
    register_commands(app)
    return app
