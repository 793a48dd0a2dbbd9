"""The resident's language: resident.lang, beside the sealed conversation state, so that
reminders and other messages the outbox sends them are written in it.

Revision ID: 0007
Revises: 0006
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("resident") as b:
        b.add_column(sa.Column("lang", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("resident") as b:
        b.drop_column("lang")
