"""Minutes: the chair's conclusions per item, draft versions, comments, signing and signatures.

Revision ID: 0006_minutes
Revises: 0005_account_profile
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa


revision = "0006_minutes"
down_revision = "0005_account_profile"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('minutes_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('author', sa.String(length=80), nullable=False),
    sa.Column('author_name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('frozen', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_minutes_version_meeting_id_meeting'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_minutes_version')),
    sa.UniqueConstraint('meeting_id', 'number', name=op.f('uq_minutes_version_meeting_id'))
    )
    op.create_index(op.f('ix_minutes_version_meeting_id'), 'minutes_version', ['meeting_id'], unique=False)
    op.create_table('item_conclusion',
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('author', sa.String(length=80), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['agenda_item.id'], name=op.f('fk_item_conclusion_item_id_agenda_item'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_item_conclusion_meeting_id_meeting'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('item_id', name=op.f('pk_item_conclusion'))
    )
    op.create_index(op.f('ix_item_conclusion_meeting_id'), 'item_conclusion', ['meeting_id'], unique=False)
    op.create_table('minutes_comment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('section_key', sa.String(length=40), nullable=True),
    sa.Column('author', sa.String(length=80), nullable=False),
    sa.Column('author_name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['version_id'], ['minutes_version.id'], name=op.f('fk_minutes_comment_version_id_minutes_version'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_minutes_comment'))
    )
    op.create_index(op.f('ix_minutes_comment_version_id'), 'minutes_comment', ['version_id'], unique=False)
    op.create_table('minutes_signing',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('with_seal', sa.Boolean(), nullable=False),
    sa.Column('pdf_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state in ('secretary', 'chair', 'seal', 'signed', 'published', 'cancelled')", name=op.f('ck_minutes_signing_state')),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_minutes_signing_meeting_id_meeting'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['version_id'], ['minutes_version.id'], name=op.f('fk_minutes_signing_version_id_minutes_version'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_minutes_signing')),
    sa.UniqueConstraint('version_id', name=op.f('uq_minutes_signing_version_id'))
    )
    op.create_index(op.f('ix_minutes_signing_meeting_id'), 'minutes_signing', ['meeting_id'], unique=False)
    op.create_table('minutes_signature',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('signing_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('signer_name', sa.String(length=200), nullable=False),
    sa.Column('key_kind', sa.String(length=16), nullable=False),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('pdf_sha256', sa.String(length=64), nullable=False),
    sa.CheckConstraint("role in ('secretary', 'chair', 'seal')", name=op.f('ck_minutes_signature_role')),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_minutes_signature_account_id_account')),
    sa.ForeignKeyConstraint(['signing_id'], ['minutes_signing.id'], name=op.f('fk_minutes_signature_signing_id_minutes_signing'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_minutes_signature')),
    sa.UniqueConstraint('signing_id', 'role', name=op.f('uq_minutes_signature_signing_id'))
    )
    op.create_index(op.f('ix_minutes_signature_signing_id'), 'minutes_signature', ['signing_id'], unique=False)


def downgrade() -> None:
    for table in ("minutes_signature", "minutes_signing", "minutes_comment", "item_conclusion", "minutes_version"):
        op.drop_table(table)
