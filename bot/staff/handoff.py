"""The coordinators' side as an application service: button presses, staff commands, replies
to cards, and the reminders the scheduler tick plans. Rules live in dialogs/handoff.py, queries
in storage/repo.py; this module orders them inside one transaction each."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property
from zoneinfo import ZoneInfo

import holidays

from dialogs import handoff
from dialogs.cover import GIVE, HANDOVER, Cover, handed_notice
from dialogs.replies import N_, Say, Text
from dialogs.workhours import WorkingHours, parse_clock, parse_span, parse_weekdays
from storage import cover as cover_store
from storage import erasure, repo
from storage import schedule as schedule_store
from storage.crypto import Sealer
from storage.db import Database
from storage.models import ContactRequest, group_key, person_key, split_key

from bot.config import Settings
from bot.staff.cover import CoverService
from bot.staff.schedule import ScheduleService

log = logging.getLogger("korak.handoff")


class Vanished(Exception):
    """The request a message was about was erased while the message waited for its turn."""


def view(req: ContactRequest | repo.RequestRecord, unreachable: bool = False) -> handoff.Request:
    created = repo.as_utc(req.created_at)
    return handoff.Request(
        id=req.id, status=req.status, version=req.version, created_at=created,
        changed_at=repo.as_utc(req.status_changed_at) or created, owner_id=req.owner_id,
        owner_name=req.owner_name, claimed_at=repo.as_utc(req.claimed_at), site=req.site,
        answers=req.answers, resident_unreachable=unreachable,
        has_sensitive=req.sensitive is not None, channel=split_key(req.person)[0])


def working_hours(settings: Settings) -> WorkingHours:
    start, end = parse_span(settings.working_hours)
    return WorkingHours(tz=ZoneInfo(settings.timezone), start=start, end=end,
                        weekdays=parse_weekdays(settings.working_days),
                        holidays=holidays.country_holidays("SI"))


@dataclass(frozen=True)
class Pressed:
    """The answer to a button press: a short notice for the presser (None when it worked) and
    the card as it is now (None when the request is gone)."""

    notice: Text | None
    card: Say | None
    changed: bool = False
    announce: Text | None = None  # said in the staff chat under the card (a handover)


class HandoffService:
    def __init__(self, db: Database, settings: Settings, clock: Callable[[], datetime],
                 on_outbox: Callable[[], None] | None = None,
                 schedule: ScheduleService | None = None, sealer: Sealer | None = None) -> None:
        self.db, self.settings, self.clock, self.on_outbox = db, settings, clock, on_outbox
        self.schedule = schedule
        self.sealer = sealer
        self.cover = CoverService(db, settings, clock, on_outbox=self._kick)

    @cached_property
    def hours(self) -> WorkingHours:
        return working_hours(self.settings)

    def _kick(self) -> None:
        if self.on_outbox is not None:
            self.on_outbox()

    async def is_coordinator(self, telegram_id: int) -> bool:
        if telegram_id in self.settings.coordinator_ids:
            return True
        async with self.db.transaction() as s:
            return telegram_id in await repo.coordinator_ids(s)

    async def _view(self, s, req: ContactRequest) -> handoff.Request:
        return view(req, await repo.resident_unreachable(s, req.person))

    async def _card(self, s, current: handoff.Request, now: datetime) -> Say:
        """The card as it is now, with what it shows while a coordinator is away; its owner
        under her display name as it is now (a name kept with the request may be older)."""
        name = await self.cover.name_of(s, current.owner_id)
        if name:
            current = replace(current, owner_name=name)
        return handoff.card(current, now, await self.cover.cover_of(s, current, now))

    async def press(self, request_id: int, action: str, version: int, actor_id: int,
                    actor_name: str, cohort_id: int | None = None) -> Pressed:
        allowed = await self.is_coordinator(actor_id)
        if not allowed:  # nothing about the request is read for a stranger
            return Pressed(Text(N_("handoff.not_allowed")), None)
        actor_name = await self.cover.saw(actor_id, actor_name)  # her one display name
        async with self.db.transaction() as s:
            now = self.clock()
            req = await repo.get_request(s, request_id, lock=True)
            if req is None:
                return Pressed(Text(N_("handoff.gone")), None)
            current = await self._view(s, req)
            if action == "back":  # leaving a choice: the card as it is
                stale = version != current.version
                return Pressed(Text(N_("handoff.stale")) if stale else None,
                               await self._card(s, current, now))
            if action in (HANDOVER, GIVE):
                return await self._hand_over(s, req, current, action, version, actor_id,
                                             actor_name, cohort_id, now)
            if action == handoff.SITE:  # a request made without a place gets its site
                decision = handoff.decide_site(current, version, cohort_id, allowed)
                if not decision.ok:
                    return Pressed(decision.refusal, await self._card(s, current, now))
                await repo.set_site(s, req, site=decision.site or "", actor_id=actor_id,
                                    actor_name=actor_name, now=now)
                card = await self._card(s, await self._view(s, req), now)
                log.info("request site chosen", extra={"request_id": request_id})
                return Pressed(None, card, changed=True)
            decision = handoff.decide(current, action, version, actor_id, actor_name, allowed)
            if not decision.ok:
                return Pressed(decision.refusal, await self._card(s, current, now))
            if action == "enrolled" and self.schedule is not None:
                cohorts = [(c.id, c.name) for c in await schedule_store.cohorts(s, req.site)]
                if cohort_id is None and cohorts:
                    return Pressed(None, handoff.cohort_choice(current, now, cohorts))
                if cohort_id is not None:
                    if cohort_id not in {c for c, _ in cohorts}:
                        return Pressed(Text(N_("handoff.stale")),
                                       await self._card(s, current, now))
                    await self.schedule.enroll_in(s, cohort_id, req.person, req.id, now)
            await repo.change_request(
                s, req, action=action, status=decision.status, owner_id=decision.owner_id,
                owner_name=decision.owner_name, actor_id=actor_id, actor_name=actor_name, now=now)
            if decision.tell_resident:
                await repo.add_outbox(s, kind="resident_claimed", chat=req.person,
                                      payload={"request_id": req.id, "name": actor_name},
                                      due_at=now, request_id=req.id)
            card = await self._card(s, await self._view(s, req), now)
        log.info("request changed", extra={"request_id": request_id, "action": action})
        self._kick()
        return Pressed(None, card, changed=True)

    async def _hand_over(self, s, req: ContactRequest, current: handoff.Request, action: str,
                         version: int, actor_id: int, actor_name: str, target_id: int | None,
                         now: datetime) -> Pressed:
        """Predaj (the choice of colleague) or a colleague chosen: the request is hers now, a
        history row says who handed it from whom to whom."""
        cover = await self.cover.cover_of(s, current, now) or Cover()
        if action == HANDOVER:
            if version != current.version or current.status not in handoff.OWNED:
                return Pressed(Text(N_("handoff.stale")), handoff.card(current, now, cover))
            return Pressed(None, handoff.handover_choice(current, now, cover))
        decision = handoff.decide_handover(current, version, target_id, cover, True)
        if not decision.ok:
            return Pressed(decision.refusal, handoff.card(current, now, cover))
        before = req.owner_name
        await cover_store.hand_over(s, req, to_id=decision.owner_id, to_name=decision.owner_name,
                                    actor_id=actor_id, actor_name=actor_name, now=now)
        card = await self._card(s, await self._view(s, req), now)
        log.info("request handed over", extra={"request_id": req.id})
        return Pressed(None, card, changed=True,
                       announce=handed_notice(req.id, actor_name, before, decision.owner_name))

    async def reveal(self, request_id: int, actor_id: int, actor_name: str | None) -> Text:
        """🔒 on a card: the sensitive answer for this coordinator alone (Telegram shows the
        alert only to whoever pressed), and a row in the access log."""
        if not await self.is_coordinator(actor_id):
            return Text(N_("handoff.not_allowed"))
        async with self.db.transaction() as s:
            req = await repo.get_request(s, request_id)
            if req is None:
                return Text(N_("handoff.gone"))
            if req.sensitive is None or self.sealer is None:
                return Text(N_("handoff.sensitive.none"), {"id": request_id})
            now = self.clock()
            await erasure.log_access(s, request_id, actor_id, actor_name, "sensitive", now)
            answer = self.sealer.open(req.sensitive)
        log.info("sensitive answer opened", extra={"request_id": request_id})
        return handoff.revealed(request_id, answer)

    async def card(self, request_id: int, actor_id: int | None = None,
                   actor_name: str | None = None) -> Say | None:
        """The card as it is now. Asked for by a coordinator (/prosnja), the look is logged."""
        async with self.db.transaction() as s:
            req = await repo.get_request(s, request_id)
            if req is None:
                return None
            now = self.clock()
            if actor_id is not None:
                await erasure.log_access(s, request_id, actor_id, actor_name, "card", now)
            return await self._card(s, await self._view(s, req), now)

    async def open_list(self) -> Say:
        async with self.db.transaction() as s:
            reqs = [view(r) for r in await repo.open_requests(s)]
        return handoff.open_list(reqs, self.clock())

    async def resident_blocked(self, chat: int | str) -> None:
        """The platform refused for good (Telegram's 403 for a chat id; a person's key from
        another channel): mark the resident, refresh the card, tell the staff chat (once)."""
        if isinstance(chat, int):
            if chat < 0:  # Telegram's group ids: the staff chat itself, nobody to mark
                log.error("the bot cannot write to the staff chat")
                return
            chat = person_key("telegram", chat)
        async with self.db.transaction() as s:
            changed = await repo.mark_unreachable(s, chat, self.clock(),
                                                  self.settings.staff_chat_id)
        if changed:
            self._kick()

    async def is_about_request(self, chat_id: int, message_id: int) -> bool:
        async with self.db.transaction() as s:
            return await repo.request_of_staff_message(s, chat_id, message_id) is not None

    def guard(self, request_id: int) -> Callable[[], Awaitable[None]]:
        """The check before a staff message that shows a request goes out, run once its turn
        has come (the group's 20 a minute, a 429): the request must still be there, else
        Vanished. The outbox makes the same check (outbox.OutboxDispatcher._before)."""

        async def check() -> None:
            async with self.db.transaction() as s:
                if not await repo.request_exists(s, request_id):
                    raise Vanished()
        return check

    async def settle(self, shown: erasure.Shown) -> None:
        """The check after the send: remembered, or edited to the removal text when the
        request was erased meanwhile (erasure.settle_shown)."""
        async with self.db.transaction() as s:
            vanished = await erasure.settle_shown(s, [shown], self.clock())
        if vanished:
            log.info("staff message edited: its request was erased meanwhile",
                     extra={"request_id": shown.request_id})
            self._kick()

    async def relay_to_resident(self, chat_id: int, reply_to: int, text: str, actor_name: str
                                ) -> Text | None:
        """A coordinator's reply to a card (or to a relayed message): queue it for the
        resident. Returns a notice for the staff chat when it cannot go."""
        async with self.db.transaction() as s:
            req = await repo.request_of_staff_message(s, chat_id, reply_to)
            if req is None:
                return None  # a reply to something else: an ordinary chat between colleagues
            notice = await self._relay(s, req, text, actor_name)
        if notice is None:
            self._kick()
        return notice

    async def relay_to_request(self, request_id: int, text: str, actor_name: str) -> Text | None:
        """The same for a request named by its number (`korak chat --staff`, where there is no
        message to reply to). Returns a notice when it cannot go."""
        async with self.db.transaction() as s:
            req = await repo.get_request(s, request_id)
            if req is None:
                return Text(N_("handoff.no_such_request"), {"id": request_id})
            notice = await self._relay(s, req, text, actor_name)
        if notice is None:
            self._kick()
        return notice

    async def _relay(self, s, req: ContactRequest, text: str, actor_name: str) -> Text | None:
        if await repo.resident_unreachable(s, req.person):
            return Text(N_("handoff.relay_unreachable"), {"id": req.id})
        now = self.clock()
        await repo.add_outbox(s, kind="relay_to_resident", chat=req.person,
                              payload={"request_id": req.id, "text": text, "name": actor_name},
                              due_at=now, request_id=req.id)
        await repo.touch(s, req.id, now)
        return None

    async def plan(self) -> int:
        """Write the reminders and the digest that are due now as outbox rows, each once.
        Driven by the scheduler tick; returns how many were queued."""
        staff = self.settings.staff_chat_id
        if staff is None:
            return 0
        async with self.db.transaction() as s:
            now = self.clock()
            # absences past their last day end first (their cards are edited, in the outbox)
            await self.cover.end_absences(s, now)
            reqs = [view(r) for r in await repo.open_requests(s)]
            queued = 0
            for due in handoff.due_reminders(
                    reqs, now, self.hours, unclaimed_hours=self.settings.unclaimed_alert_hours,
                    outcome_days=self.settings.outcome_alert_days,
                    digest_at=parse_clock(self.settings.digest_time)):
                payload = {"request_id": due.request_id} if due.request_id else {}
                if await repo.add_outbox(s, kind=f"staff_{due.kind}", chat=group_key(staff),
                                         payload=payload, due_at=now, key=due.key,
                                         request_id=due.request_id):
                    queued += 1
        if queued:
            log.info("reminders queued", extra={"count": queued})
        return queued

    async def digest(self) -> Say:
        async with self.db.transaction() as s:
            reqs = [view(r) for r in await repo.open_requests(s)]
        return handoff.digest(reqs, self.clock(), self.hours.tz)
