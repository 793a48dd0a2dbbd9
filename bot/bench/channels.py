"""`korak bench load --channel viber|whatsapp`: the same residents and script as `korak bench
load`, written on Viber or WhatsApp: each posts signed callbacks to korak's /viber or /whatsapp
(served as `korak run` serves them), korak answers through an in-process fake of the
platform's send API. In the same run the same number of residents go through Telegram (as in
`korak bench load`), so the two are compared on one machine at one moment: a channel update
should cost at most 1.2x a Telegram update at p99.

Latency is what the person waits: from the moment they send (a callback is posted; Telegram:
the update is put in the fake Bot API's queue) to the moment korak's first reply to them
reaches the fake platform. Viber and WhatsApp push each message as it comes, Telegram's waits
in its queue until getUpdates takes it, so both are measured from the send; the figure from
getUpdates handing an update over (what `korak bench load` reports as p99_ms) is printed
beside it."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import hmac
import itertools
import json
import logging
import statistics
import tempfile
import time
from argparse import Namespace
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from storage.crypto import Sealer, generate_key
from storage.db import Database

from bot.app import Wired, settle_heap, wire
from bot.bench.fake_api import FakeBotAPI
from bot.bench.load import DONE_MARKER, SCRIPT, STAFF, TOKEN, ChatLog, run_one
from bot.channels.sender import Sender
from bot.channels.telegram import make_bot
from bot.channels.viber import ViberChannel
from bot.channels.whatsapp import WhatsApp
from bot.clock import utcnow
from bot.config import Settings
from bot.i18n import Texts
from bot.runtime.channels import ChannelDoor, ChannelLimits
from bot.runtime.health import serve
from bot.runtime.inbox import Inbox

VIBER_TOKEN = "bench-viber-token"
APP_SECRET = "bench-app-secret"


class FakePlatform:
    """Viber's send_message and WhatsApp's messages endpoint, answering as the platforms do,
    and what korak sent, by person."""

    def __init__(self) -> None:
        self.chats: dict[str, ChatLog] = {}
        self.pending: dict[str, float] = {}
        self.latencies: list[float] = []
        self.ids = itertools.count(1)
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/pa/send_message", self._viber)
        app.router.add_post("/pa/set_webhook", self._viber_webhook)
        app.router.add_post("/v23.0/{number}/messages", self._whatsapp)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"
        return self.url

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def _got(self, who: str, body: dict[str, Any]) -> None:
        started = self.pending.pop(who, None)
        if started is not None:
            self.latencies.append(time.perf_counter() - started)
        log = self.chats.setdefault(who, ChatLog())
        log.messages.append(body)
        log.event.set()

    async def _viber(self, request: web.Request) -> web.Response:
        body = await request.json()
        self._got(body["receiver"], body)
        return web.json_response({"status": 0, "status_message": "ok",
                                  "message_token": next(self.ids)})

    async def _viber_webhook(self, request: web.Request) -> web.Response:
        return web.json_response({"status": 0, "status_message": "ok", "event_types": []})

    async def _whatsapp(self, request: web.Request) -> web.Response:
        body = await request.json()
        self._got(body["to"], body)
        return web.json_response({"messaging_product": "whatsapp",
                                  "messages": [{"id": f"wamid.B{next(self.ids)}"}]})


def _text(channel: str, body: dict[str, Any]) -> str:
    if channel == "viber":
        return body.get("text", "")
    if body.get("type") == "interactive":
        return body["interactive"]["body"]["text"]
    return (body.get("text") or {}).get("body", "")


def _options(channel: str, body: dict[str, Any]) -> dict[str, str]:
    if channel == "viber":
        return {b["Text"]: b["ActionBody"] for b in (body.get("keyboard") or {}).get("Buttons", [])}
    interactive = body.get("interactive") or {}
    if interactive.get("type") == "button":
        return {b["reply"]["title"]: b["reply"]["id"] for b in interactive["action"]["buttons"]}
    if interactive.get("type") == "list":
        return {r["title"]: r["id"] for s in interactive["action"]["sections"] for r in s["rows"]}
    return {}


class Residents:
    """Residents posting callbacks to korak's listener."""

    def __init__(self, channel: str, url: str, platform: FakePlatform) -> None:
        self.channel, self.url, self.platform = channel, url, platform
        self.tokens = itertools.count(5_000_000_000)
        self.session: aiohttp.ClientSession | None = None

    def address(self, uid: int) -> str:
        return f"u{uid:012d}==" if self.channel == "viber" else f"3864{uid:07d}"

    async def post(self, who: str, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        if self.channel == "viber":
            sig = hmac.new(VIBER_TOKEN.encode(), body, hashlib.sha256).hexdigest()
            headers = {"X-Viber-Content-Signature": sig}
        else:
            sig = hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
            headers = {"X-Hub-Signature-256": "sha256=" + sig}
        self.platform.pending[who] = time.perf_counter()
        assert self.session is not None
        async with self.session.post(self.url, data=body, headers={
                **headers, "Content-Type": "application/json"}) as resp:
            if resp.status != 200:
                raise RuntimeError(f"callback refused: {resp.status}")

    async def say(self, who: str, uid: int, text: str) -> None:
        token = next(self.tokens)
        if self.channel == "viber":
            await self.post(who, {"event": "message", "timestamp": int(time.time() * 1000),
                                  "message_token": token, "sender": {
                                      "id": who, "name": f"Oseba{uid}", "language": "sl"},
                                  "message": {"type": "text", "text": text}})
        else:
            await self.post(who, self._whatsapp(who, uid, token, {
                "type": "text", "text": {"body": text}}))

    async def tap(self, who: str, uid: int, label: str, reply: str, buttons: int) -> None:
        if self.channel == "viber":  # a keyboard button sends its ActionBody as text
            await self.say(who, uid, reply)
            return
        kind = "button_reply" if buttons <= 3 else "list_reply"
        await self.post(who, self._whatsapp(who, uid, next(self.tokens), {
            "type": "interactive", "interactive": {"type": kind,
                                                   kind: {"id": reply, "title": label}}}))

    @staticmethod
    def _whatsapp(who: str, uid: int, token: int, message: dict[str, Any]) -> dict[str, Any]:
        return {"object": "whatsapp_business_account", "entry": [{"id": "W", "changes": [{
            "field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "38640000000", "phone_number_id": "1"},
                "contacts": [{"profile": {"name": f"Oseba{uid}"}, "wa_id": who}],
                "messages": [{"from": who, "id": f"wamid.IN{token}",
                              "timestamp": str(int(time.time())), **message}]}}]}]}

    async def wait_for(self, who: str, test, timeout: float = 120.0) -> Any:
        return await self.platform.chats.setdefault(who, ChatLog()).wait_for(
            test, timeout, who, lambda m: _text(self.channel, m))

    async def walk(self, uid: int) -> int:
        who = self.address(uid)
        ch = self.channel
        updates = 0
        for action, value, marker in SCRIPT:
            value = value.replace("{name}", f"Oseba{uid}")
            if action == "say":
                if marker:
                    await self.wait_for(who, lambda m: marker in _text(ch, m))
                await self.say(who, uid, "Dober dan" if value == "/start" else value)
            else:
                options = await self.wait_for(
                    who, lambda m: _options(ch, m) if value in _options(ch, m) else None)
                self.platform.chats[who].messages.clear()
                await self.tap(who, uid, value, options[value], len(options))
            updates += 1
        await self.wait_for(who, lambda m: DONE_MARKER in _text(ch, m))
        return updates


