"""Health, readiness and metrics over HTTP, on HEALTH_HOST:HEALTH_PORT only (127.0.0.1 by
default, in every mode; the public listener serves updates and nothing else):

- /healthz: the process is alive (200);
- /readyz: the database answers, the scheduler ticked recently, the oldest due outbox row is
  younger than 5 minutes, and the bot can post in the staff chat (200, or 503 with what fails);
- /metrics: Prometheus (updates and how long they took, the outbox's backlog and its oldest
  row's age, messages sent and failed by kind, ticks, Telegram's errors by code).

The database and the outbox are looked at once a tick; a request reads what the last tick
found, so however many requests come, none of them queries the database.

When readiness has failed for 10 minutes an ERROR line is logged and an alert is tried in the
staff chat (once, until it is ready again)."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram,
                               generate_latest)
from sqlalchemy import text

from storage import repo
from storage.db import Database

log = logging.getLogger("korak.health")

OUTBOX_TOO_OLD = timedelta(minutes=5)
ALERT_AFTER = timedelta(minutes=10)


class Metrics:
    """One registry per process (tests make several)."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.updates = Counter("korak_updates", "Updates handled", ["kind"], registry=r)
        self.update_seconds = Histogram(
            "korak_update_seconds", "Time to handle an update", registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.outbox_pending = Gauge("korak_outbox_pending", "Outbox rows waiting", registry=r)
        self.outbox_oldest = Gauge("korak_outbox_oldest_due_seconds",
                                   "Age of the oldest due outbox row", registry=r)
        self.sent = Counter("korak_outbox_sent", "Outbox rows sent", ["kind"], registry=r)
        self.failed = Counter("korak_outbox_failed", "Outbox rows failed for good", ["kind"],
                              registry=r)
        self.ticks = Counter("korak_ticks", "Scheduler ticks", registry=r)
        self.last_tick = Gauge("korak_last_tick_timestamp", "When the scheduler last ticked",
                               registry=r)
        self.telegram_errors = Counter("korak_telegram_errors", "Errors Telegram answered",
                                       ["code"], registry=r)
        self.ready = Gauge("korak_ready", "1 when /readyz answers 200", registry=r)

    def handled(self, update: Any, seconds: float) -> None:
        kind = "callback_query" if getattr(update, "callback_query", None) else "message"
        self.updates.labels(kind).inc()
        self.update_seconds.observe(seconds)

    def telegram_error(self, code: int | str) -> None:
        self.telegram_errors.labels(str(code)).inc()


class Health:
    def __init__(self, db: Database, clock: Callable[[], datetime], tick_seconds: float,
                 staff_paused: Callable[[], str | None], metrics: Metrics,
                 alert: Callable[[list[str]], Awaitable[None]] | None = None) -> None:
        self.db, self.clock, self.metrics = db, clock, metrics
        self.staff_paused, self.alert = staff_paused, alert
        self.tick_limit = max(60.0, 3 * tick_seconds)
        self.last_tick: float | None = None
        self.found: dict[str, str] = {"database": "not looked at yet"}
        self.failing_since: float | None = None
        self.alerted = False

    def ticked(self) -> None:
        self.last_tick = time.monotonic()
        self.metrics.ticks.inc()
        self.metrics.last_tick.set(time.time())

    async def look(self) -> None:
        """Each tick: does the database answer, and how long has the oldest due outbox row
        waited? Kept for /readyz, and in the outbox gauges for /metrics."""
        now = self.clock()
        try:
            async with self.db.transaction() as s:
                await s.execute(text("SELECT 1"))
                oldest = await repo.oldest_due(s, now)
                pending = await repo.count_pending(s)
        except Exception as exc:  # noqa: BLE001  (the answer is that it failed)
            self.found = {"database": f"unreachable ({type(exc).__name__})"}
            return
        age = (now - oldest).total_seconds() if oldest is not None else 0.0
        self.metrics.outbox_pending.set(pending)
        self.metrics.outbox_oldest.set(age)
        self.found = {"database": "ok", "outbox": "ok" if age < OUTBOX_TOO_OLD.total_seconds()
                      else f"oldest due row waits {int(age)} s"}

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """What the last tick found, with the tick's and the staff chat's state as they are."""
        checks: dict[str, Any] = dict(self.found)
        if self.last_tick is None or time.monotonic() - self.last_tick > self.tick_limit:
            checks["scheduler"] = "no recent tick"
        else:
            checks["scheduler"] = "ok"
        paused = self.staff_paused()
        checks["staff_chat"] = "ok" if paused is None else f"cannot post ({paused})"
        ok = all(v == "ok" for v in checks.values())
        self.metrics.ready.set(1 if ok else 0)
        return ok, checks

    async def watch(self) -> None:
        """Each tick: look, then readiness failing for ALERT_AFTER → an ERROR line and a staff
        alert."""
        await self.look()
        ok, checks = self.readiness()
        if ok:
            if self.alerted:
                log.warning("ready again")
            self.failing_since, self.alerted = None, False
            return
        if self.failing_since is None:
            self.failing_since = time.monotonic()
        if self.alerted or time.monotonic() - self.failing_since < ALERT_AFTER.total_seconds():
            return
        self.alerted = True
        failing = sorted(k for k, v in checks.items() if v != "ok")
        log.error("not ready for 10 minutes", extra={"error": ",".join(failing)})
        if self.alert is not None:
            try:
                await self.alert(failing)
            except Exception:  # noqa: BLE001  (the staff chat may be what fails)
                log.warning("staff alert not delivered")

    # ------------------------------------------------------------------ HTTP

    async def healthz(self, _request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def readyz(self, _request: web.Request) -> web.Response:
        ok, checks = self.readiness()
        return web.json_response({"ok": ok, "checks": checks}, status=200 if ok else 503)

    async def metrics_page(self, _request: web.Request) -> web.Response:
        self.readiness()  # korak_ready as it is now
        return web.Response(body=generate_latest(self.metrics.registry),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})

    def app(self) -> web.Application:
        """The private listener's routes (HEALTH_HOST:HEALTH_PORT)."""
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/metrics", self.metrics_page)
        return app


# connections a listener lets wait to be accepted: a platform that sends a burst of callbacks
# at once (Viber, WhatsApp, Telegram's webhook) finds the door open, instead of the SYNs past
# asyncio's default 100 being dropped and sent again a second later
BACKLOG = 1024


async def serve(app: web.Application, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port, backlog=BACKLOG).start()
    return runner
