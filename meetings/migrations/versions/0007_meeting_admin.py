"""Meeting administration: planned end, cancellation (status `cancelled`), iCalendar identity;
bridge points' last-seen time and web-issued tokens; the invitation mail queue.

Revision ID: 0007_meeting_admin
Revises: 0006_minutes
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa


revision = "0007_meeting_admin"
down_revision = "0006_minutes"
branch_labels = None
depends_on = None

_OLD_STATUS = "status in ('scheduled', 'open', 'closed')"
_NEW_STATUS = "status in ('scheduled', 'open', 'closed', 'cancelled')"


def upgrade() -> None:
    op.create_table(
        "issued_point_token",
        sa.Column("point_id", sa.String(length=63), nullable=False),
        sa.Column("token_hash", sa.String(length=80), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_by", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(["point_id"], ["bridge_point.id"], name=op.f("fk_issued_point_token_point_id_bridge_point")),
        sa.PrimaryKeyConstraint("point_id", name=op.f("pk_issued_point_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_issued_point_token_token_hash")),
    )
    op.create_table(
        "mail_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind in ('request', 'cancel')", name=op.f("ck_mail_outbox_kind")),
        sa.CheckConstraint("state in ('pending', 'sent', 'failed', 'superseded')", name=op.f("ck_mail_outbox_state")),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], name=op.f("fk_mail_outbox_account_id_account"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["meeting_id"], ["meeting.id"], name=op.f("fk_mail_outbox_meeting_id_meeting"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_outbox")),
    )
    op.create_index(op.f("ix_mail_outbox_meeting_id"), "mail_outbox", ["meeting_id"], unique=False)
    op.create_index(op.f("ix_mail_outbox_next_attempt_at"), "mail_outbox", ["next_attempt_at"], unique=False)
    with op.batch_alter_table("bridge_point") as batch:
        batch.add_column(sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("meeting") as batch:
        batch.add_column(sa.Column("scheduled_end", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("cancel_reason", sa.String(length=500), nullable=False, server_default=""))
        batch.add_column(sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("ical_uid", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("ical_sequence", sa.Integer(), nullable=False, server_default="0"))
        batch.create_unique_constraint(op.f("uq_meeting_ical_uid"), ["ical_uid"])
        batch.drop_constraint(op.f("ck_meeting_status"), type_="check")
        batch.create_check_constraint(op.f("ck_meeting_status"), _NEW_STATUS)


def downgrade() -> None:
    with op.batch_alter_table("meeting") as batch:
        batch.drop_constraint(op.f("ck_meeting_status"), type_="check")
        batch.create_check_constraint(op.f("ck_meeting_status"), _OLD_STATUS)
        batch.drop_constraint(op.f("uq_meeting_ical_uid"), type_="unique")
        for column in ("ical_sequence", "ical_uid", "cancelled_at", "cancel_reason", "scheduled_end"):
            batch.drop_column(column)
    with op.batch_alter_table("bridge_point") as batch:
        batch.drop_column("last_seen_at")
    op.drop_index(op.f("ix_mail_outbox_next_attempt_at"), table_name="mail_outbox")
    op.drop_index(op.f("ix_mail_outbox_meeting_id"), table_name="mail_outbox")
    op.drop_table("mail_outbox")
    op.drop_table("issued_point_token")
