"""`korak bench load`: N simulated residents go through the whole intake at once against an
in-process fake Bot API, then the same number of updates go to a bare aiogram echo bot on the
same fake API as the baseline. Prints figures and a JSON line last.

Both bots poll the fake API with getUpdates. Latency is from the moment getUpdates hands an
update to the bot to the moment the bot's first reply to that chat reaches the fake API. The
fake API does not rate-limit here, and korak's sending path is given limits far above the load
(its own limits would otherwise be what is measured: 25 messages/s by default)."""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
import logging
import resource
import statistics
import tempfile
import time
import uuid
from argparse import Namespace
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import CallbackQuery, Message

from storage.crypto import Sealer, generate_key
from storage.db import Database

from bot.app import settle_heap, wire
from bot.bench.fake_api import FakeBotAPI
from bot.channels.sender import Sender
from bot.channels.telegram import make_bot
from bot.clock import utcnow
from bot.config import Settings
from bot.i18n import Texts
from bot.runtime.inbox import Inbox, poll
from bot.runtime.outbox import OutboxDispatcher

TOKEN = "42:LOAD"
STAFF = -100_4242

# (what the resident does, what it waits for before doing it): tap a button by its label, or
# type a text once a message containing the marker has arrived
SCRIPT = [
    ("say", "/start", None),
    ("tap", "Da, strinjam se", None),
    ("say", "Mislinja", "V kateri občini"),
    ("tap", "Ne", "denarno socialno pomoč"),
    ("tap", "Ne delam, ne iščem dela", None),
    ("tap", "Ne, preskočite", None),
    ("tap", "Preskočim", None),
    ("tap", "{name}", None),
    ("say", "031 222 333", "številko"),  # WhatsApp: "… pokliče na številko 040 …?"
    ("tap", "Popoldne", None),
    ("tap", "✅ Potrjujem", None),
]
DONE_MARKER = "Vaša prošnja je oddana"


