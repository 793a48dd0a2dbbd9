"""Dispatchers sharing a database: every due row is sent exactly once, even when a send is
slow and another dispatcher keeps claiming. In one process (SQLite and PostgreSQL) and, on
PostgreSQL, in two processes with their own connections, as two replicas would run."""

import asyncio
import contextlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.i18n import Texts
from bot.runtime.outbox import OutboxDispatcher
from sqlmodel import select
from storage import repo
from storage.models import Outbox

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)


class FakeSender:
    def __init__(self, delay=0.0):
        self.sent = []
        self.delay = delay

    async def send_message(self, chat_id, text, before=None, **kwargs):
        if before is not None:
            await before()
        await asyncio.sleep(self.delay)
        self.sent.append((chat_id, text))
        return None


async def test_two_dispatchers_in_one_process_send_each_row_once(db):
    async with db.transaction() as s:
        for i in range(120):
            await repo.add_outbox(s, kind="staff_request_deleted", chat=f"group:{-100 - i % 7}",
                                  payload={"id": i}, due_at=NOW)
    texts = Texts(ROOT / "locales")
    a, b = FakeSender(0.001), FakeSender(0.001)
    one = OutboxDispatcher(db, texts, a, lambda: NOW, batch=7)
    two = OutboxDispatcher(db, texts, b, lambda: NOW, batch=7)
    await asyncio.gather(one.run_once(), two.run_once())
    sent = a.sent + b.sent
    assert len(sent) == 120 and len(set(sent)) == 120
    assert a.sent and b.sent  # both took part


WORKER = """
import asyncio, json, sys
from datetime import datetime, timezone
from bot.i18n import Texts
from bot.runtime.outbox import OutboxDispatcher
from storage.db import Database
from tests.storage.test_dispatch import FakeSender, ROOT, NOW

async def main():
    db = Database(sys.argv[1], schema=sys.argv[2], pool_size=4)
    await db.open_pool()
    sender = FakeSender(0.005)
    print("ready", flush=True)
    sys.stdin.readline()  # both start together
    await OutboxDispatcher(db, Texts(ROOT / "locales"), sender, lambda: NOW, batch=5).run_once()
    await db.dispose()
    print(json.dumps(sender.sent))

asyncio.run(main())
"""


