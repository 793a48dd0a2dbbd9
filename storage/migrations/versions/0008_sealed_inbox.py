"""Raw updates sealed; failed outbox rows blanked after a while.

- inbox.payload and inbox_batch.updates hold an update as Telegram sent it (the person's name,
  their words, which button they pressed, the answer on origin among them) until it is handled.
  They are now a Fernet token made with DATA_KEY (storage/crypto.py), text instead of JSON, so
  nothing of an update reaches the database, its write-ahead log or an old row version in the
  clear. Updates waiting when the upgrade runs are sealed by it (that needs DATA_KEY).
- outbox.blanked_at: when a failed row's chat and text were blanked (OUTBOX_FAILED_KEEP_DAYS
  after it failed), so `korak outbox retry` can say since when its content is gone.

Revision ID: 0008
Revises: 0007
"""
from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import context, op

from storage.crypto import KeyMissing

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_INBOX = sa.table("inbox", sa.column("update_id", sa.BigInteger),
                  sa.column("payload", sa.Text))
_BATCH = sa.table("inbox_batch", sa.column("id", sa.BigInteger),
                  sa.column("updates", sa.Text))


def _as_text(value: object) -> str:
    """A JSON value as the database handed it back (PostgreSQL's json: already parsed)."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    waiting = bind.execute(sa.text("SELECT update_id, payload FROM inbox "
                                   "WHERE payload IS NOT NULL")).all()
    batches = bind.execute(sa.text("SELECT id, updates FROM inbox_batch")).all()
    sealer = context.config.attributes.get("sealer")
    if (waiting or batches) and sealer is None:
        raise KeyMissing()
    extra = {"postgresql_using": "{}::text"} if postgres else {}
    with op.batch_alter_table("inbox") as b:
        b.alter_column("payload", type_=sa.Text(), existing_type=sa.JSON(),
                       **{k: v.format("payload") for k, v in extra.items()})
    with op.batch_alter_table("inbox_batch") as b:
        b.alter_column("updates", type_=sa.Text(), existing_type=sa.JSON(),
                       existing_nullable=False,
                       **{k: v.format("updates") for k, v in extra.items()})
    with op.batch_alter_table("outbox") as b:
        b.add_column(sa.Column("blanked_at", sa.DateTime(timezone=True), nullable=True))
    for update_id, payload in waiting:
        op.execute(_INBOX.update().where(_INBOX.c.update_id == update_id)
                   .values(payload=sealer.seal(_as_text(payload))))
    for batch_id, updates in batches:
        op.execute(_BATCH.update().where(_BATCH.c.id == batch_id)
                   .values(updates=sealer.seal(_as_text(updates))))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as b:
        b.drop_column("blanked_at")
    # sealed updates cannot go back to JSON without the key: the waiting ones are dropped
    op.execute(_INBOX.update().values(payload=None))
    op.execute(_BATCH.delete())
    extra = {"postgresql_using": "NULL::json"} if op.get_bind().dialect.name == "postgresql" else {}
    with op.batch_alter_table("inbox") as b:
        b.alter_column("payload", type_=sa.JSON(), existing_type=sa.Text(), **extra)
    with op.batch_alter_table("inbox_batch") as b:
        b.alter_column("updates", type_=sa.JSON(), existing_type=sa.Text(),
                       existing_nullable=False,
                       **({"postgresql_using": "updates::json"} if extra else {}))
