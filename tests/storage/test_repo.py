"""Storage on SQLite and PostgreSQL: one request per resident, deletion, outbox claiming."""

import asyncio
from datetime import datetime, timedelta, timezone

from sqlalchemy import Integer, column

from storage import repo
from storage.db import DriverSQL
from storage.models import Outbox

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)
ANSWERS = {"site": "slovenj-gradec", "municipality": "Mežica", "phone": "+38641123456"}


async def test_state_is_saved_and_read_back(db):
    async with db.transaction() as s:
        await repo.save_state(s, "telegram:5", {"step": "dsp", "answers": {"municipality": "Muta"}}, NOW)
    async with db.transaction() as s:
        r = await repo.get_resident(s, "telegram:5", lock=True)
        assert r.state["answers"]["municipality"] == "Muta"
        assert repo.as_utc(r.updated_at) == NOW


async def test_one_open_request_per_resident_with_one_staff_notice(db):
    async with db.transaction() as s:
        first, created = await repo.create_request(s, person="telegram:9", answers=ANSWERS,
                                                   now=NOW, staff_chat_id=-100)
        assert created
    async with db.transaction() as s:
        again, created = await repo.create_request(s, person="telegram:9", answers=ANSWERS,
                                                   now=NOW, staff_chat_id=-100)
        assert not created and again == first
        pending = await repo.pending_outbox(s)
    assert [(p.kind, p.payload["request_id"]) for p in pending] == [("staff_new_request", first)]


async def test_rolled_back_request_leaves_no_notice(db):
    try:
        async with db.transaction() as s:
            await repo.create_request(s, person="telegram:3", answers=ANSWERS, now=NOW,
                                      staff_chat_id=-100)
            raise RuntimeError("crash before commit")
    except RuntimeError:
        pass
    async with db.transaction() as s:
        assert await repo.requests_of(s, "telegram:3") == []
        assert await repo.pending_outbox(s) == []


async def test_processed_updates_are_remembered(db):
    async with db.transaction() as s:
        assert await repo.first_time(s, "telegram:77", NOW)
    async with db.transaction() as s:
        assert not await repo.first_time(s, "telegram:77", NOW)


async def test_an_update_that_fails_leaves_nothing_and_is_handled_when_it_comes_again(db):
    # the per-update statements run on the driver's connection: they must still be part of the
    # transaction, or a failed update would count as handled and its redelivery be dropped
    try:
        async with db.transaction() as s:
            assert await repo.first_time(s, "telegram:78", NOW)
            await repo.save_state(s, "telegram:6", {"step": "dsp"}, NOW)
            raise RuntimeError("crash before commit")
    except RuntimeError:
        pass
    async with db.transaction() as s:
        assert (await repo.conversation(s, "telegram:6")).state is None
        assert await repo.first_time(s, "telegram:78", NOW)


async def test_driver_and_orm_statements_commit_and_roll_back_together(db):
    # on SQLite the ORM session is made only when a statement needs one: a transaction begun
    # by a driver statement must still end with the ORM's work, and the other way round
    try:
        async with db.transaction() as s:
            await repo.save_state(s, "telegram:8", {"step": "dsp"}, NOW)
            await repo.create_request(s, person="telegram:8", answers=ANSWERS, now=NOW,
                                      staff_chat_id=None)
            raise RuntimeError("crash before commit")
    except RuntimeError:
        pass
    async with db.transaction() as s:
        assert (await repo.conversation(s, "telegram:8")) == repo.Conversation(None, [])
    async with db.transaction() as s:
        assert await repo.first_time(s, "telegram:81", NOW)
        await repo.create_request(s, person="telegram:8", answers=ANSWERS, now=NOW,
                                  staff_chat_id=None)
        await repo.save_state(s, "telegram:8", {"step": "done"}, NOW)
    async with db.transaction() as s:
        talk = await repo.conversation(s, "telegram:8")
        assert not await repo.first_time(s, "telegram:81", NOW)
    assert talk.state == {"step": "done"} and len(talk.requests) == 1


async def test_conversation_reads_what_the_orm_wrote_and_the_orm_reads_the_saved_state(db):
    async with db.transaction() as s:
        rid, _ = await repo.create_request(s, person="telegram:7", answers=ANSWERS, now=NOW,
                                           staff_chat_id=None)
        await repo.save_state(s, "telegram:7", {"step": "done", "answers": {"name": "Špela"}}, NOW)
    async with db.transaction() as s:
        talk = await repo.conversation(s, "telegram:7", lock=True)
        resident = await repo.get_resident(s, "telegram:7")
    assert talk.state == {"step": "done", "answers": {"name": "Špela"}} == resident.state
    [row] = talk.requests
    assert (row.id, row.status, row.site, row.answers) == (rid, "new", "slovenj-gradec", ANSWERS)
    assert repo.as_utc(row.created_at) == NOW and repo.as_utc(resident.updated_at) == NOW
    assert resident.unreachable is False


