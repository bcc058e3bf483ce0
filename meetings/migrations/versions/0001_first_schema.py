"""First schema: province, bridge points, accounts, sessions, rooms, meetings, attendance.

Revision ID: 0001
Revises: 
Create Date: 2026-11-21
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role in ('chair', 'secretary', 'delegate', 'operator', 'observer', 'admin')", name=op.f('ck_account_role')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account')),
    sa.UniqueConstraint('username', name=op.f('uq_account_username'))
    )
    op.create_table('meeting_room',
    sa.Column('id', sa.String(length=63), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting_room'))
    )
    op.create_table('province',
    sa.Column('id', sa.String(length=63), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('agency', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_province'))
    )
    op.create_table('bridge_point',
    sa.Column('id', sa.String(length=63), nullable=False),
    sa.Column('province_id', sa.String(length=63), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('role', sa.String(length=8), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=False),
    sa.Column('token_hash', sa.String(length=80), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.CheckConstraint("level in ('province', 'district', 'commune')", name=op.f('ck_bridge_point_level')),
    sa.CheckConstraint("role in ('main', 'end')", name=op.f('ck_bridge_point_role')),
    sa.ForeignKeyConstraint(['province_id'], ['province.id'], name=op.f('fk_bridge_point_province_id_province')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bridge_point'))
    )
    op.create_table('meeting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('room_id', sa.String(length=63), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('scheduled_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('location', sa.String(length=300), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('chair_id', sa.Integer(), nullable=False),
    sa.Column('secretary_id', sa.Integer(), nullable=False),
    sa.Column('locked', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status in ('scheduled', 'open', 'closed')", name=op.f('ck_meeting_status')),
    sa.ForeignKeyConstraint(['chair_id'], ['account.id'], name=op.f('fk_meeting_chair_id_account')),
    sa.ForeignKeyConstraint(['room_id'], ['meeting_room.id'], name=op.f('fk_meeting_room_id_meeting_room')),
    sa.ForeignKeyConstraint(['secretary_id'], ['account.id'], name=op.f('fk_meeting_secretary_id_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting'))
    )
    op.create_table('auth_session',
    sa.Column('id_hash', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('point_id', sa.String(length=63), nullable=True),
    sa.Column('point_token_hash', sa.String(length=80), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('(account_id IS NULL) <> (point_id IS NULL)', name=op.f('ck_auth_session_one_principal')),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_auth_session_account_id_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['point_id'], ['bridge_point.id'], name=op.f('fk_auth_session_point_id_bridge_point')),
    sa.PrimaryKeyConstraint('id_hash', name=op.f('pk_auth_session'))
    )
    op.create_table('meeting_point',
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('point_id', sa.String(length=63), nullable=False),
    sa.Column('headcount', sa.Integer(), nullable=True),
    sa.Column('headcount_reported_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('connected', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_meeting_point_meeting_id_meeting'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['point_id'], ['bridge_point.id'], name=op.f('fk_meeting_point_point_id_bridge_point')),
    sa.PrimaryKeyConstraint('meeting_id', 'point_id', name=op.f('pk_meeting_point'))
    )
    op.create_table('meeting_room_point',
    sa.Column('room_id', sa.String(length=63), nullable=False),
    sa.Column('point_id', sa.String(length=63), nullable=False),
    sa.ForeignKeyConstraint(['point_id'], ['bridge_point.id'], name=op.f('fk_meeting_room_point_point_id_bridge_point')),
    sa.ForeignKeyConstraint(['room_id'], ['meeting_room.id'], name=op.f('fk_meeting_room_point_room_id_meeting_room'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('room_id', 'point_id', name=op.f('pk_meeting_room_point'))
    )
    op.create_table('participant',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('point_id', sa.String(length=63), nullable=True),
    sa.Column('invited', sa.Boolean(), nullable=False),
    sa.Column('present', sa.Boolean(), nullable=False),
    sa.Column('joined_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('left_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_participant_account_id_account')),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_participant_meeting_id_meeting'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['point_id'], ['bridge_point.id'], name=op.f('fk_participant_point_id_bridge_point')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_participant')),
    sa.UniqueConstraint('meeting_id', 'account_id', name=op.f('uq_participant_meeting_id'))
    )
    op.create_table('revoked_point_token',
    sa.Column('token_hash', sa.String(length=80), nullable=False),
    sa.Column('point_id', sa.String(length=63), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['point_id'], ['bridge_point.id'], name=op.f('fk_revoked_point_token_point_id_bridge_point')),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_revoked_point_token'))
    )


def downgrade() -> None:
    op.drop_table('revoked_point_token')
    op.drop_table('participant')
    op.drop_table('meeting_room_point')
    op.drop_table('meeting_point')
    op.drop_table('auth_session')
    op.drop_table('meeting')
    op.drop_table('bridge_point')
    op.drop_table('province')
    op.drop_table('meeting_room')
    op.drop_table('account')
