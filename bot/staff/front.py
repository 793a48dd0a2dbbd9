"""aiogram 3: the coordinators' side. Card buttons, /odprte, /prosnja N and /pomoc in the staff
chat, and replies to cards relayed to residents. Nothing here shows personal data outside the staff
chat, and nothing changes for anyone who is not a coordinator."""

from __future__ import annotations

import io
import logging
from typing import Any

from aiogram import Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.types import CallbackQuery, Message

from dialogs.handoff import REVEAL, parse_button
from dialogs.help import HELP, staff_help
from dialogs.replies import N_, Say, Text
from dialogs.schedule import site_from_name  # noqa: F401  (here too, as before)
from storage.erasure import Shown

from bot.channels.filters import (data_prefix, in_chat, migrated_from, private_chat, slash_command,
                      split_command)
from bot.channels.sender import Sender, Undeliverable
from bot.channels.telegram import STAFF_PREFIX, answer_quietly, card_markup, parse_staff_callback
from bot.config import Settings
from bot.i18n import Texts
from bot.runtime.background import Background
from bot.staff.chat import StaffChat
from bot.staff.handoff import HandoffService, Vanished
from bot.staff.schedule import ScheduleService

log = logging.getLogger("korak.staff")

STAFF_COMMANDS = {"odprte", "prosnja", "prošnja"}
COVER_COMMANDS = {"odsotna", "nazaj"}  # a coordinator away (until a date) and back
STAFF_COMMANDS |= COVER_COMMANDS
MAX_SCHEDULE_BYTES = 2_000_000


