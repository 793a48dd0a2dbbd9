"""Telegram's limits shared by every process of the bot: 30 messages a second in all, about one
a second per chat (with short bursts), 20 a minute per group. With several replicas each must
know what the others sent, so the counts live in Redis (REDIS_URL): a chat's and a group's in
the `limits` library's moving windows (no more than N in any window, whichever process sent
them), the bot's whole rate as Telegram counts it, on arrival (`Pacer`: each send counted from
its turn until a second after its answer, and the sends evenly spaced). One process without
Redis keeps the limits itself (sender.Bucket).

Viber and WhatsApp the same way (`SharedChannelLimits`, one per platform): the platform's whole
rate and each person's, counted under keys of the platform's own (`<prefix>:viber:…`,
`<prefix>:whatsapp:…`), so no platform's traffic is ever counted against another's or against
Telegram's. Without Redis, runtime.channels.ChannelLimits keeps them in the process."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from limits import RateLimitItemPerMinute, RateLimitItemPerSecond, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis import asyncio as aioredis

from bot.channels.sender import Bucket

log = logging.getLogger("korak.limits")


# The bot's sends as Telegram counts them, kept in Redis on Redis's clock (one clock for every
# process, on any host), under `<prefix>:bot:`: `slot`, the next free moment in the even
# spacing; `sending`, the sends let through and not yet answered (each until its request must
# have ended); `sent`, the answered ones of the last second, each at its answer.

# the next free slot, 1/rate after the one taken before it; seconds from now to it. A slot more
# than 10 s ahead can only be a clock that went back.
_SLOT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local slot = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if slot < now or slot > now + 10 then slot = now end
redis.call('SET', KEYS[1], string.format('%.6f', slot + tonumber(ARGV[1])), 'PX', 60000)
return string.format('%.6f', slot - now)
"""

# a send let through (ARGV[2] added to `sending` until ARGV[3] seconds from now) when fewer
# than ARGV[1] are answered in the last second or still being sent; else seconds to wait
_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 1)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2]) < tonumber(ARGV[1]) then
    redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[2])
    redis.call('PEXPIRE', KEYS[2], math.ceil(tonumber(ARGV[3]) * 1000) + 1000)
    return '0'
end
local wait = tonumber(ARGV[4])
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if oldest[2] then wait = math.min(wait, tonumber(oldest[2]) + 1 - now) end
return string.format('%.6f', math.max(wait, 0.001))
"""

# the send ARGV[1] answered (ARGV[2] = 1: counted in `sent` from now) or not made after all
_DONE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREM', KEYS[2], ARGV[1])
if ARGV[2] == '1' then
    redis.call('ZADD', KEYS[1], now, ARGV[1])
    redis.call('PEXPIRE', KEYS[1], 2000)
end
return 1
"""


