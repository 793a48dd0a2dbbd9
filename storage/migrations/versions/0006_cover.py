"""Cover for a coordinator who is away.

- coordinator_away: a coordinator who wrote /odsotna, since when and through which day (none:
  until /nazaj); deleted when she is back.
- request_event.from_owner_id/_name, to_owner_id/_name: a handover ("Predaj") names the
  coordinator who had the request and the one who has it now; an index on (actor_id, id), as
  a card names a coordinator by the name she last acted under.

Revision ID: 0006
Revises: 0005
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "coordinator_away",
        sa.Column("telegram_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("telegram_id"))
    with op.batch_alter_table("request_event") as b:
        b.add_column(sa.Column("from_owner_id", sa.BigInteger(), nullable=True))
        b.add_column(sa.Column("from_owner_name", sa.String(), nullable=True))
        b.add_column(sa.Column("to_owner_id", sa.BigInteger(), nullable=True))
        b.add_column(sa.Column("to_owner_name", sa.String(), nullable=True))
    op.create_index("ix_request_event_actor", "request_event", ["actor_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_request_event_actor", table_name="request_event")
    with op.batch_alter_table("request_event") as b:
        for column in ("to_owner_name", "to_owner_id", "from_owner_name", "from_owner_id"):
            b.drop_column(column)
    op.drop_table("coordinator_away")
