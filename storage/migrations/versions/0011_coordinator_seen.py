"""Names, not numbers: coordinator_seen keeps the Telegram first name each coordinator was last
seen under (or the name getChatMember gave), so cards, buttons and notices name a coordinator
listed only in COORDINATOR_IDS by her name, never by her id.

Revision ID: 0011
Revises: 0010
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "coordinator_seen",
        sa.Column("telegram_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("telegram_id"))


def downgrade() -> None:
    op.drop_table("coordinator_seen")
