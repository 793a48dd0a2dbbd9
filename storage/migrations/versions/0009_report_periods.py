"""Closed report periods.

- report_month: a closed month's report figures (counts, working hours without dates or ids,
  sessions' counts), counted once and kept; quarters and years add up their months.

Revision ID: 0009
Revises: 0008
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_month",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("counted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("month"))


def downgrade() -> None:
    op.drop_table("report_month")
