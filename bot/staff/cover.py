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
from storage.models import group_key

from bot.config import Settings

log = logging.getLogger("korak.cover")

CARD_REFRESH = "staff_card"  # an outbox row that edits a request's card to how it is now


def local_day(now: datetime, tz: ZoneInfo) -> date:
    return now.astimezone(tz).date()


async def names(s, settings_ids: Iterable[int]) -> dict[int, str | None]:
    """Every coordinator (COORDINATOR_IDS and the table) and the one name cards, buttons and
    notices give her: as `korak coordinators add --name` named her, else the Telegram first
    name she was last seen under in the staff chat (or, never seen, the name getChatMember
    gave), else the name she had when away or last acted (from before names were kept).
    None: no name is known (the start's getChatMember look fills it)."""
    table = await store.coordinator_names(s)
    seen = await store.seen_names(s)
    away = {a.telegram_id: a.name for a in await store.absences(s)}
    ids = set(settings_ids) | set(table)
    unnamed = [i for i in ids if not table.get(i) and not seen.get(i) and not away.get(i)]
    acted = await store.names_seen(s, unnamed) if unnamed else {}
    return {tid: one_line(table.get(tid) or seen.get(tid) or away.get(tid)
                          or acted.get(tid) or "") or None for tid in ids}


async def colleagues(s, settings_ids: Iterable[int], today: date) -> tuple[Colleague, ...]:
    """Every coordinator (COORDINATOR_IDS and the table), named as `names` names her, and
    whether she is away today."""
    named = await names(s, settings_ids)
    away = {a.telegram_id: a for a in await store.absences(s)}
    out = []
    for tid, name in named.items():
        absence = away.get(tid)
        out.append(Colleague(
            id=tid, name=name or str(tid),
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
        self._seen: dict[int, str] = {}  # the first names this process has kept

    def _kick(self) -> None:
        if self.on_outbox is not None:
            self.on_outbox()

    async def cover_of(self, s, req: handoff.Request, now: datetime) -> Cover | None:
        return await cover_of(s, req, now, self.tz, self.settings.coordinator_ids)

    async def colleagues(self, s, now: datetime) -> tuple[Colleague, ...]:
        return await colleagues(s, self.settings.coordinator_ids, local_day(now, self.tz))

    async def name_of(self, s, telegram_id: int | None) -> str | None:
        """Her one display name (`names`); None when none is known."""
        if telegram_id is None:
            return None
        return (await names(s, self.settings.coordinator_ids)).get(telegram_id)

    async def saw(self, telegram_id: int, first_name: str | None) -> str:
        """A coordinator acted in the staff chat under this Telegram first name: kept (once
        per change; this process remembers what it wrote), and her display name returned."""
        name = one_line(first_name or "")
        async with self.db.transaction() as s:
            if name and self._seen.get(telegram_id) != name:
                await store.saw_name(s, telegram_id, name, self.clock())
                self._seen[telegram_id] = name
            return await self.name_of(s, telegram_id) or name

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
            await repo.add_outbox(s, kind=CARD_REFRESH, chat=group_key(req.card_chat_id),
                                  payload={"request_id": req.id}, due_at=now, request_id=req.id)

