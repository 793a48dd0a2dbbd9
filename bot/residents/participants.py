"""aiogram 3: what participants do with reminders. Pridem / Ne morem priti under a reminder,
and /termini for their next sessions. Everything else goes on to the resident conversation."""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Router
from aiogram.types import CallbackQuery, Message

from dialogs.languages import from_telegram
from storage import repo
from storage.models import person_key

from bot.channels.filters import command_in, data_prefix, private_chat
from bot.channels.sender import Sender, Undeliverable
from bot.channels.telegram import ANSWER_PREFIX, parse_answer_callback
from bot.i18n import Texts
from bot.staff.schedule import ScheduleService

log = logging.getLogger("korak.participants")

TERMINI = ("termini", "termin", "sessions")


class ParticipantFront:
    def __init__(self, service: ScheduleService, sender: Sender, texts: Texts) -> None:
        self.service, self.sender, self.texts = service, sender, texts
        self.router = Router(name="participants")
        self.router.message.register(self.on_termini, private_chat, command_in(TERMINI))
        self.router.callback_query.register(self.on_answer, data_prefix(f"{ANSWER_PREFIX}|"))

    async def _theirs(self, user: Any) -> Texts:
        """The texts in the participant's language (chosen in the conversation, else as their
        Telegram app is set)."""
        async with self.service.db.transaction() as s:
            lang = await repo.resident_lang(s, person_key("telegram", user.id))
        return self.texts.lang(lang or from_telegram(getattr(user, "language_code", None)))

    async def on_termini(self, message: Message) -> None:
        if message.from_user is None:
            return
        say = await self.service.upcoming(person_key("telegram", message.from_user.id))
        texts = await self._theirs(message.from_user)
        try:
            await self.sender.send_message(message.chat.id, texts.render(say.text))
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
        reply = await self.service.answer(person_key("telegram", query.from_user.id), *parsed)
        texts = await self._theirs(query.from_user)
        try:
            await self.sender.send_message(msg.chat.id, texts.render(reply))
        except Undeliverable as exc:
            log.warning("reply not delivered", extra={"error": str(exc)})
