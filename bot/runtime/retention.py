"""Retention as an application service: once a day from the scheduler (and by hand with
`korak retention`), korak forgets what it promised to forget. Rules in dialogs/retention.py,
queries in storage/erasure.py.

- a request with no activity for RETENTION_MONTHS is erased as /izbrisi erases it (its staff
  chat messages are edited to a removal text);
- a conversation left unfinished for INTAKE_IDLE_DAYS, and one that never got past the consent
  question for a day, is deleted;
- ids of handled updates go after a week, and sent rows about no request after a week (a sent
  row never keeps a chat or a text);
- a row korak gave up sending keeps its chat and text OUTBOX_FAILED_KEEP_DAYS (for `korak
  outbox retry`), then they are blanked.

Each erasure is its own transaction that checks again under a lock, so it happens once even
when two processes run retention at the same moment."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from dialogs import retention as rules
from dialogs.intake import STEPS
from storage import erasure
from storage.db import Database

from bot.config import Settings

log = logging.getLogger("korak.retention")

JOB = "retention"


@dataclass
class Counts:
    requests: int = 0  # requests erased (idle for RETENTION_MONTHS)
    unconsented: int = 0  # conversations that never got past the consent question
    idle_intakes: int = 0  # unfinished conversations idle for INTAKE_IDLE_DAYS
    processed_updates: int = 0  # update ids older than a week
    sent_outbox: int = 0  # sent rows about no request, older than a week
    blanked_outbox: int = 0  # sent rows that still held a chat or a text
    blanked_failed: int = 0  # failed rows older than OUTBOX_FAILED_KEEP_DAYS

    def total(self) -> int:
        return sum(asdict(self).values())


class RetentionService:
    def __init__(self, db: Database, settings: Settings, clock: Callable[[], datetime],
                 on_outbox: Callable[[], None] | None = None,
                 before: Callable[[], Awaitable[None]] | None = None) -> None:
        self.db, self.settings, self.clock, self.on_outbox = db, settings, clock, on_outbox
        self.before = before  # the daily run's first step: the month just closed is kept
        self.tz = ZoneInfo(settings.timezone)

    def limits(self, now: datetime) -> rules.Cutoffs:
        return rules.cutoffs(now, self.settings.retention_months,
                             self.settings.intake_idle_days,
                             self.settings.outbox_failed_keep_days)

    async def run(self, now: datetime | None = None, *, dry_run: bool = False) -> Counts:
        """One pass over everything; `dry_run` counts without changing anything."""
        now = now or self.clock()
        limits = self.limits(now)
        counts = Counts()
        staff = self.settings.staff_chat_id
        async with self.db.transaction() as s:
            idle = await erasure.idle_requests(s, limits.requests)
        for target in idle:
            if dry_run:
                counts.requests += 1
                continue
            async with self.db.transaction() as s:
                if await erasure.erase_if_idle(s, target.id, limits.requests, now, staff,
                                               in_progress=STEPS):
                    counts.requests += 1
        async with self.db.transaction() as s:
            stored = await erasure.conversations_before(s, limits.unconsented)
        for conv in stored:
            fate = rules.resident_fate(conv.state, conv.updated_at, conv.has_requests, limits)
            if fate is None:
                continue
            action, kind = fate
            if not dry_run:
                # dropped only if the person has not written since it was read
                async with self.db.transaction() as s:
                    if not await erasure.drop_conversation(
                            s, conv.person, conv.updated_at + timedelta(microseconds=1),
                            action):
                        continue
            if kind == "unconsented":
                counts.unconsented += 1
            else:
                counts.idle_intakes += 1
        async with self.db.transaction() as s:
            counts.processed_updates = await erasure.prune_processed(s, limits.processed,
                                                                     dry_run=dry_run)
            counts.sent_outbox = await erasure.prune_sent(s, limits.sent, dry_run=dry_run)
            counts.blanked_outbox = await erasure.blank_sent(s, dry_run=dry_run)
            counts.blanked_failed = await erasure.blank_failed(s, limits.failed, now,
                                                               dry_run=dry_run)
        if not dry_run and counts.total():
            await self.db.scrub()
            if counts.requests and self.on_outbox is not None:
                self.on_outbox()  # the staff chat's messages are edited
        log.info("retention", extra={"count": counts.total(), "job": JOB})
        return counts

    def day(self, now: datetime) -> str:
        return now.astimezone(self.tz).date().isoformat()

    async def run_daily(self) -> Counts | None:
        """From the scheduler tick: the day's run once it has not happened yet today (local
        date). A run that stops half-way is run again on the next tick; what it had erased
        stays erased, and nothing is erased twice."""
        now = self.clock()
        day = self.day(now)
        async with self.db.transaction() as s:
            if await erasure.job_ran(s, JOB, day):
                return None
        if self.before is not None:
            await self.before()
        counts = await self.run(now)
        async with self.db.transaction() as s:
            await erasure.job_finished(s, JOB, day, self.clock())
        return counts
