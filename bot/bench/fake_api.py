"""A local fake Bot API for benchmarks (aiohttp, 127.0.0.1). It answers sendMessage like
Telegram and enforces Telegram's limits with real 429 answers: `global_rate` messages a second
in all and one message a second per chat. It counts what it delivered, so a benchmark can tell
sent, duplicated and lost messages apart."""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import time
from collections import Counter
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class Delivered:
    chat_id: int
    text: str
    at: float


@dataclass
class FakeBotAPI:
    global_rate: float = 30.0
    chat_interval: float = 1.0
    group_interval: float = 0.0  # seconds between messages to a group (Telegram: 20 a minute)
    chat_burst: int = 1  # a chat may take this many at once, then one per chat_interval
    group_per_minute: int = 0  # if set: at most this many to a group in any 60 s (moving)
    # every sendMessage asked for, 429 or not: (when, chat)
    attempts: list[tuple[float, int]] = field(default_factory=list)
    delivered: list[Delivered] = field(default_factory=list)
    rejected_429: int = 0
    updates: asyncio.Queue | None = None  # filled by a load benchmark, read by getUpdates
    on_message: object = None  # callable(chat_id, text, at, params) for latency measurements
    on_poll: object = None  # callable(updates, at) when getUpdates hands updates out

    webhooks: list = field(default_factory=list)  # what setWebhook was called with

    def __post_init__(self) -> None:
        self._tokens = self.global_rate
        self._stamp = time.monotonic()
        self._last: dict[int, float] = {}
        self._chat_tokens: dict[int, tuple[float, float]] = {}
        self._group_sent: dict[int, collections.deque] = {}
        self._ids = itertools.count(1)
        self.runner: web.AppRunner | None = None
        self.url = ""

    def _allow(self, chat_id: int) -> bool:
        now = time.monotonic()
        self._tokens = min(self.global_rate, self._tokens + (now - self._stamp) * self.global_rate)
        self._stamp = now
        if chat_id < 0 and self.group_per_minute:
            window = self._group_sent.setdefault(chat_id, collections.deque())
            while window and window[0] <= now - 60.0:
                window.popleft()
            if len(window) >= self.group_per_minute:
                return False
        elif chat_id > 0 and self.chat_burst > 1 and self.chat_interval:
            tokens, stamp = self._chat_tokens.get(chat_id, (float(self.chat_burst), now))
            tokens = min(float(self.chat_burst), tokens + (now - stamp) / self.chat_interval)
            if tokens < 1:
                self._chat_tokens[chat_id] = (tokens, now)
                return False
            if self._tokens < 1:
                return False
            self._chat_tokens[chat_id] = (tokens - 1, now)
        else:
            interval = self.group_interval if chat_id < 0 and self.group_interval else \
                self.chat_interval
            if interval and now - self._last.get(chat_id, -1e9) < interval:
                return False
        if self._tokens < 1:
            return False
        self._tokens -= 1
        self._last[chat_id] = now
        if chat_id < 0 and self.group_per_minute:
            self._group_sent[chat_id].append(now)
        return True

    async def _params(self, request: web.Request) -> dict:
        if request.content_type == "application/json":
            return await request.json()
        return dict(await request.post())

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        if method == "getMe":
            return web.json_response({"ok": True, "result": {
                "id": 42, "is_bot": True, "first_name": "korak bench", "username": "bench_bot",
                "can_read_all_group_messages": True}})  # privacy mode off
        if method == "getUpdates":
            return await self._get_updates(params)
        if method in ("deleteWebhook", "setWebhook", "answerCallbackQuery", "editMessageText"):
            if method == "setWebhook":
                self.webhooks.append(dict(params))
            return web.json_response({"ok": True, "result": True})
        if method == "getChat":
            return web.json_response({"ok": True, "result": {
                "id": int(params["chat_id"]), "type": "supergroup", "title": "bench",
                "accent_color_id": 0, "max_reaction_count": 11, "accepted_gift_types": {
                    "unlimited_gifts": False, "limited_gifts": False, "unique_gifts": False,
                    "premium_subscription": False, "gifts_from_channels": False}}})
        if method == "getChatMember":  # the bot, or a coordinator asked for by id
            uid = int(params.get("user_id") or 42)
            user = ({"id": 42, "is_bot": True, "first_name": "bench"} if uid == 42
                    else {"id": uid, "is_bot": False, "first_name": f"Koordinatorka{uid}"})
            return web.json_response({"ok": True, "result": {"status": "member", "user": user}})
        if method == "getChatMemberCount":  # the bot and one coordinator
            return web.json_response({"ok": True, "result": 2})
        if method == "getChatAdministrators":
            return web.json_response({"ok": True, "result": []})
        if method != "sendMessage":
            return web.json_response({"ok": False, "error_code": 404,
                                      "description": "Not Found"}, status=404)
        chat_id = int(params["chat_id"])
        self.attempts.append((time.monotonic(), chat_id))
        if not self._allow(chat_id):
            self.rejected_429 += 1
            return web.json_response({"ok": False, "error_code": 429,
                                      "description": "Too Many Requests: retry after 1",
                                      "parameters": {"retry_after": 1}}, status=429)
        now = time.monotonic()
        text = str(params.get("text", ""))
        self.delivered.append(Delivered(chat_id, text, now))
        if callable(self.on_message):
            self.on_message(chat_id, text, now, params)
        return web.json_response({"ok": True, "result": {
            "message_id": next(self._ids), "date": int(time.time()), "text": text,
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"}}})

    async def _get_updates(self, params: dict) -> web.Response:
        if self.updates is None:
            return web.json_response({"ok": True, "result": []})
        timeout = float(params.get("timeout") or 0)
        batch = []
        try:
            first = await asyncio.wait_for(self.updates.get(), timeout=max(timeout, 0.001))
            batch.append(first)
            while not self.updates.empty() and len(batch) < 100:
                batch.append(self.updates.get_nowait())
        except asyncio.TimeoutError:
            pass
        if batch and callable(self.on_poll):
            self.on_poll(batch, time.monotonic())
        return web.Response(text=json.dumps({"ok": True, "result": batch}),
                            content_type="application/json")

    async def start(self, port: int = 0) -> str:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_post("/bot{token}/{method}", self.handle)
        app.router.add_get("/bot{token}/{method}", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", port)
        await site.start()
        sock = site._server.sockets[0]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return self.url

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def report(self) -> dict:
        pairs = Counter((d.chat_id, d.text) for d in self.delivered)
        return {"delivered": len(self.delivered), "unique": len(pairs),
                "duplicates": sum(n - 1 for n in pairs.values()),
                "rejected_429": self.rejected_429}
