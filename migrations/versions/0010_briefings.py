"""accountability figures and briefings: case_assignments (one row per 派遣) and briefings

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 20:45:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('case_assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=True),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('signoff_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deadline_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('replies', sa.Integer(), nullable=False),
    sa.Column('replied_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('replied_on_time', sa.Boolean(), nullable=True),
    sa.Column('late_hours', sa.Float(), nullable=True),
    sa.Column('handling_hours', sa.Float(), nullable=True),
    sa.Column('reworks', sa.Integer(), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rating', sa.Enum('SATISFIED', 'BASIC', 'UNSATISFIED', name='rating', native_enum=False, length=16), nullable=True),
    sa.Column('extensions_requested', sa.Integer(), nullable=False),
    sa.Column('extensions_granted', sa.Integer(), nullable=False),
    sa.Column('escalation_level', sa.Integer(), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end', sa.Enum('RETURNED', 'WITHDRAWN', name='assignmentend', native_enum=False, length=16), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_assignments_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_case_assignments_category_id_categories')),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_case_assignments_region_id_regions')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_case_assignments_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_assignments'))
    )
    with op.batch_alter_table('case_assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_assignments_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_case_assignments_assigned_unit', ['assigned_at', 'unit_id'], unique=False)
        batch_op.create_index('ix_case_assignments_unit_assigned', ['unit_id', 'assigned_at'], unique=False)
        batch_op.create_index('ix_case_assignments_replied_at', ['replied_at'], unique=False)
        batch_op.create_index('ix_case_assignments_closed_at', ['closed_at'], unique=False)

    op.create_table('briefings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('MONTHLY', 'BIWEEKLY', 'CUSTOM', name='briefingkind', native_enum=False, length=16), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('title', sa.String(length=128), nullable=False),
    sa.Column('as_of', sa.DateTime(timezone=True), nullable=False),
    sa.Column('xlsx_key', sa.String(length=255), nullable=False),
    sa.Column('docx_key', sa.String(length=255), nullable=False),
    sa.Column('xlsx_sha256', sa.String(length=64), nullable=False),
    sa.Column('docx_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('generated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_briefings')),
    sa.UniqueConstraint('kind', 'period_start', 'period_end', name='uq_briefings_kind_period')
    )


def downgrade():
    op.drop_table('briefings')
    with op.batch_alter_table('case_assignments', schema=None) as batch_op:
        batch_op.drop_index('ix_case_assignments_closed_at')
        batch_op.drop_index('ix_case_assignments_replied_at')
        batch_op.drop_index('ix_case_assignments_unit_assigned')
        batch_op.drop_index('ix_case_assignments_assigned_unit')
        batch_op.drop_index(batch_op.f('ix_case_assignments_case_id'))
    op.drop_table('case_assignments')
