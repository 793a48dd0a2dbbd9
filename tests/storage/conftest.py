import os
import uuid

import pytest

from storage.db import Database

PG_URL = os.environ.get("KORAK_TEST_POSTGRES_URL")


def database_urls():
    params = [pytest.param("sqlite", id="sqlite")]
    params.append(pytest.param("postgres", id="postgres", marks=pytest.mark.skipif(
        not PG_URL, reason="KORAK_TEST_POSTGRES_URL not set: PostgreSQL tests skipped")))
    return params


@pytest.fixture(params=database_urls())
async def db(request, tmp_path):
    async for database in _opened(request.param, tmp_path):
        yield database


@pytest.fixture(params=database_urls()[1:])
async def pg_db(request, tmp_path):
    """PostgreSQL only, for what only its connections do."""
    async for database in _opened(request.param, tmp_path):
        yield database


async def _opened(kind, tmp_path):
    if kind == "sqlite":
        database = Database(f"sqlite+aiosqlite:///{tmp_path}/korak.db")
        await database.create_all()
        yield database
        await database.dispose()
        return
    # A schema of its own per test, so runs never see each other's rows.
    database = Database(PG_URL, schema="t_" + uuid.uuid4().hex[:12])
    await database.create_all()
    yield database
    await database.drop_schema()
    await database.dispose()
