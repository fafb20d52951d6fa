"""indexes for every periodic query and list filter

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 20:50:00.000000

On PostgreSQL the indexes are built CONCURRENTLY (outside the migration's transaction), so a city's tables keep
taking writes while they build; `bench/explain.py` shows each periodic query and list filter using one.
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

OPEN = "status IN ('DISPATCHED', 'PROCESSING')"
DISPATCH_INBOX = "unit_id IS NULL AND channel = 'IN_APP'"
# name, table, columns, partial index predicate (PostgreSQL, SQLite)
INDEXES = [
    ("ix_cases_unit_status", "cases", ["unit_id", "status", "id"], None),
    ("ix_cases_category", "cases", ["category_id", "id"], None),
    ("ix_cases_needs_review", "cases", ["id"], ("needs_review IS true", "needs_review IS 1")),
    ("ix_cases_open_deadline", "cases", ["deadline_at"], (OPEN, OPEN)),
    ("ix_cases_open_level", "cases", ["escalation_level", "id"], (OPEN, OPEN)),
    ("ix_cases_status_closed", "cases", ["status", "closed_at"], None),
    ("ix_cases_location", "cases", ["wgs84_lat", "wgs84_lng"], None),
    ("ix_photos_status_created", "photos", ["status", "created_at"], None),
    ("ix_photos_created_at", "photos", ["created_at"], None),
    ("ix_notifications_channel_status", "notifications", ["channel", "status"], None),
    ("ix_notifications_unit_channel_id", "notifications", ["unit_id", "channel", "id"], None),
    ("ix_notifications_dispatch_inbox", "notifications", ["id"], (DISPATCH_INBOX, DISPATCH_INBOX)),
]
# served by the longer ones above: (unit_id, status, id) and (unit_id, channel, id)
REPLACED = [
    ("ix_cases_unit_id", "cases", ["unit_id"], None),
    ("ix_notifications_unit_channel", "notifications", ["unit_id", "channel"], None),
]


def _create(name, table, columns, where):
    kw = {}
    if where:
        kw = {"postgresql_where": sa.text(where[0]), "sqlite_where": sa.text(where[1])}
    op.create_index(name, table, columns, unique=False, postgresql_concurrently=True, **kw)


def _drop(name, table, *_):
    op.drop_index(name, table_name=table, postgresql_concurrently=True)


def upgrade():
    with op.get_context().autocommit_block():
        for index in INDEXES:
            _create(*index)
        for index in REPLACED:
            _drop(*index)


def downgrade():
    with op.get_context().autocommit_block():
        for index in REPLACED:
            _create(*index)
        for index in reversed(INDEXES):
            _drop(*index)
