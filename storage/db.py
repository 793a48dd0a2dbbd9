"""Engine and sessions, the same code on SQLite (default) and PostgreSQL (asyncpg)."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, sessionmaker
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from . import models  # noqa: F401  (registers the tables)

_POOL_TIMEOUT = 120  # seconds a PostgreSQL transaction waits for a connection before it fails

# the task holding the SQLite transaction lock: a transaction opened inside another one by the
# same task would wait for itself forever, so it is refused with an error instead
_HOLDING: ContextVar[object] = ContextVar("korak_db_holding", default=None)


def normalize_url(url: str) -> str:
    """Accept the plain forms people write and pick the async driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+asyncpg://" + url[len("postgresql://") :]
    if url.startswith("sqlite://") and not url.startswith("sqlite+aiosqlite://"):
        url = "sqlite+aiosqlite://" + url[len("sqlite://") :]
    return url


class SyncSession:
    """The part of AsyncSession korak uses, over a plain Session. For SQLite: a statement
    takes microseconds there, while aiosqlite's hop to its thread and back for every call
    took over a millisecond (most of an update's time under load). SQLite's work is done on
    the event loop's thread instead, one transaction at a time (see Database.transaction).

    The ORM session is made only when a statement needs it: a resident's update usually runs
    only DriverSQL statements, on the connection itself, and making, committing and closing a
    session for them cost more than the statements. Both share the one connection and so its
    transaction; `commit` and `rollback` end it whichever of them began it."""

    def __init__(self, make_session: Callable[[], Session], connection: Any) -> None:
        self._make, self._plain = make_session, None
        self.bind = connection  # the held SQLAlchemy connection (its dialect names SQLite)
        self.driver = connection.connection.driver_connection  # the sqlite3 connection

    @property
    def sync_session(self) -> Session:
        if self._plain is None:
            self._plain = self._make()
        return self._plain

    async def execute(self, statement: Any, params: Any = None, **kw: Any) -> Any:
        return self.sync_session.execute(statement, params, **kw)

    async def get(self, entity: Any, ident: Any, **kw: Any) -> Any:
        return self.sync_session.get(entity, ident, **kw)

    def add(self, instance: Any) -> None:
        self.sync_session.add(instance)

    async def flush(self) -> None:
        self.sync_session.flush()

    async def delete(self, instance: Any) -> None:
        self.sync_session.delete(instance)

    @asynccontextmanager
    async def begin_nested(self) -> AsyncIterator[None]:
        with self.sync_session.begin_nested():
            yield

    def commit(self) -> None:
        if self._plain is not None:
            self._plain.commit()  # flushes, then commits the connection's transaction
        if self.driver.in_transaction:  # begun by a driver statement the session never saw
            self.driver.commit()

    def rollback(self) -> None:
        if self._plain is not None:
            self._plain.rollback()
        if self.driver.in_transaction:
            self.driver.rollback()

    def close(self) -> None:
        if self._plain is not None:
            self._plain.close()


