"""Viber and WhatsApp in `korak run`: their callbacks reach the same inbox as Telegram's updates,
the conversation moves on through the same service, and the replies go back through the
person's channel, within that platform's limits.

- `POST /viber` and `GET|POST /whatsapp` on the public listener (WEBHOOK_LISTEN). A callback
  whose signature is missing or wrong is refused with 403 before anything is read from it;
  a body that is not the platform's JSON gets a 400; nothing of either is stored.
- A person's message is stored in the inbox (sealed, as what the conversation needs of it, not
  the platform's whole body) before the platform gets its 200, keyed by the channel and the
  platform's id of it ("viber:<message token>", "whatsapp:<message id>"), so a callback the
  platform sends again is handled once and a killed process's work is done after the restart.
  Then the person's lane is drained, in order, as Telegram's are.
- Viber's `conversation_started`: a person korak knows nothing of gets the greeting in the HTTP
  answer (the only message Viber lets through before they write) and nothing is stored; their
  first message starts the intake. A person in the middle of the intake who opens the chat
  again gets the open question again.
- A person who blocks korak (Viber's `unsubscribed`; a send refused as blocked or gone) is marked
  unreachable as after Telegram's 403. Delivery receipts and statuses store nothing.
- Sending: each platform has its own limiter (`ChannelLimits`; with REDIS_URL
  limits.SharedChannelLimits, counted across all processes under the platform's own keys):
  Telegram's limits are never spent on another platform's traffic."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiohttp import web

from dialogs.intake import Choice, Command, Event, Media, SharedContact, Start, Typed
from storage.crypto import Sealer
from storage.db import Database
from storage import repo
from storage.models import person_key, split_key

from bot.channels import viber as viber_channel
from bot.channels import whatsapp as whatsapp_channel
from bot.channels.base import Address, Inbound, Refused, WordsRender
from bot.channels.sender import Bucket, Undeliverable
from bot.clock import utcnow
from bot.i18n import Texts
from bot.channels.telegram import parse_answer_callback
from bot.residents.intake import IntakeService, Person
from bot.residents.participants import TERMINI
from bot.runtime.inbox import Inbox
from bot.runtime.outbox import MAX_ATTEMPTS, WORDS

log = logging.getLogger("korak.channels")

MAX_BODY = 1024 * 1024  # a callback's body: Viber's are small; Meta's webhooks stay under this
SEND_TRIES = 4
WINDOW = timedelta(hours=23)  # WhatsApp's customer service window is 24 hours

# What each platform allows (the limiter keeps under it): Viber answers status 12 past its rate
# and allows at most 100 messages to a person an hour without a reply from them; WhatsApp Cloud
# API numbers start at 80 messages a second, and a pair of numbers may exchange about one message
# every 6 seconds with short bursts (Meta's "pair rate limit", error 131056).
LIMITS = {"viber": {"rate": 20.0, "person_rate": 1.0, "person_burst": 5.0},
          "whatsapp": {"rate": 40.0, "person_rate": 1 / 6, "person_burst": 45.0}}


def event_to_json(event: Event | None) -> dict[str, Any] | None:
    if event is None:
        return None
    kind = type(event).__name__
    return {"type": kind, **{k: getattr(event, k) for k in event.__dataclass_fields__}}


_EVENTS = {cls.__name__: cls for cls in (Start, Command, Typed, Choice, SharedContact, Media)}


def event_from_json(data: dict[str, Any] | None) -> Event | None:
    if not data:
        return None
    fields = {k: v for k, v in data.items() if k != "type"}
    return _EVENTS[data["type"]](**fields)


def inbound_to_json(inbound: Inbound) -> dict[str, Any]:
    """What is stored of a callback: what the conversation needs, nothing more."""
    return {"channel": inbound.address.channel, "id": inbound.address.id,
            "event_id": inbound.event_id, "event": event_to_json(inbound.event),
            "kind": inbound.kind, "name": inbound.name, "language": inbound.language}


def inbound_from_json(data: dict[str, Any]) -> Inbound:
    return Inbound(Address(data["channel"], data["id"]), data["event_id"],
                   event_from_json(data.get("event")), data.get("kind") or "message",
                   data.get("name"), data.get("language"))


class ChannelLimits:
    """One platform's send limits in this process: its whole rate and each person's."""

    def __init__(self, rate: float, person_rate: float, person_burst: float,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self.clock, self.sleep = clock, sleep
        self.total = Bucket(rate, rate, clock)
        self.person_rate, self.person_burst = person_rate, person_burst
        self.people: dict[str, Bucket] = {}
        self.lock = asyncio.Lock()

    async def wait(self, address: str) -> None:
        bucket = self.people.get(address)
        if bucket is None:
            bucket = self.people[address] = Bucket(self.person_rate, self.person_burst,
                                                   self.clock)
        while (pause := bucket.wait_time()) > 0:
            await self.sleep(pause)
        async with self.lock:
            while (pause := self.total.wait_time()) > 0:
                await self.sleep(pause)
        if len(self.people) > 10_000:  # forget the quiet ones
            self.people = {a: b for a, b in self.people.items() if b.tokens < b.capacity}


class ChannelDoor:
    """The listener's paths for Viber and WhatsApp, and the handling of their stored
    callbacks."""

    def __init__(self, db: Database, inbox: Inbox, service: IntakeService, texts: Texts,
                 sealer: Sealer, channels: dict[str, Any],
                 on_blocked: Callable[[str], Awaitable[None]] | None = None,
                 clock: Callable[[], Any] = utcnow, schedule: Any = None,
                 kick: Callable[[], None] | None = None, shared: Any = None) -> None:
        self.db, self.inbox, self.service, self.texts = db, inbox, service, texts
        self.schedule, self.kick = schedule, kick  # reminders' answers; the outbox's kick
        self.sealer, self.channels, self.on_blocked, self.clock = sealer, channels, on_blocked, clock
        # with REDIS_URL (shared: limits.SharedLimits) each platform's limits are counted across
        # every process, under keys of its own; without it, in this process
        self.limits = {name: shared.channel(name, **LIMITS[name]) if shared is not None
                       else ChannelLimits(**LIMITS[name]) for name in channels}
        for name in channels:
            inbox.channels[name] = self.handle_stored
            inbox.say_again[name] = self.say_again

    def register(self, app: web.Application) -> None:
        if "viber" in self.channels:
            app.router.add_post("/viber", self.viber)
        if "whatsapp" in self.channels:
            app.router.add_get("/whatsapp", self.whatsapp_handshake)
            app.router.add_post("/whatsapp", self.whatsapp)

    # ------------------------------------------------------------------ in

    async def _signed_body(self, request: web.Request, channel: Any) -> bytes | web.Response:
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return web.Response(status=413)
        if not channel.verify(request.headers, body):
            log.warning("callback refused: signature missing or wrong",
                        extra={"event": channel.name})
            return web.Response(status=403)
        return body

    async def viber(self, request: web.Request) -> web.Response:
        channel = self.channels["viber"]
        body = await self._signed_body(request, channel)
        if isinstance(body, web.Response):
            return body
        try:
            found = channel.parse(body)
        except (ValueError, KeyError, TypeError):
            log.warning("Viber callback unreadable")
            return web.Response(status=400)
        welcome: dict[str, Any] | None = None
        for inbound in found:
            if inbound.kind == "opened" and (await self.service.glance(
                    person_key(inbound.address.channel, inbound.address.id)))[0]:
                # the greeting only; nothing is stored of a person who has not written
                texts = self.texts.lang(inbound.language)
                welcome = channel.welcome_body(WordsRender(texts, inbound.language),
                                               "channel.welcome")
                continue
            answer = await self._take(inbound)
            if answer is not None:
                return answer
        return web.json_response(welcome or {})

    async def whatsapp_handshake(self, request: web.Request) -> web.Response:
        challenge = self.channels["whatsapp"].handshake(request.query)
        if challenge is None:
            return web.Response(status=403)
        return web.Response(text=challenge)

    async def whatsapp(self, request: web.Request) -> web.Response:
        channel = self.channels["whatsapp"]
        body = await self._signed_body(request, channel)
        if isinstance(body, web.Response):
            return body
        try:
            found = channel.parse(body)
        except ValueError:
            log.warning("WhatsApp webhook unreadable")
            return web.Response(status=400)
        for inbound in found:
            answer = await self._take(inbound)
            if answer is not None:
                return answer
        return web.json_response({})

    async def _take(self, inbound: Inbound) -> web.Response | None:
        """Store a person's callback before the platform hears back (None: stored, or nothing
        to store); a 500 when it could not be stored (the platform sends it again)."""
        key = person_key(inbound.address.channel, inbound.address.id)
        if inbound.kind == "status":
            await self._status(key, inbound)
            return None
        if inbound.kind == "message" and inbound.event is None:
            return None  # a reaction, a system notice: nothing for the conversation
        event = f"{inbound.address.channel}:{inbound.event_id}"
        try:
            await self.inbox.take(event, key, time.time_ns() // 1000, inbound_to_json(inbound))
        except Exception:
            log.exception("callback could not be stored", extra={"event": inbound.address.channel})
            return web.json_response({}, status=500)
        return None

    async def _status(self, key: str, inbound: Inbound) -> None:
        """WhatsApp's status of a message korak sent settles its outbox row (repo.
        settle_receipt: it went, it goes again — as its template when Meta found the window
        closed —, or it failed); nothing else is stored, and nothing at all for a message no
        row waits for (its person erased). A message the platform could not deliver because
        the person is gone marks them unreachable (when korak knows them at all)."""
        delivery = inbound.delivery
        if delivery is None:
            return
        now = self.clock()
        outcome = kind = None
        if delivery.message_id and delivery.status in ("sent", "delivered", "read", "failed"):
            async with self.db.transaction() as s:
                settled = await repo.settle_receipt(
                    s, key, delivery.message_id, delivery.status, delivery.error, now,
                    now + timedelta(seconds=30), MAX_ATTEMPTS)
            kind, outcome = settled or (None, None)
        if outcome in ("went", "gone") and kind in WORDS:
            await self.db.scrub()  # the words were blanked: their old page leaves SQLite's log
        if outcome in ("window", "retry") and self.kick is not None:
            self.kick()
        if outcome is not None and outcome != "went":
            log.warning("WhatsApp failed a message after taking it",
                        extra={"event": outcome, "error": delivery.error})
        if delivery.status == "failed" and delivery.error in ("blocked", "gone") and \
                not (await self.service.glance(key))[0]:
            await self._blocked(key)

    async def _blocked(self, key: str) -> None:
        if self.on_blocked is not None:
            try:
                await self.on_blocked(key)
            except Exception:
                log.exception("could not mark a person unreachable")

    # ------------------------------------------------------------------ handling

    async def handle_stored(self, payload: Any) -> bool:
        """One stored callback, as the inbox hands it over: the conversation moves on and the
        replies go out. Returns whether its raw copy must go at once (it never holds more than
        the conversation's own event, which the conversation seals or forgets)."""
        inbound = inbound_from_json(payload)
        key = person_key(inbound.address.channel, inbound.address.id)
        event_key = f"{inbound.address.channel}:{inbound.event_id}"
        person = Person(key, inbound.name, inbound.language)
        if inbound.kind == "blocked":
            await self.service.seen(event_key, key)
            await self._blocked(key)
            return False
        if inbound.kind == "opened":
            done = await self.service.open_question(person, event_key)
        else:
            event = inbound.event
            answer = parse_answer_callback(event.text) if isinstance(event, Typed) else None
            if answer is not None and self.schedule is not None:  # Pridem / Ne morem priti
                await self.service.seen(event_key, key)
                await self._say(inbound.address, await self.schedule.answer(key, *answer))
                await self._window_open(key)
                return False
            if isinstance(event, Typed) and self.schedule is not None and \
                    " ".join(event.text.casefold().split()) in TERMINI:  # a participant's sessions
                await self.service.seen(event_key, key)
                await self._say(inbound.address, (await self.schedule.upcoming(key)).text)
                await self._window_open(key)
                return False
            # the first words of someone new start the conversation; on WhatsApp what
            # waited for the window goes now (in the same transaction)
            done = await self.service.handle_with_step(
                person, event, event_key, start_if_new=True,
                release_waiting=inbound.address.channel == "whatsapp")
        if done.says:
            await self.reply(inbound.address, done)
        return False

    async def say_again(self, key: str) -> None:
        """A person whose reply was lost (korak stopped in between): told again what they were
        last told (Inbox.say_again_lost)."""
        channel, address = split_key(key)
        if channel not in self.channels:
            return
        done = await self.service.say_again(key)
        if done.says:
            await self.reply(Address(channel, address), done)

    async def _say(self, address: Address, text: Any) -> None:
        """One catalog text, without buttons, in the person's language."""
        lang = await self.service.language(person_key(address.channel, address.id))
        rendered = self.texts.lang(lang).render(text)
        await self.send(address, self.channels["viber"].message_body(rendered, None)
                        if address.channel == "viber" else whatsapp_channel.text_message(rendered))

    async def _window_open(self, key: str) -> None:
        """The person wrote: what waited for them (WhatsApp's window was closed) goes now."""
        if not key.startswith("whatsapp:"):
            return
        async with self.db.transaction() as s:
            waiting = await repo.due_now(s, key, self.clock())
        if waiting and self.kick is not None:
            self.kick()

    async def reply(self, address: Address, done: Any) -> None:
        channel = self.channels[address.channel]
        texts = WordsRender(self.texts.lang(done.lang), done.lang)  # no slash commands here
        for body in channel.render(texts, done.says, done.step):
            if not await self.send(address, body):
                return

    async def send(self, address: Address, body: dict[str, Any]) -> bool:
        """Send one body within the platform's limits; True when it went. A person who blocked
        korak is marked; a refusal that may pass is tried again a few times."""
        channel = self.channels[address.channel]
        limits = self.limits[address.channel]
        for attempt in range(SEND_TRIES):
            await limits.wait(address.id)
            try:
                await channel.send(address, body)
                return True
            except Refused as exc:
                if exc.kind in ("blocked", "gone"):
                    await self._blocked(person_key(address.channel, address.id))
                    return False
                if exc.kind != "retry" or attempt == SEND_TRIES - 1:
                    log.warning("reply not delivered", extra={"event": address.channel,
                                                              "error": exc.kind})
                    return False
                await asyncio.sleep(exc.retry_after or min(30.0, 0.5 * 2 ** attempt))
        return False

    # ------------------------------------------------------------------ the outbox's sends

    async def deliver(self, address: Address, text: str, buttons: tuple[tuple[str, str], ...],
                      template: tuple[Any, dict[str, str], str] | None, row_id: int | None,
                      template_sent: bool, window_closed: Any = None) -> str | None:
        """One outbox message to a person on Viber or WhatsApp: the text with its buttons
        (label, what a tap sends). WhatsApp outside the 24-hour window (or Meta said so of
        this row before: `window_closed`): the row's template (once), and the row waits until
        the person writes. Returns WhatsApp's id of a text sent (its status settles the row).
        Raises Undeliverable as the Telegram sender does (forbidden: the person blocked korak;
        window: it waits)."""
        channel = self.channels.get(address.channel)
        if channel is None:
            raise Undeliverable("invalid", f"{address.channel} is not on")
        if address.channel == "viber":
            markup = viber_channel.keyboard([[(label, "reply", token)] for label, token
                                             in buttons]) if buttons else None
            body = channel.message_body(text, markup)
        else:
            body = (whatsapp_channel.text_message(text) if not buttons else
                    whatsapp_channel.buttons_message(text, buttons))
        if address.channel != "whatsapp" or await self._in_window(address, window_closed):
            try:
                sent = await self._send_once(address, body)
                return sent if address.channel == "whatsapp" else None
            except Refused as exc:
                if exc.kind != "window" or address.channel != "whatsapp":
                    raise self._undeliverable(address, exc) from exc
        # outside the 24-hour window
        if template is None:
            raise Undeliverable("window", "outside the 24-hour window, no template")
        if template_sent:
            raise Undeliverable("window", "waiting for the person to write")
        kind, params, lang = template
        found = {t.name: t for t in whatsapp_channel.TEMPLATES}[kind]
        payloads = [token for _label, token in buttons][:len(found.buttons)]
        try:
            await self._send_once(address, whatsapp_channel.template_message(
                found, lang, params, payloads))
        except Refused as exc:
            raise self._undeliverable(address, exc) from exc
        if buttons or kind == whatsapp_channel.REMINDER.name:
            return None  # the template is the message itself (a reminder with its buttons)
        if row_id is not None:  # the text waits for the person's answer
            async with self.db.transaction() as s:
                await repo.note_template_sent(s, row_id)
        raise Undeliverable("window_template", "template sent; the message waits for the person")

    async def _in_window(self, address: Address, closed_at: Any = None) -> bool:
        """WhatsApp: did the person write within the last 24 hours (less a margin), and since
        Meta last failed this message as outside the window (`closed_at`)? Meta accepts a
        message outside the window and fails it later, so korak decides first, from when the
        person last wrote (their conversation's last change)."""
        _unknown, last = await self.service.glance(person_key(address.channel, address.id))
        return last is not None and self.clock() - last < WINDOW and (
            closed_at is None or last > closed_at)

    async def _send_once(self, address: Address, body: dict[str, Any]) -> str:
        await self.limits[address.channel].wait(address.id)
        return await self.channels[address.channel].send(address, body)

    def _undeliverable(self, address: Address, exc: Refused) -> Undeliverable:
        kind = {"blocked": "forbidden", "gone": "forbidden", "retry": "server",
                "auth": "unauthorized", "invalid": "bad_request",
                "template": "template"}.get(exc.kind, exc.kind)
        if kind == "forbidden":
            self.inbox.running.start(self._blocked(person_key(address.channel, address.id)))
        return Undeliverable(kind, exc.detail)
