"""`korak bench reminders`: N reminders due at once, sent by K dispatcher processes through the
real outbox and sending path to a local fake Bot API that enforces 30 messages/s overall and
1/s per chat with real 429 answers. Prints figures, and a JSON line last with `sent`,
`duplicates`, `lost` and `rate_per_s`."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import tempfile
import time
import uuid
from argparse import Namespace
from datetime import timedelta
from pathlib import Path

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from storage import repo
from storage import schedule as store
from storage.db import Database
from storage.models import ProgrammeSession

from bot.bench.fake_api import FakeBotAPI
from bot.channels.sender import Sender
from bot.clock import utcnow
from bot.config import Settings
from bot.i18n import Texts
from bot.runtime.outbox import OutboxDispatcher
from bot.staff.schedule import ScheduleService

TOKEN = "42:BENCH"


def _settings(database: str) -> Settings:
    return Settings(_env_file=None, database_url=database, reminder_offsets="-2h",
                    quiet_hours="00:00-00:00", staff_chat_id=None)


async def _prepare(database: str, schema: str | None, participants: int) -> int:
    """A cohort with two sessions soon; every participant enrolled, so two reminders each are
    planned by the real planner (at a time three hours ago) and are all due now."""
    db = Database(database, schema=schema)
    await db.create_all()
    now = utcnow()
    planned_at = now - timedelta(hours=3)
    service = ScheduleService(db, _settings(database), lambda: planned_at)
    async with db.transaction() as s:
        cohort = await store.create_cohort(s, f"bench {uuid.uuid4().hex[:6]}", "slovenj-gradec",
                                           now)
        for n, minutes in ((1, 60), (2, 90)):
            s.add(ProgrammeSession(cohort_id=cohort.id, key=f"s{n}", title=f"Srečanje {n}",
                                   place="Slovenj Gradec, Meškova ulica 21",
                                   starts_at=now + timedelta(minutes=minutes),
                                   ends_at=now + timedelta(minutes=minutes + 120),
                                   updated_at=now))
        cohort_id = cohort.id
    planned = 0
    for first in range(0, participants, 500):
        async with db.transaction() as s:
            for uid in range(first, min(participants, first + 500)):
                planned += await service.enroll_in(s, cohort_id, f"telegram:{10_000 + uid}",
                                                   None, planned_at)
    await db.dispose()
    return planned


async def _worker(database: str, schema: str | None, api: str, rate: float) -> None:
    logging.basicConfig(level=logging.ERROR)
    settings = _settings(database)
    db = Database(database, schema=schema)
    session = AiohttpSession(api=TelegramAPIServer.from_base(api))
    bot = Bot(token=TOKEN, session=session)
    sender = Sender(bot, global_rate=rate, chat_rate=1.0, chat_burst=1.0)
    texts = Texts(settings.locales_dir, settings.locale, settings.timezone)
    dispatcher = OutboxDispatcher(db, texts, sender, utcnow, batch=50)
    try:
        idle = 0
        while True:
            sent = await dispatcher.run_once()
            if sent:
                idle = 0
                continue
            async with db.transaction() as s:
                left = await repo.count_pending(s)
            if left == 0:
                return
            idle += 1
            await asyncio.sleep(0.1)  # rows another dispatcher holds, or waiting to retry
    finally:
        await bot.session.close()
        await db.dispose()


async def _run(args: Namespace) -> dict:
    tmp = None
    database = args.database
    if not database:
        tmp = tempfile.TemporaryDirectory()
        database = f"sqlite+aiosqlite:///{tmp.name}/bench.db"
    schema = None if database.startswith("sqlite") else f"bench_{uuid.uuid4().hex[:10]}"
    participants = max(1, args.count // 2)
    t0 = time.perf_counter()
    planned = await _prepare(database, schema, participants)
    setup_s = time.perf_counter() - t0
    print(f"planned {planned} reminders for {participants} participants in {setup_s:.1f} s",
          flush=True)

    api = FakeBotAPI(global_rate=30.0, chat_interval=1.0)
    url = await api.start()
    per_process = args.rate / args.dispatchers
    cmd = [sys.executable, "-m", "bot", "bench", "reminders", "--worker", "--database", database,
           "--api", url, "--rate", str(per_process)]
    if schema:
        cmd += ["--schema", schema]
    started = time.perf_counter()
    procs = [subprocess.Popen(cmd, cwd=Path(__file__).resolve().parent.parent)
             for _ in range(args.dispatchers)]
    last_print = 0.0
    while any(p.poll() is None for p in procs):
        await asyncio.sleep(0.25)
        if time.perf_counter() - last_print > 10:
            last_print = time.perf_counter()
            print(f"  {len(api.delivered)} delivered, {api.rejected_429} answered 429",
                  flush=True)
    elapsed = time.perf_counter() - started
    await api.stop()
    codes = [p.returncode for p in procs]

    db = Database(database, schema=schema)
    async with db.transaction() as s:
        unsent = await repo.count_pending(s)
    await db.drop_schema()
    await db.dispose()
    if tmp is not None:
        tmp.cleanup()

    counts = api.report()
    times = sorted(d.at for d in api.delivered)
    span = (times[-1] - times[0]) if len(times) > 1 else elapsed
    return {
        "count": planned, "dispatchers": args.dispatchers,
        "database": "sqlite" if database.startswith("sqlite") else "postgresql",
        "rate_limit_per_s": args.rate, "sent": counts["unique"],
        "duplicates": counts["duplicates"], "lost": planned - counts["unique"],
        "unsent_rows": unsent, "rejected_429": counts["rejected_429"],
        "rate_per_s": round(len(times) / span, 2) if span > 0 else 0.0,
        "seconds": round(elapsed, 1), "setup_seconds": round(setup_s, 1),
        "worker_exit_codes": codes,
    }


def main(args: Namespace) -> int:
    if args.worker:
        asyncio.run(_worker(args.database, args.schema, args.api, args.rate))
        return 0
    result = asyncio.run(_run(args))
    print(f"reminders: {result['sent']} of {result['count']} sent by {result['dispatchers']} "
          f"dispatcher(s) on {result['database']}, {result['duplicates']} duplicates, "
          f"{result['lost']} lost, {result['rate_per_s']} messages/s "
          f"({result['rejected_429']} answered 429)")
    print(json.dumps(result))
    return 0 if result["duplicates"] == 0 and result["lost"] == 0 else 1
