"""Viber's and WhatsApp's limits shared through Redis by several processes (here: two limiters,
as two replicas would hold): in any one second no more than the platform's rate in all, a person
no more than their window allows whichever process sends, and each platform counted under keys
of its own, never against Telegram's or another platform's."""

import asyncio
import time
import uuid

import pytest
from redis import asyncio as aioredis

from bot.channels.limits import SharedChannelLimits, SharedLimits
from bot.runtime.channels import LIMITS


def most_in_any(stamps, seconds):
    stamps = sorted(stamps)
    return max(sum(1 for t in stamps if s <= t < s + seconds) for s in stamps)


def fresh_prefix():
    return f"test{uuid.uuid4().hex[:8]}"


async def no_sleep(seconds):
    raise AssertionError(f"waited {seconds:.3f} s: its window was spent by someone else's sends")


async def keys_under(redis_url, prefix):
    redis = aioredis.from_url(redis_url)
    try:
        return sorted([k.decode() async for k in redis.scan_iter(match=f"{prefix}:*", count=500)])
    finally:
        await redis.aclose()


def test_the_platforms_figures_as_moving_windows(redis_url):
    """A bucket of B refilling at R a second is B in any B/R seconds: Viber 5 in any 5 s,
    WhatsApp 45 in any 270 s (Meta's one per 6 s with bursts of 45); the whole rate per second."""
    viber = SharedChannelLimits(redis_url, prefix="p:viber", **LIMITS["viber"])
    whatsapp = SharedChannelLimits(redis_url, prefix="p:whatsapp", **LIMITS["whatsapp"])
    assert (viber.total.amount, viber.total.get_expiry()) == (20, 1)
    assert (viber.person.amount, viber.person.get_expiry()) == (5, 5)
    assert (whatsapp.total.amount, whatsapp.total.get_expiry()) == (40, 1)
    assert (whatsapp.person.amount, whatsapp.person.get_expiry()) == (45, 270)
    # a window that does not come out whole is rounded up: stricter, never looser
    odd = SharedChannelLimits(redis_url, prefix="p:x", rate=10, person_rate=2, person_burst=3)
    assert (odd.person.amount, odd.person.get_expiry()) == (3, 2)


@pytest.mark.parametrize("knows_of_the_other", [False, True])
async def test_two_processes_together_keep_the_platform_s_rate(redis_url, knows_of_the_other):
    """Without the even share (each thinks it is alone: 20 a second each, 40 together) the
    shared count alone must hold them to 20 in any second; with it, too."""
    prefix = f"{fresh_prefix()}:viber"
    replicas = (lambda: 2) if knows_of_the_other else (lambda: 1)
    a, b = (SharedChannelLimits(redis_url, prefix=prefix, replicas=replicas, **LIMITS["viber"])
            for _ in range(2))
    await a.check()
    stamps = []

    async def send(limits, person):
        await limits.wait(person)
        stamps.append(time.monotonic())

    await asyncio.gather(*(send(a if i % 2 else b, f"person{i}") for i in range(50)))
    assert len(stamps) == 50
    # 20 in any second, with a fifth of a second's margin for a busy machine's late stamps
    # (unshared, the two would send about 32 in that time)
    assert most_in_any(stamps, 0.8) <= 20


async def test_a_person_gets_their_burst_then_waits_whichever_process_sends(redis_url):
    prefix = f"{fresh_prefix()}:whatsapp"
    # a WhatsApp-like person limit, shrunk for the test: a burst of 3, then one a second
    a, b = (SharedChannelLimits(redis_url, prefix=prefix, rate=40, person_rate=1,
                                person_burst=3) for _ in range(2))
    stamps = []
    for i in range(6):
        await (a if i % 2 else b).wait("38640123456")
        stamps.append(time.monotonic())
    # the fourth waits for the window of the first three, though the other process sent two of
    # them (a lower bound only: a late stamp cannot make it fail)
    assert stamps[3] - stamps[0] >= 2.5
    assert most_in_any(stamps, 2.8) <= 3
    # another person is not held up by this one
    other = asyncio.create_task(a.wait("38640999999"))
    done, _ = await asyncio.wait({other}, timeout=5)
    assert done


