"""Set-up mode: `korak run` without STAFF_CHAT_ID. Nothing is taken in and nothing is stored;
the bot answers /id (this chat's id and the person's user id, with the next step) and /pomoc
(the steps), to anyone, in a group or in private, and tells a resident in one line that the
service is not open yet. Once STAFF_CHAT_ID is set, a restart starts korak as usual."""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Bot, Router
from aiogram.types import CallbackQuery, Message, Update

from dialogs.help import HELP, ID, not_open, setup_help, setup_id
from dialogs.languages import from_telegram
from dialogs.replies import Text

from bot.channels.filters import split_command
from bot.channels.sender import Sender, Undeliverable
from bot.channels.telegram import answer_quietly
from bot.i18n import Texts

log = logging.getLogger("korak.setup")


class SetupFront:
    def __init__(self, sender: Sender, texts: Texts) -> None:
        self.sender, self.texts = sender, texts
        self.router = Router(name="setup")
        self.router.message.register(self.on_message)
        self.router.callback_query.register(self.on_press)

    async def on_message(self, message: Message) -> None:
        user = message.from_user
        if user is not None and user.is_bot:
            return
        chat = message.chat
        private = chat.type == "private"
        command = split_command(message.text)
        name = command[0] if command is not None else None
        if name in ID:
            text = setup_id(chat.id, not private, user.id if user is not None else None)
        elif name in HELP and (name != "start" or not private):
            text = setup_help()  # /start in private is a resident's: they read not_open
        elif private:
            text = not_open()
            await self._say(chat.id, text, lang=getattr(user, "language_code", None))
            return
        else:
            return  # a group's own talk is none of korak's business
        await self._say(chat.id, text, reply_to=None if private else message.message_id)

    async def on_press(self, query: CallbackQuery) -> None:
        """A button of a message from before (korak ran with a staff chat once): not open."""
        texts = self._texts(getattr(query.from_user, "language_code", None))
        await answer_quietly(query, texts.render(not_open()))

    def _texts(self, lang: str | None) -> Texts:
        """A resident reads the line in the language their Telegram app is set to (staff
        texts stay Slovenian)."""
        return self.texts.lang(from_telegram(lang)) if lang else self.texts

    async def _say(self, chat_id: int, text: Text, reply_to: int | None = None,
                   lang: str | None = None) -> None:
        kwargs: dict[str, Any] = {}
        if reply_to is not None:
            kwargs.update(reply_to_message_id=reply_to, allow_sending_without_reply=True)
        try:
            await self.sender.send_message(chat_id, self._texts(lang).render(text), **kwargs)
        except Undeliverable as exc:
            log.warning("set-up answer not delivered", extra={"error": str(exc)})


class Direct:
    """What `poll` hands a batch of updates to, in set-up mode: straight to the dispatcher,
    nothing stored (set-up mode keeps nothing)."""

    def __init__(self, dp: Any, bot: Bot) -> None:
        self.dp, self.bot = dp, bot

    async def receive_batch(self, updates: list[Update], raw: Any = None) -> None:
        for update in updates:
            try:
                await self.dp.feed_update(self.bot, update)
            except Exception:
                log.exception("set-up mode: an update failed")
