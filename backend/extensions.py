"""Extensions, created unbound and bound to the app in create_app."""

from flask import Flask, current_app
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
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
