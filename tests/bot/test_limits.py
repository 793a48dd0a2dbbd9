"""Telegram's limits shared through Redis by several processes (here: two limiters, as two
replicas would hold): in any one second no more than the bot's rate in all, a chat gets a short
burst and then one a second, a group twenty a minute. And the bot's rate as Telegram counts it,
on arrival (limits.Pacer): on a clock of the test's own, replicas on a busy machine never send
more than the rate in any second where the requests arrive (issue 23, item 7)."""

import asyncio
import heapq
import itertools
import random
import time
import uuid

import pytest

from bot.channels.limits import Pacer, SharedLimits


def most_in_any(stamps, seconds):
    stamps = sorted(stamps)
    return max(sum(1 for t in stamps if s <= t < s + seconds) for s in stamps)


async def test_two_processes_together_keep_the_bot_s_rate(redis_url):
    prefix = f"test{uuid.uuid4().hex[:8]}"
    a, b = (SharedLimits(redis_url, per_second=10, prefix=prefix) for _ in range(2))
    await a.check()
    stamps = []

    async def send(limits, chat):
        token = await limits.turn(chat)
        stamps.append(time.monotonic())  # the request would go now
        await limits.done(token)

    await asyncio.gather(*(send(a if i % 2 else b, 1000 + i) for i in range(30)))
    assert len(stamps) == 30
    assert most_in_any(stamps, 0.95) <= 10


async def test_one_chat_gets_a_burst_then_one_a_second_and_a_group_twenty_a_minute(redis_url):
    prefix = f"test{uuid.uuid4().hex[:8]}"
    a, b = (SharedLimits(redis_url, per_second=30, prefix=prefix, group_per_minute=3)
            for _ in range(2))
    stamps = []

    async def send(limits, chat):
        await limits.done(await limits.turn(chat))

    for i in range(6):
        await send(a if i % 2 else b, 77)
        stamps.append(time.monotonic())
    assert most_in_any(stamps, 0.95) <= 4 and stamps[-1] - stamps[0] >= 1.0
    group = []
    for i in range(4):  # three a minute in this test: the fourth waits for the window
        task = asyncio.create_task(send(a if i % 2 else b, -100))
        done, _ = await asyncio.wait({task}, timeout=1.5)
        group.append(bool(done))
        if not done:
            task.cancel()
    assert group == [True, True, True, False]


async def test_each_process_knows_how_many_share_the_rate_and_a_dead_one_drops_out(redis_url):
    """Each process keeps an even share of the rate locally (no bursts): it must know how many
    processes are alive, and one that stopped beating stops counting."""
    prefix = f"test{uuid.uuid4().hex[:8]}"
    a, b = (SharedLimits(redis_url, per_second=28, prefix=prefix) for _ in range(2))
    assert await a.heartbeat("a", ttl=0.5) == 1
    assert await b.heartbeat("b", ttl=0.5) == 2 and a.replicas == 1
    assert await a.heartbeat("a", ttl=0.5) == 2
    await asyncio.sleep(0.7)  # b died
    assert await a.heartbeat("a", ttl=0.5) == 1


async def test_two_senders_on_one_redis_send_one_slot_apart(redis_url):
    """Two processes (two Senders, one Redis): their sends together are spread evenly at the
    bot's rate, about one every twentieth of a second at 20 a second, never a bunch, and no more
    than 20 in any second, without either knowing how many processes there are."""
    from bot.channels.sender import Sender

    prefix = f"test{uuid.uuid4().hex[:8]}"
    stamps = []

    class Bot:
        pass

    senders = [Sender(Bot(), global_rate=20, shared=SharedLimits(redis_url, per_second=20,
                                                                  prefix=prefix))
               for _ in range(2)]

    async def one(sender, chat):
        async def send():
            stamps.append(time.monotonic())
        await sender.call(chat, send)

    await asyncio.gather(*(one(senders[i % 2], 5000 + i) for i in range(30)))
    stamps.sort()
    assert most_in_any(stamps, 1.0) <= 20
    assert most_in_any(stamps, 0.1) <= 4  # evenly: not a second's worth at once


