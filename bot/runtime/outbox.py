"""Sends what the outbox holds: request cards, messages relayed both ways, reminders and the
digest. APScheduler only ticks this; the database is the truth. A row is rendered when it is
sent, from the state of the request then, so a card never shows yesterday's status."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dialogs import handoff
from dialogs import schedule as sched
from dialogs.cover import no_outcome_reminder
from dialogs.replies import N_, Lines, Text, fence, one_line
from storage import attendance as attendance_store
from storage import erasure, repo
from storage.erasure import Shown
from storage import schedule as schedule_store
from storage.db import Database
from storage.models import GROUP, group_key, person_key, split_key, telegram_chat

from bot.channels.base import Address
from bot.channels.sender import Sender, Undeliverable
from bot.channels.telegram import MAX_TEXT, answer_token, card_markup, reminder_markup
from bot.channels.whatsapp import COORDINATOR_WROTE, REMINDER as REMINDER_TEMPLATE
from bot.i18n import Texts
from bot.runtime.background import Background
from bot.staff import attendance
from bot.staff import cover as absence
from bot.staff.chat import StaffChat
from bot.staff.handoff import Vanished, view
from bot.staff.schedule import session_view


log = logging.getLogger("korak.outbox")

# Sent at most once: after a crash mid-send such a row is not sent again. Everything else is
# sent at least once (a card or a relayed message twice is better than never).
AT_MOST_ONCE = {"reminder"}


@dataclass
class Delivery:
    chat: str  # the receiver's key: a person on their channel, or the staff group
    text: str
    markup: Any = None
    reply_to: int | None = None
    thread: int | None = None
    card_of: int | None = None  # the sent message becomes this request's card
    about: int | None = None  # the sent message belongs to this request (replies reach it)
    edit: int | None = None  # edit this message instead of sending a new one
    # the request this message shows or speaks for: checked just before the send (gone: not
    # sent) and just after it (gone meanwhile: the message is edited to the removal text)
    request: int | None = None
    tolerant: bool = False  # an edit of a message that is gone or cannot be edited is skipped
    erased: int | None = None  # an edit to the removal text of this (erased) request
    sheet: tuple[int, int] | None = None  # the sent message shows (session, part) of a list
    notice: tuple[int, str] | None = None  # it tells the answer of (session, person)
    # a person on Viber or WhatsApp: the buttons as (label, what a tap sends), and WhatsApp's
    # template for outside the 24-hour window (its name, parameters, the person's language)
    buttons: tuple[tuple[str, str], ...] = ()
    template: tuple[str, dict[str, str], str] | None = None
    row: int | None = None  # the outbox row it comes from
    template_sent: bool = False  # the row's template went already: the text waits
    # Meta refused the row's text as outside the window then: the template, unless the person
    # wrote after it
    window_closed: datetime | None = None
    receipt: str | None = None  # WhatsApp: the platform's id of the message, once sent

    @property
    def chat_id(self) -> int:
        """The Telegram chat (the staff group, or a Telegram resident's private chat)."""
        chat = telegram_chat(self.chat)
        if chat is None:
            raise Undeliverable("invalid", f"not a Telegram chat: {split_key(self.chat)[0]}")
        return chat


def _when(value: Any) -> datetime | None:
    """A time kept in a payload (ISO 8601), or None."""
    try:
        return repo.as_utc(datetime.fromisoformat(value)) if isinstance(value, str) else None
    except ValueError:
        return None


class TakenOver(Exception):
    """The row's lease ran out while it waited its turn, and another dispatcher claimed it."""


@dataclass
class Claim:
    """Until when this dispatcher holds a row; renewed right before each send."""

    until: datetime | None


# A message that cannot be edited any more needs no removal text: nothing to do.
_GONE_MESSAGE = ("message to edit not found", "message can't be edited",
                 "message_id_invalid", "message is not modified")

# asks the coordinators to delete an erased request's copies in a group that became a supergroup
OLD_GROUP = "staff_old_group_copies"
# WhatsApp refused a template: the staff chat is told once a template and language
TEMPLATE_REFUSED = "staff_whatsapp_template"
# rows whose payload holds what a person wrote (a resident's words to the staff chat, a
# coordinator's to the resident): once blanked, SQLite's log is emptied of the words too
WORDS = {"relay_to_staff", "relay_to_resident"}
# a coordinator's reply waits for a WhatsApp resident to write (said under the card)
REPLY_WAITS = "staff_reply_waits"

# erasure reasons → the text that replaces a message that showed the request
REMOVED = {"person": N_("handoff.card_deleted"), "retention": N_("handoff.card_expired")}


WINDOW_WAIT = timedelta(days=7)  # WhatsApp, outside the window: when the person writes, or then
MAX_ATTEMPTS = 8  # then a row is failed: kept, listed by `korak outbox failed`
# A claimed row is another dispatcher's to take once this runs out. Short, so the rows a killed
# process held wait little; safe, because a dispatcher renews the lease right before each send
# (hold_claim) and skips a row that was taken over meanwhile.
LEASE = timedelta(seconds=30)


def units(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units: an emoji counts two)."""
    return len(text.encode("utf-16-le")) // 2


def fit(render: Callable[[str], str], text: str, *, fenced: bool = False,
        limit: int = MAX_TEXT) -> list[str]:
    """`text` put into its template (`render`) in as many messages as it takes to stay within
    Telegram's limit, split at line ends or spaces, each part numbered ("(1/2) "); `fenced`:
    each part's lines marked as the person's own words (dialogs.replies.fence)."""
    shape = fence if fenced else (lambda t: t)
    whole = render(shape(text))
    if units(whole) <= limit:
        return [whole]
    room = limit - units(render("")) - units("(99/99) ") - 2
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        while line:
            candidate = f"{current}\n{line}" if current else line
            if units(shape(candidate)) <= room:
                current, line = candidate, ""
                continue
            if current:  # the line goes to the next part
                parts.append(current)
                current = ""
                continue
            cut = max(1, room - 2)
            while units(shape(line[:cut])) > room:
                cut -= 16
            space = line.rfind(" ", 0, cut)
            cut = space if space > cut // 2 else cut
            parts.append(line[:cut])
            line = line[cut:].lstrip(" ")
    if current:
        parts.append(current)
    return [render(shape(f"({i}/{len(parts)}) {part}")) for i, part in enumerate(parts, 1)]


class OutboxDispatcher:
    def __init__(self, db: Database, texts: Texts, sender: Sender,
                 clock: Callable[[], datetime], topics: dict[str, int] | None = None,
                 batch: int = 20, staff: StaffChat | None = None,
                 metrics: Any = None) -> None:
        self.db, self.texts, self.sender, self.clock = db, texts, sender, clock
        self.channels: Any = None  # runtime.channels.ChannelDoor: Viber and WhatsApp
        self.staff = staff
        self.metrics = metrics  # health.Metrics: sent and failed by kind
        self.topics = topics or {}
        self.batch = batch
        self.tz = texts.tz
        self._running = asyncio.Lock()
        self._again = False
        self._kicked = Background()
        self._held: set[int] = set()  # rows claimed here and not finished yet
        self._sending: set[asyncio.Task] = set()  # each chat's sends under way
        self._stopping = False

    def kick(self) -> None:
        """Send what is due now, without waiting for the next tick."""
        self._kicked.start(self.run_once())

    async def idle(self) -> None:
        """Wait until the runs started by kicks are done."""
        await self._kicked.idle()

    async def stop(self, grace: float) -> None:
        """On stopping, before release_held: no row is claimed or begun from now on; the sends
        under way get `grace` seconds to end, then they are cut off. (A row released while its
        send still ran could be claimed by another replica and sent twice.)"""
        self._stopping = True
        running = [task for task in self._sending if not task.done()]
        if running:
            _, late = await asyncio.wait(running, timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    async def release_held(self) -> int:
        """On stopping, after stop(): rows this process claimed and did not finish (a send cut
        off by the stop) go back to waiting at once, their try not counted, for the next process
        to send (not after their lease, one try fewer). A reminder caught mid-send stays as it
        is: it may have reached Telegram, and it goes at most once."""
        held, self._held = sorted(self._held), set()
        if not held:
            return 0
        async with self.db.transaction() as s:
            for row_id in held:
                await repo.release_outbox(s, row_id, unless_sending=True)
        log.info("unsent messages released for the next start", extra={"count": len(held)})
        return len(held)

    async def run_once(self) -> int:
        """Claim and send due rows until none are left; returns how many were sent. Each chat's
        rows go out in a task of their own, in order; a chat that is slow (the staff group's
        20 a minute, a 429) holds up only itself: while it is being served, rows of other
        chats are claimed and sent, never more than `batch` chats at once. A kick that arrives
        while a run is going makes that run look once more before it stops."""
        if self._running.locked():
            self._again = True
            return 0
        sent = 0
        busy: dict[str | None, asyncio.Task] = {}
        async with self._running:
            try:
                while True:
                    self._again = False
                    work: list[tuple] = []
                    room = self.batch - len(busy)
                    if room > 0 and not self._stopping:
                        async with self.db.transaction() as s:
                            rows = await repo.claim_due(
                                s, self.clock(), limit=room, lease=LEASE,
                                skip_chat=self._paused_chat(),
                                skip_chats=[c for c in busy if c is not None])
                            work = [(r.id, r.kind, r.chat, dict(r.payload), r.attempts,
                                     repo.as_utc(r.claimed_until), r.sending_since is not None)
                                    for r in rows]
                        self._held.update(item[0] for item in work)
                    by_chat: dict[str | None, list[tuple]] = {}
                    for item in work:
                        by_chat.setdefault(item[2], []).append(item)
                    for chat, items in by_chat.items():
                        if chat in busy:  # rows without a chat: after the ones in flight
                            busy[chat] = asyncio.ensure_future(self._after(busy[chat], items))
                        else:
                            busy[chat] = asyncio.ensure_future(self._deliver_all(items))
                        self._sending.add(busy[chat])
                        busy[chat].add_done_callback(self._sending.discard)
                    if not busy:
                        if self._again:
                            continue
                        return sent
                    if work and len(busy) < self.batch:
                        continue  # there may be more of other chats: claim them now
                    done, _ = await asyncio.wait(busy.values(), timeout=1.0,
                                                 return_when=asyncio.FIRST_COMPLETED)
                    for chat in [c for c, t in busy.items() if t in done]:
                        task = busy.pop(chat)
                        if task.cancelled():  # cut off by stop(): released for the next start
                            continue
                        if task.exception() is not None:  # rows stay claimed, retried later
                            log.error("outbox chat task failed", exc_info=task.exception())
                        else:
                            sent += task.result()
            finally:
                if busy:  # cancelled: what is being sent is finished, not cut off
                    results = await asyncio.gather(*busy.values(), return_exceptions=True)
                    sent += sum(r for r in results if isinstance(r, int))

    async def _after(self, previous: asyncio.Task, items: list[tuple]) -> int:
        return await previous + await self._deliver_all(items)

    def _paused_chat(self) -> str | None:
        staff = self.staff
        return group_key(staff.id) if staff is not None and staff.paused and staff.id else None

    @staticmethod
    def _is_staff(chat: str | None) -> bool:
        """The staff chat is the one group korak writes to: a group is a kind of receiver."""
        return chat is not None and split_key(chat)[0] == GROUP

    async def _deliver_all(self, items: list[tuple]) -> int:
        sent = 0
        for row_id, kind, chat, payload, attempts, lease, interrupted in items:
            if self._stopping:  # not begun: held, and released for the next start
                continue
            try:
                if chat is not None and chat == self._paused_chat():
                    async with self.db.transaction() as s:  # the staff chat was just paused
                        await repo.release_outbox(s, row_id)
                    continue
                if interrupted and kind in AT_MOST_ONCE:
                    # a crash came between sending and recording it: it may have arrived, and a
                    # reminder must never come twice
                    log.warning("interrupted send not repeated", extra={"outbox_id": row_id})
                    await self._finish(row_id, error="interrupted while sending; not repeated")
                    continue
                # still ours (a slow send, a peer)? Then what it says, from the data as it is
                # now: one transaction
                claim = Claim(lease)
                async with self.db.transaction() as s:
                    if not await self._hold(s, row_id, claim):
                        continue
                    deliveries = await self._render_safely(s, row_id, kind, chat, payload)
                sent += await self._deliver(row_id, kind, deliveries, attempts, claim,
                                            at_most_once=kind in AT_MOST_ONCE)
            except Exception:  # the row stays claimed and is retried after its lease
                log.exception("outbox row failed", extra={"outbox_id": row_id})
        return sent

    async def _finish(self, row_id: int, error: str | None = None,
                      retry_at: datetime | None = None, sent: list[Shown] = (),
                      release: bool = False, failed: bool = False,
                      receipt: str | None = None) -> None:
        """Record the row's end and settle each message sent (erasure.settle_shown: remembered,
        or edited to the removal text when its request was erased while it was being sent), in
        one transaction."""
        self._held.discard(row_id)
        async with self.db.transaction() as s:
            vanished = await erasure.settle_shown(s, sent, self.clock())
            if release:
                await repo.release_outbox(s, row_id)
            elif failed:
                await repo.fail_outbox(s, row_id, self.clock(), error or "failed")
            elif receipt is not None and retry_at is None:
                await repo.await_receipt(s, row_id, self.clock(), receipt)
            else:
                await repo.finish_outbox(s, row_id, self.clock(), error=error,
                                         retry_at=retry_at)
        if vanished:
            log.info("sent message edited: its request was erased meanwhile",
                     extra={"outbox_id": row_id, "count": vanished})
            self.kick()

    async def _render_safely(self, s: Any, row_id: int, kind: str, chat: str | None,
                             payload: dict) -> list[Delivery]:
        if not chat:
            return []
        try:
            out = await self._render(s, kind, chat, payload)
            for d in out:
                d.row, d.template_sent = row_id, bool(payload.get("template_sent"))
                d.window_closed = _when(payload.get("window_closed"))
            return out
        except Exception:
            log.exception("outbox row could not be rendered", extra={"outbox_id": row_id})
            return []

    async def _hold(self, s: Any, row_id: int, claim: Claim) -> bool:
        """Is the row still ours? Then the lease runs LEASE from now."""
        now = self.clock()
        if not await repo.hold_claim(s, row_id, claim.until, now, LEASE):
            return False
        claim.until = now + LEASE
        return True

    async def _deliver(self, row_id: int, kind: str, deliveries: list[Delivery],
                       attempts: int, claim: Claim, at_most_once: bool = False) -> int:
        if not deliveries:
            await self._finish(row_id, error="nothing to send")
            return 0
        sent: list[Shown] = []
        stranded: dict[int, int] = {}  # erased request → its copies left in an old group
        moved: dict[str, str] = {}  # a group that became a supergroup → the supergroup
        d = deliveries[0]
        try:
            for d in deliveries:
                if d.edit is None:  # a message, not an edit: to the supergroup if it moved
                    d.chat = moved.get(d.chat, d.chat)
                try:
                    done = await self._send(d, before=self._before(row_id, d, claim,
                                                                   at_most_once))
                except Undeliverable as exc:
                    if d.edit is not None and exc.kind == "migrated":
                        # a message in a group that became a supergroup: it can never be
                        # edited again (its id did not carry over)
                        if exc.new_chat_id:
                            moved[d.chat] = group_key(exc.new_chat_id)
                            if self.staff is not None and self._is_staff(d.chat):
                                await self.staff.migrated(exc.new_chat_id)
                        if d.erased is not None:
                            stranded[d.erased] = stranded.get(d.erased, 0) + 1
                        continue
                    if d.tolerant and any(g in str(exc).lower() for g in _GONE_MESSAGE):
                        continue  # nothing left to edit
                    raise
                if done is not None:
                    sent.append(done)
            if stranded:  # the coordinators are asked to delete those by hand, once
                await self._ask_to_delete(stranded, next(iter(moved.values()), None))
        except Vanished:
            if d.edit is not None and d.request is not None:  # the removal edit may have
                sent.append(Shown(d.chat_id, d.edit, d.request))  # given way to this one
            await self._finish(row_id, error="request erased before sending", sent=sent)
            return 0
        except TakenOver:  # its lease ran out while it waited its turn: another process has it
            log.warning("outbox row taken over while waiting; not sent here",
                        extra={"outbox_id": row_id})
            if sent:
                await self._finish(row_id, sent=sent, release=True)
            return 0
        except Undeliverable as exc:
            await self._undelivered(row_id, kind, d.chat, exc, attempts, sent, d.template)
            return 0
        # WhatsApp: the row waits for Meta's status about its (last) message before it keeps
        # nothing: Meta may still fail it (settle_receipt)
        receipt = next((x.receipt for x in reversed(deliveries) if x.receipt), None)
        await self._finish(row_id, sent=sent, receipt=receipt)
        if kind in WORDS and receipt is None:
            # blanked as it was finished, but its old page still holds the words in SQLite's
            # write-ahead log until a checkpoint (WhatsApp: when Meta's status settles it)
            await self.db.scrub()
        if self.metrics is not None:
            self.metrics.sent.labels(kind).inc()
        return 1

    async def _tell_waiting(self, row_id: int) -> None:
        """A coordinator's words to a WhatsApp resident wait for the window: the template
        told the person a coordinator wrote; under the card the coordinators read that the
        words go when the person answers (once a row)."""
        staff = self.staff.id if self.staff is not None else None
        if staff is None:
            return
        async with self.db.transaction() as s:
            request_id = await repo.outbox_request(s, row_id)
            if request_id is None:
                return
            await repo.add_outbox(s, kind=REPLY_WAITS, chat=group_key(staff),
                                  due_at=self.clock(), key=f"{REPLY_WAITS}:{row_id}",
                                  payload={"request_id": request_id}, request_id=request_id)
        self.kick()

    async def _tell_template(self, template: tuple[str, dict[str, str], str] | None,
                             detail: str) -> None:
        """WhatsApp refused a template (missing, not approved, paused): the staff chat is told
        once a template and language, with Meta's reason."""
        staff = self.staff.id if self.staff is not None else None
        if staff is None:
            return
        name, lang = (template[0], template[2]) if template else ("?", "?")
        async with self.db.transaction() as s:
            await repo.add_outbox(s, kind=TEMPLATE_REFUSED, chat=group_key(staff),
                                  due_at=self.clock(), key=f"{TEMPLATE_REFUSED}:{name}:{lang}",
                                  payload={"template": name, "lang": lang,
                                           "detail": detail[:200]})
        log.error("WhatsApp refused a template", extra={"event": name, "error": detail[:200]})
        self.kick()

    async def _ask_to_delete(self, stranded: dict[int, int], new_chat: int | None) -> None:
        """Copies of erased requests left in a group that became a supergroup: a notice in the
        staff chat asks the coordinators to delete them there (one per request, keyed, so a
        retry of the erasure does not ask again)."""
        here = self.staff.id if self.staff is not None and self.staff.id else new_chat
        if here is None:
            return
        async with self.db.transaction() as s:
            for rid, count in stranded.items():
                await repo.add_outbox(s, kind=OLD_GROUP, chat=group_key(here),
                                      due_at=self.clock(),
                                      payload={"id": rid, "count": count},
                                      key=f"{OLD_GROUP}:{rid}")
        log.warning("erased request's messages left in the old group; coordinators asked",
                    extra={"count": sum(stranded.values())})
        self.kick()

    async def _undelivered(self, row_id: int, kind: str, chat: str, exc: Undeliverable,
                           attempts: int, sent: list[Shown],
                           template: tuple[str, dict[str, str], str] | None = None) -> None:
        """What becomes of a row Telegram would not take. The staff chat unreachable: the row
        waits (staff messages are paused until the bot can post there again); the group
        became a supergroup: followed, and the row goes again at once. A resident who blocked
        the bot or is gone: nothing more to do. Anything else: tried again with growing waits,
        MAX_ATTEMPTS times, then failed (kept, and logged as an error). Every try counts but a
        wait for the paused staff chat (its rows are not claimed while it is paused)."""
        staff = self._is_staff(chat)
        if staff and self.staff is not None and exc.kind in ("forbidden", "chat_not_found"):
            await self.staff.pause(exc.kind)
            await self._finish(row_id, sent=sent, release=True)
            return
        if staff and self.staff is not None and exc.kind == "migrated" and exc.new_chat_id:
            # followed, and the row goes again at once to the supergroup; the try counts
            await self.staff.migrated(exc.new_chat_id)
            if attempts < MAX_ATTEMPTS:
                await self._finish(row_id, error=exc.kind, retry_at=self.clock(), sent=sent)
                self.kick()
                return
        if not staff and exc.kind in ("forbidden", "chat_not_found"):
            await self._finish(row_id, error=exc.kind, sent=sent)
            return
        if exc.kind in ("window", "window_template"):  # WhatsApp: when the person next writes
            await self._finish(row_id, error="window", sent=sent,
                               retry_at=self.clock() + WINDOW_WAIT)
            if exc.kind == "window_template" and kind == "relay_to_resident":
                await self._tell_waiting(row_id)
            return
        if exc.kind == "template":  # missing or not approved: failed, the staff chat told once
            await self._finish(row_id, error=str(exc)[:200], sent=sent, failed=True)
            await self._tell_template(template, exc.detail)
            return
        if attempts < MAX_ATTEMPTS:
            retry = self.clock() + timedelta(seconds=min(3600, 30 * 2 ** attempts))
            await self._finish(row_id, error=str(exc)[:200], retry_at=retry, sent=sent)
            log.warning("outbox send failed; tried again later",
                        extra={"outbox_id": row_id, "kind": kind, "error": exc.kind})
            return
        await self._finish(row_id, error=str(exc)[:200], sent=sent, failed=True)
        if self.metrics is not None:
            self.metrics.failed.labels(kind).inc()
        log.error("outbox row failed for good; `korak outbox retry` sends it again",
                  extra={"outbox_id": row_id, "kind": kind, "error": exc.kind})

    def _before(self, row_id: int, d: Delivery, claim: Claim, at_most_once: bool):
        """What runs once the send's turn has come, right before the request to Telegram: the
        row must still be this dispatcher's (a message may wait minutes for the staff group's
        turn, longer than the lease: then another process may have taken it over, and sending
        here as well would send it twice), so the lease is renewed; the request it is about
        must still be there; an at-most-once row is marked as being sent."""

        async def check() -> None:
            async with self.db.transaction() as s:
                if not await self._hold(s, row_id, claim):
                    raise TakenOver()
                if d.request is not None and not await repo.request_exists(s, d.request):
                    raise Vanished()
                if at_most_once:
                    await repo.mark_sending(s, row_id, self.clock())
        return check

    async def _send(self, d: Delivery, before=None) -> Shown | None:
        """Send or edit; returns what was sent or edited when it is about a request, for
        _finish to check (and record)."""
        channel, address = split_key(d.chat)
        if channel not in ("telegram", GROUP):  # a person on Viber or WhatsApp
            if self.channels is None:
                raise Undeliverable("invalid", f"{channel} is not on")
            if d.edit is not None:
                return None  # those platforms cannot edit a message: nothing to do
            if before is not None:
                await before()
            d.receipt = await self.channels.deliver(Address(channel, address), d.text,
                                                    d.buttons, d.template, d.row,
                                                    d.template_sent, d.window_closed)
            return None
        if d.edit is not None:
            await self.sender.edit_text(d.chat_id, d.edit, d.text, reply_markup=d.markup,
                                        before=before)
            return None if d.request is None else Shown(d.chat_id, d.edit, d.request)
        kwargs: dict[str, Any] = {}
        if d.markup is not None:
            kwargs["reply_markup"] = d.markup
        if d.reply_to is not None:
            kwargs["reply_to_message_id"] = d.reply_to
            kwargs["allow_sending_without_reply"] = True
        if d.thread is not None:
            kwargs["message_thread_id"] = d.thread
        if before is not None:
            kwargs["before"] = before
        msg = await self.sender.send_message(d.chat_id, d.text, **kwargs)
        message_id = getattr(msg, "message_id", None)
        if d.sheet is not None and message_id is not None:  # an attendance list: remembered
            async with self.db.transaction() as s:
                await attendance_store.remember_sheet(s, d.chat_id, message_id, *d.sheet)
        if d.notice is not None and message_id is not None:  # an answer notice: remembered
            async with self.db.transaction() as s:
                await attendance_store.remember_notice(s, d.chat_id, message_id, *d.notice)
        request_id = d.card_of or d.about or d.request
        if message_id is None or request_id is None:
            return None
        return Shown(d.chat_id, message_id, request_id,
                     remember=(d.card_of or d.about) is not None, card=d.card_of is not None)

    @staticmethod
    async def _request(s: Any, request_id: int | None):
        """The request with its handoff view, or (None, None) when it has been deleted."""
        if request_id is None:
            return None, None
        found = await repo.request_and_reach(s, request_id)
        if found is None:
            return None, None
        req, unreachable = found
        return req, view(req, unreachable)

    async def _render(self, s: Any, kind: str, chat: str, payload: dict) -> list[Delivery]:
        """What a row says (to `chat`, a key), read in the transaction `s`."""
        scheduled = await self._render_schedule(s, kind, chat, payload)
        if scheduled is not None:
            return scheduled
        t, now = self.texts, self.clock()
        if kind == "staff_request_deleted":
            return self._erased(chat, payload)
        if kind == TEMPLATE_REFUSED:
            return [Delivery(chat, t("staff.whatsapp_template_refused", **payload))]
        if kind == OLD_GROUP:
            return [Delivery(chat, t("staff.old_group_copies", id=payload["id"],
                                        count=payload["count"]))]
        if kind == attendance.KIND:  # a session's attendance list, or its refresh
            return [Delivery(group_key(m.chat_id), m.text, m.markup, edit=m.edit,
                             sheet=m.sheet, tolerant=m.edit is not None,
                             thread=self.topics.get(m.site or "") if m.edit is None else None)
                    for m in await attendance.list_messages(s, t, _group_id(chat), payload)]
        if kind == "staff_digest":
            reqs = [view(r) for r in await repo.open_requests(s)]
            return [Delivery(chat, t.render(handoff.digest(reqs, now, self.tz).text))]
        req, current = await self._request(s, payload.get("request_id"))
        if req is None:  # deleted before this was sent: nothing is said about it
            return []
        if kind == "staff_new_request":
            say = handoff.card(current, now)
            return [Delivery(chat, t.render(say.text), card_markup(t, say, req.id),
                             thread=self.topics.get(req.site or ""), card_of=req.id,
                             request=req.id)]
        if kind == "resident_claimed":  # to the resident: in their language
            theirs = t.lang(req.answers.get("lang"))
            return [Delivery(req.person, theirs("handoff.resident_claimed",
                                                 name=payload["name"]), request=req.id)]
        if kind == "relay_to_resident":  # the coordinator's words as written, framed in theirs
            theirs = t.lang(req.answers.get("lang"))
            texts = fit(lambda words: theirs("relay.from_coordinator", name=payload["name"],
                                             text=words), payload["text"])
            # WhatsApp, days later: a template says a coordinator wrote; the words follow
            # when the person answers
            wrote = (COORDINATOR_WROTE.name, {"name": payload["name"]},
                     req.answers.get("lang") or "sl")
            return [Delivery(req.person, text, request=req.id, template=wrote)
                    for text in texts]
        reply_to = req.card_message_id if req.card_chat_id == _group_id(chat) else None
        if kind == "relay_to_staff":  # the person's words fenced, so they cannot pass for ours
            name = one_line(req.answers.get("name") or "—")
            texts = fit(lambda words: t("relay.from_resident", id=req.id, name=name, text=words),
                        payload["text"], fenced=True)
            return [Delivery(chat, text, reply_to=reply_to, about=req.id, request=req.id,
                             thread=self.topics.get(req.site or "")) for text in texts]
        if kind == REPLY_WAITS:
            return [Delivery(chat, t("staff.reply_waits_window", id=req.id,
                                     days=WINDOW_WAIT.days),
                             reply_to=reply_to, about=req.id, request=req.id)]
        if kind == "staff_unreachable":
            out = [Delivery(chat, t("handoff.resident_blocked", id=req.id),
                            reply_to=reply_to, about=req.id, request=req.id)]
            if reply_to is not None:  # the card says so too
                say = handoff.card(current, now, await self._cover(s, current, now))
                out.insert(0, Delivery(chat, t.render(say.text), card_markup(t, say, req.id),
                                       edit=reply_to, request=req.id))
            return out
        if kind == "staff_unclaimed":
            if req.status != "new":
                return []
            return [Delivery(chat, t.render(Text(N_("handoff.remind_unclaimed"), {
                "id": req.id, "waited": now - current.created_at})), reply_to=reply_to,
                about=req.id, request=req.id)]
        if kind == "staff_no_outcome":
            if req.status not in handoff.OWNED:
                return []
            # to its owner; while she is away, to everyone
            cover = await self._cover(s, current, now)
            return [Delivery(chat, t.render(no_outcome_reminder(
                req.id, req.owner_name, current.claimed_at or current.changed_at,
                cover.of(req.owner_id) if cover else None)), reply_to=reply_to,
                about=req.id, request=req.id)]
        if kind == absence.CARD_REFRESH:  # a coordinator away or back: her cards show it
            if reply_to is None:
                return []
            say = handoff.card(current, now, await self._cover(s, current, now))
            return [Delivery(chat, t.render(say.text), card_markup(t, say, req.id),
                             edit=reply_to, request=req.id, tolerant=True)]
        log.error("unknown outbox kind", extra={"kind": kind})
        return []

    async def _cover(self, s: Any, current: handoff.Request, now: datetime):
        """What a claimed request's card shows about absence (dialogs.cover.Cover)."""
        ids = self.staff.settings.coordinator_ids if self.staff is not None else ()
        return await absence.cover_of(s, current, now, self.tz, ids)

    def _erased(self, chat: str, payload: dict) -> list[Delivery]:
        """An erased request: every message that showed it edited to the removal text (in the
        staff chat; a message in the person's own Telegram chat sent just as they erased is
        cleared too), then, when the person asked for it, a notice. The messages are Telegram
        chat ids, where a group's is negative."""
        t, rid = self.texts, payload["id"]
        removed = REMOVED.get(payload.get("reason") or "person", REMOVED["person"])
        out = [Delivery(group_key(where) if where < 0 else person_key("telegram", where),
                        t(removed, id=rid) if where < 0 else t("erased.message"),
                        edit=mid, tolerant=True, erased=rid if where < 0 else None)
               for where, mid in payload.get("messages") or ()]
        if payload.get("card"):  # a row queued by korak 0.1
            out.append(Delivery(chat, t(removed, id=rid), edit=payload["card"], tolerant=True))
        if payload.get("notice", "messages" not in payload):
            out.append(Delivery(chat, t("staff.request_deleted", id=rid)))
        return out

    async def _render_schedule(self, s: Any, kind: str, chat: str, payload: dict
                               ) -> list[Delivery] | None:
        """Reminders and session changes; None when `kind` is not one of them."""
        t, now = self.texts, self.clock()
        if kind not in ("reminder", "session_changed", "staff_not_coming"):
            return None
        row = await schedule_store.get_session(s, payload["session_id"])
        if row is None:
            return []
        session = session_view(row)
        if kind == "reminder":
            if session.cancelled:
                return []
            if session.starts_at <= now:  # never after the session has begun
                log.info("reminder dropped: the session has started",
                         extra={"session_id": session.id})
                return []
            enrolled = await self._enrollment(s, payload)
            if enrolled is None or not enrolled.active or enrolled.person != chat:
                return []
            say = sched.reminder(session, now, self.tz)
            lang = await repo.resident_lang(s, chat)
            theirs = t.lang(lang)
            if split_key(chat)[0] == "telegram":
                return [Delivery(chat, theirs.render(say.text),
                                 reminder_markup(theirs, say, session.id),
                                 request=enrolled.request_id)]
            # Viber and WhatsApp: the same two answers; WhatsApp's template outside the window
            buttons = tuple((theirs.render(b.label), answer_token(session.id, b.id))
                            for row in say.buttons for b in row)
            params = {k: theirs.render(v) if isinstance(v, (Text, Lines)) else str(v)
                      for k, v in say.text.params.items()}
            return [Delivery(chat, theirs.render(say.text), buttons=buttons,
                             template=(REMINDER_TEMPLATE.name, params, lang or "sl"),
                             request=enrolled.request_id)]
        if kind == "session_changed":
            old = payload.get("old_start")
            old_view = None
            if old:
                old_view = sched.Existing(session.id, "", session.title, session.place,
                                          datetime.fromisoformat(old), session.ends_at, False)
            text = sched.change_notice(old_view, session, self.tz, now,
                                       cancelled=payload.get("cancelled", False))
            theirs = t.lang(await repo.resident_lang(s, chat))
            return [Delivery(chat, theirs.render(text))]
        # staff_not_coming: the participant's answer, one message per person and session
        notice = await attendance.notice_message(s, t, _group_id(chat), row,
                                                 await self._enrollment(s, payload))
        if notice is None:
            return []
        return [Delivery(group_key(notice.chat_id), notice.text, reply_to=notice.reply_to,
                         edit=notice.edit, about=notice.request, request=notice.request,
                         notice=notice.shows, tolerant=notice.edit is not None)]

    @staticmethod
    async def _enrollment(s: Any, payload: dict):
        """The enrollment a reminder or a "not coming" row is about (korak 0.1 named the
        person instead)."""
        if "enrollment_id" in payload:
            return await schedule_store.get_enrollment(s, payload["enrollment_id"])
        if payload.get("telegram_id"):
            for e in await schedule_store.enrollments_of(
                    s, person_key("telegram", payload["telegram_id"])):
                return e
        return None


def _group_id(chat: str) -> int | None:
    """The staff group's Telegram chat id behind a receiver's key (None for a person)."""
    channel, address = split_key(chat)
    return int(address) if channel == GROUP else None