@dataclass
class ChatLog:
    messages: list[dict] = field(default_factory=list)
    event: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_for(self, test, timeout: float, who: object,
                       shown: Callable[[dict], str]) -> Any:
        """The first message (new ones as they arrive) for which `test` gives something;
        TimeoutError naming `who` and the last messages (as `shown` shows them)."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for m in self.messages[seen:]:
                found = test(m)
                if found:
                    return found
            seen = len(self.messages)
            self.event.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"resident {who} waited in vain; last: "
                                   f"{[shown(m)[:40] for m in self.messages[-3:]]}")
            try:
                await asyncio.wait_for(self.event.wait(), remaining)
            except asyncio.TimeoutError:
                pass


class Harness:
    """The fake API with bookkeeping: which chat got what, and latency per update."""

    def __init__(self) -> None:
        self.api = FakeBotAPI(global_rate=1e9, chat_interval=0.0)
        self.api.updates = asyncio.Queue()
        self.api.on_message = self._message
        self.api.on_poll = self._polled
        self.chats: dict[int, ChatLog] = {}
        self.pending: dict[int, float] = {}  # chat → when its update was handed to the bot
        self.latencies: list[float] = []
        # from the moment the resident sent it (it waited in Telegram's queue until getUpdates
        # took it): what the person waits, and what a Viber or WhatsApp callback is measured
        # from (those platforms push each message as it comes)
        self.sent: dict[int, float] = {}
        self.from_sent: list[float] = []
        self.update_ids = itertools.count(1)
        self.message_ids = itertools.count(10**6)
        self.handled = 0

    def _polled(self, updates: list[dict], at: float) -> None:
        for u in updates:
            body = u.get("message") or u.get("callback_query", {}).get("message") or {}
            chat = body.get("chat", {}).get("id")
            if chat is not None:
                self.pending[chat] = at

    def _message(self, chat_id: int, text: str, at: float, params: dict) -> None:
        started = self.pending.pop(chat_id, None)
        if started is not None:
            self.latencies.append(at - started)
            self.handled += 1
        sent = self.sent.pop(chat_id, None)
        if sent is not None:
            self.from_sent.append(at - sent)
        markup = params.get("reply_markup")
        if isinstance(markup, str):
            try:
                markup = json.loads(markup)
            except ValueError:
                markup = None
        log = self.chats.setdefault(chat_id, ChatLog())
        log.messages.append({"text": text, "markup": markup or {}})
        log.event.set()

    def user(self, uid: int) -> dict:
        return {"id": uid, "is_bot": False, "first_name": f"Oseba{uid}"}

    def send_text(self, uid: int, text: str) -> None:
        self.sent[uid] = time.monotonic()
        self.api.updates.put_nowait({"update_id": next(self.update_ids), "message": {
            "message_id": next(self.message_ids), "date": int(time.time()),
            "chat": {"id": uid, "type": "private", "first_name": "x"}, "from": self.user(uid),
            "text": text}})

    def send_tap(self, uid: int, data: str) -> None:
        self.sent[uid] = time.monotonic()
        self.api.updates.put_nowait({"update_id": next(self.update_ids), "callback_query": {
            "id": str(next(self.update_ids)), "from": self.user(uid), "chat_instance": "ci",
            "data": data, "message": {"message_id": 1, "date": int(time.time()),
                                      "chat": {"id": uid, "type": "private"}, "text": "…"}}})

    async def wait_for(self, uid: int, test, timeout: float = 120.0) -> dict:
        return await self.chats.setdefault(uid, ChatLog()).wait_for(
            test, timeout, uid, lambda m: m["text"])


def _button(label: str):
    def test(m: dict):
        for row in m["markup"].get("inline_keyboard", []):
            for b in row:
                if b.get("text") == label:
                    return b["callback_data"]
        return None
    return test


async def korak_resident(h: Harness, uid: int) -> int:
    updates = 0
    for action, value, marker in SCRIPT:
        value = value.replace("{name}", f"Oseba{uid}")
        if action == "say":
            if marker:
                await h.wait_for(uid, lambda m: marker in m["text"])
            h.send_text(uid, value)
        else:
            data = await h.wait_for(uid, _button(value))
            h.chats[uid].messages.clear()  # the next button is looked for in new messages
            h.send_tap(uid, data)
        updates += 1
    await h.wait_for(uid, lambda m: DONE_MARKER in m["text"])
    return updates


async def echo_resident(h: Harness, uid: int) -> int:
    for n, (action, value, _) in enumerate(SCRIPT):
        log = h.chats.setdefault(uid, ChatLog())
        before = len(log.messages)
        if action == "say":
            h.send_text(uid, value)
        else:
            h.send_tap(uid, "x")
        await h.wait_for(uid, lambda m, b=before: len(log.messages) > b)
    return len(SCRIPT)


def echo_dispatcher() -> Dispatcher:
    router = Router()

    @router.message(F.chat.type == "private")
    async def echo(message: Message) -> None:
        await message.bot.send_message(message.chat.id, message.text or "…")

    @router.callback_query()
    async def tapped(query: CallbackQuery) -> None:
        await query.answer()
        await query.bot.send_message(query.from_user.id, query.data or "…")

    dp = Dispatcher()
    dp.include_router(router)
    return dp


async def korak_dispatcher(bot: Bot, database: str, schema: str | None
                           ) -> tuple[Inbox, Database, OutboxDispatcher]:
    settings = Settings(_env_file=None, database_url=database, staff_chat_id=STAFF,
                        coordinator_ids=[1])
    db = Database(database, schema=schema, pool_size=settings.database_pool_size)
    await db.create_all()
    await db.open_pool()
    texts = Texts(settings.locales_dir, settings.locale, settings.timezone)
    sender = Sender(bot, global_rate=1e6, chat_rate=1e6, chat_burst=1e6,
                    group_per_minute=1e6)
    sealer = Sealer(generate_key())
    wired = wire(settings, db, texts, sender, sealer)
    inbox = Inbox(db, wired.dp, bot, utcnow, sealer)
    settle_heap()
    return inbox, db, wired.outbox


async def run_one(kind: str, residents: int, database: str | None, schema: str | None) -> dict:
    thresholds = gc.get_threshold()  # korak sets its own (settle_heap); the echo bot keeps Python's
    try:
        return await _run_one(kind, residents, database, schema)
    finally:
        gc.set_threshold(*thresholds)


async def _run_one(kind: str, residents: int, database: str | None, schema: str | None) -> dict:
    h = Harness()
    url = await h.api.start()
    db = outbox = inbox = None
    stopping = asyncio.Event()
    if kind == "korak":  # the bot as `korak run` makes it: polling through the inbox
        bot = make_bot(Settings(_env_file=None, bot_token=TOKEN, telegram_api_url=url))
        inbox, db, outbox = await korak_dispatcher(bot, database, schema)
        walk = korak_resident
        polling = asyncio.create_task(poll(bot, inbox, stopping, timeout=1))
    else:  # stock aiogram
        bot = Bot(token=TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(url)))
        dp, walk = echo_dispatcher(), echo_resident
        polling = asyncio.create_task(dp.start_polling(
            bot, polling_timeout=1, handle_signals=False, close_bot_session=False))
    await asyncio.sleep(0.3)
    started = time.perf_counter()
    counts = await asyncio.gather(*(walk(h, 100_000 + i) for i in range(residents)))
    elapsed = time.perf_counter() - started
    if inbox is not None:
        stopping.set()
        await inbox.idle()
    else:
        await dp.stop_polling()
    await asyncio.gather(polling, return_exceptions=True)
    if outbox is not None:
        await outbox.idle()
    await bot.session.close()
    await h.api.stop()
    if db is not None:
        await db.drop_schema()
        await db.dispose()
    lat = sorted(h.latencies)
    waited = sorted(h.from_sent)
    return {
        "updates": sum(counts), "seconds": round(elapsed, 2),
        "updates_per_s": round(sum(counts) / elapsed, 1),
        "p50_ms": round(statistics.median(lat) * 1000, 1) if lat else None,
        "p99_ms": round(lat[max(0, int(len(lat) * 0.99) - 1)] * 1000, 1) if lat else None,
        "measured": len(lat),
        "p99_from_sent_ms": round(waited[max(0, int(len(waited) * 0.99) - 1)] * 1000, 1)
        if waited else None,
    }


async def _run(args: Namespace) -> dict:
    logging.basicConfig(level=logging.ERROR)
    tmp = tempfile.TemporaryDirectory()
    database = args.database or f"sqlite+aiosqlite:///{tmp.name}/load.db"
    pg = not database.startswith("sqlite")

    def schema() -> str | None:
        return f"load_{uuid.uuid4().hex[:10]}" if pg else None

    # a short round of each first, not counted: the first requests of a process build
    # pydantic's and SQLAlchemy's caches, and the bot measured first would pay for both
    warm = min(20, args.residents)
    await run_one("echo", warm, None, None)
    await run_one("korak", warm, database if pg else f"sqlite:///{tmp.name}/warm.db", schema())
    echo = await run_one("echo", args.residents, None, None)
    print(f"echo bot: {echo['updates_per_s']} updates/s, p50 {echo['p50_ms']} ms, "
          f"p99 {echo['p99_ms']} ms", flush=True)
    korak = await run_one("korak", args.residents, database, schema())
    print(f"korak:    {korak['updates_per_s']} updates/s, p50 {korak['p50_ms']} ms, "
          f"p99 {korak['p99_ms']} ms", flush=True)
    tmp.cleanup()
    return {
        "residents": args.residents,
        "database": "postgresql" if pg else "sqlite",
        "updates": korak["updates"], "updates_per_s": korak["updates_per_s"],
        "p50_ms": korak["p50_ms"], "p99_ms": korak["p99_ms"],
        "echo_updates_per_s": echo["updates_per_s"], "echo_p50_ms": echo["p50_ms"],
        "echo_p99_ms": echo["p99_ms"],
        "throughput_ratio": round(korak["updates_per_s"] / echo["updates_per_s"], 3),
        "p99_ratio": round(korak["p99_ms"] / echo["p99_ms"], 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main(args: Namespace) -> int:
    result = asyncio.run(_run(args))
    print(json.dumps(result))
    return 0