@dataclass
class ChannelKorak:
    """korak with one channel, wired as `korak run` wires it: its listener at `url`."""
    db: Database
    wired: Wired
    inbox: Inbox
    door: ChannelDoor
    adapter: Any
    staff_api: FakeBotAPI
    url: str


@contextlib.asynccontextmanager
async def channel_korak(channel: str, database: str, api_url: str, *,
                        app_secret: str = APP_SECRET,
                        staff_chat_id: int = STAFF) -> AsyncIterator[ChannelKorak]:
    """korak serving `channel` (viber or whatsapp) on a listener of its own, the platform's send
    API at `api_url` (Viber's …/pa, WhatsApp's …/v23.0), the staff chat on a fake Bot API;
    the platform's limits far above any load, as `korak bench load` sets Telegram's. Used by
    the channel benchmark and by tests that need the whole path."""
    staff_api = FakeBotAPI(global_rate=1e9, chat_interval=0.0)
    staff_url = await staff_api.start()
    settings = Settings(_env_file=None, database_url=database, staff_chat_id=staff_chat_id,
                        coordinator_ids=[1], bot_token=TOKEN, telegram_api_url=staff_url)
    db = Database(database, pool_size=settings.database_pool_size)
    await db.create_all()
    await db.open_pool()
    texts = Texts(settings.locales_dir, settings.locale, settings.timezone)
    bot = make_bot(settings)
    sender = Sender(bot, global_rate=1e6, chat_rate=1e6, chat_burst=1e6, group_per_minute=1e6)
    sealer = Sealer(generate_key())
    wired = wire(settings, db, texts, sender, sealer)
    inbox = Inbox(db, wired.dp, bot, utcnow, sealer)
    adapter: Any = (ViberChannel(VIBER_TOKEN, "korak", api_url=api_url)
                    if channel == "viber" else
                    WhatsApp("bench", "1", app_secret, "verify", api_url=api_url))
    door = ChannelDoor(db, inbox, wired.service, texts, sealer, {channel: adapter},
                       schedule=wired.schedule, kick=wired.outbox.kick)
    door.limits[channel] = ChannelLimits(1e6, 1e6, 1e6)
    wired.outbox.channels = door
    app = web.Application()
    door.register(app)
    runner = await serve(app, "127.0.0.1", 0)  # as `korak run` opens its listener
    try:
        yield ChannelKorak(db, wired, inbox, door, adapter, staff_api,
                           f"http://127.0.0.1:{runner.addresses[0][1]}/{channel}")
    finally:
        await runner.cleanup()
        await adapter.close()
        await bot.session.close()
        await staff_api.stop()
        await db.dispose()


