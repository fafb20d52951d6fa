"""job_attempts: how often the sweep re-created each object's job; cases.reward_checked_at

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 20:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "job_attempts",
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("object_id", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "object_id", name=op.f("pk_job_attempts")),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reward_checked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("reward_checked_at")
    op.drop_table("job_attempts")