class PgSession:
    """The same for PostgreSQL: one pooled connection, and an AsyncSession on it only when a
    statement needs the ORM. A resident's update runs only DriverSQL statements, straight on the
    asyncpg connection; through an AsyncSession the checkout, BEGIN and COMMIT each went through
    SQLAlchemy's greenlet bridge, and that cost as much again as the rest of the transaction:
    0.71 ms of CPU for an update's transaction through an AsyncSession, 0.36 ms this way.

    Driver and ORM work share one transaction: the driver begins it in SQLAlchemy's asyncpg
    adapter, which is where SQLAlchemy begins its own, so whichever of them comes first, the
    other finds it open; `commit` and `rollback` end it whichever of them began it. That
    adapter's `_transaction` and `_start_transaction` are not public: pyproject.toml holds
    SQLAlchemy to 2.1, where they were checked, and the storage tests on PostgreSQL cover it."""

    def __init__(self, make_session: Callable[..., AsyncSession], connection: Any) -> None:
        self._make, self._orm = make_session, None
        self.bind = connection  # the AsyncConnection (its dialect names PostgreSQL)
        self._adapted: Any = None  # SQLAlchemy's adapter around the asyncpg connection
        self._driver: Any = None  # the asyncpg connection

    async def driver(self) -> Any:
        """The asyncpg connection, with the transaction begun."""
        adapted = self._adapted
        if adapted is None:
            fairy = await self.bind.get_raw_connection()
            adapted, self._driver = fairy.dbapi_connection, fairy.driver_connection
            self._adapted = adapted
        if adapted._transaction is None:
            await adapted._start_transaction()
        return self._driver

    @property
    def orm(self) -> AsyncSession:
        if self._orm is None:
            self._orm = self._make(bind=self.bind)
        return self._orm

    async def execute(self, statement: Any, params: Any = None, **kw: Any) -> Any:
        return await self.orm.execute(statement, params, **kw)

    async def get(self, entity: Any, ident: Any, **kw: Any) -> Any:
        return await self.orm.get(entity, ident, **kw)

    def add(self, instance: Any) -> None:
        self.orm.add(instance)

    async def flush(self) -> None:
        await self.orm.flush()

    async def delete(self, instance: Any) -> None:
        await self.orm.delete(instance)

    @asynccontextmanager
    async def begin_nested(self) -> AsyncIterator[None]:
        async with self.orm.begin_nested():
            yield

    async def commit(self) -> None:
        if self._orm is not None:
            await self._orm.commit()  # flushes, then commits the adapter's transaction
        await self._end("commit")  # begun by a driver statement the session never saw

    async def rollback(self) -> None:
        """Never raises: the error that led here is the one that matters. A connection that
        cannot even roll back, or that the server closed (a restart), is thrown away, not
        handed back to the pool: SQLAlchemy does that for its own statements, but it never
        sees the errors of the driver's."""
        try:
            if self._orm is not None:
                await self._orm.rollback()
            await self._end("rollback")
            broken = self._driver is not None and self._driver.is_closed()
        except Exception:
            broken = True
        if broken:
            with suppress(Exception):
                await self.bind.invalidate()

    async def _end(self, how: str) -> None:
        adapted = self._adapted
        if adapted is None:  # no driver statement: the ORM session began and ended it all
            return
        transaction, adapted._transaction = adapted._transaction, None
        if transaction is not None:
            await getattr(transaction, how)()

    async def close(self) -> None:
        try:
            if self._orm is not None:
                await self._orm.close()
        finally:
            await self.bind.close()  # back to the pool


class DriverSQL:
    """A hand-written statement run on the driver's own connection (sqlite3 or asyncpg) inside
    the session's transaction, for the few statements every resident update makes: through
    SQLAlchemy each cost several times the statement itself (on PostgreSQL about 0.5 ms of CPU
    a statement, most of an update's database time). SQLAlchemy's own type processors convert
    the parameters and the columns, so what is written and read is exactly what the ORM writes
    and reads. Parameters are written $1, $2, … (SQLite gets ?1, ?2, …).

    `params` and `columns` are table columns, for their types (None: the value goes to the
    driver as it is)."""

    def __init__(self, sql: str, params: Sequence[Any] = (), columns: Sequence[Any] = ()) -> None:
        self.sql, self.params, self.columns = sql, tuple(params), tuple(columns)
        self._compiled: dict[str, tuple[str, list, list]] = {}

    def _for(self, dialect: Any) -> tuple[str, list, list]:
        done = self._compiled.get(dialect.name)
        if done is None:
            sql = self.sql if dialect.name == "postgresql" else self.sql.replace("$", "?")
            binds = [None if c is None else c.type.dialect_impl(dialect).bind_processor(dialect)
                     for c in self.params]
            results = [c.type.dialect_impl(dialect).result_processor(dialect, None)
                       for c in self.columns]
            done = self._compiled[dialect.name] = (sql, binds, results)
        return done

    async def rows(self, session: Any, *values: Any) -> list[tuple]:
        sql, binds, results = self._for(session.bind.dialect)
        values = tuple(v if f is None or v is None else f(v) for f, v in zip(binds, values))
        if isinstance(session, SyncSession):
            # pysqlite begins the transaction itself before the first write
            fetched = session.driver.execute(sql, values).fetchall()
        else:
            fetched = await (await session.driver()).fetch(sql, *values)
        if not any(results):
            return [tuple(r) for r in fetched]
        return [tuple(v if f is None or v is None else f(v) for f, v in zip(results, r))
                for r in fetched]


