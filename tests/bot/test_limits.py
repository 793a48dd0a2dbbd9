"""Telegram's limits shared through Redis by several processes (here: two limiters, as two
replicas would hold): in any one second no more than the bot's rate in all, a chat gets a short
burst and then one a second, a group twenty a minute."""

import asyncio
import time
import uuid

from bot.channels.limits import SharedLimits


def most_in_any(stamps, seconds):
    stamps = sorted(stamps)
    return max(sum(1 for t in stamps if s <= t < s + seconds) for s in stamps)


async def test_two_processes_together_keep_the_bot_s_rate(redis_url):
    prefix = f"test{uuid.uuid4().hex[:8]}"
    a, b = (SharedLimits(redis_url, per_second=10, prefix=prefix) for _ in range(2))
    await a.check()
    stamps = []

    async def send(limits, chat):
        await limits.wait(chat)
        stamps.append(time.monotonic())

    await asyncio.gather(*(send(a if i % 2 else b, 1000 + i) for i in range(30)))
    assert len(stamps) == 30
    assert most_in_any(stamps, 0.95) <= 10


async def test_one_chat_gets_a_burst_then_one_a_second_and_a_group_twenty_a_minute(redis_url):
    prefix = f"test{uuid.uuid4().hex[:8]}"
    a, b = (SharedLimits(redis_url, per_second=30, prefix=prefix, group_per_minute=3)
            for _ in range(2))
    stamps = []
    for i in range(6):
        await (a if i % 2 else b).wait(77)
        stamps.append(time.monotonic())
    assert most_in_any(stamps, 0.95) <= 4 and stamps[-1] - stamps[0] >= 1.0
    group = []
    for i in range(4):  # three a minute in this test: the fourth waits for the window
        task = asyncio.create_task((a if i % 2 else b).wait(-100))
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


async def test_a_sender_with_shared_limits_spreads_its_share_evenly(redis_url):
    from bot.channels.sender import Sender

    prefix = f"test{uuid.uuid4().hex[:8]}"
    limits = SharedLimits(redis_url, per_second=20, prefix=prefix)
    await limits.heartbeat("a")
    await limits.heartbeat("b")  # two processes: 10 a second each

    class Bot:
        pass

    sender = Sender(Bot(), global_rate=20, shared=limits)
    stamps = []

    async def one(chat):
        await sender.call(chat, lambda: asyncio.sleep(0))
        stamps.append(time.monotonic())

    await asyncio.gather(*(one(5000 + i) for i in range(12)))
    gaps = [b - a for a, b in zip(sorted(stamps), sorted(stamps)[1:])]
    assert min(gaps) >= 0.08  # one every tenth of a second, not twelve at once