class StaffFront:
    def __init__(self, service: HandoffService, sender: Sender, texts: Texts,
                 settings: Settings, schedule: ScheduleService | None = None,
                 staff_chat: StaffChat | None = None) -> None:
        self.service, self.sender, self.texts, self.settings = service, sender, texts, settings
        self.schedule = schedule
        self.staff_chat = staff_chat
        self._refreshing = Background()
        self.router = Router(name="staff")
        current = lambda: settings.staff_chat_id  # noqa: E731  (followed through a migration)
        self.router.message.register(self.on_migrated, migrated_from(current))
        self.router.message.register(self.on_staff_message, in_chat(current))
        self.router.message.register(self.on_private_command, private_chat, slash_command)
        self.router.callback_query.register(self.on_press, data_prefix(f"{STAFF_PREFIX}|"))

    async def _say(self, chat_id: int, text: Text, reply_to: int | None = None,
                   **kwargs: Any) -> Any:
        if reply_to is not None:
            kwargs.update(reply_to_message_id=reply_to, allow_sending_without_reply=True)
        try:
            return await self.sender.send_message(chat_id, self.texts.render(text), **kwargs)
        except Undeliverable as exc:
            log.warning("staff notice not delivered", extra={"error": str(exc)})
            return None

    async def _show_card(self, chat_id: int, request_id: int, say: Say,
                         thread: int | None) -> None:
        kwargs: dict[str, Any] = {}
        markup = card_markup(self.texts, say, request_id)
        if markup is not None:
            kwargs["reply_markup"] = markup
        if thread is not None:
            kwargs["message_thread_id"] = thread
        try:
            msg = await self.sender.send_message(chat_id, self.texts.render(say.text),
                                                 before=self.service.guard(request_id),
                                                 **kwargs)
        except Vanished:  # erased while the card waited for the group's turn
            await self._say(chat_id, Text(N_("handoff.no_such_request"), {"id": request_id}))
            return
        except Undeliverable as exc:
            log.warning("card not delivered", extra={"error": str(exc)})
            return
        if getattr(msg, "message_id", None) is not None:
            await self.service.settle(Shown(chat_id, msg.message_id, request_id,
                                            remember=True, card=True))

    async def on_migrated(self, message: Message) -> None:
        """The staff group became a supergroup (Telegram says so in the new chat's first
        message): the bot follows it."""
        if self.staff_chat is not None:
            await self.staff_chat.migrated(message.chat.id)

    async def on_staff_message(self, message: Message) -> None:
        user = message.from_user
        if user is None or user.is_bot:
            return
        command = split_command(message.text)
        if command is not None and command[0] in HELP:  # for anyone here: no data in it
            await self._say(message.chat.id, staff_help(), reply_to=message.message_id)
            return
        if command is not None and command[0] in STAFF_COMMANDS:
            if not await self.service.is_coordinator(user.id):
                await self._say(message.chat.id, Text(N_("handoff.not_allowed")),
                                reply_to=message.message_id)
                return
            await self.service.cover.saw(user.id, user.first_name)  # seen under this name
            await self._staff_command(message, *command)
            return
        if message.document is not None and self.schedule is not None:
            if await self.service.is_coordinator(user.id):
                await self._import(message)
            return
        reply = message.reply_to_message
        if command is not None or reply is None:
            return  # colleagues talking among themselves
        if not await self.service.is_coordinator(user.id):
            return
        name = await self.service.cover.saw(user.id, user.first_name)
        if not message.text:
            if await self.service.is_about_request(message.chat.id, reply.message_id):
                await self._say(message.chat.id, Text(N_("handoff.relay_text_only")),
                                reply_to=message.message_id)
            return
        notice = await self.service.relay_to_resident(
            message.chat.id, reply.message_id, message.text, name)
        if notice is not None:
            await self._say(message.chat.id, notice, reply_to=message.message_id)

    async def _import(self, message: Message) -> None:
        """A schedule file sent into the staff chat; the caption names the cohort."""
        chat, doc = message.chat.id, message.document
        cohort = " ".join((message.caption or "").split())
        if not cohort:
            await self._say(chat, Text(N_("schedule.caption_needed")), reply_to=message.message_id)
            return
        if (doc.file_size or 0) > MAX_SCHEDULE_BYTES:
            await self._say(chat, Text(N_("schedule.error.file_too_big")),
                            reply_to=message.message_id)
            return
        try:
            buffer = await message.bot.download(doc, destination=io.BytesIO())
            data = buffer.read(MAX_SCHEDULE_BYTES + 1)
        except Exception:
            log.warning("schedule file could not be downloaded")
            await self._say(chat, Text(N_("schedule.error.download")),
                            reply_to=message.message_id)
            return
        result = await self.schedule.import_file(cohort, doc.file_name or "", data,
                                                 site=site_from_name(cohort))
        await self._say(chat, result.report.text, reply_to=message.message_id)

    async def _staff_command(self, message: Message, name: str, rest: str) -> None:
        chat = message.chat.id
        thread = message.message_thread_id if message.is_topic_message else None
        if name in COVER_COMMANDS:
            user = message.from_user
            reply = (await self.service.cover.away(user.id, user.first_name, rest)
                     if name == "odsotna" else await self.service.cover.back(user.id))
            await self._say(chat, reply, reply_to=message.message_id)
            return
        if name == "odprte":
            say = await self.service.open_list()
            extra = {"message_thread_id": thread} if thread else {}
            await self._say(chat, say.text, **extra)
            return
        number = rest.lstrip("#").strip()
        if not number.isdigit() or len(number) > 12:
            await self._say(chat, Text(N_("handoff.which_request")), reply_to=message.message_id)
            return
        user = message.from_user
        say = await self.service.card(int(number), user.id, user.first_name)
        if say is None:
            await self._say(chat, Text(N_("handoff.no_such_request"), {"id": int(number)}),
                            reply_to=message.message_id)
            return
        await self._show_card(chat, int(number), say, thread)

    async def on_private_command(self, message: Message) -> None:
        """A coordinator trying a staff command in a private chat is pointed to the staff
        chat; everyone else's commands go on to the resident conversation."""
        command = split_command(message.text)
        user = message.from_user
        if (command is None or command[0] not in STAFF_COMMANDS or user is None
                or not await self.service.is_coordinator(user.id)):
            raise SkipHandler()
        await self._say(message.chat.id, Text(N_("cover.staff_chat_only")
                                              if command[0] in COVER_COMMANDS
                                              else N_("handoff.staff_chat_only")))

    async def on_press(self, query: CallbackQuery) -> None:
        msg = query.message
        in_staff_chat = (msg is not None and getattr(msg, "chat", None) is not None
                         and msg.chat.id == self.settings.staff_chat_id)
        parsed = parse_staff_callback(query.data)
        if not in_staff_chat or parsed is None:
            await self._answer(query, Text(N_("handoff.not_allowed") if not in_staff_chat
                                           else N_("handoff.stale")))
            return
        request_id, button = parsed
        action = parse_button(button)
        if action is None:
            await self._answer(query, Text(N_("handoff.stale")))
            return
        if action[0] == REVEAL:  # for the one who pressed, as an alert; the card stays
            shown = await self.service.reveal(request_id, query.from_user.id,
                                              query.from_user.first_name)
            await self._answer(query, shown)
            return
        result = await self.service.press(request_id, action[0], action[1], query.from_user.id,
                                          query.from_user.first_name, cohort_id=action[2])
        await self._answer(query, result.notice)
        if result.card is not None:  # show the card as it is now, stale or changed
            # in the background: the edit waits for the group's limit (20 a minute), and the
            # coordinator's next press must not wait behind it (their updates go one by one)
            self._refreshing.start(self._refresh(msg.chat.id, msg.message_id, result.card,
                                                 request_id))
        if result.announce is not None:  # under the card, for the one who has it now
            self._refreshing.start(self._say(msg.chat.id, result.announce,
                                             reply_to=msg.message_id))

    async def _refresh(self, chat_id: int, message_id: int, card: Say, request_id: int) -> None:
        """The card edited as a press left it; never over the removal text of a request
        erased meanwhile (checked right before the edit and after it)."""
        try:
            await self.sender.edit_text(chat_id, message_id, self.texts.render(card.text),
                                        reply_markup=card_markup(self.texts, card, request_id),
                                        before=self.service.guard(request_id))
            await self.service.settle(Shown(chat_id, message_id, request_id))
        except Vanished:  # erased meanwhile: its removal edit may have given way to this one
            await self.service.settle(Shown(chat_id, message_id, request_id))
        except Undeliverable as exc:
            log.warning("card not edited", extra={"error": str(exc)})
        except Exception:
            log.exception("card not edited")

    async def idle(self) -> None:
        """Wait until the card edits started by presses are done."""
        await self._refreshing.idle()

    async def _answer(self, query: CallbackQuery, notice: Text | None) -> None:
        await answer_quietly(query, None if notice is None else self.texts.render(notice))
