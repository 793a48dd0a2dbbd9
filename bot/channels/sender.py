"""The one path every outgoing message takes. It keeps within Telegram's limits (about 30
messages/s in all, 1/s per chat with short bursts, 20/min per group), waits out 429
`retry_after`, backs off on 5xx and network errors, and reports 403 (blocked) once. Messages
to a group (the staff chat) show no link previews: a link a resident wrote is passed on as
text, never fetched and shown to the coordinators."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Bot
from aiogram.types import LinkPreviewOptions
from aiogram.exceptions import (ClientDecodeError, TelegramAPIError, TelegramBadRequest,
                                TelegramConflictError, TelegramEntityTooLarge,
                                TelegramForbiddenError, TelegramMigrateToChat,
                                TelegramNetworkError, TelegramNotFound, TelegramRetryAfter,
                                TelegramServerError, TelegramUnauthorizedError)

log = logging.getLogger("korak.sender")

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
MAX_UPLOAD = 50 * 1024 * 1024  # what a bot may upload to the Bot API in one file


def _previews(chat_id: int, kwargs: dict[str, Any]) -> None:
    """Link previews off in `kwargs` for a group (negative chat ids), unless the caller set
    them."""
    if chat_id < 0:
        kwargs.setdefault("link_preview_options", NO_PREVIEW)


class Bucket:
    """Token bucket: `rate` tokens a second, at most `capacity` saved up."""

    def __init__(self, rate: float, capacity: float, clock: Callable[[], float]) -> None:
        self.rate, self.capacity, self.clock = rate, capacity, clock
        self.tokens = capacity
        self.stamp = clock()

    def wait_time(self) -> float:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        # a hair short of a whole token counts as one: the wait for the rest can be smaller
        # than the clock can tell apart, and would then never end
        if self.tokens >= 1 - 1e-9:
            self.tokens = max(0.0, self.tokens - 1)
            return 0.0
        return (1 - self.tokens) / self.rate


class Undeliverable(Exception):
    """The message could not be delivered and will not be tried again here. `kind` says why,
    for the caller to decide (str(exc) is the kind too, with Telegram's words for a 400):

    forbidden (403: blocked, or the bot was removed from the group), chat_not_found (400),
    migrated (the group became a supergroup: `new_chat_id`), bad_request (another 400),
    unauthorized (401: the token), not_found (404: the Bot API URL), conflict (409),
    too_large (413), rate_limited (429 too often), server (5xx), network, decode (an answer
    that is not the Bot API's), api_error (any other)."""

    def __init__(self, kind: str, detail: str = "", new_chat_id: int | None = None) -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind, self.detail, self.new_chat_id = kind, detail, new_chat_id


# errors worth another try within one call: they pass
_PASSING = (TelegramServerError, TelegramNetworkError, ClientDecodeError, asyncio.TimeoutError)


def _kind(exc: BaseException) -> str:
    if isinstance(exc, TelegramServerError):
        return "server"
    if isinstance(exc, ClientDecodeError):
        return "decode"
    return "network"


class Sender:
    def __init__(self, bot: Bot, *, global_rate: float = 25.0, chat_rate: float = 1.0,
                 chat_burst: float = 4.0, group_per_minute: float = 20.0,
                 max_attempts: int = 5, base_backoff: float = 0.5,
                 on_forbidden: Callable[[int], Awaitable[None]] | None = None,
                 on_error: Callable[[int | str], None] | None = None,
                 shared: Any = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self.bot = bot
        self.clock, self.sleep = clock, sleep
        self.max_attempts, self.base_backoff = max_attempts, base_backoff
        self.on_forbidden = on_forbidden
        self.on_error = on_error  # every error Telegram answered, by code (metrics)
        self.shared = shared  # limits.SharedLimits: the limits counted across processes
        self.global_bucket = Bucket(global_rate, global_rate, clock)
        self.global_rate = global_rate
        self.chat_rate, self.chat_burst = chat_rate, chat_burst
        self.group_rate = group_per_minute / 60.0
        self.buckets: dict[int, Bucket] = {}
        self.chat_locks: dict[int, asyncio.Lock] = {}
        self.global_lock = asyncio.Lock()
        self._latest_edit: dict[tuple[int, int], int] = {}  # message → newest edit waiting
        self._edit_seq = 0

    def _bucket(self, chat_id: int) -> Bucket:
        bucket = self.buckets.get(chat_id)
        if bucket is None:
            if chat_id < 0:  # groups and supergroups
                bucket = Bucket(self.group_rate, 3, self.clock)
            else:
                bucket = Bucket(self.chat_rate, self.chat_burst, self.clock)
            self.buckets[chat_id] = bucket
        return bucket

    async def _pace(self, chat_id: int) -> None:
        """One process alone (no shared limits): the chat's bucket, then the bot's."""
        bucket = self._bucket(chat_id)
        while (delay := bucket.wait_time()) > 0:
            await self.sleep(delay)
        async with self.global_lock:
            while (delay := self.global_bucket.wait_time()) > 0:
                await self.sleep(delay)

    async def call(self, chat_id: int, method: Callable[[], Awaitable[Any]],
                   before: Callable[[], Awaitable[Any]] | None = None,
                   superseded: Callable[[], bool] | None = None) -> Any:
        """Run one Bot API call for `chat_id` within the limits, retrying what can be
        retried. `before` runs once, after the wait for the limits and just before the first
        request. When `superseded()` says so once it is this call's turn, nothing is sent
        (returns None). Raises Undeliverable when it gives up."""
        lock = self.chat_locks.setdefault(chat_id, asyncio.Lock())
        async with lock:  # messages to one chat keep their order
            attempt = 0
            while True:
                attempt += 1
                if superseded is not None and superseded():
                    return None
                first = before if attempt == 1 else None
                token = None
                if self.shared is not None:
                    # counted across processes from here until the answer (limits.Pacer);
                    # `before` comes last, and the request right after it
                    token = await self.shared.turn(chat_id, first)
                else:
                    await self._pace(chat_id)
                    if first is not None:
                        await first()
                try:
                    return await self._request(method, token)
                except TelegramRetryAfter as exc:
                    self._count_error(429)
                    log.warning("429 from Telegram", extra={"retry_after": exc.retry_after})
                    await self.sleep(float(exc.retry_after))
                    if attempt >= self.max_attempts * 2:
                        raise Undeliverable("rate_limited") from exc
                except _PASSING as exc:
                    self._count_error(_kind(exc))
                    if attempt >= self.max_attempts:
                        raise Undeliverable(_kind(exc)) from exc
                    await self.sleep(self.base_backoff * (2 ** (attempt - 1)))
                except TelegramAPIError as exc:
                    refused = self._refused(chat_id, exc)
                    if refused.kind == "forbidden" and self.on_forbidden is not None \
                            and chat_id > 0:
                        await self.on_forbidden(chat_id)
                    raise refused from exc

    async def _request(self, method: Callable[[], Awaitable[Any]], token: str | None) -> Any:
        try:
            return await method()
        finally:
            if token is not None:  # answered (or failed): counted as sent from now
                await self.shared.done(token)

    def _count_error(self, code: int | str) -> None:
        if self.on_error is not None:
            self.on_error(code)

    def _refused(self, chat_id: int, exc: TelegramAPIError) -> Undeliverable:
        """A final answer from Telegram, as an Undeliverable of its kind."""
        if isinstance(exc, TelegramMigrateToChat):
            self._count_error("migrated")
            return Undeliverable("migrated", new_chat_id=exc.migrate_to_chat_id)
        code, kind = {TelegramForbiddenError: (403, "forbidden"),
                      TelegramUnauthorizedError: (401, "unauthorized"),
                      TelegramNotFound: (404, "not_found"),
                      TelegramConflictError: (409, "conflict"),
                      TelegramEntityTooLarge: (413, "too_large")}.get(type(exc), (0, ""))
        if isinstance(exc, TelegramBadRequest):
            code = 400
            text = (exc.message or "").lower()
            kind = "chat_not_found" if "chat not found" in text or "peer_id_invalid" in text \
                else "bad_request"
        self._count_error(code or "api_error")
        if kind == "forbidden":
            log.info("chat unreachable", extra={"chat": "resident" if chat_id > 0 else "group"})
        return Undeliverable(kind or "api_error", exc.message if kind == "bad_request" else "")

    async def send_message(self, chat_id: int, text: str,
                           before: Callable[[], Awaitable[Any]] | None = None,
                           **kwargs: Any) -> Any:
        _previews(chat_id, kwargs)
        return await self.call(chat_id, lambda: self.bot.send_message(chat_id, text, **kwargs),
                               before=before)

    async def send_photo(self, chat_id: int, photo: bytes, filename: str = "photo.png",
                         **kwargs: Any) -> Any:
        """A picture (PNG bytes) uploaded with the request; each try uploads it afresh."""
        from aiogram.types import BufferedInputFile

        return await self.call(chat_id, lambda: self.bot.send_photo(
            chat_id, BufferedInputFile(photo, filename=filename), **kwargs))

    async def send_document(self, chat_id: int, data: bytes, filename: str,
                            **kwargs: Any) -> Any:
        """A file (a report's workbook or CSV) uploaded with the request, by the same path and
        within the same limits as every message; each try uploads it afresh. A file over what
        a bot may upload (50 MB) is refused here, without a request."""
        from aiogram.types import BufferedInputFile

        if len(data) > MAX_UPLOAD:
            raise Undeliverable("too_large", f"{len(data)} bytes")
        return await self.call(chat_id, lambda: self.bot.send_document(
            chat_id, BufferedInputFile(data, filename=filename), **kwargs))

    async def edit_text(self, chat_id: int, message_id: int, text: str,
                        before: Callable[[], Awaitable[Any]] | None = None,
                        **kwargs: Any) -> Any:
        """Edit a message in place; an edit that changes nothing counts as done. Edits of one
        message waiting for their turn (a group gets 20 messages a minute) collapse into the
        newest: a coordinator pressing a button again and again must not queue an edit per
        press ahead of everything else."""
        _previews(chat_id, kwargs)
        key = (chat_id, message_id)
        self._edit_seq += 1
        mine = self._edit_seq
        self._latest_edit[key] = mine
        try:
            return await self.call(chat_id, lambda: self.bot.edit_message_text(
                text=text, chat_id=chat_id, message_id=message_id, **kwargs),
                before=before, superseded=lambda: self._latest_edit.get(key) != mine)
        except Undeliverable as exc:
            if "not modified" in exc.detail:
                return True
            raise
        finally:
            if self._latest_edit.get(key) == mine:
                del self._latest_edit[key]
