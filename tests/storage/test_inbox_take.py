"""Viber's and WhatsApp's callbacks through the inbox (Inbox.take): each is stored before the
platform hears back, handled once, and one person's are handled in the order they were sent —
when they arrive together, when one arrives while the one before is still being handled, and
when two processes take them (PostgreSQL)."""

import asyncio
from datetime import datetime, timezone

import pytest

from bot.runtime.inbox import Inbox
from storage import inbox as store
from storage import repo
from storage.crypto import Sealer, generate_key
from storage.models import Inbox as InboxRow
from sqlmodel import select

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)
PERSON = "viber:u1=="


class Handler:
    """A channel's handling of a stored callback: notes it and marks it handled, as the
    conversation does in its own transaction."""

    def __init__(self, db, hold: asyncio.Event | None = None) -> None:
        self.db, self.hold, self.seen = db, hold, []
        self.started = asyncio.Event()

    async def __call__(self, payload) -> bool:
        self.seen.append(payload["n"])
        self.started.set()
        if self.hold is not None and payload["n"] == 0:
            await self.hold.wait()
        await asyncio.sleep(0.005)
        async with self.db.transaction() as s:
            await repo.first_time(s, payload["event"], NOW, PERSON)
        return False


KEY = generate_key()


def inbox_for(db, handler) -> Inbox:
    inbox = Inbox(db, None, None, lambda: NOW, Sealer(KEY))
    inbox.channels["viber"] = handler
    return inbox


async def take(inbox, n, person=PERSON):
    event = f"viber:{1000 + n}"
    await inbox.take(event, person, 1000 + n, {"event": event, "n": n})


async def waiting(db):
    async with db.transaction() as s:
        rows = (await s.execute(select(InboxRow.event).where(
            InboxRow.handled_at.is_(None)))).scalars().all()
    return list(rows)


async def test_callbacks_arriving_together_are_handled_once_each_in_order(db):
    handler = Handler(db)
    inbox = inbox_for(db, handler)
    await asyncio.gather(*(take(inbox, n) for n in range(6)))
    await asyncio.gather(take(inbox, 2), take(inbox, 4))  # the platform sends two again
    await inbox.idle()
    assert handler.seen == [0, 1, 2, 3, 4, 5]
    assert await waiting(db) == []


async def test_one_stored_while_the_one_before_is_handled_follows_it_at_once(db):
    hold = asyncio.Event()
    handler = Handler(db, hold)
    inbox = inbox_for(db, handler)
    await take(inbox, 0)
    await handler.started.wait()  # the first is being handled (claimed as it was stored)
    await take(inbox, 1)  # stored, not handled: the lane is busy
    await asyncio.sleep(0.05)
    assert handler.seen == [0]
    hold.set()
    await inbox.idle()  # no tick, no sweep: the first one's handling goes on to the second
    assert handler.seen == [0, 1]
    assert await waiting(db) == []


async def test_a_callback_that_cannot_be_stored_raises_for_the_platform_to_send_again(
        db, monkeypatch):
    handler = Handler(db)
    inbox = inbox_for(db, handler)

    async def refused(*args, **kwargs):
        raise ConnectionError("database down")

    monkeypatch.setattr(store, "store_and_claim", refused)
    results = await asyncio.gather(take(inbox, 0), take(inbox, 1), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    monkeypatch.undo()
    await inbox.idle()
    assert handler.seen == [] and await waiting(db) == []
    await take(inbox, 0)  # sent again: now it is stored and handled
    await inbox.idle()
    assert handler.seen == [0]


async def test_two_processes_keep_one_person_s_order(pg_db):
    """Two replicas take one person's callbacks at the same moments: each is handled once, in
    the order sent (a lane is locked while a callback is stored, so only one claims)."""
    seen = []

    class Shared(Handler):
        async def __call__(self, payload) -> bool:
            seen.append(payload["n"])
            await asyncio.sleep(0.01)
            async with self.db.transaction() as s:
                await repo.first_time(s, payload["event"], NOW, PERSON)
            return False

    a, b = inbox_for(pg_db, Shared(pg_db)), inbox_for(pg_db, Shared(pg_db))
    for n in range(0, 8, 2):
        await asyncio.gather(take(a, n), take(b, n + 1))
    await asyncio.gather(a.idle(), b.idle())
    assert sorted(seen) == list(range(8)) and len(seen) == 8
    # within the order each pair was stored in: a pair taken together may go either way
    # round, but never a later pair before an earlier one
    assert [n // 2 for n in seen] == sorted(n // 2 for n in seen)
    assert await waiting(pg_db) == []


@pytest.mark.parametrize("count", [40])
async def test_many_people_at_once_are_all_handled(db, count):
    handled = []

    async def handler(payload):
        handled.append(payload["event"])
        async with db.transaction() as s:
            await repo.first_time(s, payload["event"], NOW, payload["person"])
        return False

    inbox = Inbox(db, None, None, lambda: NOW, Sealer(generate_key()))
    inbox.channels["viber"] = handler
    await asyncio.gather(*(inbox.take(f"viber:{i}", f"viber:p{i % 10}", i,
                                      {"event": f"viber:{i}", "person": f"viber:p{i % 10}"})
                           for i in range(count)))
    await inbox.idle()
    assert sorted(handled) == sorted(f"viber:{i}" for i in range(count))
    assert await waiting(db) == []
