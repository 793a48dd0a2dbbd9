"""Attendance after programme sessions as an application service. When a session has ended, the
leader's tick queues its list for the staff chat (an outbox row, once per session); the list
names the cohort's participants as their cards do, with prisoten / odsoten / opravičeno buttons
per person. A coordinator's press is stored on the attendance row and the list is edited; it
can be changed afterwards. Rules and wording in dialogs/attendance.py, queries in
storage/attendance.py."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from dialogs import attendance as rules
from dialogs.replies import N_, Say, Text
from dialogs.schedule import clock
from storage import attendance as store
from storage import repo
from storage import schedule as schedule_store
from storage.db import Database
from storage.models import Cohort, Enrollment, ProgrammeSession, group_key

from bot.config import Settings
from bot.i18n import Texts

log = logging.getLogger("korak.attendance")

KIND = store.KIND
# a session that ended longer ago than this when korak first looks (it was down, or the
# feature is new) gets no list: a week-old list helps nobody mark anything
WINDOW = timedelta(days=7)


def markup(texts: Texts, say: Say) -> InlineKeyboardMarkup | None:
    if not say.buttons:
        return None
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=texts.render(b.label), callback_data=b.id) for b in row]
        for row in say.buttons])


def _view(row: ProgrammeSession, cohort: Cohort) -> rules.Session:
    return rules.Session(row.id, row.title, cohort.name, repo.as_utc(row.starts_at),
                         repo.as_utc(row.ends_at))


async def listed(s: Any, row: ProgrammeSession, cohort: Cohort) -> list[rules.Listed]:
    """Who is on the session's list, oldest enrollment first."""
    view = _view(row, cohort)
    return [rules.Listed(m.enrollment_id, m.request_id, m.name, m.answer, m.presence)
            for m in await store.members(s, row.id, cohort.id)
            if rules.on_list(m.enrolled_at, m.left_at, view.starts_at, view.ends_at)]


@dataclass(frozen=True)
class ListMessage:
    """A message the outbox sends or edits for a list: `sheet` (session, part) is recorded
    once a new one is sent."""

    chat_id: int
    text: str
    markup: Any
    edit: int | None = None
    sheet: tuple[int, int] | None = None
    site: str | None = None


async def list_messages(s: Any, texts: Texts, chat_id: int, payload: dict) -> list[ListMessage]:
    """What a `staff_attendance` row sends: every part of the session's list, as a new message
    where none shows it yet, else as an edit of each message that does. A refresh (someone on
    it was erased) only edits; a part left with nobody says the list is empty."""
    found = await store.session_and_cohort(s, payload["session_id"])
    if found is None:
        return []
    row, cohort = found
    view = _view(row, cohort)
    people = await listed(s, row, cohort)
    shown: dict[int, list[Any]] = {}
    for m in await store.sheet_messages(s, row.id):
        shown.setdefault(m.part, []).append(m)
    count = len(rules.parts(people))
    out = []
    for part in range(max([count, *(p + 1 for p in shown)])):
        say = rules.sheet(view, people, part)
        text, keys = texts.render(say.text), markup(texts, say)
        if part in shown:
            out += [ListMessage(m.chat_id, text, keys, edit=m.message_id) for m in shown[part]]
        elif not payload.get("refresh"):
            out.append(ListMessage(chat_id, text, keys, sheet=(row.id, part), site=cohort.site))
    return out


@dataclass(frozen=True)
class NoticeMessage:
    """The staff chat's notice of a participant's answer: a new message on her request's card
    (`shows`, the session and her Telegram id, is recorded with it once sent), or an edit of
    the one that shows it. `request`: the request it names, for the outbox to check and
    remember, so erasure edits it."""

    chat_id: int
    text: str
    request: int | None
    reply_to: int | None = None
    edit: int | None = None
    shows: tuple[int, str] | None = None


