"""The coordinators' group as the running service knows it: its id (followed when Telegram
turns the group into a supergroup), whether the bot can post there, and a pause of staff
messages while it cannot. What one process learns, every process reads from the database
(the `setting` table), so replicas agree.

Nothing for the staff chat is dropped while it is unreachable: its messages wait in the
outbox, /readyz says so, the log says so, and once a probe finds the bot can post again they
go out in order.

Every member of the group sees every card, so the group must hold the coordinators and the bot
and no one else. The Bot API counts a group's members and lists its administrators, but does
not list every member: at start, and each working day when the digest is due, the count is
compared with the coordinators (and the bot), and administrators who are not coordinators are
named; either finding is a warning in the staff chat and in the log."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (TelegramAPIError, TelegramMigrateToChat, TelegramNetworkError,
                                TelegramRetryAfter, TelegramServerError)
from aiogram.types import User

from dialogs.workhours import digest_key, parse_clock
from dialogs.replies import one_line
from storage import cover as cover_store
from storage import repo
from storage.db import Database

from bot.channels.sender import Sender, Undeliverable
from bot.config import Settings
from bot.i18n import Texts
from bot.staff.cover import names as cover_names
from bot.staff.handoff import working_hours

log = logging.getLogger("korak.staff")

MIGRATED = "staff_chat_migrated"  # "OLD NEW": the configured id and the one it became
PAUSED = "staff_paused"  # why staff messages wait: forbidden | chat_not_found | …
PROBE_EVERY = 60.0  # seconds between checks of a paused staff chat
WRITABLE = ("creator", "administrator", "member")
MEMBERS_CHECKED = "staff_members_checked"  # the local date the group's members were last checked


@dataclass(frozen=True)
class Members:
    """The staff group as far as the Bot API shows it."""

    count: int  # members, the bot among them
    coordinators: int  # coordinators known to korak (COORDINATOR_IDS and the database)
    strangers: tuple[User, ...]  # administrators who are neither a coordinator nor the bot

    @property
    def only_coordinators(self) -> bool:
        return self.count <= self.coordinators + 1 and not self.strangers


async def guarded_names(work: Any) -> None:
    """Looking names up must not stop the start or the daily check."""
    try:
        await work
    except Exception:
        log.exception("coordinators' names not looked up")


class StaffChat:
    def __init__(self, db: Database, settings: Settings, clock: Callable[[], datetime]) -> None:
        self.db, self.settings, self.clock = db, settings, clock
        self.configured = settings.staff_chat_id
        self.paused: str | None = None
        self._probed = 0.0
        self._checked_day: str | None = None  # the members' daily check, as this process knows it

    @property
    def id(self) -> int | None:
        return self.settings.staff_chat_id

    async def load(self) -> None:
        """What the processes have learned: a migration of the configured chat, a pause."""
        async with self.db.transaction() as s:
            migrated = await repo.get_setting(s, MIGRATED)
            self.paused = await repo.get_setting(s, PAUSED)
        if migrated and self.configured is not None:
            old, _, new = migrated.partition(" ")
            if old == str(self.configured) and new.lstrip("-").isdigit():
                self.settings.staff_chat_id = int(new)

    async def migrated(self, new_id: int) -> None:
        """Telegram answered that the group is now the supergroup `new_id`: use it from now on,
        in every process, and move what waits for the old id."""
        old = self.id
        if old is None or old == new_id:
            return
        async with self.db.transaction() as s:
            await repo.set_setting(s, MIGRATED, f"{self.configured} {new_id}", self.clock())
            moved = await repo.move_chat(s, old, new_id)
        self.settings.staff_chat_id = new_id
        log.warning("the staff group became a supergroup; following it",
                    extra={"chat": "group", "count": moved})

    async def pause(self, reason: str) -> None:
        if self.paused == reason:
            return
        async with self.db.transaction() as s:
            await repo.set_setting(s, PAUSED, reason, self.clock())
        self.paused = reason
        self._probed = time.monotonic()
        log.error("the bot cannot post in the staff chat; staff messages wait",
                  extra={"error": reason})

    async def resume(self) -> None:
        async with self.db.transaction() as s:
            await repo.set_setting(s, PAUSED, None, self.clock())
        if self.paused is not None:
            log.warning("the bot can post in the staff chat again; staff messages go out")
        self.paused = None

    async def writable(self, bot: Bot) -> tuple[bool, str]:
        """Can the bot post in the staff chat? (ok, reason). A migration found on the way is
        followed. Network trouble is not the chat's fault: it says "unknown"."""
        if self.id is None:
            return False, "not_set"
        for _ in range(2):
            try:
                chat = await bot.get_chat(self.id)
                member = await bot.get_chat_member(self.id, bot.id)
            except TelegramMigrateToChat as exc:
                await self.migrated(exc.migrate_to_chat_id)
                continue
            except (TelegramNetworkError, TelegramServerError, TelegramRetryAfter,
                    asyncio.TimeoutError):
                return False, "unknown"
            except TelegramAPIError as exc:
                text = (exc.message or "").lower()
                return False, "chat_not_found" if "not found" in text else type(exc).__name__
            status = getattr(member, "status", "")
            if status == "restricted":
                return bool(getattr(member, "can_send_messages", False)), "restricted"
            permissions: Any = getattr(chat, "permissions", None)
            if status == "member" and permissions is not None and \
                    permissions.can_send_messages is False:
                return False, "restricted"
            return status in WRITABLE, status or "unknown"
        return False, "migrated"

    async def probe(self, bot: Bot) -> None:
        """While paused, at most once a minute: can the bot post again? Then resume."""
        if self.paused is None or time.monotonic() - self._probed < PROBE_EVERY:
            return
        self._probed = time.monotonic()
        ok, _ = await self.writable(bot)
        if ok:
            await self.resume()

    async def reads_the_group(self, bot: Bot) -> bool | None:
        """Does the bot see ordinary messages in the staff chat (a schedule file with a
        caption)? Telegram's privacy mode hides them from a bot that is not an administrator.
        None when the Bot API did not say."""
        try:
            me = await bot.me()
            if getattr(me, "can_read_all_group_messages", False):
                return True
            member = await bot.get_chat_member(self.id, me.id)
        except (TelegramAPIError, asyncio.TimeoutError) as exc:
            log.warning("privacy mode not checked", extra={"error": type(exc).__name__})
            return None
        return getattr(member, "status", "") in ("administrator", "creator")

    async def check_privacy(self, bot: Bot, texts: Texts, sender: Sender) -> bool | None:
        """At start: when privacy mode hides the group's messages from the bot, the staff chat
        (and the log) is told what to do. A change of privacy mode takes effect only after the
        bot is removed from the group and added again; making it an administrator, at once."""
        if self.id is None:
            return None
        reads = await self.reads_the_group(bot)
        if reads is False:
            log.warning("privacy mode: the bot does not see ordinary messages in the staff "
                        "chat (schedule files); make it an administrator or turn privacy off")
            try:
                await sender.send_message(self.id, texts("staff.privacy_mode"))
            except Undeliverable as exc:
                log.warning("staff warning not delivered", extra={"error": exc.kind})
        return reads

    async def _members(self, bot: Bot, chat: int) -> Members:
        """What the Bot API tells of the group `chat`, beside the coordinators korak knows."""
        count = await bot.get_chat_member_count(chat)
        admins = await bot.get_chat_administrators(chat)
        async with self.db.transaction() as s:
            known = set(self.settings.coordinator_ids) | await repo.coordinator_ids(s)
        return Members(count, len(known), tuple(a.user for a in admins
                                                if a.user.id not in known and a.user.id != bot.id))

    async def check_members(self, bot: Bot, texts: Texts, sender: Sender) -> None:
        """At start (today's daily check with it)."""
        await self._claim_day()
        await self._warn_strangers(bot, texts, sender)
        await guarded_names(self.learn_names(bot))

    async def daily_members(self, bot: Bot, texts: Texts, sender: Sender) -> None:
        """Each working day when the digest is due, once (the day is kept in the database)."""
        if await self._claim_day():
            await self._warn_strangers(bot, texts, sender)
            await guarded_names(self.learn_names(bot))

    async def learn_names(self, bot: Bot) -> int:
        """Names, not numbers: a coordinator korak knows no name for (never seen in the staff
        chat, not named by `korak coordinators add --name`) is named as getChatMember gives her
        first name; the names of people who are no longer coordinators go. Returns how many
        names were learned."""
        if self.id is None:
            return 0
        async with self.db.transaction() as s:
            team = set(self.settings.coordinator_ids) | await repo.coordinator_ids(s)
            await cover_store.forget_seen(s, team)
            named = await cover_names(s, self.settings.coordinator_ids)
        learned = 0
        for telegram_id in sorted(t for t, name in named.items() if not name):
            try:
                member = await bot.get_chat_member(self.id, telegram_id)
            except (TelegramAPIError, asyncio.TimeoutError) as exc:
                log.warning("a coordinator's name could not be looked up",
                            extra={"error": type(exc).__name__})
                continue
            user = getattr(member, "user", None)
            if user is None or getattr(user, "id", None) != telegram_id:
                continue
            first = one_line(getattr(user, "first_name", "") or "")
            if first:
                async with self.db.transaction() as s:
                    learned += await cover_store.saw_name(s, telegram_id, first, self.clock(),
                                                          only_new=True)
        if learned:
            log.info("coordinators' names learned from Telegram", extra={"count": learned})
        return learned

    async def _claim_day(self) -> bool:
        """Mark today's check as made; False when it already was, or no digest is due now."""
        now = self.clock()
        day = digest_key(now, working_hours(self.settings), parse_clock(self.settings.digest_time))
        if day is None or day == self._checked_day:
            return False
        async with self.db.transaction() as s:
            done = await repo.get_setting(s, MEMBERS_CHECKED) == day
            if not done:
                await repo.set_setting(s, MEMBERS_CHECKED, day, now)
        self._checked_day = day
        return not done

    async def _warn_strangers(self, bot: Bot, texts: Texts, sender: Sender) -> None:
        """Anyone in the group besides the coordinators and the bot: a warning in the staff chat
        (administrators by name) and in the log (by id)."""
        if self.id is None:
            return
        try:
            found = await self._members(bot, self.id)
        except (TelegramAPIError, asyncio.TimeoutError) as exc:
            log.warning("the staff group's members could not be counted",
                        extra={"error": type(exc).__name__})
            return
        if found.only_coordinators:
            return
        log.warning("the staff group has %d members for %d coordinators and the bot; "
                    "administrators who are not coordinators: %s", found.count,
                    found.coordinators, ",".join(str(u.id) for u in found.strangers) or "none")
        names = ", ".join(f"{u.full_name} ({u.id})" for u in found.strangers)
        text = texts("staff.members_warning", count=found.count, expected=found.coordinators + 1,
                     admins=texts("staff.members_admins", names=names) if names else "")
        try:
            await sender.send_message(self.id, text)
        except Undeliverable as exc:
            log.warning("staff warning not delivered", extra={"error": exc.kind})
