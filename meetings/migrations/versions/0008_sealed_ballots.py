"""Secret ballots sealed with a per-vote key kept outside the database (meetings.sealed_ballots).

Revision ID: 0008_sealed_ballots
Revises: 0007_meeting_admin
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa


revision = "0008_sealed_ballots"
down_revision = "0007_meeting_admin"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vote_sealed_ballot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vote_id", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(length=64), nullable=False),
        sa.ForeignKeyConstraint(["vote_id"], ["vote.id"], name=op.f("fk_vote_sealed_ballot_vote_id_vote"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vote_sealed_ballot")),
    )
    op.create_index(op.f("ix_vote_sealed_ballot_vote_id"), "vote_sealed_ballot", ["vote_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_vote_sealed_ballot_vote_id"), table_name="vote_sealed_ballot")
    op.drop_table("vote_sealed_ballot")