async def notice_message(s: Any, texts: Texts, chat_id: int, row: ProgrammeSession,
                         enrolled: Enrollment | None) -> NoticeMessage | None:
    """What a `staff_not_coming` row sends: the participant's answer as it is now, as an edit
    of the message that shows it or, when none does and she is not coming, a new one. None
    when there is nothing to tell (she is coming, and was never said not to)."""
    if enrolled is None:
        return None
    answer = (await schedule_store.attendance(s, row.id)).get(enrolled.person)
    shown = await store.notice_shown(s, row.id, enrolled.person)
    if answer is None or (shown is None and answer != "no"):
        return None
    req = None if enrolled.request_id is None else await repo.get_request(s, enrolled.request_id)
    text = texts.render(rules.answer_notice(
        answer, req.answers.get("name") if req else None, req.id if req else None, row.title,
        clock(repo.as_utc(row.starts_at), texts.tz), req.owner_name if req else None))
    request = req.id if req else None
    if shown is not None:
        return NoticeMessage(shown[0], text, request, edit=shown[1])
    reply_to = req.card_message_id if req and req.card_chat_id == chat_id else None
    return NoticeMessage(chat_id, text, request, reply_to=reply_to,
                         shows=(row.id, enrolled.person))


@dataclass(frozen=True)
class Marked:
    """The answer to a press: a notice for the presser (None when it worked), and the part of
    the list to show again in the messages that show it."""

    notice: Text | None
    say: Say | None = None
    messages: tuple[tuple[int, int], ...] = ()


class AttendanceService:
    def __init__(self, db: Database, settings: Settings, clock: Callable[[], datetime],
                 on_outbox: Callable[[], None] | None = None) -> None:
        self.db, self.settings, self.clock, self.on_outbox = db, settings, clock, on_outbox

    async def plan(self) -> int:
        """Queue the list of every session that has ended (in the last week) and has people
        on it, once. Driven by the leader's tick; returns how many were queued."""
        staff = self.settings.staff_chat_id
        if staff is None:
            return 0
        queued = 0
        async with self.db.transaction() as s:
            now = self.clock()
            for row in await store.ended_sessions(s, now - WINDOW, now):
                found = await store.session_and_cohort(s, row.id)
                if found is None or not await listed(s, *found):
                    continue
                ends = repo.as_utc(row.ends_at)
                if await repo.add_outbox(s, kind=KIND, chat=group_key(staff),
                                         payload={"session_id": row.id}, due_at=now,
                                         key=f"attendance:{row.id}:{int(ends.timestamp())}"):
                    queued += 1
        if queued:
            log.info("attendance lists queued", extra={"count": queued})
            if self.on_outbox is not None:
                self.on_outbox()
        return queued

    async def mark(self, session_id: int, enrollment_id: int, presence: str, actor_id: int,
                   chat_id: int, message_id: int) -> Marked:
        """A coordinator pressed a mark on the list in message `message_id` (the caller has
        checked she is one). Stored, and the part of the list with that person comes back to
        be shown in that message and any other copy of it."""
        async with self.db.transaction() as s:
            now = self.clock()
            found = await store.session_and_cohort(s, session_id)
            if found is None:
                return Marked(Text(N_("attendance.gone")))
            row, cohort = found
            if row.cancelled:
                return Marked(Text(N_("attendance.cancelled")))
            if repo.as_utc(row.starts_at) > now:
                return Marked(Text(N_("attendance.not_started")))
            people = await listed(s, row, cohort)
            part = rules.part_of(people, enrollment_id)
            if part is None:  # not on this list (gone, or a forged press)
                return Marked(Text(N_("attendance.not_listed")))
            done = await store.mark(s, session_id, enrollment_id, presence, actor_id, now)
            if done is None:
                return Marked(Text(N_("attendance.not_listed")))
            people = await listed(s, row, cohort)
            say = rules.sheet(_view(row, cohort), people, part)
            copies = {(m.chat_id, m.message_id) for m in await store.sheet_messages(s, row.id)
                      if m.part == part}
        if done[0]:
            log.info("attendance marked", extra={"session_id": session_id})
        return Marked(None, say, tuple(sorted(copies | {(chat_id, message_id)})))
