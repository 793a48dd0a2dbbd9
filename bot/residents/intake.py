"""The application service: one resident event in, the conversation moved on and stored, the
replies out. Shared by the Telegram handlers and `korak chat`. Dialog rules live in dialogs/;
queries live in storage/; this module only orders them inside one transaction."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from dialogs import intake
from dialogs.languages import from_telegram
from dialogs.phone import normalize_phone
from dialogs.intake import (Choice, Command, Ctx, Event, Look, RequestInfo, Start, State,
                            Typed)
from dialogs.replies import DeleteAll, Forget, RelayToStaff, Say, SubmitRequest
from storage import erasure, repo
from storage.crypto import Sealer
from storage.db import Database
from storage.models import group_key, split_key

from bot.clock import utcnow
from bot.config import Settings
from bot.i18n import Texts
from bot.runtime.inbox import marked_handled, reply_by, scrub_after

log = logging.getLogger("korak.intake")


@dataclass(frozen=True)
class Person:
    key: str  # their channel and address on it (storage.models.person_key)
    first_name: str | None = None
    language_code: str | None = None  # as the person's app is set: suggests a language


@dataclass(frozen=True)
class Handled:
    says: list[Say]
    step: str  # where the conversation is now (button data names it)
    had_keyboard: bool  # a reply keyboard was showing before this event (it may need hiding)
    lang: str = "sl"  # the language to say it in
    # when the person last wrote before this event (None: no conversation was stored), and
    # whether nothing at all was stored about them
    last_wrote: datetime | None = None
    unknown: bool = False
    released: int = 0  # messages that waited for the person to write, due now


def channel_phone(key: str) -> str | None:
    """The number a person's channel knows them by, E.164: on WhatsApp their address is the
    number they write from (wa_id, its digits without "+"); None on the other channels and for
    an address that is no number a coordinator could call."""
    channel, address = split_key(key)
    if channel != "whatsapp" or not address:
        return None
    return normalize_phone(address if address.startswith("+") else "+" + address)


class KeyedLocks:
    """One lock per resident, so two updates of the same person never interleave."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    def lock(self, key: str) -> _Held:
        return _Held(self, key)


class _Held:
    def __init__(self, owner: KeyedLocks, key: str) -> None:
        self.owner, self.key = owner, key

    async def __aenter__(self) -> None:
        lock = self.owner._locks.setdefault(self.key, asyncio.Lock())
        self.owner._users[self.key] = self.owner._users.get(self.key, 0) + 1
        await lock.acquire()

    async def __aexit__(self, *exc: object) -> None:
        self.owner._locks[self.key].release()
        self.owner._users[self.key] -= 1
        if self.owner._users[self.key] == 0:
            del self.owner._users[self.key]
            del self.owner._locks[self.key]


