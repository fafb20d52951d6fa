"""case lists newest first: (unit_id, id), (status, id) and a co-unit's (unit_id, case_id)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 19:20:00.000000

A page of a list is the newest 50 ids of each branch (a unit's led cases, its co-handled cases), merged: each
branch reads 50 index entries backwards instead of sorting all of a unit's cases. Built CONCURRENTLY on
PostgreSQL, as in 0007.
"""

from alembic import op


# revision identifiers, used by Alembic.
revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# name, table, columns
INDEXES = [
    ("ix_cases_unit_recent", "cases", ["unit_id", "id"]),
    ("ix_cases_status_recent", "cases", ["status", "id"]),
    ("ix_case_co_units_unit_case", "case_co_units", ["unit_id", "case_id"]),
]
# served by the longer ones above
REPLACED = [
    ("ix_cases_status", "cases", ["status"]),
    ("ix_case_co_units_unit_id", "case_co_units", ["unit_id"]),
]


def _create(name, table, columns):
    op.create_index(name, table, columns, unique=False, postgresql_concurrently=True)


def _drop(name, table, _columns):
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
