"""Extensions, created unbound and bound to the app in create_app."""

from flask import Flask, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from limits import parse_many
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import MetaData, event
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()


def _sqlite_foreign_keys_on(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def enforce_foreign_keys(app: Flask) -> None:
    """SQLite checks foreign keys only when asked, per connection: ask on every one, as PostgreSQL always does."""
    with app.app_context():
        for engine in db.engines.values():
            if engine.dialect.name == "sqlite":
                event.listen(engine, "connect", _sqlite_foreign_keys_on)


class RedisHolder:
    """One Redis connection pool per app, reachable as `redis_store.client`."""

    def init_app(self, app: Flask) -> None:
        url = app.config["REDIS_URL"]
        app.extensions["redis"] = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=10) if url else None

    @property
    def client(self) -> Redis:
        client = current_app.extensions.get("redis")
        if client is None:
            raise RedisConnectionError("REDIS_URL is not configured")
        return client


redis_store = RedisHolder()


def _limits_storage_uri(redis_url: str) -> str:
    """The `limits` library spells a unix socket `redis+unix://`; no Redis at all (a CLI run) counts in memory."""
    if not redis_url:
        return "memory://"
    if redis_url.startswith("unix://"):
        return "redis+" + redis_url
    return redis_url


class RateLimiter(Limiter):
    """Flask-Limiter, counting in the app's Redis so every gunicorn worker and host shares the counts.

    The client address is `request.remote_addr`, which ProxyFix sets from X-Forwarded-For when BEHIND_PROXY.
    """

    SETTINGS = (
        "STAFF_LOGIN_IP_LIMIT",
        "STAFF_LOGIN_LOCKOUT",
        "CITIZEN_LOGIN_IP_LIMIT",
        "PHOTO_UPLOAD_LIMIT",
        "REPORT_SUBMIT_LIMIT",
    )

    def init_app(self, app: Flask) -> None:
        for name in self.SETTINGS:  # a malformed limit fails at start-up, not at the first request
            try:
                parse_many(app.config[name])
            except ValueError as exc:
                raise RuntimeError(f"{name}: {exc}") from exc
        app.config.setdefault("RATELIMIT_STORAGE_URI", _limits_storage_uri(app.config["REDIS_URL"]))
        super().init_app(app)
        # a new app starts on its own store, not on the in-memory fallback an earlier app fell back to
        self._storage_dead = False


limiter = RateLimiter(key_func=get_remote_address)
