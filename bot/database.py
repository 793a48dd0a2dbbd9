"""Opening the database for a command or the bot: made when new, refused when behind."""

from __future__ import annotations

from storage import migrate
from storage.db import Database

from .config import Settings
from .i18n import Texts


class Refused(Exception):
    """A command cannot go on; the message (one line, in Slovenian) says why and what to do."""


async def open_database(settings: Settings, texts: Texts | None = None):
    """The database, made if it is new; refused with one line when its schema is behind this
    code (unless DB_AUTO_UPGRADE=true)."""
    db = Database(settings.database_url, pool_size=settings.database_pool_size)
    try:
        await migrate.ready(db, auto_upgrade=settings.db_auto_upgrade)
    except migrate.SchemaBehind as exc:
        await db.dispose()
        raise Refused((texts or Texts(settings.locales_dir, settings.locale, settings.timezone))(
            "cli.db_behind", current=exc.current or "0.1", head=exc.head)) from exc
    except BaseException:
        await db.dispose()
        raise
    return db