async def test_two_processes_send_each_row_once(pg_db):
    """Two processes, each with its own connections, dispatch one outbox at the same time."""
    import json
    import subprocess
    import sys

    from .conftest import PG_URL
    async with pg_db.transaction() as s:
        for i in range(200):
            await repo.add_outbox(s, kind="staff_request_deleted", chat=f"group:{-100 - i % 9}",
                                  payload={"id": i}, due_at=NOW)
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, PG_URL, pg_db.schema],
                              cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    for p in procs:  # go, both at once
        p.stdin.write("go\n")
        p.stdin.flush()
    outs = [json.loads(p.communicate(timeout=120)[0].strip().splitlines()[-1]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    sent = [tuple(m) for out in outs for m in out]
    assert len(sent) == 200 and len(set(sent)) == 200
    assert all(outs)  # both took part
    async with pg_db.transaction() as s:
        assert await repo.count_pending(s) == 0


async def test_a_row_taken_over_after_its_lease_is_not_sent_by_the_slow_one(db):
    async with db.transaction() as s:
        await repo.add_outbox(s, kind="staff_request_deleted", chat="group:-100", payload={"id": 1},
                              due_at=NOW)
        [row] = await repo.claim_due(s, NOW)
        lease = repo.as_utc(row.claimed_until)
    later = NOW + timedelta(minutes=3)  # the lease ran out; another dispatcher claims it
    async with db.transaction() as s:
        assert [r.id for r in await repo.claim_due(s, later)] == [row.id]
    async with db.transaction() as s:  # the first one wakes up: the row is no longer its own
        assert not await repo.hold_claim(s, row.id, lease, later)


async def test_a_reminder_interrupted_mid_send_is_not_repeated_but_a_card_is(db):
    from storage.models import Outbox
    async with db.transaction() as s:
        for kind in ("reminder", "staff_request_deleted"):
            await repo.add_outbox(s, kind=kind, chat="group:-100", due_at=NOW,
                                  payload={"id": 1, "session_id": 1, "telegram_id": 5})
        rows = await repo.claim_due(s, NOW)
        for row in rows:  # the dispatcher got as far as sending, then the process died
            assert await repo.hold_claim(s, row.id, repo.as_utc(row.claimed_until), NOW)
            await repo.mark_sending(s, row.id, NOW)
    sender = FakeSender()
    later = NOW + timedelta(minutes=3)
    await OutboxDispatcher(db, Texts(ROOT / "locales"), sender, lambda: later).run_once()
    assert [text for _, text in sender.sent] == [
        "Prošnja št. 1 je umaknjena: oseba je izbrisala svoje podatke. Prosimo, izbrišite tudi "
        "svoje zapiske o njej."]
    async with db.transaction() as s:
        assert await repo.count_pending(s) == 0
        reminder = await s.get(Outbox, rows[0].id)
        assert reminder.kind == "reminder" and "not repeated" in reminder.last_error


class PacedSender(FakeSender):
    """Waits for its turn (Telegram's limits) before the request, as the real sender does:
    `before` runs after the wait, right before the request."""

    def __init__(self, turn: asyncio.Event, waiting: asyncio.Event):
        super().__init__()
        self.turn, self.waiting = turn, waiting

    async def send_message(self, chat_id, text, before=None, **kwargs):
        self.waiting.set()
        await self.turn.wait()
        return await super().send_message(chat_id, text, before=before, **kwargs)


async def test_a_send_that_waited_its_turn_past_the_lease_is_not_made_twice(db):
    """The staff group's 20 a minute can keep a message waiting longer than its lease; another
    dispatcher then takes the row over and sends it. The first one, its turn come at last, must
    not send it as well."""
    from bot.runtime.outbox import LEASE

    async with db.transaction() as s:
        await repo.add_outbox(s, kind="staff_request_deleted", chat="group:-100", payload={"id": 1},
                              due_at=NOW)
    clock = [NOW]
    texts = Texts(ROOT / "locales")
    turn, waiting = asyncio.Event(), asyncio.Event()
    slow, quick = PacedSender(turn, waiting), FakeSender()
    first = asyncio.create_task(
        OutboxDispatcher(db, texts, slow, lambda: clock[0]).run_once())
    await waiting.wait()  # claimed, rendered, waiting for its turn
    clock[0] = NOW + LEASE + timedelta(seconds=1)
    assert await OutboxDispatcher(db, texts, quick, lambda: clock[0]).run_once() == 1
    turn.set()
    assert await first == 0
    assert slow.sent == [] and len(quick.sent) == 1


class SlowChatSender(FakeSender):
    """A chat whose sends hang until `others` messages to other chats went (or 10 s passed:
    a dispatcher that makes the others wait for it sends them after it, late)."""

    def __init__(self, slow_chat, others):
        super().__init__()
        self.slow_chat, self.others = slow_chat, others
        self.others_went = asyncio.Event()

    async def send_message(self, chat_id, text, before=None, **kwargs):
        if chat_id == self.slow_chat:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.others_went.wait(), 10)
        sent = await super().send_message(chat_id, text, before=before, **kwargs)
        if sum(chat != self.slow_chat for chat, _ in self.sent) >= self.others:
            self.others_went.set()
        return sent


async def test_a_slow_chat_holds_up_only_itself(db):
    """Three messages for the staff group (20 a minute: seconds apart) are due first; 30 for
    other chats after them. The others do not wait for the group."""
    async with db.transaction() as s:
        for i in range(3):
            await repo.add_outbox(s, kind="staff_request_deleted", chat="group:-100",
                                  payload={"id": i}, due_at=NOW - timedelta(minutes=1))
        for i in range(30):
            await repo.add_outbox(s, kind="staff_request_deleted", chat=f"group:{-200 - i}",
                                  payload={"id": 100 + i}, due_at=NOW)
    sender = SlowChatSender(-100, 30)
    sent = await OutboxDispatcher(db, Texts(ROOT / "locales"), sender, lambda: NOW,
                                  batch=5).run_once()
    assert sent == 33
    order = [chat for chat, _ in sender.sent]
    group = [i for i, chat in enumerate(order) if chat == -100]
    others = [i for i, chat in enumerate(order) if chat != -100]
    assert max(others) < group[1], order  # all 30 went out before the group's second
    assert [int(t.split()[2]) for c, t in sender.sent if c == -100] == [0, 1, 2]  # in order


class HangingSender(FakeSender):
    """Telegram never answers: the send is under way when korak is asked to stop."""

    def __init__(self):
        super().__init__()
        self.started = asyncio.Event()

    async def send_message(self, chat_id, text, before=None, **kwargs):
        if before is not None:
            await before()
        self.started.set()
        await asyncio.Event().wait()


async def test_a_send_cut_off_by_the_stop_goes_back_uncounted_for_the_next_start(db):
    """Issue 23, item 1: a message whose send the stop cut off waits for the next start at
    once, its try not counted (not after its lease, one of its tries spent)."""
    async with db.transaction() as s:
        await repo.add_outbox(s, kind="staff_request_deleted", chat="group:-100",
                              payload={"id": 1}, due_at=NOW)
    sender = HangingSender()
    stopping = OutboxDispatcher(db, Texts(ROOT / "locales"), sender, lambda: NOW)
    run = asyncio.ensure_future(stopping.run_once())
    await asyncio.wait_for(sender.started.wait(), 10)
    await asyncio.wait_for(stopping.stop(grace=0.2), 5)  # the send is cut off after its grace
    assert await stopping.release_held() == 1
    await asyncio.wait_for(run, 5)  # the run ends with it
    async with db.transaction() as s:
        [row] = (await s.execute(select(Outbox))).scalars().all()
    assert row.sent_at is None and row.claimed_until is None and row.attempts == 0
    quick = FakeSender()  # the next start sends it at once
    assert await OutboxDispatcher(db, Texts(ROOT / "locales"), quick, lambda: NOW).run_once() == 1


class SlowSender(FakeSender):
    """Telegram answers after `delay`; `started` is set when the request is made."""

    def __init__(self, delay):
        super().__init__(delay)
        self.started = asyncio.Event()

    async def send_message(self, chat_id, text, before=None, **kwargs):
        if before is not None:
            await before()
        self.started.set()
        await asyncio.sleep(self.delay)
        self.sent.append((chat_id, text))


async def test_a_send_under_way_when_asked_to_stop_ends_before_its_row_is_let_go(db):
    """A message whose request is under way when the process is asked to stop is not let go
    while it is being sent (another replica would claim it and send it twice): its send ends
    within the grace, and the rows not begun wait for the next start."""
    async with db.transaction() as s:
        for i in range(3):  # one chat: the second and third wait for the first
            await repo.add_outbox(s, kind="staff_request_deleted", chat="group:-100",
                                  payload={"id": i}, due_at=NOW)
    sender = SlowSender(0.3)
    stopping = OutboxDispatcher(db, Texts(ROOT / "locales"), sender, lambda: NOW)
    run = asyncio.ensure_future(stopping.run_once())
    await asyncio.wait_for(sender.started.wait(), 10)
    await asyncio.wait_for(stopping.stop(grace=5), 10)
    assert await stopping.release_held() == 2  # the two not begun
    await asyncio.wait_for(run, 5)
    other = FakeSender()  # another replica, or the next start
    assert await OutboxDispatcher(db, Texts(ROOT / "locales"), other, lambda: NOW).run_once() == 2
    texts = [t for _, t in sender.sent + other.sent]
    assert len(texts) == 3 and len(set(texts)) == 3, texts  # each once
