"""The application as the benchmark scripts run it: development settings (no secret needed from the
environment, DEBUG off), a given database, and Redis off unless a script asks for it."""

import secrets

import config
from backend import create_app


def bench_app(database_url: str, settings: type[config.Config] = config.DevelopmentConfig, **overrides):
    values = {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": secrets.token_hex(32),
        "REDIS_URL": "",
        "DEBUG": False,
    }
    return create_app(settings, values | overrides)
