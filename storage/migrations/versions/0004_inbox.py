"""The inbox and the scheduler's leader.

- inbox replaces processed_update: an update is stored before Telegram is told it arrived (by
  webhook one row each; by long polling a batch a row, in inbox_batch) and is handled from
  there, so one a killed process had not handled yet is handled after the
  restart; once handled only its id, owner and times stay (a week). The ids processed_update
  held come over as handled.
- leader: which process does the scheduler's work, with a lease another takes over.

Revision ID: 0004
Revises: 0003
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("update_id"))
    op.create_index("ix_inbox_waiting", "inbox", ["telegram_id", "update_id"],
                    sqlite_where=sa.text("handled_at IS NULL"),
                    postgresql_where=sa.text("handled_at IS NULL"))
    op.execute("INSERT INTO inbox (update_id, telegram_id, received_at, handled_at, attempts) "
               "SELECT update_id, COALESCE(telegram_id, 0), processed_at, processed_at, 1 "
               "FROM processed_update")
    op.drop_table("processed_update")
    op.create_table(
        "inbox_batch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updates", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        **({"sqlite_autoincrement": True} if op.get_bind().dialect.name == "sqlite" else {}))
    op.create_table(
        "leader",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"))


def downgrade() -> None:
    raise NotImplementedError("0004 cannot be undone: restore the backup taken before it")
