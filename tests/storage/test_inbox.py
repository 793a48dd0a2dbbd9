"""The inbox and the leader lease on SQLite and PostgreSQL (what is stored of an update is a
sealed token, opaque here): an update is stored once, a lane's
updates are claimed strictly in order and by one process at a time, a claim that runs out is
taken over, and one process leads the scheduled work."""

import asyncio
from datetime import datetime, timedelta, timezone

from storage import inbox, repo

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)
LEASE = timedelta(minutes=5)


def ev(n: int, channel: str = "telegram") -> str:
    return f"{channel}:{n}"


def who(n: int, channel: str = "telegram") -> str:
    return f"{channel}:{n}"


async def test_an_update_is_stored_once(db):
    async with db.transaction() as s:
        assert await inbox.store(s, [(ev(1), who(7), 1, "token-a"),
                                     (ev(2), who(8), 2, "token-b")], NOW) == {ev(1), ev(2)}
    async with db.transaction() as s:  # delivered again: nothing new
        assert await inbox.store(s, [(ev(2), who(8), 2, "token-b"),
                                     (ev(3), who(7), 3, "token-c")], NOW) == {ev(3)}


async def test_ids_of_different_channels_never_meet(db):
    """A Viber message token or a WhatsApp message id equal to a Telegram update id is another
    update, of another person."""
    async with db.transaction() as s:
        assert await inbox.store(s, [(ev(5), who(7), 5, "t")], NOW) == {ev(5)}
        assert await inbox.store(s, [(ev(5, "viber"), "viber:AbC=", 5, "v"),
                                     (ev(5, "whatsapp"), "whatsapp:38641", 5, "w")], NOW) == {
            ev(5, "viber"), ev(5, "whatsapp")}
        assert await repo.first_time(s, ev(5), NOW, who(7))
        assert await inbox.handled(s, [ev(5), ev(5, "viber")]) == {ev(5)}
        assert (await inbox.claim_next(s, "viber:AbC=", NOW, LEASE))[:2] == (ev(5, "viber"), "v")


async def test_a_polled_batch_is_one_row_until_all_of_it_is_handled(db):
    async with db.transaction() as s:
        first = await inbox.store_batch(s, "batch-1-2", NOW)
        second = await inbox.store_batch(s, "batch-3", NOW)
        assert second > first
        assert await repo.first_time(s, ev(1), NOW, who(7))
        assert await inbox.handled(s, [ev(1), ev(2), ev(3)]) == {ev(1)}
    async with db.transaction() as s:  # the first is done: deleted with the next batch
        third = await inbox.store_batch(s, "batch-4", NOW, finished=[first])
        assert [b[0] for b in await inbox.batches(s)] == [second, third]
        assert (await inbox.batches(s))[0][1] == "batch-3"


async def test_a_lane_is_claimed_in_order_and_by_one_process_at_a_time(db):
    async with db.transaction() as s:
        # stored out of order (two replicas): the platform's order decides
        await inbox.store(s, [(ev(11), who(7), 11, "n2"), (ev(10), who(7), 10, "n1"),
                              (ev(12), who(8), 12, "n3")], NOW)
    async with db.transaction() as s:
        first = await inbox.claim_next(s, who(7), NOW, LEASE)
    assert first[0] == ev(10) and first[1] == "n1"
    async with db.transaction() as s:  # 10 is being handled: 11 must wait
        assert await inbox.claim_next(s, who(7), NOW, LEASE) is None
        assert (await inbox.claim_next(s, who(8), NOW, LEASE))[0] == ev(12)  # another lane
    async with db.transaction() as s:
        assert await repo.first_time(s, ev(10), NOW, who(7))  # handled, as an update marks it
    async with db.transaction() as s:
        assert (await inbox.claim_next(s, who(7), NOW, LEASE))[0] == ev(11)
        assert not await repo.first_time(s, ev(10), NOW, who(7))  # never twice


async def test_two_processes_claiming_the_same_lane_get_it_once(db):
    async with db.transaction() as s:
        await inbox.store(s, [(ev(20), who(9), 20, "x"), (ev(21), who(9), 21, "y")], NOW)

    async def claim():
        async with db.transaction() as s:
            return await inbox.claim_next(s, who(9), NOW, LEASE)

    got = await asyncio.gather(*(claim() for _ in range(8)))
    assert sorted(g[0] for g in got if g) == [ev(20)]


async def test_a_claim_that_ran_out_is_taken_over(db):
    async with db.transaction() as s:
        await inbox.store(s, [(ev(30), who(5), 30, "x"), (ev(31), who(6), 31, "y")],
                          NOW - timedelta(minutes=10))
        await inbox.claim_next(s, who(5), NOW - timedelta(minutes=10), LEASE)  # it died
    async with db.transaction() as s:
        assert sorted(await inbox.stranded_lanes(s, NOW, timedelta(minutes=5))) == [
            who(5), who(6)]
        assert await inbox.stranded_lanes(s, NOW - timedelta(minutes=8), LEASE) == []
        again = await inbox.claim_next(s, who(5), NOW, LEASE)
    assert again[0] == ev(30) and again[2] == 2  # its second attempt


async def test_one_leader_at_a_time_and_a_lapsed_lease_is_taken_over(db):
    async with db.transaction() as s:
        assert await inbox.lead(s, "scheduler", "a", NOW, LEASE)
    async with db.transaction() as s:
        assert not await inbox.lead(s, "scheduler", "b", NOW + timedelta(minutes=1), LEASE)
        assert await inbox.lead(s, "scheduler", "a", NOW + timedelta(minutes=2), LEASE)
    async with db.transaction() as s:  # a stopped renewing
        assert await inbox.lead(s, "scheduler", "b", NOW + timedelta(minutes=8), LEASE)
        assert not await inbox.lead(s, "scheduler", "a", NOW + timedelta(minutes=9), LEASE)
