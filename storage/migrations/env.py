"""Alembic's entry point. korak runs it from storage/migrate.py with an open connection in
`config.attributes["connection"]`; `alembic` on the command line (alembic.ini at the top of the
repository, for writing a new revision) connects to DATABASE_URL from the settings."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from storage import models  # noqa: F401  (registers the tables)

config = context.config


def _run(connection) -> None:
    # batch mode: SQLite alters a table by copying it, and every revision must run there too
    context.configure(connection=connection, target_metadata=SQLModel.metadata,
                      render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # pragma: no cover - developer use: `alembic revision --autogenerate -m …`
    import asyncio

    from bot.config import Settings
    from storage.db import Database

    async def _main() -> None:
        db = Database(Settings().database_url)
        try:
            if db.sync_engine is not None:
                with db.sync_engine.begin() as conn:
                    _run(conn)
            else:
                async with db.engine.begin() as conn:
                    await conn.run_sync(_run)
        finally:
            await db.dispose()

    asyncio.run(_main())
