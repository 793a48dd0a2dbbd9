"""Schema revisions: a new database made by them is the schema the code describes, and a
database made by korak 0.1 (its own create_all, with requests, reminders and history in it) is
upgraded with nothing lost."""

import json
import sqlite3
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import event
from sqlalchemy.pool import Pool
from sqlmodel import SQLModel

from storage import inbox, migrate, repo
from storage.crypto import KeyMissing, Sealer, generate_key
from storage.db import Database

from .conftest import PG_URL, database_urls

RELEASE = Path(__file__).resolve().parent / "release_0_1"
T0 = datetime(2026, 6, 1, 8, 0, tzinfo=timezone.utc)


@pytest.fixture(params=database_urls())
async def bare(request, tmp_path):
    """An empty database, no tables."""
    if request.param == "sqlite":
        database = Database(f"sqlite+aiosqlite:///{tmp_path}/korak.db")
        yield database
        await database.dispose()
        return
    schema = "m_" + uuid.uuid4().hex[:12]
    database = Database(PG_URL, schema=schema)
    async with database.engine.begin() as conn:
        await conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    yield database
    await database.drop_schema()
    await database.dispose()


async def _exec(db: Database, sql: str, *params) -> list:
    if db.sync_engine is not None:
        with db.sync_engine.begin() as conn:
            result = conn.exec_driver_sql(sql, params) if params else conn.exec_driver_sql(sql)
            return list(result) if result.returns_rows else []
    async with db.engine.begin() as conn:
        parts = sql.split("?")
        numbered = parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], 1))
        result = await conn.exec_driver_sql(numbered, params if params else None)
        return list(result) if result.returns_rows else []


async def _differences(db: Database) -> list:
    def diff(conn):
        return compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    if db.sync_engine is not None:
        with db.sync_engine.connect() as conn:
            return diff(conn)
    async with db.engine.connect() as conn:
        return await conn.run_sync(diff)


async def test_a_new_database_is_made_by_the_revisions_and_matches_the_models(bare):
    found = await migrate.ready(bare)
    assert found.empty
    now = await migrate.status(bare)
    assert now.up_to_date and now.current == migrate.head()
    assert await _differences(bare) == []


async def test_a_database_behind_is_refused_unless_upgrading_is_allowed(bare):
    await _release_schema(bare)
    with pytest.raises(migrate.SchemaBehind):
        await migrate.ready(bare)
    assert (await migrate.status(bare)).unversioned
    await migrate.ready(bare, auto_upgrade=True)
    assert (await migrate.status(bare)).up_to_date


async def test_a_database_a_newer_korak_upgraded_is_refused_and_left_as_it_is(bare):
    """A rolling upgrade: `korak db upgrade` of a newer korak moved the database on; a replica
    still on this code must not run on it, nor try to "upgrade" it (even with auto_upgrade)."""
    await migrate.ready(bare)
    await _exec(bare, "UPDATE alembic_version SET version_num = '0099_newer'")
    found = await migrate.status(bare)
    assert found.ahead and not found.up_to_date
    with pytest.raises(migrate.SchemaAhead):
        await migrate.ready(bare, auto_upgrade=True)
    with pytest.raises(migrate.SchemaAhead):
        await migrate.upgrade(bare)
    assert (await migrate.status(bare)).current == "0099_newer"


async def _release_schema(db: Database) -> None:
    name = "schema.sqlite.sql" if db.sync_engine is not None else "schema.postgres.sql"
    ddl = (RELEASE / name).read_text()
    for statement in ddl.split(";"):
        if statement.strip():
            await _exec(db, statement)


