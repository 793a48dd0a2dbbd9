"""Wiring: settings → database → texts → sending path → service → routers → polling."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import re
import secrets
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter, TelegramServerError
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from redis.exceptions import RedisError

from storage import inbox as inbox_store
from storage.crypto import Sealer
from storage.db import Database

from bot import logs
from bot.channels.limits import SharedLimits, redis_pause
from bot.channels.sender import Sender
from bot.channels.telegram import TelegramFront, make_bot, make_dispatcher
from bot.clock import utcnow
from bot.config import Settings
from bot.channels.base import Refused as ChannelRefused
from bot.channels.viber import ViberChannel
from bot.channels.whatsapp import WhatsApp
from bot.database import Refused, open_database, sealer
from bot.i18n import Texts
from bot.residents.intake import IntakeService
from bot.residents.participants import ParticipantFront
from bot.runtime.health import Health, Metrics, serve
from bot.runtime.inbox import ALLOWED, REPLY_WAIT, Inbox, poll
from bot.runtime.outbox import OutboxDispatcher
from bot.runtime.retention import RetentionService
from bot.runtime.channels import MAX_BODY, ChannelDoor
from bot.runtime.webhook import InboxRequestHandler
from bot.staff.attendance import AttendanceService
from bot.staff.chat import StaffChat
from bot.staff.front import StaffFront
from bot.staff.handoff import HandoffService
from bot.staff.report_command import ReportingFront
from bot.staff.reports import ReportService
from bot.staff.schedule import ScheduleService
from bot.staff.setup import Direct, SetupFront

log = logging.getLogger("korak")

# Asked to stop, korak ends within STOP_SECONDS (Docker kills at 10): in-flight updates get
# DRAIN_SECONDS to finish, then whatever still runs is cancelled (the inbox and the outbox keep
# it for the next start)
STOP_SECONDS = 4.0
DRAIN_SECONDS = 2.5
OUTBOX_GRACE_SECONDS = 1.0  # after the drain: the outbox's sends under way


def bot_api_pause(exc: BaseException) -> float | None:
    """How long to wait before a Bot API call at start goes again (0: the growing wait);
    None: the error cannot pass by itself."""
    if isinstance(exc, TelegramRetryAfter):
        return float(exc.retry_after)
    if isinstance(exc, (TelegramNetworkError, TelegramServerError, asyncio.TimeoutError)):
        return 0.0
    return None


async def persist(call: Callable[[], Awaitable[Any]], what: str,
                  pause: Callable[[BaseException], float | None] = bot_api_pause,
                  who: str = "Bot API") -> Any:
    """A platform's call at start, made until it answers: a 5xx, a 429 or a network error then
    must not end the process (aiogram would otherwise let it through). `pause` tells what
    passes by itself (and how long to wait for it); anything else is raised."""
    delay = 0.5
    while True:
        try:
            return await call()
        except Exception as exc:
            wait = pause(exc)
            if wait is None:
                raise
            if not wait:
                log.warning("%s not reachable yet", who,
                            extra={"event": what, "error": type(exc).__name__})
            await asyncio.sleep(wait or delay)
            if not wait:
                delay = min(delay * 2, 30.0)


async def wait_for_api(bot: Bot) -> None:
    """Ask the Bot API who we are until it answers."""
    await persist(bot.me, "getMe")


@dataclass
class Wired:
    dp: Dispatcher
    outbox: OutboxDispatcher
    handoff: HandoffService
    retention: RetentionService
    staff: StaffChat
    attendance: AttendanceService | None = None  # attendance lists after sessions
    service: IntakeService | None = None  # the residents' conversation (every channel)
    schedule: ScheduleService | None = None
    front: TelegramFront | None = None  # Telegram residents' side


def wire(settings: Settings, db: Database, texts: Texts, sender: Sender, sealer: Sealer,
         metrics: Metrics | None = None) -> Wired:
    """The services and routers, as `korak run` (and the load benchmark) use them."""
    staff_chat = StaffChat(db, settings, utcnow)
    outbox = OutboxDispatcher(db, texts, sender, utcnow, settings.staff_topics,
                              staff=staff_chat, metrics=metrics)
    service = IntakeService(db, settings, texts, sealer, on_outbox=outbox.kick)
    schedule = ScheduleService(db, settings, utcnow, on_outbox=outbox.kick)
    handoff = HandoffService(db, settings, utcnow, on_outbox=outbox.kick, schedule=schedule,
                             sealer=sealer)
    sender.on_forbidden = handoff.resident_blocked
    front = TelegramFront(service, sender, texts, settings)
    staff = StaffFront(handoff, sender, texts, settings, schedule, staff_chat)
    participants = ParticipantFront(schedule, sender, texts)
    report = ReportService(db, settings, sealer, utcnow)
    retention = RetentionService(db, settings, utcnow, on_outbox=outbox.kick,
                                 before=report.keep_closed)
    attendance = AttendanceService(db, settings, utcnow, on_outbox=outbox.kick)
    reporting = ReportingFront(report, attendance,
                               handoff.is_coordinator, sender, texts, settings)
    return Wired(make_dispatcher(front, reporting.router, staff.router, participants.router),
                 outbox, handoff, retention, staff_chat, attendance, service, schedule, front)


def make_channels(settings: Settings) -> dict[str, Any]:
    """The channels besides Telegram that are on (their settings set)."""
    out: dict[str, Any] = {}
    if settings.viber_auth_token:
        out["viber"] = ViberChannel(settings.viber_auth_token, settings.viber_bot_name,
                                    settings.viber_avatar_url, api_url=settings.viber_api_url)
    if settings.whatsapp_token:
        out["whatsapp"] = WhatsApp(settings.whatsapp_token,
                                   settings.whatsapp_phone_number_id or "",
                                   settings.whatsapp_app_secret or "",
                                   settings.whatsapp_verify_token or "",
                                   api_url=settings.whatsapp_api_url)
    return out


async def set_viber_webhook(channel: ViberChannel, url: str, texts: Texts) -> None:
    """Viber's set_webhook at start, tried again until Viber answers (it checks the URL with a
    signed callback at once, so the listener is up before this); a refusal that cannot pass
    stops the start in one line."""
    def pause(exc: BaseException) -> float | None:
        if isinstance(exc, ChannelRefused) and exc.kind == "retry":
            return exc.retry_after or 0.0
        return None

    try:
        await persist(lambda: channel.set_webhook(url), "set_webhook", pause, who="Viber")
    except ChannelRefused as exc:
        raise Refused(texts("cli.viber_webhook_refused", why=exc.detail)) from exc


# what a first update would otherwise load while a resident waits: every language's catalog and
# date formats, the place index, the word lists, the phone numbers' metadata, aiogram's models
WARM_UP_PLACES = ("Mislinja", "v Radljah", "Мута", "2380")
WARM_UP_UPDATE = {"update_id": 1, "message": {
    "message_id": 1, "date": 1764150000, "text": "/start",
    "chat": {"id": 1, "type": "private"}, "from": {"id": 1, "is_bot": False, "first_name": "A"}}}


def warm_up(texts: Texts) -> None:
    """Load before taking updates what the first one needs (a first answer took 2.6 s on an
    idle machine and over 6 s on a busy one; later ones 0.05 s)."""
    from datetime import datetime, timezone

    from aiogram.types import Update

    from dialogs import places
    from dialogs.languages import LANGUAGES
    from dialogs.phone import normalize_phone
    from dialogs.understand import LANGS, choose

    now = datetime.now(timezone.utc)
    for code in LANGUAGES:
        theirs = texts.lang(code)
        theirs("intake.welcome")
        theirs.value(now)
    for name in WARM_UP_PLACES:
        places.resolve(name)
    for code in LANGS:
        choose("consent", "ja", code)
    normalize_phone("031 222 333")
    Update.model_validate(WARM_UP_UPDATE)


# Young objects are collected after this many allocations instead of Python's 700. Nearly all of
# an update's objects are freed by reference counting as soon as it is handled; collecting every
# 700 allocations walked the updates still in flight over and over. In a burst of 500 residents
# the defaults made about 2,000 young and 18 full collections (up to 0.1 s each, 15% of the CPU);
# with these, a handful (2%).
GC_THRESHOLDS = (50_000, 20, 100)


def settle_heap() -> None:
    """Call once everything is loaded. aiogram's and pydantic's types are hundreds of thousands
    of objects that live as long as the process; every full garbage collection walked them all
    again (a third of a second each, some 15% of the time under load). Frozen, the collector
    leaves them alone. Then the collector runs less often (GC_THRESHOLDS)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


