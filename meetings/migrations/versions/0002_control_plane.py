"""Control plane: agenda, documents, requests to speak, votes (secret ballots), audit log.

The audit log is append-only: triggers refuse UPDATE and DELETE on both engines.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=80), nullable=False),
    sa.Column('actor_name', sa.String(length=200), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log')),
    sa.UniqueConstraint('meeting_id', 'seq', name=op.f('uq_audit_log_meeting_id'))
    )
    op.create_index(op.f('ix_audit_log_meeting_id'), 'audit_log', ['meeting_id'], unique=False)
    op.create_table('agenda_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('presenter', sa.String(length=200), nullable=False),
    sa.Column('planned_minutes', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state in ('pending', 'current', 'done')", name=op.f('ck_agenda_item_state')),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_agenda_item_meeting_id_meeting'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agenda_item'))
    )
    op.create_index(op.f('ix_agenda_item_meeting_id'), 'agenda_item', ['meeting_id'], unique=False)
    op.create_table('meeting_control',
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('members_total', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_meeting_control_meeting_id_meeting'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('meeting_id', name=op.f('pk_meeting_control'))
    )
    op.create_table('meeting_exclusion',
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('principal_key', sa.String(length=80), nullable=False),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_meeting_exclusion_meeting_id_meeting'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('meeting_id', 'principal_key', name=op.f('pk_meeting_exclusion'))
    )
    op.create_table('agenda_document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('uploaded_by', sa.String(length=80), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['agenda_item.id'], name=op.f('fk_agenda_document_item_id_agenda_item'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agenda_document'))
    )
    op.create_index(op.f('ix_agenda_document_item_id'), 'agenda_document', ['item_id'], unique=False)
    op.create_table('speak_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.Column('requester', sa.String(length=80), nullable=False),
    sa.Column('speaker_name', sa.String(length=200), nullable=False),
    sa.Column('point_id', sa.String(length=63), nullable=True),
    sa.Column('topic', sa.String(length=500), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('time_limit_s', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('granted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state in ('queued', 'speaking', 'done', 'denied', 'withdrawn')", name=op.f('ck_speak_request_state')),
    sa.ForeignKeyConstraint(['item_id'], ['agenda_item.id'], name=op.f('fk_speak_request_item_id_agenda_item'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_speak_request_meeting_id_meeting'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['point_id'], ['bridge_point.id'], name=op.f('fk_speak_request_point_id_bridge_point')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_speak_request'))
    )
    op.create_index(op.f('ix_speak_request_meeting_id'), 'speak_request', ['meeting_id'], unique=False)
    op.create_table('vote',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('secret', sa.Boolean(), nullable=False),
    sa.Column('threshold', sa.String(length=16), nullable=False),
    sa.Column('total_members', sa.Integer(), nullable=False),
    sa.Column('quorum', sa.Integer(), nullable=False),
    sa.Column('hand_seats', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('result', sa.Text(), nullable=True),
    sa.CheckConstraint("state in ('open', 'closed', 'cancelled')", name=op.f('ck_vote_state')),
    sa.CheckConstraint("threshold in ('majority', 'two_thirds')", name=op.f('ck_vote_threshold')),
    sa.ForeignKeyConstraint(['item_id'], ['agenda_item.id'], name=op.f('fk_vote_item_id_agenda_item'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_vote_meeting_id_meeting'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vote'))
    )
    op.create_index(op.f('ix_vote_meeting_id'), 'vote', ['meeting_id'], unique=False)
    op.create_table('vote_count',
    sa.Column('vote_id', sa.Integer(), nullable=False),
    sa.Column('option', sa.String(length=16), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['vote_id'], ['vote.id'], name=op.f('fk_vote_count_vote_id_vote'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('vote_id', 'option', name=op.f('pk_vote_count'))
    )
    op.create_table('vote_eligible',
    sa.Column('vote_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('point_id', sa.String(length=63), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_vote_eligible_account_id_account')),
    sa.ForeignKeyConstraint(['point_id'], ['bridge_point.id'], name=op.f('fk_vote_eligible_point_id_bridge_point')),
    sa.ForeignKeyConstraint(['vote_id'], ['vote.id'], name=op.f('fk_vote_eligible_vote_id_vote'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('vote_id', 'account_id', name=op.f('pk_vote_eligible'))
    )
    op.create_table('vote_hands',
    sa.Column('vote_id', sa.Integer(), nullable=False),
    sa.Column('point_id', sa.String(length=63), nullable=False),
    sa.Column('yes', sa.Integer(), nullable=False),
    sa.Column('no', sa.Integer(), nullable=False),
    sa.Column('abstain', sa.Integer(), nullable=False),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['point_id'], ['bridge_point.id'], name=op.f('fk_vote_hands_point_id_bridge_point')),
    sa.ForeignKeyConstraint(['vote_id'], ['vote.id'], name=op.f('fk_vote_hands_vote_id_vote'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('vote_id', 'point_id', name=op.f('pk_vote_hands'))
    )
    op.create_table('vote_open_choice',
    sa.Column('vote_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('choice', sa.String(length=16), nullable=False),
    sa.Column('cast_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_vote_open_choice_account_id_account')),
    sa.ForeignKeyConstraint(['vote_id'], ['vote.id'], name=op.f('fk_vote_open_choice_vote_id_vote'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('vote_id', 'account_id', name=op.f('pk_vote_open_choice'))
    )
    op.create_table('vote_voter',
    sa.Column('vote_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_vote_voter_account_id_account')),
    sa.ForeignKeyConstraint(['vote_id'], ['vote.id'], name=op.f('fk_vote_voter_vote_id_vote'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('vote_id', 'account_id', name=op.f('pk_vote_voter'))
    )

    _protect_audit_log()


_AUDIT_MESSAGE = "audit_log is append-only"


def _protect_audit_log() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{_AUDIT_MESSAGE}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                f"BEGIN SELECT RAISE(ABORT, '{_AUDIT_MESSAGE}'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION audit_log_append_only()")
    else:
        op.execute("DROP TRIGGER audit_log_no_update")
        op.execute("DROP TRIGGER audit_log_no_delete")
    op.drop_table('vote_voter')
    op.drop_table('vote_open_choice')
    op.drop_table('vote_hands')
    op.drop_table('vote_eligible')
    op.drop_table('vote_count')
    op.drop_index(op.f('ix_vote_meeting_id'), table_name='vote')
    op.drop_table('vote')
    op.drop_index(op.f('ix_speak_request_meeting_id'), table_name='speak_request')
    op.drop_table('speak_request')
    op.drop_index(op.f('ix_agenda_document_item_id'), table_name='agenda_document')
    op.drop_table('agenda_document')
    op.drop_table('meeting_exclusion')
    op.drop_table('meeting_control')
    op.drop_index(op.f('ix_agenda_item_meeting_id'), table_name='agenda_item')
    op.drop_table('agenda_item')
    op.drop_index(op.f('ix_audit_log_meeting_id'), table_name='audit_log')
    op.drop_table('audit_log')