async def test_begin_update_reads_the_conversation_once_per_update_id(db):
    async with db.transaction() as s:
        talk = await repo.begin_update(s, "telegram:501", "telegram:8", NOW)
    assert talk is not None and talk.state is None and talk.requests == []
    async with db.transaction() as s:
        rid, _ = await repo.create_request(s, person="telegram:8", answers=ANSWERS, now=NOW,
                                           staff_chat_id=None)
        await repo.save_state(s, "telegram:8", {"step": "done"}, NOW)
    async with db.transaction() as s:
        talk = await repo.begin_update(s, "telegram:502", "telegram:8", NOW)
        assert await repo.begin_update(s, "telegram:502", "telegram:8", NOW) is None  # again
    assert talk.state == {"step": "done"}
    assert [(r.id, r.status, r.answers) for r in talk.requests] == [(rid, "new", ANSWERS)]
    try:
        async with db.transaction() as s:
            assert await repo.begin_update(s, "telegram:503", "telegram:8", NOW) is not None
            raise RuntimeError("crash before commit")
    except RuntimeError:
        pass
    async with db.transaction() as s:  # the failed update was not counted as handled
        assert await repo.begin_update(s, "telegram:503", "telegram:8", NOW) is not None


async def test_claim_due_takes_each_row_once_even_concurrently(db):
    async with db.transaction() as s:
        for i in range(30):
            s.add(Outbox(kind="staff_request_deleted", chat="group:-1", payload={"id": i},
                         due_at=NOW - timedelta(seconds=1)))
        s.add(Outbox(kind="later", chat="group:-1", payload={}, due_at=NOW + timedelta(hours=1)))

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
        s.add(Outbox(kind="k", chat="group:-1", payload={}, due_at=NOW))
    async with db.transaction() as s:
        [row] = await repo.claim_due(s, NOW)
        await repo.finish_outbox(s, row.id, NOW)
    async with db.transaction() as s:
        assert await repo.claim_due(s, NOW + timedelta(hours=1)) == []


async def test_orm_work_first_and_driver_statements_after_share_the_transaction(db):
    # the other order: the ORM begins the transaction and a driver statement joins it
    try:
        async with db.transaction() as s:
            await repo.add_outbox(s, kind="relay_to_staff", chat="group:-100",
                                  payload={"text": "x"}, due_at=NOW)
            await repo.save_state(s, "telegram:12", {"step": "dsp"}, NOW)
            raise RuntimeError("crash before commit")
    except RuntimeError:
        pass
    async with db.transaction() as s:
        assert await repo.pending_outbox(s) == []
        assert (await repo.conversation(s, "telegram:12")).state is None
        await repo.add_outbox(s, kind="relay_to_staff", chat="group:-100", payload={"text": "y"},
                              due_at=NOW)
        await repo.save_state(s, "telegram:12", {"step": "dsp"}, NOW)
    async with db.transaction() as s:
        assert [p.payload for p in await repo.pending_outbox(s)] == [{"text": "y"}]
        assert (await repo.conversation(s, "telegram:12")).state == {"step": "dsp"}


async def test_transactions_waiting_for_the_database_are_served_in_turn(db):
    # more updates at once than connections: each is served in the order it asked, so one
    # that comes back at once does not overtake those already waiting (on PostgreSQL the
    # pool's own queue let it, and some updates waited many times their turn)
    workers, rounds = 120, 3
    asked: list[tuple[int, int]] = []
    served: list[tuple[int, int]] = []

    async def opening() -> None:  # opens the pool's connections first: that takes a while each
        async with db.transaction():
            await asyncio.sleep(0.01)

    await asyncio.gather(*(opening() for _ in range(workers)))

    async def worker(w: int) -> None:
        for r in range(rounds):
            asked.append((w, r))
            async with db.transaction() as s:
                served.append((w, r))
                await asyncio.sleep(0)  # an update's work lets others run (on SQLite too)
                await repo.first_time(s, f"telegram:{1000 + w * rounds + r}", NOW)

    await asyncio.gather(*(worker(w) for w in range(workers)))
    assert len(served) == workers * rounds
    assert served == asked


async def test_connections_the_server_closed_are_replaced(pg_db):
    db = pg_db
    pids: set[int] = set()

    async def touch() -> None:
        async with db.transaction() as s:
            [(pid,)] = await DriverSQL("SELECT pg_backend_pid()").rows(s)
            pids.add(pid)
            await asyncio.sleep(0.01)

    await asyncio.gather(*(touch() for _ in range(10)))
    async with db.transaction() as s:  # as a restart of the server would
        for pid in pids:
            await DriverSQL("SELECT pg_terminate_backend($1) WHERE $1 <> pg_backend_pid()",
                            params=[column("pid", Integer)]).rows(s, pid)
    failed = 0
    for n in range(len(pids) + 5):
        try:
            async with db.transaction() as s:
                assert await repo.first_time(s, f"telegram:{5000 + n}", NOW)
        except Exception:
            failed += 1
    # each dead connection fails the transaction that finds it, once, and is then replaced
    assert failed <= len(pids)
    for n in range(10):
        async with db.transaction() as s:
            assert await repo.first_time(s, f"telegram:{6000 + n}", NOW)


async def test_the_pool_is_opened_at_start(pg_db):
    """PostgreSQL only: SQLite has no pool (one held connection)."""
    await pg_db.open_pool()
    assert pg_db.engine.pool.checkedin() == pg_db.engine.pool.size()
    async with pg_db.transaction() as s:
        assert await repo.first_time(s, "telegram:7000", NOW)