async def run_channel(channel: str, residents: int, database: str) -> dict:
    thresholds = gc.get_threshold()
    platform = FakePlatform()
    base = await platform.start()
    api_url = f"{base}/pa" if channel == "viber" else f"{base}/v23.0"
    try:
        async with channel_korak(channel, database, api_url) as korak:
            settle_heap()
            people = Residents(channel, korak.url, platform)
            people.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
            try:
                started = time.perf_counter()
                counts = await asyncio.gather(*(people.walk(200_000 + i)
                                                for i in range(residents)))
                elapsed = time.perf_counter() - started
                await korak.inbox.idle()
                await korak.wired.outbox.idle()
            finally:
                await people.session.close()
    finally:
        await platform.stop()
        gc.set_threshold(*thresholds)
    lat = sorted(platform.latencies)
    return {"updates": sum(counts), "seconds": round(elapsed, 2),
            "updates_per_s": round(sum(counts) / elapsed, 1),
            "p50_ms": round(statistics.median(lat) * 1000, 1) if lat else None,
            "p99_ms": round(lat[max(0, int(len(lat) * 0.99) - 1)] * 1000, 1) if lat else None}


async def _run(args: Namespace) -> dict:
    logging.basicConfig(level=logging.ERROR)
    tmp = tempfile.TemporaryDirectory()
    channel = args.channel
    warm = min(20, args.residents)
    await run_channel(channel, warm, f"sqlite+aiosqlite:///{tmp.name}/warm-{channel}.db")
    await run_one("korak", warm, f"sqlite+aiosqlite:///{tmp.name}/warm.db", None)
    telegram = await run_one("korak", args.residents,
                             f"sqlite+aiosqlite:///{tmp.name}/telegram.db", None)
    print(f"telegram: {telegram['updates_per_s']} updates/s, p50 {telegram['p50_ms']} ms, "
          f"p99 {telegram['p99_from_sent_ms']} ms from the resident's send "
          f"({telegram['p99_ms']} ms from getUpdates)", flush=True)
    other = await run_channel(channel, args.residents,
                              f"sqlite+aiosqlite:///{tmp.name}/{channel}.db")
    print(f"{channel}: {other['updates_per_s']} updates/s, p50 {other['p50_ms']} ms, "
          f"p99 {other['p99_ms']} ms", flush=True)
    tmp.cleanup()
    return {"channel": channel, "residents": args.residents, "database": "sqlite",
            "updates": other["updates"], "updates_per_s": other["updates_per_s"],
            "p50_ms": other["p50_ms"], "p99_ms": other["p99_ms"],
            "telegram_updates_per_s": telegram["updates_per_s"],
            "telegram_p99_ms": telegram["p99_from_sent_ms"],
            "telegram_p99_from_getupdates_ms": telegram["p99_ms"],
            "p99_vs_telegram": round(other["p99_ms"] / telegram["p99_from_sent_ms"], 3)}


def main(args: Namespace) -> int:
    print(json.dumps(asyncio.run(_run(args))))
    return 0
