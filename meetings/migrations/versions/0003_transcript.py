"""Transcript: recognised segments (who, agenda item, both clocks, words) and their corrections.

Revision ID: 0003_transcript
Revises: 0002
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa


revision = '0003_transcript'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('transcript_segment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('source', sa.String(length=80), nullable=False),
    sa.Column('speaker_account_id', sa.Integer(), nullable=True),
    sa.Column('speaker_point_id', sa.String(length=63), nullable=True),
    sa.Column('speaker_name', sa.String(length=200), nullable=False),
    sa.Column('start_s', sa.Float(), nullable=False),
    sa.Column('end_s', sa.Float(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('original_text', sa.Text(), nullable=False),
    sa.Column('search_text', sa.Text(), nullable=False),
    sa.Column('words', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind in ('speech', 'gap')", name=op.f('ck_transcript_segment_kind')),
    sa.CheckConstraint('end_s >= start_s', name=op.f('ck_transcript_segment_times')),
    sa.ForeignKeyConstraint(['item_id'], ['agenda_item.id'], name=op.f('fk_transcript_segment_item_id_agenda_item'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_transcript_segment_meeting_id_meeting'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['speaker_account_id'], ['account.id'], name=op.f('fk_transcript_segment_speaker_account_id_account')),
    sa.ForeignKeyConstraint(['speaker_point_id'], ['bridge_point.id'], name=op.f('fk_transcript_segment_speaker_point_id_bridge_point')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transcript_segment'))
    )
    op.create_index('ix_transcript_segment_meeting_time', 'transcript_segment', ['meeting_id', 'started_at'], unique=False)
    op.create_table('transcript_correction',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('segment_id', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=16), nullable=False),
    sa.Column('before', sa.Text(), nullable=False),
    sa.Column('after', sa.Text(), nullable=False),
    sa.Column('by', sa.String(length=80), nullable=False),
    sa.Column('by_name', sa.String(length=200), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("field in ('text', 'speaker')", name=op.f('ck_transcript_correction_field')),
    sa.ForeignKeyConstraint(['segment_id'], ['transcript_segment.id'], name=op.f('fk_transcript_correction_segment_id_transcript_segment'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transcript_correction'))
    )
    op.create_index(op.f('ix_transcript_correction_segment_id'), 'transcript_correction', ['segment_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_transcript_correction_segment_id'), table_name='transcript_correction')
    op.drop_table('transcript_correction')
    op.drop_index('ix_transcript_segment_meeting_time', table_name='transcript_segment')
    op.drop_table('transcript_segment')
