"""Accounts: e-mail for invitations, position and unit printed in the minutes, forced password change.

Revision ID: 0005_account_profile
Revises: 0004_bridge_points
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa


revision = "0005_account_profile"
down_revision = "0004_bridge_points"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("account") as batch:
        batch.add_column(sa.Column("email", sa.String(length=254), nullable=True))
        batch.add_column(sa.Column("position", sa.String(length=200), nullable=False, server_default=""))
        batch.add_column(sa.Column("unit", sa.String(length=200), nullable=False, server_default=""))
        batch.add_column(
            sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("account") as batch:
        batch.drop_column("must_change_password")
        batch.drop_column("unit")
        batch.drop_column("position")
        batch.drop_column("email")
