"""Schema revisions (Alembic): where a database stands, and bringing it up to date.

Every schema change is a revision under storage/migrations/versions; `korak db upgrade` applies
them. A database made by korak 0.1 (tables, but no alembic_version) is recognised and recorded
as revision 0001 first. An empty database is made by running every revision, so the one path
that upgrades an operator's database also makes every new one."""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, inspect
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from .db import Database

log = logging.getLogger("korak.db")
HERE = Path(__file__).resolve().parent
BASELINE = "0001"  # korak 0.1's schema
# columns korak 0.1 added while it still used create_all: a database made before them lacks
# them, and they are added before the database is recorded at the baseline
_LATE_COLUMNS = {("outbox", "sending_since"): "TIMESTAMP WITH TIME ZONE",
                 ("outbox", "topic"): "VARCHAR(64)"}


class SchemaBehind(Exception):
    """The database is at an older revision than this code: `korak db upgrade` brings it up."""

    def __init__(self, current: str | None, head: str) -> None:
        super().__init__(f"database at {current or 'korak 0.1'}, code at {head}")
        self.current, self.head = current, head


class SchemaAhead(Exception):
    """The database is at a revision this code does not know: a newer korak upgraded it (a
    replica not yet updated in a rolling upgrade). This code must not run on it, nor try to
    upgrade it."""

    def __init__(self, current: str, head: str) -> None:
        super().__init__(f"database at {current}, which code at {head} does not know")
        self.current, self.head = current, head


@dataclass(frozen=True)
class Status:
    current: str | None  # None: no revision recorded
    head: str
    empty: bool  # no korak tables at all
    unversioned: bool  # korak 0.1's tables without a recorded revision

    ahead: bool = False  # at a revision this code does not know (a newer korak's)

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def _config(extra: dict[str, Any] | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE / "migrations"))
    cfg.attributes.update(extra or {})
    return cfg


def head() -> str:
    return ScriptDirectory.from_config(_config()).get_current_head()


def _known(revision: str) -> bool:
    try:
        return ScriptDirectory.from_config(_config()).get_revision(revision) is not None
    except Exception:  # alembic: "Can't locate revision identified by …"
        return False


def _status(connection: Any) -> Status:
    tables = set(inspect(connection).get_table_names())
    current = MigrationContext.configure(connection).get_current_revision()
    return Status(current=current, head=head(), empty="contact_request" not in tables,
                  unversioned=current is None and "contact_request" in tables,
                  ahead=current is not None and not _known(current))


def _upgrade(connection: Any, extra: dict[str, Any]) -> Status:
    before = _status(connection)
    if before.ahead:
        raise SchemaAhead(before.current or "", before.head)
    cfg = _config({**extra, "connection": connection})
    if before.unversioned:
        columns = {(t, c["name"]) for t in ("outbox",)
                   for c in inspect(connection).get_columns(t)}
        for (table, column), kind in _LATE_COLUMNS.items():
            if (table, column) not in columns:
                if connection.dialect.name == "sqlite":
                    kind = kind.replace("TIMESTAMP WITH TIME ZONE", "DATETIME")
                connection.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        command.stamp(cfg, BASELINE)
    command.upgrade(cfg, "head")
    return before


def _sqlite_engine(db: Database) -> Any:
    """A connection of its own for SQLite on which DDL is transactional too: Python's sqlite3
    begins a transaction only before a data change, so a CREATE or ALTER would commit on its
    own and a failed (or killed) upgrade could stop half-way. Here BEGIN is sent explicitly.
    What a revision deletes or copies away (0.1's plain answers, say) is zeroed, not left in
    the file's free pages: secure_delete is off by default in many builds of SQLite (python.org's,
    macOS's, Windows')."""
    engine = create_engine(db.sync_engine.url, poolclass=NullPool)

    @event.listens_for(engine, "connect")
    def _autocommit_driver(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA secure_delete=ON")

    @event.listens_for(engine, "begin")
    def _begin(conn) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


async def _run(db: Database, fn: Any, *args: Any) -> Any:
    if db.sync_engine is not None:
        engine = _sqlite_engine(db)
        try:
            with engine.begin() as conn:
                return fn(conn, *args)
        finally:
            engine.dispose()
    async with db.engine.begin() as conn:
        return await conn.run_sync(fn, *args)


async def status(db: Database) -> Status:
    return await _run(db, _status)


async def upgrade(db: Database, **extra: Any) -> Status:
    """Apply every revision the database lacks, in one transaction (PostgreSQL and SQLite both
    roll a failed upgrade back whole), then SQLite's file vacuumed. `extra` reaches the
    revisions (the data key for sealing answers, say). Returns the status before."""
    before = await _run(db, _upgrade, extra)
    if db.sync_engine is not None and not before.up_to_date:
        _vacuum(db)
    # one line for the whole upgrade (Alembic's own, a line a step, are kept quiet: bot/logs.py)
    if before.empty:
        log.info("database made at revision %s", before.head, extra={"event": "schema"})
    elif not before.up_to_date:
        log.info("database upgraded from %s to %s", before.current or "0.1", before.head,
                 extra={"event": "schema"})
    return before


def _vacuum(db: Database) -> None:
    """SQLite, once an upgrade has committed: the file rebuilt and its write-ahead log emptied,
    so no copy of what the revisions replaced is left in either."""
    engine = _sqlite_engine(db)
    try:
        connection = engine.raw_connection()
        try:
            connection.driver_connection.execute("VACUUM")
            connection.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            connection.close()
    except (OperationalError, sqlite3.OperationalError):  # in use elsewhere: the upgrade stands
        log.warning(
            "database in use: not vacuumed after the upgrade (what it replaced is zeroed, and "
            "leaves the write-ahead log at its next checkpoint)")
    finally:
        engine.dispose()


async def ready(db: Database, *, auto_upgrade: bool = False, **extra: Any) -> Status:
    """Make the database fit for this code: a new, empty one is made; one behind is upgraded
    only with `auto_upgrade`, else SchemaBehind is raised; one a newer korak upgraded raises
    SchemaAhead."""
    found = await status(db)
    if found.up_to_date:
        return found
    if found.ahead:
        raise SchemaAhead(found.current or "", found.head)
    if found.empty or auto_upgrade:
        await upgrade(db, **extra)
        return found
    raise SchemaBehind(found.current, found.head)