class Database:
    def __init__(self, url: str, *, echo: bool = False, schema: str | None = None,
                 pool_size: int = 50) -> None:
        """`schema` (PostgreSQL only) keeps the tables in a schema of their own: benchmarks and
        tests use it so runs never see each other's rows."""
        self.url = normalize_url(url)
        self.schema = schema
        parsed = make_url(self.url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self.engine: AsyncEngine | None = None
        self.sync_engine: Engine | None = None
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                private_file(Path(parsed.database))
            # another process holding the write lock (korak schedule import) is waited for, but
            # not for long: this wait blocks the event loop. Statement parameters never reach
            # an error's message (they are people's answers).
            self.sync_engine = create_engine(parsed.set(drivername="sqlite"), echo=echo,
                                             connect_args={"timeout": 5}, hide_parameters=True)
            event.listen(self.sync_engine, "connect", _sqlite_pragmas)
            self._sync_sessions: sessionmaker | None = None
            self._held: Any = None
            self._serial: asyncio.Lock | None = asyncio.Lock()
            return
        # A fixed set of connections, no overflow: overflow connections were opened for a burst
        # and closed again at once, and under load most of the database time went to opening
        # connections. Past the pool, a transaction waits its turn. No ping before each
        # checkout (a round trip per transaction); stale connections are recycled instead.
        connect_args: dict[str, Any] = {}
        if schema is not None:
            if not schema.replace("_", "").isalnum():
                raise ValueError(f"not a schema name: {schema!r}")
            # set when the connection opens, outside any transaction
            connect_args["server_settings"] = {"search_path": schema}
        self.engine = create_async_engine(self.url, echo=echo, pool_size=pool_size,
                                          max_overflow=0, pool_timeout=_POOL_TIMEOUT,
                                          pool_recycle=1800, connect_args=connect_args,
                                          hide_parameters=True)
        self._sessions = async_sessionmaker(self.engine, class_=AsyncSession,
                                            expire_on_commit=False)
        # Transactions wait for a connection here, first come first served. The pool's own
        # queue lets a newcomer take a connection that was just handed back while a woken
        # waiter is still on its way, and the waiter goes to the back of the queue: under load
        # some transactions waited many times their turn (the slowest 1% took twice the median).
        self._slots = asyncio.Semaphore(pool_size)
        self._serial = None
        self._held = None

    async def create_all(self) -> None:
        if self.sync_engine is not None:
            SQLModel.metadata.create_all(self.sync_engine)
            return
        async with self.engine.begin() as conn:
            if self.schema is not None:
                await conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
                await conn.exec_driver_sql(f"SET search_path TO {self.schema}")
            await conn.run_sync(SQLModel.metadata.create_all)

    async def open_pool(self) -> None:
        """Open the pool's connections now (PostgreSQL), so the first busy minute after a start
        does not pay for opening them one by one while people wait."""
        if self.engine is None:
            return
        opened = await asyncio.gather(*(self.engine.connect()
                                        for _ in range(self.engine.pool.size())),
                                      return_exceptions=True)
        for conn in opened:
            if not isinstance(conn, BaseException):
                await conn.close()
        failed = [e for e in opened if isinstance(e, BaseException)]
        if failed:
            raise failed[0]

    async def drop_schema(self) -> None:
        """Drop the schema this database was given, with everything in it (benchmarks clean up
        after themselves this way)."""
        if self.engine is not None and self.schema is not None:
            async with self.engine.begin() as conn:
                await conn.exec_driver_sql(f"DROP SCHEMA {self.schema} CASCADE")

    async def drop_all(self) -> None:
        if self.sync_engine is not None:
            SQLModel.metadata.drop_all(self.sync_engine)
            return
        async with self.engine.begin() as conn:
            await conn.run_sync(SQLModel.metadata.drop_all)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        """One unit of work: committed on success, rolled back on any error.

        SQLite has one writer at a time, and a connection that finds the file locked sleeps
        in growing steps before it tries again: under load most of the time went to those
        sleeps. So on SQLite this process runs its transactions one after another (a queue
        instead of a scramble); PostgreSQL runs them side by side."""
        if self._serial is None:
            if self._slots.locked():
                async with asyncio.timeout(_POOL_TIMEOUT):
                    await self._slots.acquire()
            else:
                await self._slots.acquire()
            try:
                session = PgSession(self._sessions, await self.engine.connect())
                try:
                    yield session
                    await session.commit()
                except BaseException:
                    await session.rollback()
                    raise
                finally:
                    await session.close()
            finally:
                self._slots.release()
            return
        if _HOLDING.get() is asyncio.current_task():
            raise RuntimeError("a transaction inside a transaction of the same task")
        async with self._serial:
            token = _HOLDING.set(asyncio.current_task())
            try:
                if self._sync_sessions is None:
                    # one connection for this process's transactions, which run one at a time:
                    # no pool checkout and reset for each of them
                    self._held = self.sync_engine.connect()
                    self._sync_sessions = sessionmaker(self._held, expire_on_commit=False)
                session = SyncSession(self._sync_sessions, self._held)
                try:
                    yield session
                    session.commit()
                except BaseException:
                    session.rollback()
                    raise
                finally:
                    session.close()
            finally:
                _HOLDING.reset(token)

    async def scrub(self) -> None:
        """After an erasure (SQLite): what the write-ahead log still holds of the erased rows
        is written into the database file, where secure_delete has zeroed it, and the log is
        emptied. Best effort: another process reading at that moment keeps part of the log
        until the next scrub. PostgreSQL keeps dead rows until VACUUM (docs/privacy.md)."""
        if self._serial is None:
            return
        async with self._serial:
            if self._held is None:
                return
            driver = self._held.connection.driver_connection
            if driver.in_transaction:
                return
            busy, _, _ = driver.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if busy:
                logging.getLogger("korak.db").info("write-ahead log busy; emptied later")

    async def dispose(self) -> None:
        if self._held is not None:
            self._held.close()
            self._held, self._sync_sessions = None, None
        if self.sync_engine is not None:
            self.sync_engine.dispose()
        if self.engine is not None:
            await self.engine.dispose()


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - trivial
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    # deleted and overwritten content is zeroed, not left in free space in the file
    cur.execute("PRAGMA secure_delete=ON")
    cur.close()


def private_file(path: Path) -> None:
    """The SQLite file and its directory readable by this user alone: the file 0600 (SQLite
    gives its -wal and -shm files the file's mode), a directory korak makes 0700, and korak's
    own default directory (`data`) tightened to 0700 when an older korak left it open."""
    folder = path.parent
    if not folder.exists():
        folder.mkdir(parents=True, mode=0o700, exist_ok=True)
        os.chmod(folder, 0o700)
    elif folder.name == "data" and folder.stat().st_mode & 0o077:
        with suppress(OSError):
            os.chmod(folder, 0o700)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if name.exists() and name.stat().st_mode & 0o077:
            with suppress(OSError):
                os.chmod(name, 0o600)