class Pacer:
    """The bot's sends across all its processes, within `rate` in any second where Telegram
    counts them: on arrival.

    Why: a count taken before the request (the moving window "no more than R in any second"
    alone) is not what Telegram sees. Between the count and the arrival lies a delay that
    varies: the outbox's database check right before the request (`before`: milliseconds
    mostly, hundreds on a busy database), a process a busy machine wakes late, the network. Sends
    counted as R in one second then arrive as more than R in another (three replicas at 28: 31
    and 33). Headroom under the limit only makes that rarer.

    So a send is counted from the moment it is let through until a second after its answer:
    `counts.admit` lets it through only while fewer than `rate` were answered in the last second
    or are still on their way (let through, not answered), and `done` moves it from the one to
    the other. Any second in which requests arrive then holds at most `rate` of them, however
    late each went or arrived: when the last of them was let through, each of the others had
    either been answered within that second or was still on its way, and so counted. A process
    that dies with sends on their way leaves them counted until their requests must have ended
    (`counts`' time to live). The price: each send takes its place for a second plus the time
    from its turn to its answer, so the rate reached is `rate / (1 + that time)` (answers in
    30 ms: 28 a second give about 27; in 150 ms, about 24), in exchange for needing no headroom
    under Telegram's 30 for anything that delays a request.

    Nothing here waits between `before` and the request: a reminder marked as being sent
    (at most once) and then lost with a killed process would never be sent. All waits come
    first: the chat's window, then an even slot (`counts.reserve`: the next free moment, 1/rate
    after the one taken before it, by whichever process), so that the sends go evenly rather
    than a second's worth at once, then the count. At most `ahead` sends of a process take and
    await slots at a time: the slots go round the processes that have something to send. None
    of it depends on how many processes there are: one that joins, dies or comes back takes
    slots and counts like the others."""

    def __init__(self, rate: float, counts: Any, *, ahead: int = 3,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self.interval = 1.0 / rate
        self.counts, self.clock, self.sleep = counts, clock, sleep
        self.gate = asyncio.Semaphore(ahead)
        self.me = secrets.token_hex(4)
        self.seq = itertools.count(1)

    async def turn(self, before: Callable[[], Awaitable[Any]] | None = None,
                   window: Callable[[], Awaitable[bool]] | None = None) -> str | None:
        """Wait until a send may go, then run `before`; returns the send's token for done(),
        or None (nothing taken) when `window()`, asked first, says it may not go yet. The
        request must follow at once."""
        token = f"{self.me}:{next(self.seq)}"
        async with self.gate:
            if window is not None and not await window():
                return None
            asked = self.clock()
            ahead = await self.counts.reserve()
            # the shared clock's "now" fell somewhere in the round trip: taken as its middle
            if (pause := (asked + self.clock()) / 2 + ahead - self.clock()) > 0:
                await self.sleep(pause)
            while (pause := await self.counts.admit(token)) > 0:
                await self.sleep(pause)
        if before is not None:
            try:
                await before()
            except BaseException:
                await self.done(token, sent=False)
                raise
        return token

    async def done(self, token: str, sent: bool = True) -> None:
        """The send's request ended (answered, refused or failed): counted as sent from now.
        Never raises: the request has been made, and a count that cannot be told so keeps it
        as on its way until its time runs out."""
        try:
            await self.counts.done(token, sent=sent)
        except Exception:
            log.warning("the shared count did not take a send's end", exc_info=True)


class RedisCounts:
    """Pacer's counts in Redis (the Lua scripts above)."""

    def __init__(self, redis: Any, prefix: str, rate: float, ttl: float) -> None:
        self.keys = [f"{prefix}:sent", f"{prefix}:sending"]
        self.slot_key = f"{prefix}:slot"
        self.limit, self.interval, self.ttl = max(1, int(rate)), 1.0 / rate, ttl
        self._slot = redis.register_script(_SLOT)
        self._admit = redis.register_script(_ADMIT)
        self._done = redis.register_script(_DONE)

    async def reserve(self) -> float:
        return float(await self._slot(keys=[self.slot_key], args=[f"{self.interval:.6f}"]))

    async def admit(self, token: str) -> float:
        return float(await self._admit(keys=self.keys, args=[
            self.limit, token, f"{self.ttl:.3f}", f"{self.interval:.6f}"]))

    async def done(self, token: str, sent: bool = True) -> None:
        await self._done(keys=self.keys, args=[token, "1" if sent else "0"])


async def _room(limiter: MovingWindowRateLimiter, item: Any, key: str,
                sleep: Callable[[float], Awaitable[Any]]) -> None:
    """Wait until the moving window `key` may have room again (at once when it has some)."""
    reset, remaining = await limiter.get_window_stats(item, key)
    if remaining <= 0:
        await sleep(max(0.005, min(reset - time.time(), 60.0)))


async def _take(limiter: MovingWindowRateLimiter, item: Any, key: str,
                sleep: Callable[[float], Awaitable[Any]]) -> None:
    """Count one in the moving window `key`, waiting for its room."""
    while not await limiter.hit(item, key):
        await _room(limiter, item, key, sleep)


def redis_pause(exc: BaseException) -> float | None:
    """For app.persist at start: 0 (wait and try again, one log line a try) for a Redis that
    may come up by itself (refused, reset, timed out, still loading its data); None for one that
    turns korak away for good (a wrong password or user, no such database number)."""
    from redis import exceptions as redis_errors

    if isinstance(exc, (redis_errors.AuthenticationError, redis_errors.AuthorizationError)):
        return None
    if isinstance(exc, (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError,
                        asyncio.TimeoutError)):
        return 0.0
    return None


class SharedLimits:
    """Waits until a message to `chat_id` is within every limit, counted across processes."""

    def __init__(self, redis_url: str, *, per_second: float, chat_burst: int = 4,
                 group_per_minute: int = 20, prefix: str = "korak",
                 secret: str | bytes | None = None, request_timeout: float = 30.0,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self.redis_url, self.secret = redis_url, secret  # for channel(): Viber's, WhatsApp's
        url = redis_url if redis_url.startswith("async+") else "async+" + redis_url
        self.storage = RedisStorage(url, implementation="redispy", key_prefix=prefix)
        self.redis = aioredis.from_url(redis_url.removeprefix("async+"))
        self.prefix = prefix
        self.replicas = 1  # processes alive, as the last heartbeat counted them
        self.limiter = MovingWindowRateLimiter(self.storage)
        # about one a second per chat, a few at once allowed
        self.chat = parse(f"{chat_burst}/{chat_burst} seconds")
        self.group = RateLimitItemPerMinute(group_per_minute)
        self.sleep = sleep
        # a send on its way stays counted until its request must have ended (and was retried)
        self.pacer = Pacer(per_second, RedisCounts(self.redis, f"{prefix}:bot", per_second,
                                                   ttl=request_timeout + 10.0),
                           clock=clock, sleep=sleep)

    async def heartbeat(self, holder: str, ttl: float = 15.0) -> int:
        """Each tick: this process is alive; returns how many are (Viber's and WhatsApp's
        limits give each process an even share of the platform's rate: SharedChannelLimits)."""
        key = f"{self.prefix}:replica:"
        await self.redis.set(key + holder, "1", px=int(ttl * 1000))
        count = 0
        async for _ in self.redis.scan_iter(match=key + "*", count=200):
            count += 1
        self.replicas = max(1, count)
        return self.replicas

    async def check(self) -> None:
        """Raises when Redis cannot be reached, with redis-py's own error (at start: korak waits
        for a Redis not up yet, and refuses one that turns it away: limits.redis_pause)."""
        await self.redis.ping()
        if not await self.storage.check():
            raise ConnectionError("Redis does not answer")

    def _chat(self, chat_id: int) -> tuple[Any, str]:
        return (self.group if chat_id < 0 else self.chat), f"chat:{chat_id}"

    async def turn(self, chat_id: int,
                   before: Callable[[], Awaitable[Any]] | None = None) -> str:
        """What Sender waits for before each request: the chat's window (waited for outside the
        pacer: a chat that must wait holds up no one), then the bot's turn (Pacer), then
        `before`. Returns the token to hand to done() when the request has ended."""
        item, key = self._chat(chat_id)

        async def window() -> bool:
            return await self.limiter.hit(item, key)

        while (token := await self.pacer.turn(before, window)) is None:
            await _room(self.limiter, item, key, self.sleep)
        return token

    async def done(self, token: str, sent: bool = True) -> None:
        await self.pacer.done(token, sent)

    def channel(self, name: str, *, rate: float, person_rate: float, person_burst: float,
                ) -> SharedChannelLimits:
        """Viber's or WhatsApp's limits on the same Redis, under keys of their own
        (`<prefix>:<name>:…`), each process's even share following this one's replica count."""
        return SharedChannelLimits(self.redis_url, rate=rate, person_rate=person_rate,
                                   person_burst=person_burst, prefix=f"{self.prefix}:{name}",
                                   replicas=lambda: self.replicas, secret=self.secret,
                                   sleep=self.sleep)


class SharedChannelLimits:
    """One platform's send limits (Viber, WhatsApp) counted across processes: its whole rate
    and each person's, with the same `wait(address)` as runtime.channels.ChannelLimits.

    The figures are ChannelLimits' (runtime.channels.LIMITS), as moving windows:
    - the whole rate: `rate` in any one second (Viber 20, WhatsApp 40), as Telegram's;
    - a person: a token bucket of `person_burst` that refills at `person_rate` becomes
      "person_burst in any person_burst / person_rate seconds" (Viber 5 in any 5 s, WhatsApp 45
      in any 270 s). That window never lets more through than the bucket would in any stretch
      of time T (burst * ceil(T / window) <= burst + rate * T), it keeps the burst whole and the
      same rate over time, and for WhatsApp it is Meta's own wording of the pair limit (a burst
      of up to 45, then nothing until the time those would have taken at one per 6 s has
      passed). The price: after a whole burst the next waits for the window, not 6 s.
      A shorter window (say 10 in any 60 s) would wait less after a burst but allow a smaller
      one; the conversation's replies come a few at a time, so the burst is what matters.

    Each process also spaces its own sends evenly at its share of the rate (`replicas()`: how
    many processes are alive, as SharedLimits.heartbeat counts them), as Sender does for
    Telegram: the moving window would let a whole second's worth out at once, and bursts of
    several processes arrive bunched. A person's address is kept in Redis only as a keyed hash
    (a WhatsApp address is a phone number); `secret` keys it and must be the same on every
    process (without one the hash is unkeyed and a phone number could be found by trying)."""

    def __init__(self, redis_url: str, *, rate: float, person_rate: float, person_burst: float,
                 prefix: str, replicas: Callable[[], int] = lambda: 1,
                 secret: str | bytes | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        url = redis_url if redis_url.startswith("async+") else "async+" + redis_url
        self.storage = RedisStorage(url, implementation="redispy", key_prefix=prefix)
        self.prefix = prefix
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.rate = rate
        self.total = RateLimitItemPerSecond(max(1, int(rate)))
        burst = max(1, int(person_burst))
        self.person = RateLimitItemPerSecond(burst, max(1, math.ceil(burst / person_rate)))
        self.replicas = replicas
        key = secret.encode() if isinstance(secret, str) else (secret or b"")
        self._key = hmac.new(key, b"korak send limits", hashlib.sha256).digest()
        self.smooth = Bucket(rate, 1, clock)  # this process's even share, no bursts
        self.lock = asyncio.Lock()
        self.sleep = sleep

    def person_id(self, address: str) -> str:
        return hmac.new(self._key, str(address).encode(), hashlib.sha256).hexdigest()[:32]

    async def check(self) -> None:
        """Raises when Redis cannot be reached."""
        if not await self.storage.check():
            raise ConnectionError("Redis does not answer")

    async def wait(self, address: str) -> None:
        # the person's window first, outside the lock: a person who must wait holds up no one
        await _take(self.limiter, self.person, f"person:{self.person_id(address)}", self.sleep)
        async with self.lock:
            self.smooth.rate = self.rate / max(1, self.replicas())
            while (pause := self.smooth.wait_time()) > 0:
                await self.sleep(pause)
            await _take(self.limiter, self.total, "total", self.sleep)
