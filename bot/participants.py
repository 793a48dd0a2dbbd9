"""aiogram 3: what participants do with reminders. Pridem / Ne morem priti under a reminder,
and /termini for their next sessions. Everything else goes on to the resident conversation."""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.types import CallbackQuery, Message

from .filters import command_in, data_prefix, private_chat
from .i18n import Texts
from .schedule import ScheduleService
from .sender import Sender, Undeliverable
from .telegram import ANSWER_PREFIX, parse_answer_callback

log = logging.getLogger("korak.participants")

TERMINI = ("termini", "termin", "sessions")


class ParticipantFront:
    def __init__(self, service: ScheduleService, sender: Sender, texts: Texts) -> None:
        self.service, self.sender, self.texts = service, sender, texts
        self.router = Router(name="participants")
        self.router.message.register(self.on_termini, private_chat, command_in(TERMINI))
        self.router.callback_query.register(self.on_answer, data_prefix(f"{ANSWER_PREFIX}|"))

    async def on_termini(self, message: Message) -> None:
        if message.from_user is None:
            return
        say = await self.service.upcoming(message.from_user.id)
        try:
            await self.sender.send_message(message.chat.id, self.texts.render(say.text))
        except Undeliverable as exc:
            log.warning("reply not delivered", extra={"error": str(exc)})

    async def on_answer(self, query: CallbackQuery) -> None:
        msg = query.message
        parsed = parse_answer_callback(query.data)
        private = msg is not None and getattr(msg, "chat", None) is not None and \
            msg.chat.type == "private"
        try:
            await query.answer()
        except Exception:
            log.debug("callback answer failed")
        if parsed is None or not private:
            return
        reply = await self.service.answer(query.from_user.id, *parsed)
        try:
            await self.sender.send_message(msg.chat.id, self.texts.render(reply))
        except Undeliverable as exc:
            log.warning("reply not delivered", extra={"error": str(exc)})
