"""Reminder rows are written in batches: one query for the keys already queued, one insert."""

from datetime import datetime, timezone

from sqlalchemy import select

from storage import repo
from storage import schedule as store
from storage.models import Outbox

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)


def row(n: int) -> dict:
    return {"kind": "reminder", "chat": f"telegram:{500 + n}", "due_at": NOW, "key": f"reminder:{n}",
            "payload": {"session_id": n, "enrollment_id": 1}, "topic": f"session:{n}",
            "request_id": None}


async def test_a_batch_queues_only_keys_never_queued(db):
    async with db.transaction() as s:
        await repo.add_outbox(s, **row(2))
        assert await store.add_reminders(s, [row(n) for n in range(5)]) == 4
        assert await store.add_reminders(s, [row(n) for n in range(5)]) == 0
        assert await store.add_reminders(s, []) == 0
    async with db.transaction() as s:
        found = (await s.execute(select(Outbox).order_by(Outbox.key))).scalars().all()
    assert [(o.key, o.chat, o.payload["session_id"], o.attempts) for o in found] == [
        (f"reminder:{n}", f"telegram:{500 + n}", n, 0) for n in range(5)]
