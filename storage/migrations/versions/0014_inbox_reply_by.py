"""A reply is part of what is durable: inbox.reply_by is set as an update is marked handled
(with what it changed) and cleared once its reply went. One still set when its time has passed
belongs to a process killed between the two: the person is told again what they were last told
(the open question), so nobody waits for an answer that never comes.

Revision ID: 0014
Revises: 0013
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("inbox", sa.Column("reply_by", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_inbox_reply_by", "inbox", ["reply_by"], unique=False,
                    sqlite_where=sa.text("reply_by IS NOT NULL"),
                    postgresql_where=sa.text("reply_by IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_inbox_reply_by", table_name="inbox")
    with op.batch_alter_table("inbox") as batch:
        batch.drop_column("reply_by")
