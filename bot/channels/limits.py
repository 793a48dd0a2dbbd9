"""Telegram's limits shared by every process of the bot: 30 messages a second in all, about one
a second per chat (with short bursts), 20 a minute per group. With several replicas each must
know what the others sent, so the counts live in Redis (REDIS_URL), kept by the `limits`
library's moving windows (no more than N in any window, whichever process sent them). One
process without Redis keeps the limits itself (sender.Bucket).

Viber and WhatsApp the same way (`SharedChannelLimits`, one per platform): the platform's whole
rate and each person's, counted under keys of the platform's own (`<prefix>:viber:…`,
`<prefix>:whatsapp:…`), so no platform's traffic is ever counted against another's or against
Telegram's. Without Redis, runtime.channels.ChannelLimits keeps them in the process."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

from limits import RateLimitItemPerMinute, RateLimitItemPerSecond, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis import asyncio as aioredis

from bot.channels.sender import Bucket

log = logging.getLogger("korak.limits")


class SharedLimits:
    """Waits until a message to `chat_id` is within every limit, counted across processes."""

    def __init__(self, redis_url: str, *, per_second: float, chat_burst: int = 4,
                 group_per_minute: int = 20, prefix: str = "korak",
                 secret: str | bytes | None = None,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self.redis_url, self.secret = redis_url, secret  # for channel(): Viber's, WhatsApp's
        url = redis_url if redis_url.startswith("async+") else "async+" + redis_url
        self.storage = RedisStorage(url, implementation="redispy", key_prefix=prefix)
        self.redis = aioredis.from_url(redis_url.removeprefix("async+"))
        self.prefix = prefix
        self.replicas = 1  # processes alive, as the last heartbeat counted them
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.total = RateLimitItemPerSecond(max(1, int(per_second)))
        # about one a second per chat, a few at once allowed
        self.chat = parse(f"{chat_burst}/{chat_burst} seconds")
        self.group = RateLimitItemPerMinute(group_per_minute)
        self.sleep = sleep

    async def heartbeat(self, holder: str, ttl: float = 15.0) -> int:
        """Each tick: this process is alive; returns how many are (each keeps an even share
        of the rate locally, so that the processes together send evenly spread rather than in
        bursts that the moving window lets through and network delays then bunch up)."""
        key = f"{self.prefix}:replica:"
        await self.redis.set(key + holder, "1", px=int(ttl * 1000))
        count = 0
        async for _ in self.redis.scan_iter(match=key + "*", count=200):
            count += 1
        self.replicas = max(1, count)
        return self.replicas

    async def check(self) -> None:
        """Raises when Redis cannot be reached (at start: say so rather than run unlimited)."""
        if not await self.storage.check():
            raise ConnectionError("Redis does not answer")

    async def _take(self, item: Any, key: str) -> None:
        while not await self.limiter.hit(item, key):
            reset, _ = await self.limiter.get_window_stats(item, key)
            await self.sleep(max(0.005, min(reset - time.time(), 60.0)))

    async def wait(self, chat_id: int) -> None:
        await self._take(self.group if chat_id < 0 else self.chat, f"chat:{chat_id}")
        await self._take(self.total, "bot")

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

    async def _take(self, item: Any, key: str) -> None:
        while not await self.limiter.hit(item, key):
            reset, _ = await self.limiter.get_window_stats(item, key)
            await self.sleep(max(0.005, min(reset - time.time(), 60.0)))

    async def wait(self, address: str) -> None:
        # the person's window first, outside the lock: a person who must wait holds up no one
        await self._take(self.person, f"person:{self.person_id(address)}")
        async with self.lock:
            self.smooth.rate = self.rate / max(1, self.replicas())
            while (pause := self.smooth.wait_time()) > 0:
                await self.sleep(pause)
            await self._take(self.total, "total")
