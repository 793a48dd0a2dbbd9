"""Wiring: settings → database → texts → sending path → service → routers → polling."""

from __future__ import annotations

import logging

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from storage import repo
from storage.db import Database

from . import logs
from .config import Settings
from .i18n import Texts
from .outbox import OutboxDispatcher
from .sender import Sender
from .service import IntakeService, utcnow
from .telegram import TelegramFront, make_bot, make_dispatcher

log = logging.getLogger("korak")


async def run_bot(settings: Settings) -> None:
    logs.setup(settings.log_format, settings.log_level)
    db = Database(settings.database_url)
    await db.create_all()
    texts = Texts(settings.locales_dir, settings.locale, settings.timezone)
    bot = make_bot(settings)

    async def unreachable(chat_id: int) -> None:
        async with db.transaction() as s:
            await repo.mark_unreachable(s, chat_id, utcnow())

    sender = Sender(bot, on_forbidden=unreachable)
    outbox = OutboxDispatcher(db, texts, sender.send_message, utcnow)
    service = IntakeService(db, settings, texts, on_outbox=outbox.kick)
    front = TelegramFront(service, sender, texts, settings)
    dp = make_dispatcher(front)
    scheduler = AsyncIOScheduler(timezone=settings.timezone)
    scheduler.add_job(outbox.run_once, "interval", seconds=settings.outbox_tick_seconds,
                      max_instances=1, coalesce=True, id="outbox")
    scheduler.start()
    log.info("korak started")
    try:
        await outbox.run_once()  # what fell due while the bot was down
        await dp.start_polling(bot, allowed_updates=["message", "callback_query"])
    finally:
        scheduler.shutdown(wait=False)
        await bot.session.close()
        await db.dispose()
