"""Bridge points at work: operator accounts attached to a point, outage history per meeting.

Revision ID: 0004_bridge_points
Revises: 0003_transcript
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa


revision = '0004_bridge_points'
down_revision = '0003_transcript'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('operator_point',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('point_id', sa.String(length=63), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_operator_point_account_id_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['point_id'], ['bridge_point.id'], name=op.f('fk_operator_point_point_id_bridge_point')),
    sa.PrimaryKeyConstraint('account_id', name=op.f('pk_operator_point'))
    )
    op.create_index(op.f('ix_operator_point_point_id'), 'operator_point', ['point_id'], unique=False)
    op.create_table('point_outage',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('point_id', sa.String(length=63), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_point_outage_meeting_id_meeting'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['point_id'], ['bridge_point.id'], name=op.f('fk_point_outage_point_id_bridge_point')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_point_outage'))
    )
    op.create_index(op.f('ix_point_outage_meeting_id'), 'point_outage', ['meeting_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_point_outage_meeting_id'), table_name='point_outage')
    op.drop_table('point_outage')
    op.drop_index(op.f('ix_operator_point_point_id'), table_name='operator_point')
    op.drop_table('operator_point')