async def remaining(limits, item, key):
    return (await limits.limiter.get_window_stats(item, key))[1]


async def test_viber_traffic_spends_neither_telegram_s_nor_whatsapp_s_limits(redis_url):
    prefix = fresh_prefix()
    telegram = SharedLimits(redis_url, per_second=3, prefix=prefix)
    viber = telegram.channel("viber", rate=3, person_rate=1, person_burst=3)
    whatsapp = telegram.channel("whatsapp", rate=3, person_rate=1, person_burst=3)
    # Viber spends its whole second and one person's window (the same id as a Telegram chat's
    # and a WhatsApp person's, as the same number could be all three)
    for _ in range(3):
        await viber.wait("777")
    person = f"person:{viber.person_id('777')}"
    assert await remaining(viber, viber.total, "total") == 0
    assert await remaining(viber, viber.person, person) == 0
    # Telegram's and WhatsApp's counts are whole: Telegram's second lets three through at once
    assert await remaining(telegram, telegram.chat, "chat:777") == 4
    counts = telegram.pacer.counts
    assert [await counts.admit(f"t{i}") for i in range(3)] == [0, 0, 0]
    for i in range(3):
        await counts.done(f"t{i}")
    assert await remaining(whatsapp, whatsapp.total, "total") == 3
    assert await remaining(whatsapp, whatsapp.person, f"person:{whatsapp.person_id('777')}") == 3
    # and WhatsApp sends at once: it waits for no window
    whatsapp.sleep = no_sleep
    await whatsapp.wait("777")
    keys = await keys_under(redis_url, prefix)
    viber_keys = [k for k in keys if k.startswith(f"{prefix}:viber:")]
    whatsapp_keys = [k for k in keys if k.startswith(f"{prefix}:whatsapp:")]
    assert len(viber_keys) == len(whatsapp_keys) == 2  # whole and person
    telegram_keys = set(keys) - set(viber_keys) - set(whatsapp_keys)
    assert telegram_keys and all(k.startswith(f"{prefix}:bot:") for k in telegram_keys), keys
    # a person's address is not in Redis, only its keyed hash
    assert not any("777" in k.split("/")[1] for k in viber_keys + whatsapp_keys)


async def test_telegram_traffic_spends_no_platform_s_limits(redis_url):
    prefix = fresh_prefix()
    telegram = SharedLimits(redis_url, per_second=2, prefix=prefix)
    for i in range(2):
        await telegram.done(await telegram.turn(500 + i))
    assert await telegram.pacer.counts.admit("third") > 0  # Telegram's second is spent
    for name in ("viber", "whatsapp"):
        limits = telegram.channel(name, rate=2, person_rate=1, person_burst=2)
        assert await remaining(limits, limits.total, "total") == 2
        limits.sleep = no_sleep
        await limits.wait("500")


async def test_each_process_spaces_its_share_of_the_rate_evenly(redis_url):
    """Two processes alive: each sends at most half the rate, one every tenth of a second at
    Viber's 20, not a second's worth at once (the sleeps and the clock are the test's own)."""
    now = [1000.0]
    slept = []

    async def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds
        await asyncio.sleep(0)

    limits = SharedChannelLimits(redis_url, prefix=f"{fresh_prefix()}:viber", replicas=lambda: 2,
                                 clock=lambda: now[0], sleep=sleep, **LIMITS["viber"])
    stamps = []

    async def one(person):
        await limits.wait(person)
        stamps.append(now[0])

    await asyncio.wait_for(asyncio.gather(*(one(f"p{i}") for i in range(12))), 30)
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    assert len(stamps) == 12 and min(gaps) == pytest.approx(0.1)
    # a third process comes: the share follows the count
    limits.replicas = lambda: 4
    before = now[0]
    for i in range(3):
        await limits.wait(f"q{i}")
    assert now[0] - before == pytest.approx(0.6)


async def test_a_redis_that_does_not_answer_is_said_at_start():
    limits = SharedChannelLimits("redis://127.0.0.1:1/0", prefix="p:viber", **LIMITS["viber"])
    with pytest.raises(ConnectionError):
        await limits.check()