class IntakeService:
    def __init__(self, db: Database, settings: Settings, texts: Texts, sealer: Sealer,
                 clock: Callable[[], datetime] = utcnow,
                 on_outbox: Callable[[], None] | None = None) -> None:
        self.db = db
        self.settings = settings
        self.texts = texts
        self.sealer = sealer
        self.clock = clock
        self.on_outbox = on_outbox
        self.locks = KeyedLocks()

    def _ctx(self, person: Person, now: datetime, reqs: list, open_req,
             looks: tuple[Look, ...] = (), relays: int = 0) -> Ctx:
        def info(r) -> RequestInfo:
            answers = r.answers
            if r.sensitive is not None:  # the person's own answer, for /moji_podatki
                answers = {**answers, "sensitive": self.sealer.open(r.sensitive)}
            return RequestInfo(r.id, r.status, repo.as_utc(r.created_at), r.site, answers)

        return Ctx(
            now=now, first_name=person.first_name,
            open_request=info(open_req) if open_req else None,
            requests=tuple(info(r) for r in reqs),
            contact_days=self.settings.contact_within_days,
            controller=self.settings.controller_name,
            controller_contact=self.settings.controller_contact,
            retention_months=self.settings.retention_months,
            intake_idle_days=self.settings.intake_idle_days,
            relays_last_hour=relays, relay_limit=self.settings.relay_per_hour,
            looks=looks, suggested_lang=from_telegram(person.language_code),
            office_phone=self.settings.office_phone.strip(),
            office_address=self.settings.office_address.strip(),
            relay_on=self.settings.staff_chat_id is not None,
            channel_phone=channel_phone(person.key),
        )

    def _as_choice(self, asked: list[Say], state: State, event: Event) -> Event:
        """Text equal to a current button's label (a reply-keyboard press, or typed) is that
        button."""
        if not isinstance(event, Typed):
            return event
        typed = " ".join(event.text.split()).casefold()
        texts = self.texts.lang(state.lang)
        for say in asked:
            for row in say.buttons:
                for button in row:
                    if texts.render(button.label).casefold() == typed:
                        return Choice(state.step, button.id)
        return event

    async def handle(self, person: Person, event: Event, update_id: str | None = None
                     ) -> list[Say]:
        """Move the conversation on. A repeated update (its channel's event key, such as
        "telegram:123") returns no replies and changes nothing."""
        return (await self.handle_with_step(person, event, update_id)).says

    async def handle_with_step(self, person: Person, event: Event,
                               update_id: str | None = None, *,
                               start_if_new: bool = False,
                               release_waiting: bool = False) -> Handled:
        """handle(), and the step the conversation is at afterwards (for button data).
        `start_if_new`: words from someone korak knows nothing of start the conversation (a
        channel without a start button), read in the same transaction. `release_waiting`:
        the person wrote, so what waited for that (WhatsApp's 24-hour window) is due now,
        in the same transaction."""
        released = 0
        created = False
        erased = False
        had_keyboard = False
        async with self.locks.lock(person.key):
            async with self.db.transaction() as s:
                now = self.clock()
                talk = await repo.begin_update(s, update_id, person.key, now, reply_by())
                if talk is None:
                    log.info("duplicate update skipped", extra={"update_id": update_id})
                    return Handled([], "", False, from_telegram(person.language_code))
                state = State.from_json(self.sealer.open_state(talk.state))
                if start_if_new and isinstance(event, Typed) and talk.unknown:
                    event = Start()
                if release_waiting and not talk.unknown:
                    released = await repo.due_now(s, person.key, now)
                # the question on origin answered (or not): its raw update must not outlive it
                secret = state.step == "sensitive" or (
                    isinstance(event, Choice) and event.step == "sensitive")
                reqs = talk.requests
                open_req = next((r for r in reversed(reqs) if r.status in repo.OPEN_STATUSES),
                                None)
                looks: tuple[Look, ...] = ()
                if isinstance(event, Command) and event.name == "moji_podatki" and reqs:
                    looks = tuple(Look(a.request_id, a.actor_name or "—", repo.as_utc(a.at),
                                       a.what)
                                  for a in await erasure.access_log(s, [r.id for r in reqs]))
                relays = 0
                if isinstance(event, Typed) and reqs and state.step in intake.TERMINAL:
                    # a message outside any question is passed on: how many were this hour?
                    relays = await repo.relays_since(s, reqs[-1].id, now - timedelta(hours=1))
                ctx = self._ctx(person, now, reqs, open_req, looks, relays)
                asked = intake.ask(state, ctx)
                had_keyboard = any(say.share_contact is not None for say in asked)
                out = intake.handle(state, self._as_choice(asked, state, event), ctx)
                keep_state = True
                for effect in out.effects:
                    if isinstance(effect, SubmitRequest):
                        answers, sealed = self.sealer.split(effect.answers)
                        _, created = await repo.create_request(
                            s, person=person.key, answers=answers, sensitive=sealed, now=now,
                            staff_chat_id=self.settings.staff_chat_id)
                    elif isinstance(effect, DeleteAll):
                        await erasure.erase_person(s, person.key, now,
                                                   self.settings.staff_chat_id)
                        keep_state = False
                        created = erased = True  # the staff chat is told
                    elif isinstance(effect, RelayToStaff):
                        # only with a staff chat (Ctx.relay_on): without one the conversation
                        # says so itself, with the office's phone and address
                        await repo.add_outbox(
                            s, kind="relay_to_staff",
                            chat=group_key(self.settings.staff_chat_id),
                            payload={"request_id": effect.request_id, "text": effect.text},
                            due_at=now, request_id=effect.request_id)
                        await repo.touch(s, effect.request_id, now)
                        created = True
                    elif isinstance(effect, Forget):
                        await erasure.forget_conversation(s, person.key)
                        # after the referral only its time (and the language) is kept, no
                        # answer: a Koroška place typed soon after is a correction
                        keep_state = (out.state.outside_at is not None
                                      and not out.state.answers and not out.state.pending)
                if keep_state:
                    await repo.save_state(s, person.key,
                                          self.sealer.seal_state(out.state.to_json()), now,
                                          lang=out.state.lang)
            if update_id is not None:  # committed: the inbox row is marked with the work
                marked_handled()
        if erased or secret:
            # the inbox empties the log once the update's raw copy is gone (scrub_after); an
            # erasure empties it now as well, and without the inbox this is the only time
            inbox_scrubs = scrub_after()
            if erased or not inbox_scrubs:
                await self.db.scrub()
        if (created or released) and self.on_outbox is not None:
            self.on_outbox()
        log.info("step", extra={"step": out.state.step, "event": type(event).__name__})
        lang = out.state.lang or state.lang or from_telegram(person.language_code)
        return Handled(out.says, out.state.step, had_keyboard, lang, talk.updated_at,
                       talk.unknown, released)

    async def glance(self, person: str) -> tuple[bool, datetime | None]:
        """The read an update starts with (repo.conversation), outside one: whether nothing is
        stored about the person (no conversation, no request), and when they last wrote (their
        conversation's last change; None: no conversation is stored)."""
        async with self.db.transaction() as s:
            talk = await repo.conversation(s, person)
        return talk.unknown, talk.updated_at

    async def seen(self, update_id: str, person: str) -> None:
        """An update that moves no conversation (a person blocking korak): marked handled."""
        async with self.db.transaction() as s:
            await repo.first_time(s, update_id, self.clock(), person)
        marked_handled()

    async def open_question(self, person: Person, update_id: str) -> Handled:
        """The person opened the chat again (Viber's conversation_started): in the middle of
        the intake they get the open question again; nothing changes."""
        async with self.locks.lock(person.key):
            async with self.db.transaction() as s:
                now = self.clock()
                talk = await repo.begin_update(s, update_id, person.key, now, reply_by())
                if talk is None:
                    return Handled([], "", False)
                state = State.from_json(self.sealer.open_state(talk.state))
                says: list[Say] = []
                if state.step in intake.STEPS or state.step in intake.SIDE:
                    says = intake.ask(state, self._ctx(person, now, [], None))
            marked_handled()
        return Handled(says, state.step, False, state.lang or "sl")

    async def say_again(self, key: str) -> Handled:
        """A reply was lost (korak was stopped between handling the person's message and
        sending the answer): what they were last told, the open question or, once their
        request is in, that it is in. Nothing changes."""
        person = Person(key)
        async with self.locks.lock(key):
            async with self.db.transaction() as s:
                now = self.clock()
                talk = await repo.begin_update(s, None, key, now)
                state = State.from_json(self.sealer.open_state(talk.state))
                reqs = talk.requests
                open_req = next((r for r in reversed(reqs) if r.status in repo.OPEN_STATUSES),
                                None)
                says = intake.say_again(state, self._ctx(person, now, reqs, open_req))
        return Handled(says, state.step, False, state.lang or "sl")

    async def language(self, person: str) -> str:
        """The language the person chose (Slovenian when none)."""
        async with self.db.transaction() as s:
            return await repo.resident_lang(s, person) or "sl"

    async def current_step(self, person: str) -> State:
        async with self.db.transaction() as s:
            resident = await repo.get_resident(s, person)
            return State.from_json(self.sealer.open_state(resident.state) if resident else None)
