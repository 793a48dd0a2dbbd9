"""Storage on SQLite and PostgreSQL: one request per resident, deletion, outbox claiming."""

import asyncio
from datetime import datetime, timedelta, timezone

from storage import repo
from storage.models import Outbox

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)
ANSWERS = {"site": "slovenj-gradec", "municipality": "Mežica", "phone": "+38641123456"}


async def test_state_is_saved_and_read_back(db):
    async with db.transaction() as s:
        await repo.save_state(s, 5, 5, {"step": "dsp", "answers": {"municipality": "Muta"}}, NOW)
    async with db.transaction() as s:
        r = await repo.get_resident(s, 5, lock=True)
        assert r.state["answers"]["municipality"] == "Muta"
        assert repo.as_utc(r.updated_at) == NOW


async def test_one_open_request_per_resident_with_one_staff_notice(db):
    async with db.transaction() as s:
        first, created = await repo.create_request(s, telegram_id=9, chat_id=9, answers=ANSWERS,
                                                   now=NOW, staff_chat_id=-100)
        assert created
    async with db.transaction() as s:
        again, created = await repo.create_request(s, telegram_id=9, chat_id=9, answers=ANSWERS,
                                                   now=NOW, staff_chat_id=-100)
        assert not created and again.id == first.id
        pending = await repo.pending_outbox(s)
    assert [(p.kind, p.payload["request_id"]) for p in pending] == [("staff_new_request", first.id)]


async def test_rolled_back_request_leaves_no_notice(db):
    try:
        async with db.transaction() as s:
            await repo.create_request(s, telegram_id=3, chat_id=3, answers=ANSWERS, now=NOW,
                                      staff_chat_id=-100)
            raise RuntimeError("crash before commit")
    except RuntimeError:
        pass
    async with db.transaction() as s:
        assert await repo.requests_of(s, 3) == []
        assert await repo.pending_outbox(s) == []


async def test_delete_everything(db):
    async with db.transaction() as s:
        await repo.save_state(s, 4, 4, {"step": "done"}, NOW)
        req, _ = await repo.create_request(s, telegram_id=4, chat_id=4, answers=ANSWERS, now=NOW,
                                           staff_chat_id=-100)
    async with db.transaction() as s:
        assert await repo.delete_everything(s, 4, NOW, -100) == 1
    async with db.transaction() as s:
        assert await repo.get_resident(s, 4) is None
        assert await repo.requests_of(s, 4) == []
        pending = await repo.pending_outbox(s)
    # the unsent announcement with personal data is gone; only the data-free notice remains
    assert [(p.kind, p.payload) for p in pending] == [("staff_request_deleted", {"id": req.id, "card": None})]


async def test_processed_updates_are_remembered(db):
    async with db.transaction() as s:
        assert await repo.first_time(s, 77, NOW)
    async with db.transaction() as s:
        assert not await repo.first_time(s, 77, NOW)


async def test_claim_due_takes_each_row_once_even_concurrently(db):
    async with db.transaction() as s:
        for i in range(30):
            s.add(Outbox(kind="staff_request_deleted", chat_id=-1, payload={"id": i},
                         due_at=NOW - timedelta(seconds=1)))
        s.add(Outbox(kind="later", chat_id=-1, payload={}, due_at=NOW + timedelta(hours=1)))

    async def claimer():
        got = []
        for _ in range(5):
            async with db.transaction() as s:
                rows = await repo.claim_due(s, NOW, limit=4)
                got += [r.payload["id"] for r in rows]
            await asyncio.sleep(0)
        return got

    a, b = await asyncio.gather(claimer(), claimer())
    assert len(a) + len(b) == len(set(a) | set(b)) == 30
    async with db.transaction() as s:
        assert await repo.claim_due(s, NOW) == []  # leased, and the later row is not due
        again = await repo.claim_due(s, NOW + timedelta(minutes=3))
    assert len(again) == 30  # a crashed dispatcher's rows come back after the lease


async def test_finished_rows_are_not_claimed_again(db):
    async with db.transaction() as s:
        s.add(Outbox(kind="k", chat_id=-1, payload={}, due_at=NOW))
    async with db.transaction() as s:
        [row] = await repo.claim_due(s, NOW)
        await repo.finish_outbox(s, row.id, NOW)
    async with db.transaction() as s:
        assert await repo.claim_due(s, NOW + timedelta(hours=1)) == []
