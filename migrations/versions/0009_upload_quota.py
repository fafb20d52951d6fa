"""partial indexes over unattached photos: the per-account upload quota and the purge of old uploads

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

UNATTACHED = "case_id IS NULL AND event_id IS NULL"
INDEXES = (
    ("ix_photos_unattached_user", "uploader_user_id"),
    ("ix_photos_unattached_staff", "uploader_staff_id"),
    ("ix_photos_unattached_created", "created_at"),
)


def upgrade():
    for name, column in INDEXES:
        op.create_index(
            name,
            "photos",
            [column],
            sqlite_where=sa.text(UNATTACHED),
            postgresql_where=sa.text(UNATTACHED),
        )


def downgrade():
    for name, _column in INDEXES:
        op.drop_index(name, table_name="photos")
