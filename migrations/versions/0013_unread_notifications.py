"""a unit's unread in-app notifications, newest first

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 14:15:00.000000

A unit's inbox filtered to unread walked every one of the unit's notifications for `read_at` (71,528 rows, 140 ms
per page view at 1 M cases): the unread ones get a partial index of their own, which stays small as they are read.
Built CONCURRENTLY on PostgreSQL, as in 0007.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

UNREAD = "read_at IS NULL AND channel = 'IN_APP'"


def upgrade():
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_notifications_unit_unread",
            "notifications",
            ["unit_id", "id"],
            unique=False,
            postgresql_concurrently=True,
            postgresql_where=sa.text(UNREAD),
            sqlite_where=sa.text(UNREAD),
        )


def downgrade():
    with op.get_context().autocommit_block():
        op.drop_index("ix_notifications_unit_unread", table_name="notifications", postgresql_concurrently=True)
