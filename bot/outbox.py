"""Sends what the outbox holds: staff notifications now, reminders and escalations later.
APScheduler only ticks this; the database is the truth."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from dialogs.intake import describe
from storage import repo
from storage.db import Database

from .i18n import Texts
from .sender import Undeliverable

log = logging.getLogger("korak.outbox")

Send = Callable[[int, str], Awaitable[object]]


class OutboxDispatcher:
    def __init__(self, db: Database, texts: Texts, send: Send,
                 clock: Callable[[], datetime]) -> None:
        self.db, self.texts, self.send, self.clock = db, texts, send, clock
        self._running = asyncio.Lock()
        self._tasks: set[asyncio.Task] = set()

    def kick(self) -> None:
        """Send what is due soon, without waiting for the next tick."""
        task = asyncio.get_running_loop().create_task(self.run_once())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def run_once(self) -> int:
        """Claim and send due rows; returns how many were sent."""
        if self._running.locked():
            return 0
        sent = 0
        async with self._running:
            while True:
                async with self.db.transaction() as s:
                    rows = await repo.claim_due(s, self.clock(), limit=20)
                    work = [(r.id, r.kind, r.chat_id, dict(r.payload), r.attempts) for r in rows]
                if not work:
                    return sent
                for row_id, kind, chat_id, payload, attempts in work:
                    sent += await self._deliver(row_id, kind, chat_id, payload, attempts)

    async def _deliver(self, row_id: int, kind: str, chat_id: int | None, payload: dict,
                       attempts: int) -> int:
        try:
            text = await self._render(kind, payload)
        except Exception:
            log.exception("outbox row could not be rendered", extra={"outbox_id": row_id})
            text = None
        if text is None or chat_id is None:
            async with self.db.transaction() as s:
                await repo.finish_outbox(s, row_id, self.clock(), error="nothing to send")
            return 0
        try:
            await self.send(chat_id, text)
        except Undeliverable as exc:
            retry = None
            if str(exc) != "forbidden" and attempts < 8:
                retry = self.clock() + timedelta(seconds=min(3600, 30 * 2 ** attempts))
            async with self.db.transaction() as s:
                await repo.finish_outbox(s, row_id, self.clock(), error=str(exc), retry_at=retry)
            log.warning("outbox send failed", extra={"outbox_id": row_id, "error": str(exc)})
            return 0
        async with self.db.transaction() as s:
            await repo.finish_outbox(s, row_id, self.clock())
        return 1

    async def _render(self, kind: str, payload: dict) -> str | None:
        if kind == "staff_new_request":
            async with self.db.transaction() as s:
                req = await repo.get_request(s, payload["request_id"])
                if req is None:  # deleted before it was announced
                    return None
                params = {**describe(req.answers), "id": req.id,
                          "date": repo.as_utc(req.created_at)}
            return self.texts("staff.new_request", **params)
        if kind == "staff_request_deleted":
            return self.texts("staff.request_deleted", id=payload["id"])
        log.error("unknown outbox kind", extra={"kind": kind})
        return None