def _ts(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%d %H:%M:%S.%f")


async def _release_data(db: Database) -> None:
    """What korak 0.1 wrote for two residents: one request claimed with its history, a card and
    a relayed message in the staff chat, an enrolled participant with a reminder sent and one
    waiting, an attendance answer, and a resident in the middle of the questions."""
    sqlite = db.sync_engine is not None
    at = (lambda d: _ts(d)) if sqlite else (lambda d: d)
    js = (lambda v: json.dumps(v)) if sqlite else (lambda v: json.dumps(v))
    answers = {"consent": True, "municipality": "Mislinja", "place": "Mislinja",
               "site": "slovenj-gradec", "dsp": "no", "work": "neither",
               "sensitive_consent": "yes", "sensitive": "yes", "hopes": "Delo z lesom",
               "name": "Zofka Testna", "phone": "+38631222333", "call_time": "morning",
               "group": "women_roma"}
    cast = "" if sqlite else "::json"
    await _exec(db, "INSERT INTO contact_request (id, telegram_id, chat_id, status, site, "
                    "municipality, source, answers, created_at, updated_at, owner_id, owner_name, "
                    "claimed_at, status_changed_at, version, card_chat_id, card_message_id) "
                    f"VALUES (1, 7001, 7001, 'enrolled', 'slovenj-gradec', 'Mislinja', NULL, ?{cast}, "
                    "?, ?, 9001, 'Mojca', ?, ?, 3, -100777, 55)",
                js(answers), at(T0), at(T0 + timedelta(days=2)), at(T0 + timedelta(hours=1)),
                at(T0 + timedelta(days=2)))
    for i, (action, frm, to) in enumerate([("claim", "new", "claimed"),
                                           ("contacted", "claimed", "contacted"),
                                           ("enrolled", "contacted", "enrolled")]):
        await _exec(db, "INSERT INTO request_event (request_id, actor_id, actor_name, action, "
                        "from_status, to_status, at) VALUES (1, 9001, 'Mojca', ?, ?, ?, ?)",
                    action, frm, to, at(T0 + timedelta(hours=i + 1)))
    await _exec(db, "INSERT INTO staff_message (chat_id, message_id, request_id) VALUES "
                    "(-100777, 55, 1), (-100777, 61, 1)")
    state = {"step": "done", "answers": {}, "editing": False, "pending": {}, "resume": None}
    await _exec(db, "INSERT INTO resident (telegram_id, chat_id, state, unreachable, updated_at) "
                    f"VALUES (7001, 7001, ?{cast}, ?, ?)", js(state), False, at(T0))
    middle = {"step": "hopes", "answers": {"consent": True, "municipality": "Muta",
                                           "site": "radlje-ob-dravi", "dsp": "yes",
                                           "dsp_duration": "long", "work": "registered",
                                           "sensitive_consent": "yes", "sensitive": "no"},
              "editing": False, "pending": {}, "resume": None}
    await _exec(db, "INSERT INTO resident (telegram_id, chat_id, state, unreachable, updated_at) "
                    f"VALUES (7002, 7002, ?{cast}, ?, ?)", js(middle), False, at(T0))
    await _exec(db, "INSERT INTO cohort (id, name, site, created_at) VALUES "
                    "(1, 'SG 2026/2', 'slovenj-gradec', ?)", at(T0))
    await _exec(db, "INSERT INTO programme_session (id, cohort_id, key, title, place, starts_at, "
                    "ends_at, cancelled, updated_at) VALUES (1, 1, 'a', 'Uvod', 'SG', ?, ?, ?, ?), "
                    "(2, 1, 'b', 'Delavnica', 'SG', ?, ?, ?, ?)",
                at(T0 + timedelta(days=10)), at(T0 + timedelta(days=10, hours=2)), False, at(T0),
                at(T0 + timedelta(days=40)), at(T0 + timedelta(days=40, hours=2)), False, at(T0))
    await _exec(db, "INSERT INTO enrollment (id, cohort_id, telegram_id, chat_id, request_id, "
                    "active, enrolled_at) VALUES (1, 1, 7001, 7001, 1, ?, ?)",
                True, at(T0 + timedelta(days=2)))
    await _exec(db, "INSERT INTO attendance (session_id, telegram_id, answer, at) VALUES "
                    "(1, 7001, 'yes', ?)", at(T0 + timedelta(days=9)))
    start1 = int((T0 + timedelta(days=10)).timestamp())
    start2 = int((T0 + timedelta(days=40)).timestamp())
    await _exec(db, "INSERT INTO outbox (kind, chat_id, payload, due_at, claimed_until, sent_at, "
                    "attempts, last_error, key, sending_since, topic) VALUES "
                    f"('reminder', 7001, ?{cast}, ?, NULL, ?, 1, NULL, ?, NULL, 'session:1'), "
                    f"('reminder', 7001, ?{cast}, ?, NULL, NULL, 0, NULL, ?, NULL, 'session:2'), "
                    f"('staff_new_request', -100777, ?{cast}, ?, NULL, ?, 1, NULL, NULL, NULL, NULL)",
                js({"session_id": 1, "telegram_id": 7001}), at(T0 + timedelta(days=9)),
                at(T0 + timedelta(days=9)), f"reminder:1:7001:-1d@17:00:{start1}",
                js({"session_id": 2, "telegram_id": 7001}), at(T0 + timedelta(days=39)),
                f"reminder:2:7001:-1d@17:00:{start2}",
                js({"request_id": 1}), at(T0), at(T0))
    await _exec(db, "INSERT INTO coordinator (telegram_id, name, added_at) VALUES "
                    "(9001, 'Mojca', ?)", at(T0))
    await _exec(db, "INSERT INTO processed_update (update_id, processed_at) VALUES (1, ?)",
                at(T0))


async def test_a_release_0_1_database_is_upgraded_with_nothing_lost(bare):
    await _release_schema(bare)
    await _release_data(bare)
    sealer = Sealer(generate_key())
    before = await migrate.upgrade(bare, sealer=sealer)
    assert before.unversioned
    assert (await migrate.status(bare)).up_to_date
    assert await _differences(bare) == []
    async with bare.transaction() as s:
        [req] = await repo.requests_of(s, "telegram:7001")
        assert (req.status, req.owner_name, req.card_message_id) == ("enrolled", "Mojca", 55)
        assert req.answers["name"] == "Zofka Testna" and req.answers["phone"] == "+38631222333"
        # the sensitive answer is sealed, and the group that gave it away is gone
        assert "sensitive" not in req.answers and "group" not in req.answers
        assert sealer.open(req.sensitive) == "yes"
        assert req.activity_at is not None
        assert [e.action for e in await repo.history(s, 1)] == ["claim", "contacted", "enrolled"]
        assert (await repo.request_of_staff_message(s, -100777, 61)).id == 1
        talk = await repo.conversation(s, "telegram:7002")
        assert talk.state["step"] == "hopes" and talk.state["answers"]["municipality"] == "Muta"
        assert "sensitive" not in talk.state["answers"]
        assert sealer.open_state(talk.state)["answers"]["sensitive"] == "no"
        assert await repo.coordinator_ids(s) == {9001}
        # the waiting reminder names the enrollment, not the person, and is tied to the request
        [pending] = await repo.pending_outbox(s)
        assert (pending.kind, pending.payload, pending.request_id) == (
            "reminder", {"session_id": 2, "enrollment_id": 1}, 1)
        assert pending.key.startswith("reminder:2:1:")
        # keys are a channel and an address now: the reminder goes to the Telegram person, the
        # update handled before is known by its channel's key
        assert pending.chat == "telegram:7001"
        assert await inbox.handled(s, ["telegram:1", "viber:1"]) == {"telegram:1"}
    # a sent row keeps no chat and no payload; the reminder sent keeps its (new) key, so it is
    # not planned again
    sent = await _exec(bare, "SELECT chat, payload, key, request_id FROM outbox "
                             "WHERE sent_at IS NOT NULL ORDER BY id")
    assert [(r[0], r[3]) for r in sent] == [(None, 1), (None, 1)]
    assert all(json.loads(r[1]) == {} if isinstance(r[1], str) else r[1] == {} for r in sent)
    assert sent[0][2].startswith("reminder:1:1:")


async def test_a_request_number_is_never_given_out_again_after_the_upgrade(bare):
    await _release_schema(bare)
    await _release_data(bare)
    # request 2 was made and erased under 0.1: only its card in the staff chat remembers it
    await _exec(bare, "INSERT INTO staff_message (chat_id, message_id, request_id) VALUES "
                      "(-100777, 70, 2)")
    await migrate.upgrade(bare, sealer=Sealer(generate_key()))
    async with bare.transaction() as s:
        rid, created = await repo.create_request(s, person="telegram:7003",
                                                 answers={"name": "X"}, now=T0,
                                                 staff_chat_id=None)
    assert created and rid == 3


async def test_an_upgrade_that_must_seal_answers_stops_without_a_key_and_changes_nothing(bare):
    await _release_schema(bare)
    await _release_data(bare)
    with pytest.raises(KeyMissing):
        await migrate.upgrade(bare)
    found = await migrate.status(bare)
    assert found.unversioned and found.current is None
    rows = await _exec(bare, "SELECT answers FROM contact_request")
    answers = rows[0][0] if isinstance(rows[0][0], dict) else json.loads(rows[0][0])
    assert answers["sensitive"] == "yes"  # untouched, and no column was added either
    assert (await migrate.status(bare)).unversioned


@pytest.fixture
def secure_delete_off_by_default():
    """New SQLite connections start with secure_delete off, as in python.org's, macOS's and
    Windows' builds (Debian's SQLite turns it on)."""
    def off(dbapi_connection, _record) -> None:
        if isinstance(dbapi_connection, sqlite3.Connection):
            dbapi_connection.execute("PRAGMA secure_delete=OFF")

    event.listen(Pool, "connect", off)
    yield
    event.remove(Pool, "connect", off)


async def test_an_upgraded_sqlite_file_keeps_no_plain_answer_where_secure_delete_is_off(
        tmp_path, secure_delete_off_by_default):
    """Neither what the upgrade replaces nor what korak 0.1 deleted before it (a resident it
    erased, left in the file's free pages) is left in the file."""
    path = tmp_path / "korak.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        await _release_schema(db)
        await _release_data(db)
        release = sqlite3.connect(path)  # korak 0.1's own connection
        release.execute("PRAGMA secure_delete=OFF")
        release.execute("INSERT INTO resident (telegram_id, chat_id, state, unreachable, "
                        "updated_at) VALUES (7003, 7003, ?, 0, '2026-06-01 08:00:00')",
                        (json.dumps({"answers": {"name": "Ivana Izbrisana"}}),))
        release.commit()
        release.execute("DELETE FROM resident WHERE telegram_id = 7003")
        release.commit()
        release.close()
        await migrate.upgrade(db, sealer=Sealer(generate_key()))
        async with db.transaction() as s:
            [req] = await repo.requests_of(s, "telegram:7001")
            assert req.answers["name"] == "Zofka Testna"  # the rest is still there
    finally:
        await db.dispose()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("korak.db"))
    assert b"Zofka Testna" in raw  # the file is read as it is
    for plain in (b'"sensitive": "yes"', b'"sensitive": "no"', b"women_roma",
                  b"Ivana Izbrisana"):
        assert plain not in raw, plain
