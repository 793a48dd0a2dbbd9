"""Wiring: settings → database → texts → sending path → service → routers → polling."""

from __future__ import annotations

import asyncio
import gc
import logging
from dataclasses import dataclass

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter, TelegramServerError
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from storage.crypto import Sealer
from storage.db import Database

from . import logs
from .config import Settings
from .database import Refused, open_database, sealer
from .handoff import HandoffService
from .i18n import Texts
from .outbox import OutboxDispatcher
from .participants import ParticipantFront
from .retention import RetentionService
from .staffchat import StaffChat
from .schedule import ScheduleService
from .sender import Sender
from .clock import utcnow
from .service import IntakeService
from .staff import StaffFront
from .telegram import TelegramFront, make_bot, make_dispatcher

log = logging.getLogger("korak")


async def wait_for_api(bot: Bot) -> None:
    """Ask the Bot API who we are until it answers: a 5xx, a 429 or a network error at start
    must not end the process (aiogram would otherwise let it through)."""
    delay = 0.5
    while True:
        try:
            await bot.me()
            return
        except TelegramRetryAfter as exc:
            await asyncio.sleep(float(exc.retry_after))
        except (TelegramNetworkError, TelegramServerError, asyncio.TimeoutError) as exc:
            log.warning("Bot API not reachable yet", extra={"error": type(exc).__name__})
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


@dataclass
class Wired:
    dp: Dispatcher
    outbox: OutboxDispatcher
    handoff: HandoffService
    retention: RetentionService
    staff: StaffChat


def wire(settings: Settings, db: Database, texts: Texts, sender: Sender, sealer: Sealer
         ) -> Wired:
    """The services and routers, as `korak run` (and the load benchmark) use them."""
    staff_chat = StaffChat(db, settings, utcnow)
    outbox = OutboxDispatcher(db, texts, sender, utcnow, settings.staff_topics,
                              staff=staff_chat)
    service = IntakeService(db, settings, texts, sealer, on_outbox=outbox.kick)
    schedule = ScheduleService(db, settings, utcnow, on_outbox=outbox.kick)
    handoff = HandoffService(db, settings, utcnow, on_outbox=outbox.kick, schedule=schedule,
                             sealer=sealer)
    sender.on_forbidden = handoff.resident_blocked
    front = TelegramFront(service, sender, texts, settings)
    staff = StaffFront(handoff, sender, texts, settings, schedule, staff_chat)
    participants = ParticipantFront(schedule, sender, texts)
    retention = RetentionService(db, settings, utcnow, on_outbox=outbox.kick)
    return Wired(make_dispatcher(front, staff.router, participants.router), outbox, handoff,
                 retention, staff_chat)


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


async def run_bot(settings: Settings) -> None:
    logs.setup(settings.log_format, settings.log_level, secrets=(settings.bot_token,))
    seal = sealer(settings)
    if settings.staff_chat_id is None:
        raise Refused(Texts(settings.locales_dir, settings.locale, settings.timezone)(
            "cli.no_staff_chat"))
    db = await open_database(settings)
    await db.open_pool()
    texts = Texts(settings.locales_dir, settings.locale, settings.timezone)
    bot = make_bot(settings)
    sender = Sender(bot, global_rate=settings.send_rate_per_s)
    wired = wire(settings, db, texts, sender, seal)
    dp, outbox, handoff, staff = wired.dp, wired.outbox, wired.handoff, wired.staff
    await staff.load()
    settle_heap()

    async def tick() -> None:
        """Plan what has fallen due (reminders, the digest), then send the outbox; once a day,
        retention."""
        try:
            await staff.load()  # what another process learned about the staff chat
            await staff.probe(bot)
        except Exception:
            log.exception("staff chat check failed")
        try:
            await handoff.plan()
        except Exception:
            log.exception("planning reminders failed")
        try:
            await wired.retention.run_daily()
        except Exception:
            log.exception("retention failed")
        await outbox.run_once()

    scheduler = AsyncIOScheduler(timezone=settings.timezone)
    scheduler.add_job(tick, "interval", seconds=settings.outbox_tick_seconds,
                      max_instances=1, coalesce=True, id="outbox")
    scheduler.start()
    log.info("korak started")
    catch_up: asyncio.Task | None = None
    try:
        await wait_for_api(bot)
        await check_staff_chat(staff, bot, texts)
        # what fell due while the bot was down goes out alongside polling, not before it: a
        # backlog of reminders must not keep residents waiting for an answer
        catch_up = asyncio.get_running_loop().create_task(tick())
        await dp.start_polling(bot, allowed_updates=["message", "callback_query"])
    finally:
        if catch_up is not None:
            catch_up.cancel()
        scheduler.shutdown(wait=False)
        await bot.session.close()
        await db.dispose()
