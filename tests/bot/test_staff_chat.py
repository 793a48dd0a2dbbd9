"""No staff message lost: the staff chat unreachable pauses staff messages (kept, in order)
until the bot can post again; a group turned supergroup is followed; other errors are retried
a bounded number of times and then failed, to be listed and sent again by hand; `korak run`
stops when it cannot post in the staff chat; a relay is never said to be passed on when it
was not; anyone in the staff group besides the coordinators and the bot is warned about."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from aiogram.exceptions import (ClientDecodeError, TelegramBadRequest, TelegramForbiddenError,
                                TelegramMigrateToChat, TelegramUnauthorizedError)
from aiogram.methods import GetChatAdministrators, GetChatMemberCount
from aiogram.types import ChatMemberOwner, User

from bot.app import check_staff_chat
from bot.database import Refused
from bot.runtime.outbox import MAX_ATTEMPTS
from bot.staff.chat import PAUSED
from storage import repo

from .conftest import COORD_A, STAFF, STRANGER
from .test_handlers import U, complete_intake

NEW_STAFF = -100999


def forbidden(method):
    return TelegramForbiddenError(method=method, message="Forbidden: bot was kicked")


def not_found(method):
    return TelegramBadRequest(method=method, message="Bad Request: chat not found")


def migrated(method):
    return TelegramMigrateToChat(method=method, message="migrated",
                                 migrate_to_chat_id=NEW_STAFF)


def unauthorized(method):
    return TelegramUnauthorizedError(method=method, message="Unauthorized")


def undecodable(method):
    return ClientDecodeError("not JSON", ValueError("x"), "<html>")


async def pending(h):
    async with h.db.transaction() as s:
        return await repo.pending_outbox(s)


@pytest.mark.parametrize("error", [forbidden, not_found], ids=["403", "400 chat not found"])
async def test_an_unreachable_staff_chat_pauses_staff_messages_until_it_works(h, error):
    await complete_intake(h)
    h.session.fail = [error]
    await h.outbox.run_once()
    assert h.session.sent(STAFF) == []
    [card] = await pending(h)  # kept, its try not counted
    assert card.kind == "staff_new_request" and card.failed_at is None and card.attempts == 0
    assert h.staff_chat.paused in ("forbidden", "chat_not_found")
    async with h.db.transaction() as s:  # every process sees the pause
        assert await repo.get_setting(s, PAUSED) == h.staff_chat.paused
    # the resident's own messages still go; the staff chat's wait
    await h.text(U, "Ali me lahko pokličete jutri?")
    h.now += timedelta(minutes=5)
    await h.outbox.run_once()
    assert h.session.sent(STAFF) == []
    assert [p.kind for p in await pending(h)] == ["staff_new_request", "relay_to_staff"]
    # the bot was added back: the probe finds out, and both go out, in order
    h.staff_chat._probed -= 3600
    await h.staff_chat.probe(h.bot)
    assert h.staff_chat.paused is None
    await h.outbox.run_once()
    texts = [m.text for m in h.session.sent(STAFF)]
    assert texts[0].startswith("🆕 Nova prošnja") and "pokličete jutri" in texts[1]
    assert await pending(h) == []


async def test_the_probe_keeps_the_pause_while_the_bot_is_still_out(h):
    await h.staff_chat.pause("forbidden")
    h.session.member = "left"
    h.staff_chat._probed -= 3600
    await h.staff_chat.probe(h.bot)
    assert h.staff_chat.paused == "forbidden"


async def test_a_group_that_became_a_supergroup_is_followed(h):
    await complete_intake(h)
    h.session.fail = [migrated]
    await h.outbox.run_once()
    await h.outbox.idle()
    assert h.settings.staff_chat_id == NEW_STAFF
    assert h.session.sent(STAFF) == []
    assert h.session.sent(NEW_STAFF)[0].text.startswith("🆕 Nova prošnja")
    async with h.db.transaction() as s:
        assert await repo.get_setting(s, "staff_chat_migrated") == f"{STAFF} {NEW_STAFF}"
    # a process that starts later learns it from the database
    h.settings.staff_chat_id = STAFF
    h.staff_chat.configured = STAFF
    await h.staff_chat.load()
    assert h.settings.staff_chat_id == NEW_STAFF
    # and the coordinators' commands work in the new chat
    await h.text(9001, "/odprte", chat_type="supergroup", chat_id=NEW_STAFF)
    assert "Odprte prošnje" in h.session.sent(NEW_STAFF)[-1].text


async def test_the_new_supergroup_s_first_message_is_enough_to_follow_it(h):
    await h.text(9001, "x", chat_type="supergroup", chat_id=NEW_STAFF,
                 migrate_from_chat_id=STAFF)
    assert h.settings.staff_chat_id == NEW_STAFF


@pytest.mark.parametrize("error", [unauthorized, undecodable], ids=["401", "undecodable"])
async def test_other_errors_are_retried_a_bounded_number_of_times_then_failed(h, error):
    await complete_intake(h)
    h.session.fail = [error] * 100
    for _ in range(MAX_ATTEMPTS + 2):
        await h.outbox.run_once()
        h.now += timedelta(hours=2)  # past the backoff
    assert h.session.sent(STAFF) == []
    assert await pending(h) == []
    async with h.db.transaction() as s:
        [failed] = await repo.failed_outbox(s)
    assert failed.kind == "staff_new_request" and failed.attempts == MAX_ATTEMPTS
    await h.outbox.run_once()  # a failed row is not tried again by itself
    assert h.session.sent(STAFF) == []
    h.session.fail = []
    async with h.db.transaction() as s:
        assert await repo.retry_failed(s, h.now, [failed.id]) == 1
    await h.outbox.run_once()
    assert h.session.sent(STAFF)[0].text.startswith("🆕 Nova prošnja")


async def test_run_stops_when_the_bot_cannot_post_in_the_staff_chat(h):
    h.session.member = "left"
    with pytest.raises(Refused, match="ne more pisati v skupino koordinatork"):
        await check_staff_chat(h.staff_chat, h.bot, h.texts)
    h.session.member = "administrator"
    h.session.fail = [not_found]
    with pytest.raises(Refused, match="chat_not_found"):
        await check_staff_chat(h.staff_chat, h.bot, h.texts)
    await h.staff_chat.pause("forbidden")
    await check_staff_chat(h.staff_chat, h.bot, h.texts)  # it can: any old pause is lifted
    assert h.staff_chat.paused is None


async def test_without_a_staff_chat_a_relay_is_not_said_to_be_passed_on(h):
    await complete_intake(h)
    h.settings.staff_chat_id = None
    await h.text(U, "Pokličite me po 15. uri")
    told = h.session.sent(U)[-1].text
    assert "posredovali" not in told and "ne moremo posredovati" in told
    assert [p.kind for p in await pending(h)] == ["staff_new_request"]


def group(h, monkeypatch, count, admins=()):
    """The staff group as the Bot API tells it: `count` members, `admins` its administrators
    (the coordinator A, the bot, and whoever else)."""
    answer = h.session.make_request

    async def make_request(bot, method, timeout=None):
        if isinstance(method, GetChatMemberCount):
            return count
        if isinstance(method, GetChatAdministrators):
            return [ChatMemberOwner(user=h.user(COORD_A), is_anonymous=False)] + [
                SimpleNamespace(status="administrator",
                                user=User(id=uid, is_bot=uid == h.bot.id, first_name=name))
                for uid, name in admins]
        return await answer(bot, method, timeout)

    monkeypatch.setattr(h.session, "make_request", make_request)


async def test_a_staff_group_with_others_in_it_is_warned_at_start_and_daily(h, monkeypatch,
                                                                             caplog):
    """Every member sees every card: someone besides the coordinators and the bot is said in
    the staff chat (administrators by name) and in the log (by id, never a name)."""
    group(h, monkeypatch, count=5, admins=[(h.bot.id, "korak"), (STRANGER, "Tine")])
    with caplog.at_level("WARNING", logger="korak.staff"):
        await h.staff_chat.check_members(h.bot, h.texts, h.sender)
    [warning] = [m.text for m in h.session.sent(STAFF)]
    assert warning.startswith("⚠️ V skupini koordinatork so tudi drugi ljudje")
    assert "Članov skupine: 5; koordinatork z botom: 3." in warning
    assert "Skrbniki skupine, ki niso koordinatorke: Tine (9666)." in warning
    [line] = [r.getMessage() for r in caplog.records]
    assert "5 members for 2 coordinators" in line and "9666" in line and "Tine" not in line
    await h.staff_chat.daily_members(h.bot, h.texts, h.sender)  # the same day: said once
    assert len(h.session.sent(STAFF)) == 1
    h.now += timedelta(days=1)  # Friday, when the digest is due
    await h.staff_chat.daily_members(h.bot, h.texts, h.sender)
    assert len(h.session.sent(STAFF)) == 2
    assert "Skrbniki" in h.session.sent(STAFF)[-1].text


async def test_more_members_than_coordinators_is_warned_without_names(h, monkeypatch):
    group(h, monkeypatch, count=4)  # two coordinators, the bot, and someone Telegram won't name
    await h.staff_chat.check_members(h.bot, h.texts, h.sender)
    [warning] = [m.text for m in h.session.sent(STAFF)]
    assert "Članov skupine: 4; koordinatork z botom: 3." in warning
    assert "Skrbniki" not in warning


async def test_a_group_of_coordinators_and_the_bot_is_not_warned(h, monkeypatch):
    async with h.db.transaction() as s:  # a coordinator added by `korak coordinators add`
        await repo.add_coordinator(s, STRANGER, "Tine", h.now)
    group(h, monkeypatch, count=4, admins=[(h.bot.id, "korak"), (STRANGER, "Tine")])
    await h.staff_chat.check_members(h.bot, h.texts, h.sender)
    assert h.session.sent(STAFF) == []