async def test_a_send_counts_from_its_turn_until_a_second_after_its_answer(redis_url):
    """The count Telegram's limit is kept by: a send let through and not yet answered counts,
    an answered one counts for a second after its answer, one not made after all (its check
    before the request failed) stops counting at once."""
    prefix = f"test{uuid.uuid4().hex[:8]}"
    limits = SharedLimits(redis_url, per_second=3, prefix=prefix)
    counts = limits.pacer.counts
    assert await counts.admit("a") == 0 and await counts.admit("b") == 0
    assert await counts.admit("c") == 0
    assert await counts.admit("d") > 0  # three on their way: the fourth waits
    await counts.done("a", sent=False)  # not made: room again at once
    assert await counts.admit("d") == 0
    await counts.done("b")  # answered: counted for a second from now
    answered = time.monotonic()
    while (wait := await counts.admit("e")) > 0:
        assert wait <= 1 / 3  # asked again a slot later at the latest
        await asyncio.sleep(wait)
    assert 0.95 <= time.monotonic() - answered < 2.0


async def test_the_slots_come_from_redis_one_interval_apart(redis_url):
    """Each process's next slot is 1/rate after the last one taken, by whichever process."""
    prefix = f"test{uuid.uuid4().hex[:8]}"
    a, b = (SharedLimits(redis_url, per_second=10, prefix=prefix) for _ in range(2))
    ahead = [await (a if i % 2 else b).pacer.counts.reserve() for i in range(6)]
    # taken at once: 0, 0.1, 0.2 … s ahead (less the moments the asking took)
    for i, seconds in enumerate(ahead):
        assert i * 0.1 - 0.05 <= seconds <= i * 0.1 + 1e-6, ahead


async def test_a_check_that_fails_before_the_request_takes_nothing(redis_url):
    from bot.channels.sender import Sender

    limits = SharedLimits(redis_url, per_second=1, prefix=f"test{uuid.uuid4().hex[:8]}")

    class Bot:
        pass

    class Vanished(Exception):
        pass

    async def vanished():
        raise Vanished()

    sender = Sender(Bot(), global_rate=1, shared=limits)
    with pytest.raises(Vanished):
        await sender.call(1, lambda: asyncio.sleep(0), before=vanished)
    assert await limits.pacer.counts.admit("next") == 0  # its place in the second is free


class VirtualTime:
    """A clock and sleeps of the test's own: time moves only when every task waits."""

    def __init__(self):
        self.now = 0.0
        self.timers = []
        self.seq = itertools.count()

    def clock(self):
        return self.now

    async def sleep(self, seconds):
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self.timers, (self.now + max(0.0, seconds), next(self.seq), future))
        await future

    async def run(self, until):
        while True:
            for _ in range(30):  # every task on until it waits for the clock
                await asyncio.sleep(0)
            if not self.timers or self.timers[0][0] > until:
                return
            self.now, _, future = heapq.heappop(self.timers)
            if not future.cancelled():
                future.set_result(None)


class Counts:
    """What the Lua scripts on Redis keep, on the test's clock (and Redis's round trips)."""

    def __init__(self, vt, rng, rate, ttl=40.0):
        self.vt, self.rng, self.rate, self.ttl = vt, rng, rate, ttl
        self.next_slot = 0.0
        self.sent = {}  # token → when answered
        self.sending = {}  # token → until when it counts without an answer

    async def trip(self):
        await self.vt.sleep(self.rng.choice([0.0002, 0.0005, 0.001, 0.003]))

    async def reserve(self):
        await self.trip()
        now = self.vt.now
        slot = max(now, self.next_slot)
        self.next_slot = slot + 1 / self.rate
        await self.trip()
        return slot - now

    async def admit(self, token):
        await self.trip()
        now = self.vt.now
        self.sent = {k: t for k, t in self.sent.items() if t > now - 1}
        self.sending = {k: t for k, t in self.sending.items() if t > now}
        if len(self.sent) + len(self.sending) < self.rate:
            self.sending[token] = now + self.ttl
            wait = 0.0
        else:
            wait = min([1 / self.rate] + [t + 1 - now for t in self.sent.values()])
        await self.trip()
        return wait

    async def done(self, token, sent=True):
        await self.trip()
        self.sending.pop(token, None)
        if sent:
            self.sent[token] = self.vt.now


class CountedBefore(Counts):
    """The count as it was: R in any second when each send is let through (a moving window),
    before the check and the way to Telegram; its answer changes nothing."""

    async def admit(self, token):
        await self.trip()
        now = self.vt.now
        self.sent = {k: t for k, t in self.sent.items() if t > now - 1}
        if len(self.sent) < self.rate:
            self.sent[token] = now
            wait = 0.0
        else:
            wait = min(self.sent.values()) + 1 - now
        await self.trip()
        return wait

    async def done(self, token, sent=True):
        pass