async def check_staff_chat(staff: StaffChat, bot: Bot, texts: Texts) -> None:
    """At start: the bot must be able to post in the staff chat, or requests would pile up
    unseen. Stops with one line when Telegram says it cannot; a network hiccup does not."""
    ok, why = await staff.writable(bot)
    if ok:
        await staff.resume()
        return
    if why != "unknown":
        raise Refused(texts("cli.staff_chat_unwritable", chat=staff.id, why=why))


class Runtime:
    """One `korak run` process: the services, the scheduler tick, and the way updates come in
    (long polling, or a webhook server that any number of processes can share)."""

    def __init__(self, settings: Settings, *, webhook: bool = False) -> None:
        self.settings, self.webhook = settings, webhook
        self.texts = Texts(settings.locales_dir, settings.locale, settings.timezone)
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.stopping = asyncio.Event()

    def refuse_bad_settings(self) -> None:
        """What cannot work is said in one line before anything starts."""
        s, t = self.settings, self.texts
        if self.webhook and not (s.webhook_url and s.webhook_secret):
            raise Refused(t("cli.webhook_needs"))
        if self.webhook and not re.fullmatch(r"[A-Za-z0-9_-]{16,256}", s.webhook_secret or ""):
            raise Refused(t("cli.webhook_secret"))
        if s.viber_auth_token and not s.viber_webhook_url:
            raise Refused(t("cli.viber_needs"))
        if s.whatsapp_token and not (s.whatsapp_phone_number_id and s.whatsapp_app_secret
                                     and s.whatsapp_verify_token):
            raise Refused(t("cli.whatsapp_needs"))

    async def run(self) -> None:
        settings, texts = self.settings, self.texts
        logs.setup(settings.log_format, settings.log_level,
                   secrets=(settings.bot_token, settings.webhook_secret))
        seal = sealer(settings)
        if settings.staff_chat_id is None:  # nothing to guess: the bot says what to do
            await self.run_setup()
            return
        self.refuse_bad_settings()
        shared = None
        if settings.redis_url:
            shared = SharedLimits(settings.redis_url, per_second=settings.send_rate_per_s,
                                  secret=settings.data_key,
                                  request_timeout=settings.telegram_timeout)
            try:  # a Redis not up yet (after a reboot, say) is waited for, like the database
                await persist(shared.check, "redis", pause=redis_pause, who="Redis")
                await shared.heartbeat(self.holder, ttl=3 * settings.outbox_tick_seconds)
            except (RedisError, OSError, asyncio.TimeoutError) as exc:
                raise Refused(texts("cli.redis_refused", error=type(exc).__name__)) from exc
        db = await open_database(settings)
        bot = make_bot(settings)
        runners: list = []
        channels: dict[str, Any] = {}
        try:
            await db.open_pool()
            metrics = Metrics()
            sender = Sender(bot, global_rate=settings.send_rate_per_s, shared=shared,
                            on_error=metrics.telegram_error)
            wired = wire(settings, db, texts, sender, seal, metrics)
            staff = wired.staff
            await staff.load()
            inbox = Inbox(db, wired.dp, bot, utcnow, seal, on_handled=metrics.handled)
            inbox.say_again["telegram"] = wired.front.say_again
            channels = make_channels(settings)
            door = None
            if channels:  # Viber and WhatsApp: the same inbox, service and outbox
                door = ChannelDoor(db, inbox, wired.service, texts, seal, channels,
                                   on_blocked=wired.handoff.resident_blocked,
                                   schedule=wired.schedule, kick=wired.outbox.kick,
                                   shared=shared)
                wired.outbox.channels = door

            async def alert(failing: list[str]) -> None:
                if staff.id is not None:
                    await sender.send_message(staff.id, texts("health.alert",
                                                              failing=", ".join(failing)))

            health = Health(db, utcnow, settings.outbox_tick_seconds, lambda: staff.paused,
                            metrics, alert=alert)
            lease = timedelta(seconds=max(30.0, 3 * settings.outbox_tick_seconds))
            warm_up(texts)  # before any update is taken
            settle_heap()

            async def tick() -> None:
                """Everyone: the staff chat's state, the outbox, stranded updates, health. The
                leader alone (one process at a time): reminders and the digest planned, and
                retention once a day."""
                health.ticked()
                if shared is not None:  # a process that stops beating drops out in 3 ticks
                    await guarded("replica count", shared.heartbeat(
                        self.holder, ttl=3 * settings.outbox_tick_seconds))
                await guarded("staff chat check", self._staff_check(staff, bot))
                if await guarded("leadership", self._lead(db, lease)):
                    await guarded("staff members", staff.daily_members(bot, texts, sender))
                    await guarded("planning", wired.handoff.plan())
                    await guarded("attendance", wired.attendance.plan())
                    await guarded("retention", wired.retention.run_daily())
                await guarded("outbox", wired.outbox.run_once())
                await guarded("inbox sweep", inbox.sweep())
                await guarded("health", health.watch())

            scheduler = AsyncIOScheduler(timezone=settings.timezone)
            scheduler.add_job(tick, "interval", seconds=settings.outbox_tick_seconds,
                              max_instances=1, coalesce=True, id="tick")
            self._signals()
            if settings.health_port:  # in every mode, and only there
                runners.append(await serve_health(health, settings, texts))
            await wait_for_api(bot)
            await check_staff_chat(staff, bot, texts)
            await staff.check_members(bot, texts, sender)
            await staff.check_privacy(bot, texts, sender)
            if self.webhook or door is not None:
                # the public listener: update paths, nothing else (Telegram's in webhook mode,
                # Viber's and WhatsApp's whenever they are on)
                updates = web.Application(client_max_size=MAX_BODY)
                if self.webhook:
                    handler = InboxRequestHandler(wired.dp, bot, inbox, settings.webhook_secret)
                    handler.register(updates, path=urlsplit(settings.webhook_url).path or "/")
                if door is not None:
                    door.register(updates)
                host, port = listen_address(settings.webhook_listen)
                try:
                    runners.append(await serve(updates, host, port))
                except OSError as exc:
                    raise Refused(texts("cli.listen_taken", listen=settings.webhook_listen,
                                        error=exc.strerror or type(exc).__name__)) from exc
                if "viber" in channels and settings.viber_webhook_url:
                    await set_viber_webhook(channels["viber"], settings.viber_webhook_url, texts)
            if self.webhook:
                await persist(lambda: bot.set_webhook(
                    settings.webhook_url, secret_token=settings.webhook_secret,
                    allowed_updates=ALLOWED, drop_pending_updates=False), "setWebhook")
            else:
                await persist(lambda: bot.delete_webhook(drop_pending_updates=False),
                              "deleteWebhook")
                await inbox.replay()  # what a killed process left, before anything new
            if db.is_sqlite:  # one process: every reply left unknown was the last one's
                await inbox.say_again_lost(utcnow() + REPLY_WAIT + timedelta(seconds=1))
            scheduler.start()
            log.info("korak started", extra={"event": "webhook" if self.webhook else "polling"})
            # what fell due while the bot was down goes out alongside new updates
            catch_up = asyncio.get_running_loop().create_task(tick())
            try:
                if self.webhook:
                    await self.stopping.wait()
                else:
                    await self._poll(bot, inbox)
            finally:
                catch_up.cancel()
                scheduler.shutdown(wait=False)
                try:  # what is being handled is finished, not cut off; the inbox keeps the rest
                    await asyncio.wait_for(inbox.idle(), timeout=DRAIN_SECONDS)
                    await inbox.flush()
                except asyncio.TimeoutError:
                    log.warning("stopped with updates still being handled")
                # the outbox's sends under way end (or are cut off) before their rows are let
                # go: back to waiting for the next start, not counted
                await guarded("outbox stop", wired.outbox.stop(OUTBOX_GRACE_SECONDS))
                await guarded("outbox release", wired.outbox.release_held())
        finally:
            for runner in runners:
                await runner.cleanup()
            for channel in channels.values():
                await channel.close()
            await bot.session.close()
            await db.dispose()

    async def run_setup(self) -> None:
        """Set-up mode (no STAFF_CHAT_ID): /id and /pomoc for anyone, in groups and in private,
        and one line for residents that the service is not open yet. Long polling, nothing
        stored; a restart with STAFF_CHAT_ID set starts korak as usual."""
        settings, texts = self.settings, self.texts
        print(texts("cli.setup_mode"), file=sys.stderr, flush=True)
        bot = make_bot(settings)
        try:
            sender = Sender(bot, global_rate=settings.send_rate_per_s)
            dp = Dispatcher(disable_fsm=True)
            dp.include_router(SetupFront(sender, texts).router)
            self._signals()
            await wait_for_api(bot)
            await persist(lambda: bot.delete_webhook(drop_pending_updates=False),
                          "deleteWebhook")
            log.warning("no STAFF_CHAT_ID: set-up mode (only /id and /pomoc are answered)",
                        extra={"event": "setup"})
            await self._poll(bot, Direct(dp, bot))
        finally:
            await bot.session.close()

    async def _poll(self, bot: Bot, inbox: Any) -> None:
        """Long polling until asked to stop: a long poll is not waited out, it is cancelled."""
        polling = asyncio.ensure_future(poll(bot, inbox, self.stopping))
        stop = asyncio.ensure_future(self.stopping.wait())
        await asyncio.wait([polling, stop], return_when=asyncio.FIRST_COMPLETED)
        for task in (polling, stop):
            task.cancel()
        await asyncio.gather(polling, stop, return_exceptions=True)
        if not polling.cancelled() and polling.exception() is not None:
            raise polling.exception()  # a poll that failed for good (a revoked token) ends korak

    def _signals(self) -> None:
        """SIGTERM or Ctrl+C: stop, within STOP_SECONDS whatever is going on (a long poll, a
        Bot API that does not answer, a send in flight: the inbox and the outbox keep what is
        not done for the next start); a second one: at once."""
        loop = asyncio.get_running_loop()
        main = asyncio.current_task()

        def asked() -> None:
            if self.stopping.is_set():
                log.warning("stopped at once (asked twice)")
                os._exit(1)
            self.stopping.set()
            if main is not None:
                loop.call_later(STOP_SECONDS, main.cancel)

        for sig in (signal.SIGTERM, signal.SIGINT):
            with suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, asked)

    async def _staff_check(self, staff: StaffChat, bot: Bot) -> None:
        await staff.load()  # what another process learned about the staff chat
        await staff.probe(bot)

    async def _lead(self, db: Database, lease: timedelta) -> bool:
        async with db.transaction() as s:
            return await inbox_store.lead(s, "scheduler", self.holder, utcnow(), lease)



async def guarded(name: str, work: Awaitable[Any]) -> Any:
    """One part of the tick: a failure is logged, and the rest of the tick goes on."""
    try:
        return await work
    except Exception:
        log.exception("tick: %s failed", name)
        return None


async def serve_health(health: Health, settings: Settings, texts: Texts) -> web.AppRunner:
    """/healthz, /readyz and /metrics on HEALTH_HOST:HEALTH_PORT. A port already taken (by
    another process on the host) stops the start with one line: a probe would otherwise get
    that other process's answer."""
    try:
        return await serve(health.app(), settings.health_host, settings.health_port)
    except OSError as exc:
        raise Refused(texts("cli.health_port_taken", host=settings.health_host,
                            port=settings.health_port)) from exc


def listen_address(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return host or "0.0.0.0", int(port)


async def run_bot(settings: Settings, *, webhook: bool = False) -> None:
    runtime = Runtime(settings, webhook=webhook)
    try:
        await runtime.run()
    except asyncio.CancelledError:
        if not runtime.stopping.is_set():
            raise
        log.warning("stopped before the work in hand was done; the rest is kept for the "
                    "next start")
