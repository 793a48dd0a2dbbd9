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
    if request.param == "sqlite":
        database = Database(f"sqlite+aiosqlite:///{tmp_path}/korak.db")
        await database.create_all()
        yield database
        await database.dispose()
        return
    # A schema of its own per test, so runs never see each other's rows.
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = Database(PG_URL)
    async with admin.engine.begin() as conn:
        await conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    await admin.dispose()
    database = Database(PG_URL)
    database.engine.sync_engine.update_execution_options(schema_translate_map=None)
    from sqlalchemy import event

    @event.listens_for(database.engine.sync_engine, "connect")
    def _search_path(dbapi_conn, _rec):
        cur = dbapi_conn.cursor()
        cur.execute(f"SET search_path TO {schema}")
        cur.close()

    await database.create_all()
    yield database
    await database.dispose()
    admin = Database(PG_URL)
    async with admin.engine.begin() as conn:
        await conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    await admin.dispose()