async def simulate(replicas, seconds, rate=28, seed=7, kill_at=None, counts=Counts):
    """`replicas` processes, twenty sends at a time each, through one shared count, on a busy
    machine: the outbox's check before each request takes from 5 ms to 400 ms, a process wakes
    up to 60 ms late from a third of its sleeps, and a request takes 1 to 150 ms to arrive and as
    long again for its answer. With `kill_at`, process 0 dies then (its sends on their way keep
    counting until their time runs out) and a new one starts 3 s later. Returns when each
    request arrived, and how long each waited between the check before it and the request."""
    rng = random.Random(seed)
    vt = VirtualTime()
    counts = counts(vt, rng, rate)
    arrivals, waits = [], []

    async def busy_sleep(pause):
        await vt.sleep(pause + (rng.uniform(0, 0.06) if rng.random() < 1 / 3 else 0.0))

    async def process(pacer, until):
        async def sender():
            while vt.now < until:
                checked = []

                async def before():  # the outbox's database check: mostly quick, not always
                    await vt.sleep(rng.choice([0.005, 0.008, 0.01, 0.012, 0.015, 0.02, 0.03,
                                               0.05, 0.08, 0.18, 0.4]))
                    checked.append(vt.now)
                token = await pacer.turn(before)
                waits.append(vt.now - checked[0])
                way = rng.choice([0.001, 0.002, 0.003, 0.005, 0.01, 0.02, 0.05, 0.15])
                await vt.sleep(way)
                arrivals.append(vt.now)
                await vt.sleep(way)
                await pacer.done(token)
        await asyncio.gather(*(sender() for _ in range(20)))

    def pacer():
        return Pacer(rate, counts, clock=vt.clock, sleep=busy_sleep)

    tasks = [asyncio.create_task(process(pacer(), seconds)) for _ in range(replicas)]
    if kill_at is not None:
        await vt.run(kill_at)
        tasks[0].cancel()
        await vt.run(kill_at + 3)
        tasks.append(asyncio.create_task(process(pacer(), seconds)))
    await vt.run(seconds + 1)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return arrivals, waits


def most_in_a_second(stamps):
    stamps = sorted(stamps)
    best, j = 0, 0
    for i, t in enumerate(stamps):
        while stamps[j] <= t - 1.0:
            j += 1
        best = max(best, i - j + 1)
    return best


@pytest.mark.parametrize("replicas,kill_at", [(1, None), (3, None), (3, 12.0), (5, 8.0)])
async def test_replicas_sharing_the_rate_never_exceed_it_where_the_sends_arrive(replicas,
                                                                                 kill_at):
    """Issue 23, item 7: replicas at 28 a second stay within 28 in any second as Telegram counts
    them, on arrival, however long the check before each request takes, however late a busy
    machine wakes them and however the network delays each request; also across a replica
    killed and started again. Nothing waits between the check and the request. And together
    they still send at about the rate."""
    arrivals, waits = await simulate(replicas, 25.0, kill_at=kill_at)
    assert most_in_a_second(arrivals) <= 28
    assert max(waits) == 0
    sent_in_time = [t for t in arrivals if 1.0 <= t <= 24.0]
    assert len(sent_in_time) / 23.0 >= 0.75 * 28


async def test_counted_when_let_through_the_same_sends_arrive_bunched():
    """Why: counted (as before) when each send is let through, 28 in any second there, the
    same replicas on the same busy machine arrive at Telegram as more than its 30 in a second."""
    arrivals, _ = await simulate(3, 25.0, counts=CountedBefore)
    assert most_in_a_second(arrivals) > 30


async def test_a_count_that_cannot_be_told_of_the_answer_does_not_undo_the_send(redis_url):
    """The request was made: a Redis that fails afterwards must not turn it into an error (the
    outbox would send it again)."""
    from bot.channels.sender import Sender

    limits = SharedLimits(redis_url, per_second=5, prefix=f"test{uuid.uuid4().hex[:8]}")

    async def broken(token, sent=True):
        raise ConnectionError("Redis went away")
    limits.pacer.counts.done = broken

    class Bot:
        pass

    async def send():
        return "sent"

    assert await Sender(Bot(), global_rate=5, shared=limits).call(1, send) == "sent"
