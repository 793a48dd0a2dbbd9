"""The one map of what korak stores (storage/privacy.py) against the schema, the record of
processing and the erasure code: a new column must be classified, written down, and erased."""

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlmodel import SQLModel

from dialogs.intake import STEPS
from storage import erasure, privacy

from .test_erasure import NOW, STAFF, person_with_everything

ROOT = Path(__file__).resolve().parent.parent.parent


def test_every_column_of_every_table_is_classified_and_nothing_else():
    columns = {f"{t.name}.{c.name}" for t in SQLModel.metadata.sorted_tables for c in t.columns}
    assert sorted(columns - set(privacy.COLUMNS)) == [], "classify these in storage/privacy.py"
    assert sorted(set(privacy.COLUMNS) - columns) == [], "these are no longer in the schema"


def test_every_personal_column_says_why_who_how_long_and_how_it_goes():
    for name, col in privacy.personal().items():
        for field in ("what", "purpose", "basis", "who", "kept", "erased"):
            assert getattr(col, field).strip(), f"{name}: {field} missing"
    special = sorted(n for n, c in privacy.personal().items() if c.special)
    assert special == ["contact_request.sensitive", "resident.state"]


def test_the_record_of_processing_is_the_map():
    doc = (ROOT / "docs/privacy.md").read_text(encoding="utf-8")
    start = doc.index("-->\n", doc.index("<!-- record:start")) + len("-->\n")
    end = doc.index("<!-- record:end -->")
    assert doc[start:end] == privacy.record(), "run `python -m storage.privacy --write docs/privacy.md`"


async def _values_left(db, refers, value):
    """(column, count) for every column the map says refers to `refers` holding `value`."""
    left = []
    for name, col in privacy.COLUMNS.items():
        if col.refers != refers:
            continue
        table_name, column = name.split(".")
        table = SQLModel.metadata.tables[table_name]
        async with db.transaction() as s:
            rows = (await s.execute(select(table.c[column]).where(table.c[column] == value))).all()
        if rows:
            left.append((name, len(rows)))
    return left


async def test_izbrisi_leaves_nothing_that_points_at_the_person_in_any_mapped_column(db):
    rid = await person_with_everything(db, 4)
    other = await person_with_everything(db, 5)
    async with db.transaction() as s:
        await erasure.erase_person(s, "telegram:4", NOW, STAFF)
    assert await _values_left(db, "person", "telegram:4") == []
    assert await _values_left(db, "request", rid) == []
    # the map is not vacuous: the other person is found everywhere the map points
    found = dict(await _values_left(db, "person", "telegram:5"))
    assert {"resident.person", "contact_request.person", "enrollment.person",
            "attendance.person", "inbox.person"} <= set(found)
    assert {"request_event.request_id", "staff_message.request_id", "access_log.request_id",
            "outbox.request_id", "enrollment.request_id"} <= {
        n for n, _ in await _values_left(db, "request", other)}


async def test_retention_leaves_nothing_that_points_at_an_idle_request(db):
    old = NOW - timedelta(days=400)
    rid = await person_with_everything(db, 6, at=old, enrolled_until=old + timedelta(days=3))
    async with db.transaction() as s:
        assert await erasure.erase_if_idle(s, rid, NOW - timedelta(days=365), NOW, STAFF, STEPS)
    assert await _values_left(db, "person", "telegram:6") == []
    assert await _values_left(db, "request", rid) == []
