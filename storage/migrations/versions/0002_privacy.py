"""Privacy: the sensitive answer sealed, ids never reused, what erasure and retention need.

- contact_request.sensitive (the sealed answer) and .activity_at (retention counts from it); the
  answer and the preliminary group it implies leave the answers JSON; a conversation in progress
  keeps its answer sealed too. Sealing needs DATA_KEY: without it the upgrade stops, unchanged.
- outbox.request_id: the request a row is about, so that erasing the request deletes its rows,
  sent or not. A reminder's key names the enrollment, not the person's Telegram id, and a sent
  row keeps neither the chat nor what it said.
- processed_update.telegram_id: whose update it was (erased with the person, pruned weekly).
- access_log (who opened what, when) and job_run (a daily job ran).
- SQLite: every table with a numeric id that anything refers to is AUTOINCREMENT, so an id is never given out twice
  (the request counter starts above every request number still referred to anywhere).

Revision ID: 0002
Revises: 0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from storage.crypto import KeyMissing

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

NEVER_REUSE = {"sqlite_autoincrement": True}
SERIAL_TABLES = ("contact_request", "request_event", "outbox", "cohort",
                 "programme_session", "enrollment")


def _json_table(name: str, *columns: sa.Column) -> sa.Table:
    return sa.table(name, *columns)


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    sealer = context.config.attributes.get("sealer")

    def batch(table: str):
        if sqlite and table in SERIAL_TABLES:
            return op.batch_alter_table(table, recreate="always", table_kwargs=NEVER_REUSE)
        return op.batch_alter_table(table)

    # ------------------------------------------------------------------ columns and tables
    with batch("contact_request") as b:
        b.add_column(sa.Column("sensitive", sa.Text(), nullable=True))
        b.add_column(sa.Column("activity_at", sa.DateTime(timezone=True), nullable=True))
    with batch("outbox") as b:
        b.add_column(sa.Column("request_id", sa.BigInteger(), nullable=True))
        b.create_index("ix_outbox_request_id", ["request_id"])
    with op.batch_alter_table("processed_update") as b:
        b.add_column(sa.Column("telegram_id", sa.BigInteger(), nullable=True))
    for table in ("request_event", "cohort", "programme_session", "enrollment"):
        if sqlite:
            with batch(table):
                pass  # copied into an AUTOINCREMENT table
    op.create_table(
        "access_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=False),
        sa.Column("actor_name", sa.String(), nullable=True),
        sa.Column("what", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        **({"sqlite_autoincrement": True} if sqlite else {}))
    op.create_index("ix_access_log_request_id", "access_log", ["request_id"])
    op.create_table(
        "job_run",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", "day"))

    # ------------------------------------------------------------------ data
    request = _json_table("contact_request", sa.column("id", sa.Integer),
                          sa.column("answers", sa.JSON), sa.column("sensitive", sa.Text),
                          sa.column("updated_at", sa.DateTime(timezone=True)),
                          sa.column("activity_at", sa.DateTime(timezone=True)))
    resident = _json_table("resident", sa.column("id", sa.Integer),
                           sa.column("state", sa.JSON))
    outbox = _json_table("outbox", sa.column("id", sa.Integer), sa.column("kind", sa.String),
                         sa.column("chat_id", sa.BigInteger), sa.column("payload", sa.JSON),
                         sa.column("key", sa.String), sa.column("sent_at", sa.DateTime),
                         sa.column("request_id", sa.BigInteger))
    bind.execute(request.update().values(activity_at=request.c.updated_at))

    to_seal = []
    for rid, answers in bind.execute(sa.select(request.c.id, request.c.answers)):
        if "sensitive" in answers or "group" in answers:
            to_seal.append((rid, answers))
    states = []
    for pk, state in bind.execute(sa.select(resident.c.id, resident.c.state)):
        if (state or {}).get("answers", {}).get("sensitive") is not None:
            states.append((pk, state))
    needs_key = any(a.get("sensitive") is not None for _, a in to_seal) or states
    if needs_key and sealer is None:
        raise KeyMissing()  # answers stored in the clear must be sealed: DATA_KEY is needed
    for rid, answers in to_seal:
        value = answers.get("sensitive")
        rest = {k: v for k, v in answers.items() if k not in ("sensitive", "group")}
        bind.execute(request.update().where(request.c.id == rid).values(
            answers=rest, sensitive=sealer.seal(str(value)) if value is not None else None))
    for pk, state in states:
        bind.execute(resident.update().where(resident.c.id == pk).values(
            state=sealer.seal_state(state)))

    enrollment = sa.table("enrollment", sa.column("id", sa.Integer),
                          sa.column("cohort_id", sa.Integer),
                          sa.column("telegram_id", sa.BigInteger),
                          sa.column("request_id", sa.Integer))
    session = sa.table("programme_session", sa.column("id", sa.Integer),
                       sa.column("cohort_id", sa.Integer))
    enrolled = {(c, t): (e, r) for e, c, t, r in bind.execute(sa.select(
        enrollment.c.id, enrollment.c.cohort_id, enrollment.c.telegram_id,
        enrollment.c.request_id))}
    cohort_of = dict(bind.execute(sa.select(session.c.id, session.c.cohort_id)).all())
    rows = bind.execute(sa.select(outbox.c.id, outbox.c.kind, outbox.c.payload, outbox.c.key,
                                  outbox.c.sent_at)).all()
    for oid, kind, payload, key, sent_at in rows:
        payload = dict(payload or {})
        values: dict = {}
        if kind in ("reminder", "staff_not_coming", "session_changed"):
            found = enrolled.get((cohort_of.get(payload.get("session_id")),
                                  payload.get("telegram_id")))
            if kind == "session_changed":
                found = None  # the chat is the person's; the row goes with its chat below
            if found is not None:
                enrollment_id, request_id = found
                values["request_id"] = request_id
                payload.pop("telegram_id", None)
                payload["enrollment_id"] = enrollment_id
                if key and key.startswith("reminder:"):
                    parts = key.split(":")
                    if len(parts) >= 3:
                        parts[2] = str(enrollment_id)
                        values["key"] = ":".join(parts)
            elif kind != "session_changed" and sent_at is None:
                bind.execute(outbox.delete().where(outbox.c.id == oid))  # nobody to send it to
                continue
        elif isinstance(payload.get("request_id"), int):
            values["request_id"] = payload["request_id"]
        if sent_at is not None:  # a sent row keeps nothing personal
            values["payload"], values["chat_id"] = {}, None
        else:
            values["payload"] = payload
        bind.execute(outbox.update().where(outbox.c.id == oid).values(**values))

    with batch("contact_request") as b:
        b.alter_column("activity_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        b.create_index("ix_contact_request_activity", ["activity_at"])

    # the next request number is above every number still referred to anywhere
    highest = int(bind.exec_driver_sql(
        "SELECT max(n) FROM (SELECT max(id) AS n FROM contact_request "
        "UNION ALL SELECT max(request_id) FROM staff_message "
        "UNION ALL SELECT max(request_id) FROM request_event "
        "UNION ALL SELECT max(request_id) FROM enrollment "
        "UNION ALL SELECT max(request_id) FROM outbox) AS referred").scalar() or 0)
    if sqlite:
        bind.exec_driver_sql("DELETE FROM sqlite_sequence WHERE name = 'contact_request'")
        bind.exec_driver_sql("INSERT INTO sqlite_sequence (name, seq) VALUES "
                             f"('contact_request', {highest})")
    elif highest:
        bind.exec_driver_sql(
            "SELECT setval(pg_get_serial_sequence('contact_request', 'id'), "
            f"GREATEST({highest}, (SELECT last_value FROM contact_request_id_seq)))")


def downgrade() -> None:
    raise NotImplementedError("0002 cannot be undone (the sensitive answers are sealed): "
                              "restore the backup taken before the upgrade")
