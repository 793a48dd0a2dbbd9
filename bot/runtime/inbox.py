"""Updates from Telegram go through the inbox: stored before Telegram is told they arrived,
then handled, then marked handled. So an update that a killed process had taken but not handled
is handled after the restart (by long polling: stored before the next getUpdates confirms it;
by webhook: stored before the 200).

- Polling (one process reads updates): a batch is stored as one row, then each update is
  handled at once; one person's updates keep their order in the process (PerUserOrder); the
  batch is deleted once all of it is handled. At start, the batches an earlier process left are
  handled first, oldest first, each update once.
- Webhook (any number of processes): each update is stored, then its lane (the person) is
  drained: the oldest waiting update of the lane is claimed and handled, then the next, so one
  person's updates are handled strictly in order even when they reach different processes.
- Every tick, lanes whose oldest update nobody is handling (its process died) are drained.

What is stored of an update is sealed with DATA_KEY (storage/crypto.py): the person's Telegram
name, their words and the buttons they pressed (the answer on origin among them) never reach
the database, its write-ahead log or an old row version in the clear. An update that erased a
person or answered the question on origin asks for its raw copy to go at once (scrub_after):
its batch is deleted as soon as the batch is handled, and SQLite's log is emptied then."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.exceptions import (TelegramConflictError, TelegramNetworkError, TelegramRetryAfter,
                                TelegramServerError)
from aiogram.types import Update

from storage import inbox as store
from storage import repo
from storage.crypto import Sealer
from storage.db import Database
from storage.models import person_key

from bot.runtime.background import Background

log = logging.getLogger("korak.inbox")

LEASE = timedelta(seconds=60)  # a claimed update not handled by then is taken over
# a handled update whose reply is not known to be sent by then: its process was killed between
# the two, and the person is told again what they were last told
REPLY_WAIT = timedelta(seconds=30)
REPLIED_FLUSH = 0.5  # seconds: replies known sent are noted together, not one write each
GRACE = timedelta(seconds=15)  # stored, never claimed this long: its process died
MAX_ATTEMPTS = 3  # an update whose handling failed this often is given up on
ALLOWED = ["message", "callback_query"]

# set by whoever marked the current update handled in its own transaction (the resident
# conversation does, with what it changed), so it is not marked a second time
_MARKED: ContextVar[list[bool] | None] = ContextVar("korak_inbox_marked", default=None)
# set by the conversation when the current update erased a person or answered the question on
# origin: its raw copy goes as soon as it is handled, and SQLite's log is emptied
_SCRUB: ContextVar[list[bool] | None] = ContextVar("korak_inbox_scrub", default=None)


# set while the inbox hands an update over: when its reply must be known sent by
_REPLY_BY: ContextVar[datetime | None] = ContextVar("korak_inbox_reply_by", default=None)


def reply_by() -> datetime | None:
    """For the conversation marking the current update handled: until when the inbox waits to
    hear that its reply went (None outside the inbox: korak chat, tests)."""
    return _REPLY_BY.get()


def marked_handled() -> None:
    """The current update was marked handled, committed with the work it did."""
    holder = _MARKED.get()
    if holder is not None:
        holder[0] = True


def scrub_after() -> bool:
    """The current update's raw copy must not outlive its handling. True when the inbox sees
    to it (the copy deleted, then Database.scrub); False outside the inbox (korak chat, tests
    that feed updates directly): then the caller scrubs."""
    holder = _SCRUB.get()
    if holder is None:
        return False
    holder[0] = True
    return True


def _bare(message: dict) -> dict:
    """A message as a reference: which one, in which chat (what the handlers read of it)."""
    return {k: message[k] for k in ("message_id", "date", "chat", "from", "message_thread_id",
                                    "is_topic_message") if k in message}


def lane_of(update: Update) -> str:
    """Whose update it is (their key; "" for nobody's): one person's updates are handled in
    order."""
    for event in (update.message, update.callback_query, update.edited_message):
        user = getattr(event, "from_user", None)
        if user is not None:
            return person_key("telegram", user.id)
    return ""


def event_of(update_id: int) -> str:
    """A Telegram update's key in the inbox (ids of other channels never meet it)."""
    return f"telegram:{update_id}"


class Inbox:
    def __init__(self, db: Database, dp: Dispatcher, bot: Bot, clock: Callable[[], datetime],
                 sealer: Sealer, on_handled: Callable[[Update, float], None] | None = None
                 ) -> None:
        self.db, self.dp, self.bot, self.clock = db, dp, bot, clock
        self.sealer = sealer
        self.on_handled = on_handled  # (update, seconds it took): metrics
        self.running = Background()
        self._left: dict[int, int] = {}  # polling: batch id → its updates not yet handled
        self._finished: list[int] = []  # polling: batches all handled, deleted with the next
        self._urgent: set[int] = set()  # polling: batches to delete as soon as they are handled
        self.replayed_up_to = 0  # polling: updates up to this id were in replayed batches
        # the other channels' stored callbacks, by channel: handled from the inbox by these
        # (each returns whether the callback's raw copy must go at once)
        self.channels: dict[str, Callable[[Any], Awaitable[bool]]] = {}
        # callbacks waiting to be stored together (one transaction for all that arrive while
        # the previous one is written), the lanes this process handles a claimed callback of,
        # and those lanes that something more was stored for meanwhile
        self._queue: list[tuple[str, str, int, str, asyncio.Future[None]]] = []
        self._storing: asyncio.Task[None] | None = None
        self._busy: dict[str, int] = {}
        self._waiting: set[str] = set()
        # replies known sent, noted together; and by channel, how to tell a person again what
        # they were last told when their reply was lost (a killed process)
        self._replied: list[str] = []
        self._dropping: asyncio.Task[None] | None = None
        self._noting: asyncio.Task[None] | None = None
        self.say_again: dict[str, Callable[[str], Awaitable[None]]] = {}

    # ------------------------------------------------------------------ sealing

    def _seal(self, value: Any) -> str:
        return self.sealer.seal(json.dumps(value, ensure_ascii=False, separators=(",", ":")))

    def _open(self, token: str | None) -> Any:
        """A stored update (or batch) as Telegram sent it; None when it cannot be opened."""
        opened = self.sealer.open(token)
        return None if opened is None else json.loads(opened)

    @staticmethod
    def _raw(update: Update, raw: dict[int, dict]) -> dict:
        """What is kept of an update for a replay: as Telegram sent it, but the bot's own
        message a tap or a reply refers to only by its number and chat (Telegram sends its
        text along, and a summary's text holds the person's answers)."""
        found = raw.get(update.update_id) or update.model_dump(mode="json", exclude_none=True,
                                                               by_alias=True)
        out = dict(found)
        query = out.get("callback_query")
        if isinstance(query, dict) and isinstance(query.get("message"), dict):
            out["callback_query"] = {**query, "message": _bare(query["message"])}
        message = out.get("message")
        if isinstance(message, dict) and isinstance(message.get("reply_to_message"), dict):
            out["message"] = {**message, "reply_to_message": _bare(message["reply_to_message"])}
        return out

    # ------------------------------------------------------------------ storing

    async def receive(self, updates: list[Update], raw: dict[int, dict] | None = None
                      ) -> list[Update]:
        """Store a batch durably; returns the updates not seen before, in order. Raises when
        the store fails: then nothing may be confirmed to Telegram. `raw`: the updates as
        Telegram sent them, by id (else they are dumped from the objects)."""
        raw = raw or {}
        rows = [(event_of(u.update_id), lane_of(u), u.update_id, self._seal(self._raw(u, raw)))
                for u in updates]
        async with self.db.transaction() as s:
            fresh = await store.store(s, rows, self.clock())
        return [u for u in updates if event_of(u.update_id) in fresh]

    async def receive_batch(self, updates: list[Update], raw: dict[int, dict] | None = None
                            ) -> None:
        """Long polling: store the batch as one row (and delete the batches all handled since
        the last one), then handle its updates. Raises when the store fails: then nothing may
        be confirmed to Telegram."""
        updates = [u for u in updates if u.update_id > self.replayed_up_to]
        if not updates:
            return
        raw = raw or {}
        sealed = self._seal([self._raw(u, raw) for u in updates])
        finished = list(self._finished)
        async with self.db.transaction() as s:
            batch = await store.store_batch(s, sealed, self.clock(), finished)
        self._forget_finished(finished)
        self._left[batch] = len(updates)
        for update in updates:
            self.running.start(self._handle_in_batch(update, batch))

    async def _handle_in_batch(self, update: Update, batch: int) -> None:
        try:
            if await self.handle(update):
                self._urgent.add(batch)
        finally:
            self._left[batch] -= 1
            if self._left[batch] == 0:
                del self._left[batch]
                if batch in self._urgent:
                    self._urgent.discard(batch)
                    await self._drop_now([batch])
                else:
                    self._finished.append(batch)
                    if self._dropping is None or self._dropping.done():
                        self._dropping = self.running.start(self._drop_finished_soon())

    async def _drop_now(self, batches: list[int]) -> None:
        """Batches that held an erasure or an answer on origin: deleted at once (not with the
        next batch, which may be long in coming), and SQLite's log emptied of them."""
        batches = [*batches, *self._finished]  # earlier ones may hold the person too
        try:
            async with self.db.transaction() as s:
                await store.drop_batches(s, batches)
            self._forget_finished(batches)
        except Exception:  # deleted with the next batch instead
            log.exception("batch not deleted at once")
            self._finished.extend(b for b in batches if b not in self._finished)
        await self.db.scrub()

    def _forget_finished(self, deleted: list[int]) -> None:
        """These finished batches were deleted (others may have finished meanwhile)."""
        gone = set(deleted)
        self._finished = [b for b in self._finished if b not in gone]

    async def _drop_finished_soon(self) -> None:
        """A batch all handled (every reply went) goes with the next batch's store, or after
        a moment when none comes: a batch left at a restart is one whose replies may not have
        gone (replay says the open question again to its people)."""
        await asyncio.sleep(REPLIED_FLUSH)
        try:
            await self.flush()
        except Exception:
            log.exception("handled batches not deleted; deleted with the next one")

    async def flush(self) -> None:
        """Delete the batches all handled (on stopping)."""
        finished = list(self._finished)
        if finished:
            async with self.db.transaction() as s:
                await store.drop_batches(s, finished)
            self._forget_finished(finished)

    async def take(self, event: str, lane: str, seq: int, payload: Any) -> None:
        """A channel's callback (Viber, WhatsApp): stored sealed, then handled in its lane.
        Returns once it is stored; raises when it could not be (the platform must hear of
        it). Callbacks that arrive while others are being written go in one transaction, and
        one nothing else of its lane waits for is claimed as it is stored and handled at once
        (no transaction of its own to claim it, none after it to look for more)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((event, lane, seq, self._seal(payload), done))
        if self._storing is None or self._storing.done():
            self._storing = self.running.start(self._store_queued())
        await done

    async def _store_queued(self) -> None:
        while self._queue:
            group, self._queue = self._queue, []
            try:
                async with self.db.transaction() as s:
                    found = [await store.store_and_claim(s, event, lane, seq, sealed,
                                                         self.clock(), LEASE)
                             for event, lane, seq, sealed, _ in group]
            except BaseException as exc:
                for *_, done in group:
                    if not done.done():
                        done.set_exception(exc if isinstance(exc, Exception)
                                           else ConnectionError("stopped"))
                if not isinstance(exc, Exception):
                    raise
                continue
            for (event, lane, _seq, sealed, done), how in zip(group, found):
                if how == "claimed":
                    self._busy[lane] = self._busy.get(lane, 0) + 1
                    self.running.start(self._handle_claimed(lane, event, sealed))
                elif how == "stored":
                    if self._busy.get(lane):
                        self._waiting.add(lane)  # the claimed one's handling drains it next
                    else:
                        self.running.start(self.drain(lane))
                done.set_result(None)

    async def _handle_claimed(self, lane: str, event: str, sealed: str) -> None:
        try:
            await self._handle_row(event, sealed, 1)
        finally:
            self._busy[lane] -= 1
            if not self._busy[lane]:
                del self._busy[lane]
        # SQLite has one process: what else of the lane was stored, this process stored. With
        # several processes (PostgreSQL) another may have stored one while this was handled.
        if lane in self._waiting or not self.db.is_sqlite:
            self._waiting.discard(lane)
            await self.drain(lane)

    # ------------------------------------------------------------------ handling

    async def handle(self, update: Update, durable_reply: bool = False) -> bool:
        """Feed one update to the dispatcher, then mark it handled (unless the conversation
        already did, with its own work). A failed update is marked too: the person was told
        something went wrong, and it must not come back again and again. Returns whether the
        update's raw copy must go at once (scrub_after)."""
        holder, scrub = [False], [False]
        token, scrub_token = _MARKED.set(holder), _SCRUB.set(scrub)
        # one update a row (webhook): the row waits to hear that the reply went; a polled
        # batch does that itself (it stays until every reply of it went)
        reply_token = _REPLY_BY.set(self.clock() + REPLY_WAIT if durable_reply else None)
        started = time.perf_counter()
        try:
            await self.dp.feed_update(self.bot, update)
        except Exception:
            log.exception("update failed", extra={"update_id": update.update_id})
        finally:
            _MARKED.reset(token)
            _SCRUB.reset(scrub_token)
            _REPLY_BY.reset(reply_token)
        if holder[0] and durable_reply:  # marked, waiting to hear that the reply went
            self._note_replied(event_of(update.update_id))
        if not holder[0]:
            try:
                async with self.db.transaction() as s:
                    await repo.first_time(s, event_of(update.update_id), self.clock(),
                                          lane_of(update))
            except Exception:
                log.exception("update not marked handled", extra={"update_id": update.update_id})
        if self.on_handled is not None:
            self.on_handled(update, time.perf_counter() - started)
        return scrub[0]

    async def drain(self, lane: str) -> int:
        """Handle the lane's waiting updates in order, while no other process is handling
        them. Returns how many this process handled."""
        handled = 0
        while True:
            async with self.db.transaction() as s:
                claimed = await store.claim_next(s, lane, self.clock(), LEASE)
            if claimed is None:
                return handled
            if await self._handle_row(*claimed):
                handled += 1

    async def _handle_row(self, event: str, sealed: str | None, attempts: int) -> bool:
        """One claimed row of the inbox: handled (True), or given up on."""
        payload = self._open(sealed)
        if attempts > MAX_ATTEMPTS or payload is None:
            log.error("update given up after failing again and again" if payload is not None
                      else "stored update cannot be opened with DATA_KEY; given up",
                      extra={"event": event})
            async with self.db.transaction() as s:
                await store.give_up(s, event, self.clock())
            return False
        handler = self.channels.get(event.partition(":")[0])
        if handler is not None:  # another channel's callback: its own handling
            reply_token = _REPLY_BY.set(self.clock() + REPLY_WAIT)
            try:
                scrub = await handler(payload)
            finally:
                _REPLY_BY.reset(reply_token)
            self._note_replied(event)
            if scrub:
                await self.db.scrub()
            return True
        try:
            update = Update.model_validate(payload, context={"bot": self.bot})
        except Exception:
            log.exception("stored update unreadable", extra={"event": event})
            async with self.db.transaction() as s:
                await store.give_up(s, event, self.clock())
            return False
        if await self.handle(update, durable_reply=True):  # its row was blanked (or erased)
            await self.db.scrub()
        return True

    async def replay(self) -> int:
        """At start (polling): the batches an earlier process stored but did not finish,
        oldest first and one update after another, each update once; then they go. Telegram
        delivers these again (they were never confirmed): those are skipped afterwards."""
        async with self.db.transaction() as s:
            left = await store.batches(s)
        count, scrub = 0, False
        lost: list[str] = []  # handled, but their batch was left: the reply may not have gone
        for batch, sealed in left:
            rows = self._open(sealed)
            if not isinstance(rows, list):
                log.error("stored batch unreadable (DATA_KEY?); dropped", extra={"batch": batch})
                rows = []
            ids = [r.get("update_id") for r in rows if isinstance(r, dict)]
            async with self.db.transaction() as s:
                done = await store.handled(s, [event_of(i) for i in ids if isinstance(i, int)])
            for row in rows:
                uid = row.get("update_id") if isinstance(row, dict) else None
                if not isinstance(uid, int):
                    continue
                self.replayed_up_to = max(self.replayed_up_to, uid)
                if event_of(uid) in done:
                    try:
                        lost.append(lane_of(Update.model_validate(
                            row, context={"bot": self.bot})))
                    except Exception:
                        pass
                    continue
                try:
                    update = Update.model_validate(row, context={"bot": self.bot})
                except Exception:
                    log.exception("stored update unreadable", extra={"update_id": uid})
                    continue
                scrub = await self.handle(update) or scrub
                count += 1
            async with self.db.transaction() as s:
                await store.drop_batches(s, [batch])
        if scrub:
            await self.db.scrub()
        if count:
            log.info("updates handled after a restart", extra={"count": count})
        await self._tell_again([k for k in lost if k])
        return count

    async def sweep(self) -> int:
        """Each tick: lanes whose oldest update nobody is handling any more are drained, and
        people whose reply was lost (its process killed after their update was handled) are
        told again what they were last told."""
        async with self.db.transaction() as s:
            lanes = await store.stranded_lanes(s, self.clock(), GRACE)
        counts = await asyncio.gather(*(self.drain(lane) for lane in lanes))
        await self.say_again_lost(self.clock())
        return sum(counts)

    def _note_replied(self, event: str) -> None:
        """The update's reply went (or failed for good): noted with the others of the moment,
        in one write."""
        self._replied.append(event)
        if self._noting is None or self._noting.done():
            self._noting = self.running.start(self._note_replies())

    async def _note_replies(self) -> None:
        await asyncio.sleep(REPLIED_FLUSH)
        while self._replied:
            events, self._replied = self._replied, []
            try:
                async with self.db.transaction() as s:
                    await store.replied(s, events)
            except Exception:  # told again later at worst
                log.exception("replies not noted as sent")

    async def say_again_lost(self, before: datetime) -> int:
        """People whose update was handled but whose reply was not known to have gone by
        `before` are told again what they were last told (each once). At start with SQLite
        (one process) every reply left unknown was this database's last process's."""
        async with self.db.transaction() as s:
            people = await store.unreplied(s, before)
        return await self._tell_again(people)

    async def _tell_again(self, people: list[str]) -> int:
        """Each of these people (once) is told again what they were last told, through their
        channel; returns how many were."""
        told = 0
        for key in dict.fromkeys(people):
            say = self.say_again.get(key.partition(":")[0])
            if say is None:
                continue
            try:
                await say(key)
                told += 1
            except Exception:
                log.exception("could not say the open question again")
        if told:
            log.info("replies lost with a stopped process said again", extra={"count": told})
        return told

    async def idle(self) -> None:
        await self.running.idle()


async def poll(bot: Bot, inbox: Inbox, stopping: asyncio.Event, *, timeout: int = 25) -> None:
    """Long polling through the inbox: a batch is stored before the next getUpdates confirms
    it to Telegram; a batch that cannot be stored is asked for again."""
    offset: int | None = None
    delay = 0.5
    while not stopping.is_set():
        try:
            updates = await bot.get_updates(offset=offset, timeout=timeout,
                                            allowed_updates=ALLOWED,
                                            request_timeout=timeout + 15)
        except TelegramRetryAfter as exc:
            await _sleep(stopping, float(exc.retry_after))
            continue
        except TelegramConflictError:
            log.error("another process reads this bot's updates (or a webhook is set)")
            await _sleep(stopping, 5.0)
            continue
        except (TelegramNetworkError, TelegramServerError, asyncio.TimeoutError) as exc:
            log.warning("getUpdates failed", extra={"error": type(exc).__name__})
            await _sleep(stopping, delay)
            delay = min(delay * 2, 30.0)
            continue
        delay = 0.5
        if not updates:
            continue
        try:
            await inbox.receive_batch(updates, getattr(bot.session, "raw_updates", None))
        except Exception:
            log.exception("updates could not be stored; asking for them again")
            await _sleep(stopping, 1.0)
            continue
        offset = updates[-1].update_id + 1


async def _sleep(stopping: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stopping.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        pass
