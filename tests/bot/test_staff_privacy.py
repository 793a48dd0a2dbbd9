"""Privacy mode (issue 22, point 12): Telegram hides a group's ordinary messages from a bot that
is not an administrator, so a schedule file with a caption never reaches korak. At start korak
asks getMe and the bot's standing in the staff chat, and says in the staff chat what to do."""

from types import SimpleNamespace

import pytest
from aiogram.methods import GetChatMember, GetMe

from .conftest import STAFF


def answering(h, *, reads_all, status):
    record = h.session.make_request

    async def make_request(bot, method, timeout=None):
        if isinstance(method, GetMe):
            h.session.requests.append(method)
            return SimpleNamespace(id=42, is_bot=True, first_name="korak",
                                   can_read_all_group_messages=reads_all)
        if isinstance(method, GetChatMember):
            h.session.requests.append(method)
            return SimpleNamespace(status=status, can_send_messages=True,
                                   user=SimpleNamespace(id=method.user_id, first_name="x"))
        return await record(bot, method, timeout)
    h.session.make_request = make_request


@pytest.mark.parametrize("reads_all,status,warned", [
    (False, "member", True),  # privacy mode on, an ordinary member: files never arrive
    (False, "administrator", False),  # an administrator sees everything
    (True, "member", False),  # privacy mode off
])
async def test_the_staff_chat_is_told_when_the_bot_cannot_read_it(h, reads_all, status, warned):
    answering(h, reads_all=reads_all, status=status)
    reads = await h.staff_chat.check_privacy(h.bot, h.texts, h.sender)
    assert reads is (not warned)
    sent = [m.text for m in h.session.sent(STAFF)]
    if not warned:
        assert sent == []
        return
    [text] = sent
    assert "način zasebnosti" in text and "skrbnika" in text and "/setprivacy" in text
    assert "odstranite iz skupine in ga znova dodajte" in text  # or the change does not apply


async def test_a_bot_api_that_does_not_answer_warns_no_one(h):
    from aiogram.exceptions import TelegramNetworkError

    h.session.fail = [lambda m: TelegramNetworkError(m, "down")]
    assert await h.staff_chat.check_privacy(h.bot, h.texts, h.sender) is None
    assert h.session.sent(STAFF) == []


def test_the_readme_says_how_to_turn_privacy_mode_off():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert "/setprivacy" in readme and "can_read_all_group_messages" in readme
