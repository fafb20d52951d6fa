"""The migrations build exactly the models' schema, and the indexes migration goes down and up again."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

import config
from backend import create_app
from backend.extensions import db

INDEXES_0007 = {"ix_cases_unit_status", "ix_cases_category", "ix_cases_needs_review", "ix_photos_status_created"}


def _app(database_url):
    return create_app(config.TestingConfig, {"SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": ""})


def _indexes() -> set[str]:
    inspector = inspect(db.engine)
    return {index["name"] for table in ("cases", "photos") for index in inspector.get_indexes(table)}


def test_models_and_migrations_agree(database_url):
    with _app(database_url).app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "render_as_batch": True})
        assert compare_metadata(context, db.metadata) == []


def test_indexes_migration_goes_down_and_up(database_url):
    with _app(database_url).app_context():
        assert _indexes() >= INDEXES_0007
        downgrade(revision="0006")
        assert not INDEXES_0007 & _indexes() and "ix_cases_unit_id" in _indexes()  # the one 0007 replaced
        upgrade()
        assert _indexes() >= INDEXES_0007 and "ix_cases_unit_id" not in _indexes()
        db.engine.dispose()
