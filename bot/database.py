"""Opening the database for a command or the bot: made when new (only by the commands that
may make one), refused when behind, and refused in one line, never a traceback, when the
database cannot be had: what can pass by itself (a server not up yet, a timeout) is tried
again, what cannot (no such database or role, a wrong password, no rights) stops at once."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

from dialogs.replies import N_

from storage import keys, migrate
from storage.crypto import BadKey, KeyMissing, Sealer
from storage.db import Database, normalize_url

from bot.clock import utcnow
from bot.config import Settings
from bot.i18n import Texts

log = logging.getLogger("korak.db")

# how long a command other than `korak run` waits for a database that is not reachable yet
COMMAND_WAIT_SECONDS = 30.0
_MAX_DELAY = 30.0  # seconds between two tries, at most (the Bot API's at start: the same)


def sealer_or_none(settings: Settings) -> Sealer | None:
    return Sealer(settings.data_key) if settings.data_key else None


def sealer(settings: Settings, texts: Texts | None = None) -> Sealer:
    """The sealer for the sensitive answer; refused with one line when DATA_KEY is missing or
    not a key."""
    texts = texts or Texts(settings.locales_dir, settings.locale, settings.timezone)
    try:
        return Sealer(settings.data_key)
    except KeyMissing as exc:
        raise Refused(texts("cli.no_data_key")) from exc
    except BadKey as exc:
        raise Refused(texts("cli.bad_data_key")) from exc


class Refused(Exception):
    """A command cannot go on; the message (one line, in Slovenian) says why and what to do.
    `code` is the exit code: 2 for what refuses for good (starting again would not help),
    TEMPFAIL for what may pass by itself (a database that went away), which a supervisor
    (systemd's Restart=on-failure) starts again."""

    code = 2

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


TEMPFAIL = 75  # sysexits' EX_TEMPFAIL: try again later


def check_token(settings: Settings, texts: Texts | None = None) -> None:
    """BOT_TOKEN refused with one line when it is not a token's shape (a space in it, say):
    before anything starts, rather than as aiogram's error once the database is open."""
    from aiogram.utils.token import TokenValidationError, validate_token

    try:
        validate_token(settings.bot_token)
    except TokenValidationError as exc:
        texts = texts or Texts(settings.locales_dir, settings.locale, settings.timezone)
        raise Refused(texts("cli.bad_token", env=settings_source(settings))) from exc


class Stopped(Exception):
    """Asked to stop (SIGTERM, Ctrl+C) while waiting for the database at start."""


def settings_source(settings: Settings) -> str:
    """Where the settings came from, for a refusal: the `.env` read, or the environment."""
    return str(settings.env_path) if settings.env_path else "okolje, brez datoteke .env"


def database_name(url: str) -> str:
    """The database as an operator knows it, never with its password: a SQLite file's path, or
    the URL with the password (also one in the query) masked."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return "?"  # nothing of an unreadable URL is shown: it may hold a password anywhere
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or ":memory:"
    if "password" in parsed.query:
        parsed = parsed.update_query_dict({"password": "***"})
    return parsed.render_as_string(hide_password=True)


def _sqlite_file(url: str) -> Path | None:
    from sqlalchemy.engine import make_url

    parsed = make_url(normalize_url(url))
    if parsed.get_backend_name() != "sqlite":
        return None
    name = parsed.database
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        err = todo.pop(0)
        if err is None or id(err) in seen:
            continue
        seen.add(id(err))
        yield err
        todo += [getattr(err, "orig", None), err.__cause__, err.__context__]


def _sqlstate(exc: BaseException) -> str | None:
    import asyncpg

    for err in _chain(exc):
        if isinstance(err, asyncpg.PostgresError):
            return err.sqlstate
    return None


def _is_database_error(exc: BaseException) -> bool:
    """Raised by the database or its driver (and so named in one line, not a traceback)."""
    import asyncpg
    from sqlalchemy.exc import DBAPIError

    return any(isinstance(e, (DBAPIError, asyncpg.PostgresError, sqlite3.Error))
               for e in _chain(exc))


def transient(exc: BaseException, sqlite: bool = False) -> bool:
    """Can this pass by itself (a server starting or not up yet, a timeout, a lock)?"""
    state = _sqlstate(exc)
    if state is not None:
        return state.startswith("08") or state in ("57P01", "57P02", "57P03", "53300")
    for err in _chain(exc):
        if isinstance(err, sqlite3.OperationalError):
            return "locked" in str(err) or "busy" in str(err)
        if isinstance(err, ssl.SSLError):
            return False
        if not sqlite and isinstance(err, (OSError, asyncio.TimeoutError)):
            return True  # refused, reset, no route, a name not resolved yet, timed out
    return False


# what SQLite says of a file it cannot use (its messages hold no data)
_SQLITE_UNUSABLE = ("unable to open database file", "file is not a database", "readonly database",
                    "disk I/O error", "malformed", "database or disk is full")


def refusal(exc: BaseException, settings: Settings, texts: Texts) -> Refused | None:
    """The one line for a database that refuses for good (no such database or role, a wrong
    password, no rights, a file SQLite cannot use); None for anything else."""
    from sqlalchemy.engine import make_url

    url = settings.database_url
    names = {"db": database_name(url), "env": settings_source(settings)}
    state = _sqlstate(exc)
    if state is not None:
        parsed = make_url(normalize_url(url))
        names.update(server=f"{parsed.host or 'localhost'}:{parsed.port or 5432}",
                     user=parsed.username or "?", name=parsed.database or "?")
        key = {"3D000": N_("cli.db_not_found"), "28000": N_("cli.db_role_refused"),
               "28P01": N_("cli.db_bad_password"), "42501": N_("cli.db_no_rights")}.get(state)
        return Refused(texts(key, **names)) if key else None
    for err in _chain(exc):
        if isinstance(err, sqlite3.DatabaseError) and any(
                part in str(err) for part in _SQLITE_UNUSABLE):
            return Refused(texts("cli.db_unusable", error=str(err), **names))
        if isinstance(err, ssl.SSLError):
            return Refused(texts("cli.db_unusable", error=type(err).__name__, **names))
    return None


def refusal_or_none(exc: BaseException, settings: Settings, texts: Texts) -> Refused | None:
    """For the command line's last catch: a database error that refuses for good, or a
    connection lost on the way, in one line; None when `exc` is not the database's."""
    if not _is_database_error(exc):
        return None
    found = refusal(exc, settings, texts)
    if found is None and transient(exc):
        found = Refused(texts("cli.db_lost", db=database_name(settings.database_url),
                              error=type(exc).__name__, env=settings_source(settings)),
                        TEMPFAIL)
    return found


async def _pause(seconds: float, stop: asyncio.Event | None) -> None:
    if stop is None:
        await asyncio.sleep(seconds)
        return
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        return
    raise Stopped()


async def reach(settings: Settings, texts: Texts | None = None, *, create: bool = True,
                empty: bool | None = None, wait: float | None = None,
                stop: asyncio.Event | None = None) -> tuple[Database, migrate.Status]:
    """The database, connected, and where its schema stands. A SQLite file that is not there
    is made only with `create` (`korak run`, `korak db upgrade`, `korak chat`); otherwise it is
    refused in one line that names it, and so is an empty database unless `empty` (by default:
    `create`) says it will do. A database that cannot be
    reached is tried again (one log line a try) for `wait` seconds (None: until it answers or
    `stop` is set, then Stopped)."""
    texts = texts or Texts(settings.locales_dir, settings.locale, settings.timezone)
    names = {"db": database_name(settings.database_url), "env": settings_source(settings)}
    try:
        path = _sqlite_file(settings.database_url)
    except Exception as exc:  # not a URL at all
        raise Refused(texts("cli.db_url_bad", **names)) from exc
    if path is not None and not create and not path.exists():
        raise Refused(texts("cli.db_missing", **names))
    try:
        db = Database(settings.database_url, pool_size=settings.database_pool_size)
    except OSError as exc:  # the SQLite file's folder cannot be made or opened
        raise Refused(texts("cli.db_unusable", error=exc.strerror or type(exc).__name__,
                            **names)) from exc
    except Exception as exc:  # no such driver, a URL that does not parse
        raise Refused(texts("cli.db_url_bad", **names)) from exc
    started, delay = time.monotonic(), 0.5
    try:
        while True:
            try:
                found = await migrate.status(db)
                break
            except Exception as exc:
                refused = refusal(exc, settings, texts)
                if refused is not None:
                    raise refused from exc
                if not transient(exc, sqlite=db.is_sqlite):
                    raise
                pause = delay
                if wait is not None:
                    pause = min(delay, started + wait - time.monotonic())
                    if pause <= 0:
                        raise Refused(texts("cli.db_unreachable", error=type(exc).__name__,
                                            seconds=round(wait), **names),
                                      TEMPFAIL) from exc
                log.warning("database not reachable yet (%s); trying again in %.3g s",
                            type(exc).__name__, pause,
                            extra={"event": "database", "error": type(exc).__name__})
                await _pause(pause, stop)
                delay = min(delay * 2, _MAX_DELAY)
        if found.empty and not (create if empty is None else empty):
            raise Refused(texts("cli.db_empty_refused", **names))
    except BaseException:
        await db.dispose()
        raise
    return db, found


async def open_database(settings: Settings, texts: Texts | None = None, *, create: bool = True,
                        wait: float | None = None, stop: asyncio.Event | None = None):
    """The database, made if it is new (only with `create`: see reach); refused with one line
    when it cannot be had, when its schema is behind this code (unless DB_AUTO_UPGRADE=true),
    or when DATA_KEY is set and opens nothing it holds sealed (storage/keys.py)."""
    texts = texts or Texts(settings.locales_dir, settings.locale, settings.timezone)
    seal = sealer_or_none(settings)
    db, _found = await reach(settings, texts, create=create, wait=wait, stop=stop)
    try:
        if seal is not None:  # before any revision seals with it
            await keys.check_canary(db, seal)
        await migrate.ready(db, auto_upgrade=settings.db_auto_upgrade, sealer=seal)
        if seal is not None:
            async with db.transaction() as session:
                await keys.check_keys(session, seal, utcnow())
    except keys.WrongKey as exc:
        await db.dispose()
        raise Refused(texts("cli.wrong_data_key")) from exc
    except migrate.SchemaBehind as exc:
        await db.dispose()
        raise Refused(texts("cli.db_behind", current=exc.current or "0.1",
                            head=exc.head)) from exc
    except migrate.SchemaAhead as exc:
        await db.dispose()
        raise Refused(texts("cli.db_ahead", current=exc.current, head=exc.head)) from exc
    except KeyMissing as exc:
        await db.dispose()
        raise Refused(texts("cli.db_needs_key")) from exc
    except Exception as exc:
        await db.dispose()
        refused = refusal(exc, settings, texts)  # no rights to make the tables, say
        if refused is not None:
            raise refused from exc
        raise
    except BaseException:
        await db.dispose()
        raise
    return db
