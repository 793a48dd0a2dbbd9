"""Telegram's limits shared by every process of the bot: 30 messages a second in all, about one
a second per chat (with short bursts), 20 a minute per group. With several replicas each must
know what the others sent, so the counts live in Redis (REDIS_URL), kept by the `limits`
library's moving windows (no more than N in any window, whichever process sent them). One
process without Redis keeps the limits itself (sender.Bucket)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from limits import RateLimitItemPerMinute, RateLimitItemPerSecond, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis import asyncio as aioredis

log = logging.getLogger("korak.limits")


class SharedLimits:
    """Waits until a message to `chat_id` is within every limit, counted across processes."""

    def __init__(self, redis_url: str, *, per_second: float, chat_burst: int = 4,
                 group_per_minute: int = 20, prefix: str = "korak",
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
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
