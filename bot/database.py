"""Opening the database for a command or the bot: made when new, refused when behind."""

from __future__ import annotations

from storage import keys, migrate
from storage.crypto import BadKey, KeyMissing, Sealer
from storage.db import Database

from bot.clock import utcnow
from bot.config import Settings
from bot.i18n import Texts


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
    """A command cannot go on; the message (one line, in Slovenian) says why and what to do."""


async def open_database(settings: Settings, texts: Texts | None = None):
    """The database, made if it is new; refused with one line when its schema is behind this
    code (unless DB_AUTO_UPGRADE=true), or when DATA_KEY is set and opens nothing it holds
    sealed (storage/keys.py)."""
    texts = texts or Texts(settings.locales_dir, settings.locale, settings.timezone)
    seal = sealer_or_none(settings)
    db = Database(settings.database_url, pool_size=settings.database_pool_size)
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
    except KeyMissing as exc:
        await db.dispose()
        raise Refused(texts("cli.db_needs_key")) from exc
    except BaseException:
        await db.dispose()
        raise
    return db
