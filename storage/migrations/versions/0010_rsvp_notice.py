"""One staff notice per participant and session: the attendance row remembers the staff-chat
message that tells the participant's answer, so a changed answer edits it and erasure finds it.

Revision ID: 0010
Revises: 0009
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("attendance", sa.Column("notice_chat_id", sa.BigInteger(), nullable=True))
    op.add_column("attendance", sa.Column("notice_message_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("attendance") as batch:
        batch.drop_column("notice_message_id")
        batch.drop_column("notice_chat_id")
