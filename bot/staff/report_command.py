"""aiogram 3: /porocilo and the attendance lists in the staff chat, for coordinators only.
/porocilo [mesec | četrtletje | leto | 2027-01 | 2027-Q1 | 2027] posts a short text summary and
the report's page as a photo (a whole month, quarter or year, nothing else); /porocilo xlsx
[period] (or csv, png) sends the whole report as a file into the staff chat instead;
the buttons on an attendance list mark a person present, absent or excused. This router sees
updates before the staff router and takes only these."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.types import CallbackQuery, Message

from dialogs import attendance as att
from dialogs import report as rep
from dialogs.replies import N_, Say, Text

from bot.channels.filters import command_in, data_prefix, in_chat, private_chat, split_command
from bot.channels.sender import Sender, Undeliverable
from bot.channels.telegram import answer_quietly
from bot.config import Settings
from bot.i18n import Texts
from bot.runtime.background import Background
from bot.staff.attendance import AttendanceService, markup
from bot.staff.reports import FORMATS, ReportService, render, to_png

log = logging.getLogger("korak.reporting")

REPORT = ("porocilo", "poročilo")
FILE_WORDS = {"xlsx": "xlsx", "excel": "xlsx", "csv": "csv", "png": "png"}


def file_format(rest: str) -> tuple[str | None, str]:
    """The file asked for and the period: "xlsx 2027-Q1" (or "2027-Q1 xlsx") → ("xlsx",
    "2027-Q1"); a period alone → (None, it)."""
    words = rest.split()
    for at in (0, -1):
        if words and (fmt := FILE_WORDS.get(words[at].casefold().lstrip("."))) in FORMATS:
            del words[at]
            return fmt, " ".join(words)
    return None, rest


class ReportingFront:
    def __init__(self, reports: ReportService, attendance: AttendanceService,
                 is_coordinator: Callable[[int], Awaitable[bool]], sender: Sender,
                 texts: Texts, settings: Settings) -> None:
        self.reports, self.attendance = reports, attendance
        self.is_coordinator = is_coordinator
        self.sender, self.texts, self.settings = sender, texts, settings
        self._editing = Background()
        self.router = Router(name="reporting")
        current = lambda: settings.staff_chat_id  # noqa: E731  (followed through a migration)
        self.router.message.register(self.on_report, in_chat(current), command_in(REPORT))
        self.router.message.register(self.on_private_report, private_chat, command_in(REPORT))
        self.router.callback_query.register(self.on_mark, data_prefix(f"{att.PREFIX}|"))

    async def _say(self, chat_id: int, text: Text | Any, reply_to: int | None = None,
                   **kwargs: Any) -> Any:
        if reply_to is not None:
            kwargs.update(reply_to_message_id=reply_to, allow_sending_without_reply=True)
        try:
            return await self.sender.send_message(chat_id, self.texts.render(text), **kwargs)
        except Undeliverable as exc:
            log.warning("staff notice not delivered", extra={"error": str(exc)})
            return None

    # ------------------------------------------------------------------ /porocilo

    async def on_report(self, message: Message) -> None:
        user = message.from_user
        if user is None or user.is_bot:
            return
        chat = message.chat.id
        if not await self.is_coordinator(user.id):
            await self._say(chat, Text(N_("handoff.not_allowed")), reply_to=message.message_id)
            return
        thread = message.message_thread_id if message.is_topic_message else None
        extra: dict[str, Any] = {"message_thread_id": thread} if thread else {}
        _, rest = split_command(message.text) or ("", "")
        fmt, rest = file_format(rest)
        period = rep.parse_period(rest, self.reports.today())
        if period is None:
            await self._say(chat, Text(N_("report.usage")), reply_to=message.message_id)
            return
        try:
            report = await self.reports.build(period)
        except Exception:
            log.exception("report failed")
            await self._say(chat, Text(N_("report.failed")), reply_to=message.message_id)
            return
        mark = self.reports.imprint(report, self.texts)
        if fmt is not None:
            await self._send_file(chat, message.message_id, report, fmt, mark, extra)
            return
        await self._say(chat, rep.summary(report).text, **extra)
        if not report.requests and not report.sessions:
            return  # an empty chart says nothing the text did not
        try:  # drawing takes a fraction of a second: off the event loop
            png = await asyncio.to_thread(to_png, report, self.texts, mark)
        except Exception:
            log.exception("report chart failed")
            return
        caption = self.texts("report.chart.caption", start=report.first, end=report.last)
        try:
            await self.sender.send_photo(chat, png, f"porocilo-{period.key}.png",
                                         caption=caption, **extra)
        except Undeliverable as exc:
            log.warning("report chart not delivered", extra={"error": str(exc)})

    async def _send_file(self, chat: int, reply_to: int, report: rep.Report, fmt: str,
                         mark: Any, extra: dict[str, Any]) -> None:
        """The whole report as a file (a workbook, a CSV or the page as a PNG document) in the
        staff chat, through the one sending path; a file that cannot be made or sent is
        said in one line."""
        try:
            data = await asyncio.to_thread(render, report, self.texts, fmt, mark)
        except Exception:
            log.exception("report file failed")
            await self._say(chat, Text(N_("report.failed")), reply_to=reply_to)
            return
        caption = self.texts("report.file.caption", start=report.first, end=report.last)
        try:
            await self.sender.send_document(chat, data, f"porocilo-{report.period.key}.{fmt}",
                                            caption=caption, **extra)
        except Undeliverable as exc:
            log.warning("report file not delivered", extra={"error": str(exc)})
            await self._say(chat, Text(N_("report.file.failed")), reply_to=reply_to)

    async def on_private_report(self, message: Message) -> None:
        """A coordinator asking for the report in a private chat is pointed to the staff chat;
        anyone else's /porocilo goes on to the resident conversation."""
        user = message.from_user
        if user is None or not await self.is_coordinator(user.id):
            raise SkipHandler()
        await self._say(message.chat.id, Text(N_("handoff.staff_chat_only")))

    # ------------------------------------------------------------------ attendance buttons

    async def on_mark(self, query: CallbackQuery) -> None:
        msg = query.message
        in_staff_chat = (msg is not None and getattr(msg, "chat", None) is not None
                         and msg.chat.id == self.settings.staff_chat_id)
        parsed = att.parse_callback(query.data)
        if not in_staff_chat or not await self.is_coordinator(query.from_user.id):
            await self._answer(query, Text(N_("handoff.not_allowed")))
            return
        if parsed is None:
            await self._answer(query, Text(N_("handoff.stale")))
            return
        result = await self.attendance.mark(*parsed, query.from_user.id, msg.chat.id,
                                            msg.message_id)
        await self._answer(query, result.notice)
        if result.say is not None:
            # in the background, as card edits are: the group's limit must not hold up the
            # coordinator's next press
            self._editing.start(self._show(result.say, result.messages))

    async def _show(self, say: Say, messages: tuple[tuple[int, int], ...]) -> None:
        text, keys = self.texts.render(say.text), markup(self.texts, say)
        for chat_id, message_id in messages:
            try:
                await self.sender.edit_text(chat_id, message_id, text, reply_markup=keys)
            except Undeliverable as exc:
                log.warning("attendance list not edited", extra={"error": str(exc)})
            except Exception:
                log.exception("attendance list not edited")

    async def idle(self) -> None:
        """Wait until the list edits started by presses are done."""
        await self._editing.idle()

    async def _answer(self, query: CallbackQuery, notice: Text | None) -> None:
        await answer_quietly(query, None if notice is None else self.texts.render(notice))
