"""Cover for a coordinator who is away: /odsotna and /nazaj, the absence data a card needs,
and absences that end by themselves. Rules live in dialogs/cover.py, queries in
storage/cover.py; this module orders them inside one transaction each."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from dialogs import handoff
from dialogs.cover import Colleague, Cover, away_reply, back_reply, is_away, parse_away
from dialogs.replies import Lines, Text, one_line
from storage import cover as store
from storage import repo
from storage.db import Database

from bot.config import Settings

log = logging.getLogger("korak.cover")

CARD_REFRESH = "staff_card"  # an outbox row that edits a request's card to how it is now


def local_day(now: datetime, tz: ZoneInfo) -> date:
    return now.astimezone(tz).date()


async def colleagues(s, settings_ids: Iterable[int], today: date) -> tuple[Colleague, ...]:
    """Every coordinator (COORDINATOR_IDS and the table), named as the table names her, else
    as she was named when away or when she last acted, and whether she is away today."""
    table = await store.coordinator_names(s)
    away = {a.telegram_id: a for a in await store.absences(s)}
    ids = set(settings_ids) | set(table)
    unnamed = [i for i in ids if not table.get(i) and not (i in away and away[i].name)]
    seen = await store.names_seen(s, unnamed) if unnamed else {}
    out = []
    for tid in ids:
        absence = away.get(tid)
        name = table.get(tid) or (absence.name if absence else None) or seen.get(tid)
        out.append(Colleague(
            id=tid, name=one_line(name or "") or str(tid),
            away=absence is not None and is_away(absence.since, absence.until, today),
            until=absence.until if absence is not None else None))
    return tuple(sorted(out, key=lambda c: (c.name.casefold(), c.id)))


async def cover_of(s, req: handoff.Request, now: datetime, tz: ZoneInfo,
                   settings_ids: Iterable[int]) -> Cover | None:
    """What the card of `req` needs about absence; None for a request nobody has (its card
    needs nothing)."""
    if req.status not in handoff.OWNED:
        return None
    team = await colleagues(s, settings_ids, local_day(now, tz))
    covering = None
    last = await store.last_handover(s, req.id)
    if last is not None and last.to_owner_id == req.owner_id and last.from_owner_id is not None:
        covering = next((c for c in team if c.id == last.from_owner_id), None)
    return Cover(team, covering)


class CoverService:
    def __init__(self, db: Database, settings: Settings, clock: Callable[[], datetime],
                 on_outbox: Callable[[], None] | None = None) -> None:
        self.db, self.settings, self.clock, self.on_outbox = db, settings, clock, on_outbox
        self.tz = ZoneInfo(settings.timezone)

    def _kick(self) -> None:
        if self.on_outbox is not None:
            self.on_outbox()

    async def cover_of(self, s, req: handoff.Request, now: datetime) -> Cover | None:
        return await cover_of(s, req, now, self.tz, self.settings.coordinator_ids)

    async def colleagues(self, s, now: datetime) -> tuple[Colleague, ...]:
        return await colleagues(s, self.settings.coordinator_ids, local_day(now, self.tz))

    async def away(self, telegram_id: int, name: str | None, rest: str) -> Lines:
        """/odsotna [do D. M. LLLL]: she is away (through that day); her cards are edited to
        offer her colleagues, and her reminders go to everyone."""
        now = self.clock()
        command = parse_away(rest, local_day(now, self.tz))
        if command.error is not None:
            return Lines((command.error,))
        async with self.db.transaction() as s:
            await store.set_away(s, telegram_id, name, now, command.until)
            mine = await store.owned_open(s, telegram_id)
            await self._refresh_cards(s, mine, now)
        log.info("coordinator away", extra={"count": len(mine)})
        self._kick()
        return Lines(away_reply(command.until, len(mine)))

    async def back(self, telegram_id: int) -> Text:
        """/nazaj: she is back; her cards and those covered for her show it."""
        async with self.db.transaction() as s:
            now = self.clock()
            was_away = await store.clear_away(s, telegram_id)
            if was_away:
                await self._refresh_cards(s, await self._touched(s, telegram_id), now)
        if was_away:
            log.info("coordinator back")
            self._kick()
        return back_reply(was_away)

    async def end_absences(self, s, now: datetime) -> int:
        """Absences past their last day (or of someone no longer a coordinator) end; their cards
        are edited. Run from the scheduler's planning, inside its transaction."""
        if not await store.absences(s):  # every tick: nobody away costs one small read
            return 0
        team = set(self.settings.coordinator_ids) | set(await repo.coordinator_ids(s))
        ended = await store.end_absences(s, local_day(now, self.tz), team)
        for telegram_id in ended:
            await self._refresh_cards(s, await self._touched(s, telegram_id), now)
        if ended:
            log.info("absences ended", extra={"count": len(ended)})
        return len(ended)

    @staticmethod
    async def _touched(s, telegram_id: int) -> list:
        return await store.owned_open(s, telegram_id) + await store.covered_open(s, telegram_id)

    async def _refresh_cards(self, s, reqs: list, now: datetime) -> None:
        """An edit of each card, queued with the change (sent at the group's pace)."""
        for req in reqs:
            if req.card_chat_id is None or req.card_message_id is None:
                continue
            await repo.add_outbox(s, kind=CARD_REFRESH, chat_id=req.card_chat_id,
                                  payload={"request_id": req.id}, due_at=now, request_id=req.id)

