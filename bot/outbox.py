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
from dialogs.replies import N_, Text
from storage import repo
from storage import schedule as schedule_store
from storage.db import Database

from .background import Background
from .handoff import view
from .i18n import Texts
from .schedule import session_view
from .sender import Sender, Undeliverable
from .telegram import card_markup, reminder_markup

log = logging.getLogger("korak.outbox")

# Sent at most once: after a crash mid-send such a row is not sent again. Everything else is
# sent at least once (a card or a relayed message twice is better than never).
AT_MOST_ONCE = {"reminder"}


@dataclass
class Delivery:
    chat_id: int
    text: str
    markup: Any = None
    reply_to: int | None = None
    thread: int | None = None
    card_of: int | None = None  # the sent message becomes this request's card
    about: int | None = None  # the sent message belongs to this request (replies reach it)
    edit: int | None = None  # edit this message instead of sending a new one


class OutboxDispatcher:
    def __init__(self, db: Database, texts: Texts, sender: Sender,
                 clock: Callable[[], datetime], topics: dict[str, int] | None = None,
                 batch: int = 20) -> None:
        self.db, self.texts, self.sender, self.clock = db, texts, sender, clock
        self.topics = topics or {}
        self.batch = batch
        self.tz = texts.tz
        self._running = asyncio.Lock()
        self._again = False
        self._kicked = Background()

    def kick(self) -> None:
        """Send what is due now, without waiting for the next tick."""
        self._kicked.start(self.run_once())

    async def idle(self) -> None:
        """Wait until the runs started by kicks are done."""
        await self._kicked.idle()

    async def run_once(self) -> int:
        """Claim and send due rows; returns how many were sent. A kick that arrives while a
        run is going makes that run look once more before it stops."""
        if self._running.locked():
            self._again = True
            return 0
        sent = 0
        async with self._running:
            while True:
                self._again = False
                async with self.db.transaction() as s:
                    rows = await repo.claim_due(s, self.clock(), limit=self.batch)
                    work = [(r.id, r.kind, r.chat_id, dict(r.payload), r.attempts,
                             repo.as_utc(r.claimed_until), r.sending_since is not None)
                            for r in rows]
                if not work:
                    if self._again:
                        continue
                    return sent
                # chats are served side by side; one chat's messages keep their order
                by_chat: dict[int | None, list[tuple]] = {}
                for item in work:
                    by_chat.setdefault(item[2], []).append(item)
                counts = await asyncio.gather(*(self._deliver_all(items)
                                                for items in by_chat.values()))
                sent += sum(counts)

    async def _deliver_all(self, items: list[tuple]) -> int:
        sent = 0
        for row_id, kind, chat_id, payload, attempts, lease, interrupted in items:
            try:
                if interrupted and kind in AT_MOST_ONCE:
                    # a crash came between sending and recording it: it may have arrived, and a
                    # reminder must never come twice
                    log.warning("interrupted send not repeated", extra={"outbox_id": row_id})
                    await self._finish(row_id, payload,
                                       error="interrupted while sending; not repeated")
                    continue
                # still ours (a slow send, a peer)? Then what it says, from the data as it is
                # now: one transaction
                async with self.db.transaction() as s:
                    if not await repo.hold_claim(s, row_id, lease, self.clock()):
                        continue
                    deliveries = await self._render_safely(s, row_id, kind, chat_id, payload)
                sent += await self._deliver(row_id, payload, deliveries, attempts,
                                            at_most_once=kind in AT_MOST_ONCE)
            except Exception:  # the row stays claimed and is retried after its lease
                log.exception("outbox row failed", extra={"outbox_id": row_id})
        return sent

    async def _finish(self, row_id: int, payload: dict, error: str | None = None,
                      retry_at: datetime | None = None, sent: list[tuple] = ()) -> None:
        """Record the row's end, and which request each sent message belongs to (`sent`: chat,
        message, request, is-card), in one transaction."""
        async with self.db.transaction() as s:
            for chat_id, message_id, request_id, is_card in sent:
                await repo.remember_staff_message(s, chat_id, message_id, request_id,
                                                  card=is_card)
            await repo.finish_outbox(s, row_id, self.clock(), error=error, retry_at=retry_at,
                                     payload=payload)

    async def _render_safely(self, s: Any, row_id: int, kind: str, chat_id: int | None,
                             payload: dict) -> list[Delivery]:
        if not chat_id:
            return []
        try:
            return await self._render(s, kind, chat_id, payload)
        except Exception:
            log.exception("outbox row could not be rendered", extra={"outbox_id": row_id})
            return []

    async def _deliver(self, row_id: int, payload: dict, deliveries: list[Delivery],
                       attempts: int, at_most_once: bool = False) -> int:
        if not deliveries:
            await self._finish(row_id, payload, error="nothing to send")
            return 0

        async def mark() -> None:
            async with self.db.transaction() as s:
                await repo.mark_sending(s, row_id, self.clock())

        sent: list[tuple] = []
        try:
            for d in deliveries:
                about = await self._send(d, before=mark if at_most_once else None)
                if about is not None:
                    sent.append(about)
        except Undeliverable as exc:
            retry = None
            if str(exc) != "forbidden" and attempts < 8:
                retry = self.clock() + timedelta(seconds=min(3600, 30 * 2 ** attempts))
            await self._finish(row_id, payload, error=str(exc), retry_at=retry, sent=sent)
            log.warning("outbox send failed", extra={"outbox_id": row_id, "error": str(exc)})
            return 0
        await self._finish(row_id, payload, sent=sent)
        return 1

    async def _send(self, d: Delivery, before=None) -> tuple | None:
        """Send or edit; returns (chat, message, request, is-card) when the sent message belongs
        to a request (replies to it reach the request), for _finish to record."""
        if d.edit is not None:
            await self.sender.edit_text(d.chat_id, d.edit, d.text, reply_markup=d.markup)
            return None
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
        request_id = d.card_of or d.about
        if message_id is not None and request_id is not None:
            return d.chat_id, message_id, request_id, d.card_of is not None
        return None

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

    async def _render(self, s: Any, kind: str, chat_id: int, payload: dict) -> list[Delivery]:
        """What a row says, read in the transaction `s`."""
        scheduled = await self._render_schedule(s, kind, chat_id, payload)
        if scheduled is not None:
            return scheduled
        t, now = self.texts, self.clock()
        if kind == "staff_request_deleted":
            out = [Delivery(chat_id, t("staff.request_deleted", id=payload["id"]))]
            if payload.get("card"):  # the card's personal data goes too
                out.insert(0, Delivery(chat_id, t("handoff.card_deleted", id=payload["id"]),
                                       edit=payload["card"]))
            return out
        if kind == "staff_digest":
            reqs = [view(r) for r in await repo.open_requests(s)]
            return [Delivery(chat_id, t.render(handoff.digest(reqs, now).text))]
        req, current = await self._request(s, payload.get("request_id"))
        if req is None:  # deleted before this was sent: nothing is said about it
            return []
        if kind == "staff_new_request":
            say = handoff.card(current, now)
            return [Delivery(chat_id, t.render(say.text), card_markup(t, say, req.id),
                             thread=self.topics.get(req.site or ""), card_of=req.id)]
        if kind == "resident_claimed":
            return [Delivery(req.chat_id, t("handoff.resident_claimed", name=payload["name"]))]
        if kind == "relay_to_resident":
            text = t("relay.from_coordinator", name=payload["name"], text=payload["text"])
            return [Delivery(req.chat_id, text)]
        reply_to = req.card_message_id if req.card_chat_id == chat_id else None
        if kind == "relay_to_staff":
            text = t("relay.from_resident", id=req.id, name=req.answers.get("name") or "—",
                     text=payload["text"])
            return [Delivery(chat_id, text, reply_to=reply_to, about=req.id,
                             thread=self.topics.get(req.site or ""))]
        if kind == "staff_unreachable":
            out = [Delivery(chat_id, t("handoff.resident_blocked", id=req.id),
                            reply_to=reply_to, about=req.id)]
            if reply_to is not None:  # the card says so too
                say = handoff.card(current, now)
                out.insert(0, Delivery(chat_id, t.render(say.text), card_markup(t, say, req.id),
                                       edit=reply_to))
            return out
        if kind == "staff_unclaimed":
            if req.status != "new":
                return []
            return [Delivery(chat_id, t.render(Text(N_("handoff.remind_unclaimed"), {
                "id": req.id, "waited": now - current.created_at})), reply_to=reply_to,
                about=req.id)]
        if kind == "staff_no_outcome":
            if req.status not in handoff.OWNED:
                return []
            return [Delivery(chat_id, t.render(Text(N_("handoff.remind_no_outcome"), {
                "id": req.id, "owner": req.owner_name or "—",
                "since": current.claimed_at or current.changed_at})), reply_to=reply_to,
                about=req.id)]
        log.error("unknown outbox kind", extra={"kind": kind})
        return []

    async def _render_schedule(self, s: Any, kind: str, chat_id: int, payload: dict
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
            still = any(e.chat_id == chat_id for e in await schedule_store.enrollments_of(
                s, payload["telegram_id"]))
            if not still:
                return []
            say = sched.reminder(session, now, self.tz)
            return [Delivery(chat_id, t.render(say.text), reminder_markup(t, say, session.id))]
        if kind == "session_changed":
            old = payload.get("old_start")
            old_view = None
            if old:
                old_view = sched.Existing(session.id, "", session.title, session.place,
                                          datetime.fromisoformat(old), session.ends_at, False)
            text = sched.change_notice(old_view, session, self.tz, now,
                                       cancelled=payload.get("cancelled", False))
            return [Delivery(chat_id, t.render(text))]
        # staff_not_coming: on the card of the participant's request, naming its owner
        reqs = await repo.requests_of(s, payload["telegram_id"])
        req = reqs[-1] if reqs else None
        name = (req.answers.get("name") if req else None) or "—"
        text = t.render(Text(N_("reminder.staff_not_coming"), {
            "name": name, "id": req.id if req else "—", "title": session.title,
            "when": sched.clock(session.starts_at, self.tz),
            "owner": (req.owner_name if req else None) or "—"}))
        reply_to = req.card_message_id if req and req.card_chat_id == chat_id else None
        return [Delivery(chat_id, text, reply_to=reply_to, about=req.id if req else None)]
