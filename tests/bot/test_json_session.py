"""The bot's Bot API session sends JSON: what arrives is what was sent, errors are aiogram's."""

import pytest
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.config import Settings
from bot.bench.fake_api import FakeBotAPI
from bot.channels.telegram import make_bot


async def test_a_message_arrives_whole_as_json_and_comes_back_as_a_message():
    api = FakeBotAPI(global_rate=1000, chat_interval=1.0)
    seen = []
    api.on_message = lambda chat, text, at, params: seen.append(params)
    url = await api.start()
    bot = make_bot(Settings(_env_file=None, bot_token="1:T", telegram_api_url=url))
    try:
        markup = InlineKeyboardMarkup(inline_keyboard=[[
            InlineKeyboardButton(text="Da, strinjam se", callback_data="s|consent|yes")]])
        text = "Živjo, Špela! Čez 3 dni: €, 🙂, \"narekovaji\" & znaki <b>"
        sent = await bot.send_message(501, text, reply_markup=markup)
        assert isinstance(sent, Message) and sent.text == text
        [params] = seen
        assert params["text"] == text and params["chat_id"] == 501
        assert params["reply_markup"] == {"inline_keyboard": [[
            {"text": "Da, strinjam se", "callback_data": "s|consent|yes"}]]}
        with pytest.raises(TelegramRetryAfter):  # the same chat again within a second
            await bot.send_message(501, "še enkrat")
    finally:
        await bot.session.close()
        await api.stop()
    gone = make_bot(Settings(_env_file=None, bot_token="1:T", telegram_api_url=url))
    try:
        with pytest.raises(TelegramNetworkError):  # nobody listens there any more
            await gone.send_message(501, "x")
    finally:
        await gone.session.close()
