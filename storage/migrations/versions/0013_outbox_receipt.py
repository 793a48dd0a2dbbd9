"""WhatsApp's statuses reach the outbox: outbox.receipt keeps the platform's id of a message
sent (its wamid) until Meta says it went or failed, so a message Meta fails later (the 24-hour
window closed, a rate limit) is sent again, as a template where it must be, and one that went
keeps nothing personal.

Revision ID: 0013
Revises: 0012
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("receipt", sa.String(length=128), nullable=True))
    op.create_index("ix_outbox_receipt", "outbox", ["receipt"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_outbox_receipt", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("receipt")
