"""A resident is a channel and an address on it, not a Telegram number.

Residents will write on Viber and WhatsApp as well as Telegram, and a Viber user id or a
WhatsApp number is not a Telegram integer. Every key of a resident becomes one string, `person`
("telegram:<user id>", "viber:<user id>", "whatsapp:<number>"):

- resident.telegram_id and resident.chat_id → resident.person (a private chat's id is the
  user's id, so nothing is lost);
- contact_request.telegram_id, chat_id → contact_request.person;
- enrollment.telegram_id, chat_id → enrollment.person; attendance.telegram_id → person;
- outbox.chat_id → outbox.chat: a resident's key, or "group:<chat id>" for the staff chat (a
  group is a kind of receiver, no longer a negative number);
- inbox.update_id → inbox.event ("telegram:<update id>"; a Viber message token or a WhatsApp
  message id can never meet a Telegram update id), inbox.telegram_id → inbox.person (the lane),
  and inbox.seq keeps the order within a lane (Telegram's update id).

Coordinators are Telegram users and the staff chat is a Telegram group: their columns stay.
Runs on a live database: every row is carried over, nothing is dropped.

Revision ID: 0012
Revises: 0011
"""
from __future__ import annotations

from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

PERSON = 96
NEVER_REUSE = {"sqlite_autoincrement": True}


@contextmanager
def _sequence_kept(table: str):
    """SQLite: a table made again by batch mode starts its AUTOINCREMENT from its largest id,
    and a number given out before (to a row since deleted) could come back. The old sequence
    is carried over."""
    bind = op.get_bind()
    seq = None
    if bind.dialect.name == "sqlite":
        seq = bind.exec_driver_sql("SELECT seq FROM sqlite_sequence WHERE name = ?",
                                   (table,)).scalar()
    yield
    if seq is not None:
        bind.exec_driver_sql("DELETE FROM sqlite_sequence WHERE name = ?", (table,))
        bind.exec_driver_sql("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)",
                             (table, seq))


def _text(column: str) -> str:
    return f"CAST({column} AS VARCHAR(40))"


def _tg(column: str) -> str:
    return f"'telegram:' || {_text(column)}"


def upgrade() -> None:
    # resident
    with op.batch_alter_table("resident") as b:
        b.add_column(sa.Column("person", sa.String(PERSON), nullable=True))
    op.execute(f"UPDATE resident SET person = {_tg('telegram_id')}")
    with op.batch_alter_table("resident") as b:
        b.alter_column("person", existing_type=sa.String(PERSON), nullable=False)
        b.drop_column("telegram_id")
        b.drop_column("chat_id")
        b.create_unique_constraint("uq_resident_person", ["person"])

    # contact_request (its numbers are never given out again: the sequence is kept)
    with op.batch_alter_table("contact_request") as b:
        b.add_column(sa.Column("person", sa.String(PERSON), nullable=True))
    op.execute(f"UPDATE contact_request SET person = {_tg('telegram_id')}")
    op.drop_index("ix_contact_request_telegram_status", table_name="contact_request")
    with _sequence_kept("contact_request"):
        with op.batch_alter_table("contact_request",
                                  table_kwargs=NEVER_REUSE) as b:
            b.alter_column("person", existing_type=sa.String(PERSON), nullable=False)
            b.drop_column("telegram_id")
            b.drop_column("chat_id")
    op.create_index("ix_contact_request_person_status", "contact_request",
                    ["person", "status"], unique=False)

    # enrollment
    with op.batch_alter_table("enrollment") as b:
        b.add_column(sa.Column("person", sa.String(PERSON), nullable=True))
    op.execute(f"UPDATE enrollment SET person = {_tg('telegram_id')}")
    op.drop_index("ix_enrollment_telegram_id", table_name="enrollment")
    with _sequence_kept("enrollment"):
        with op.batch_alter_table("enrollment",
                                  table_kwargs=NEVER_REUSE) as b:
            b.alter_column("person", existing_type=sa.String(PERSON), nullable=False)
            b.drop_column("telegram_id")
            b.drop_column("chat_id")
            b.create_unique_constraint("uq_enrollment_cohort_person", ["cohort_id", "person"])
    op.create_index("ix_enrollment_person", "enrollment", ["person"], unique=False)

    # attendance: the person is part of the key
    _rebuild("attendance", [
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("person", sa.String(PERSON), nullable=False),
        sa.Column("answer", sa.String(16), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("presence", sa.String(16), nullable=True),
        sa.Column("presence_by", sa.BigInteger(), nullable=True),
        sa.Column("presence_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notice_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("notice_message_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("session_id", "person")],
        f"session_id, {_tg('telegram_id')}, answer, at, presence, presence_by, presence_at, "
        "notice_chat_id, notice_message_id")

    # outbox: the receiver as a key
    with op.batch_alter_table("outbox") as b:
        b.add_column(sa.Column("chat", sa.String(PERSON), nullable=True))
    op.execute("UPDATE outbox SET chat = CASE WHEN chat_id IS NULL THEN NULL "
               f"WHEN chat_id < 0 THEN 'group:' || {_text('chat_id')} "
               f"ELSE {_tg('chat_id')} END")
    with op.batch_alter_table("outbox") as b:
        b.drop_column("chat_id")

    # inbox: ids per channel, the lane a person's key
    _rebuild("inbox", [
        sa.Column("event", sa.String(255), nullable=False),
        sa.Column("person", sa.String(PERSON), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("event")],
        f"{_tg('update_id')}, CASE WHEN telegram_id = 0 THEN '' ELSE {_tg('telegram_id')} END, "
        "update_id, received_at, payload, handled_at, claimed_until, attempts")
    op.create_index("ix_inbox_waiting", "inbox", ["person", "seq"], unique=False,
                    sqlite_where=sa.text("handled_at IS NULL"),
                    postgresql_where=sa.text("handled_at IS NULL"))


def _rebuild(table: str, columns: list, select: str) -> None:
    """A table made again with new columns, every row carried over by `select` (over the old
    table's columns). Used where the primary key changes (tables without a sequence): the old table is renamed, the new one made
    under the old name, the rows copied, the old one dropped."""
    bind = op.get_bind()
    old = f"{table}_before_0012"
    op.rename_table(table, old)
    if bind.dialect.name == "postgresql":
        # the old table's constraints keep their names; free them for the new table
        for (name,) in bind.execute(sa.text(
                "SELECT conname FROM pg_constraint WHERE conrelid = CAST(:t AS regclass) "
                "AND contype IN ('p', 'u')"), {"t": old}).all():
            op.execute(f'ALTER TABLE {old} RENAME CONSTRAINT "{name}" TO "{name}_0012"')
    op.create_table(table, *columns)
    names = ", ".join(c.name for c in columns if isinstance(c, sa.Column))
    op.execute(f"INSERT INTO {table} ({names}) SELECT {select} FROM {old}")
    op.drop_table(old)


def downgrade() -> None:
    # a Viber or WhatsApp address has no Telegram number to go back to
    raise NotImplementedError("0012 cannot be undone: a Viber or WhatsApp address is not a "
                              "Telegram number; restore the backup taken before the upgrade")
