"""No staff message lost: a failed state for outbox rows, and shared service settings.

- outbox.failed_at: a row given up on after bounded retries (listed by `korak outbox failed`,
  queued again by `korak outbox retry`).
- setting: what every process must share (the staff chat's id after a supergroup migration,
  a pause of staff messages while the bot cannot post there).

Revision ID: 0003
Revises: 0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as b:
        b.add_column(sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "setting",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"))


def downgrade() -> None:
    op.drop_table("setting")
    with op.batch_alter_table("outbox") as b:
        b.drop_column("failed_at")
