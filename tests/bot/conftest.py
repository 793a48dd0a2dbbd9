"""An aiogram Dispatcher fed with built Update objects; the bot's session is a recorder."""

import itertools
from types import SimpleNamespace
from datetime import datetime, timezone

import pytest
from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.methods import (AnswerCallbackQuery, EditMessageText, GetChat, GetChatMember,
                             SendMessage)
from aiogram.types import CallbackQuery, Chat, Contact, Message, Update, User

from bot.config import Settings
from bot.staff.handoff import HandoffService
from bot.i18n import Texts
from bot.runtime.outbox import OutboxDispatcher
from bot.residents.participants import ParticipantFront
from bot.staff.schedule import ScheduleService
from bot.channels.sender import Sender
from bot.residents.intake import IntakeService
from bot.staff.front import StaffFront
from bot.staff.chat import StaffChat
from bot.channels.telegram import TelegramFront, make_dispatcher
from storage.crypto import Sealer, generate_key
from storage.db import Database

KEY = generate_key()

STAFF = -1001234
COORD_A, COORD_B, STRANGER = 9001, 9002, 9666
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)


class RecordingSession(BaseSession):
    """Answers every Bot API call locally and keeps what was asked. `fail` holds exceptions to
    raise for the next calls, in order."""

    def __init__(self):
        super().__init__()
        self.requests = []
        self.fail = []
        self.ids = itertools.count(1000)
        self.message_id_of = {}
        self.answer_gate = None  # an asyncio.Event: answers to taps wait for it when set
        self.member = "administrator"  # the bot's standing in a group (getChatMember)

    async def make_request(self, bot, method, timeout=None):
        if isinstance(method, AnswerCallbackQuery) and self.answer_gate is not None:
            await self.answer_gate.wait()
        if self.fail:
            exc = self.fail.pop(0)
            if exc is not None:
                raise exc(method)
        self.requests.append(method)
        if isinstance(method, SendMessage):
            mid = next(self.ids)
            self.message_id_of[id(method)] = mid
            return Message(message_id=mid, date=NOW,
                           chat=Chat(id=method.chat_id, type="private"), text=method.text)
        if isinstance(method, AnswerCallbackQuery):
            return True
        if isinstance(method, GetChat):
            return SimpleNamespace(id=method.chat_id, type="supergroup", permissions=None)
        if isinstance(method, GetChatMember):
            return SimpleNamespace(status=self.member, can_send_messages=True)
        return True

    async def close(self):
        pass

    async def stream_content(self, *a, **kw):  # pragma: no cover
        raise NotImplementedError

    def edits(self, chat_id=None):
        return [r for r in self.requests if isinstance(r, EditMessageText)
                and (chat_id is None or r.chat_id == chat_id)]

    def answers(self):
        return [r for r in self.requests if isinstance(r, AnswerCallbackQuery)]

    def sent(self, chat_id=None):
        return [r for r in self.requests if isinstance(r, SendMessage)
                and (chat_id is None or r.chat_id == chat_id)]


class Harness:
    def __init__(self, tmp_path):
        self.settings = Settings(_env_file=None, bot_token="42:TEST", staff_chat_id=STAFF,
                                 coordinator_ids=[COORD_A, COORD_B],
                                 database_url=f"sqlite+aiosqlite:///{tmp_path}/bot.db")
        self.session = RecordingSession()
        self.bot = Bot(token="42:TEST", session=self.session)
        self.db = Database(self.settings.database_url)
        self.texts = Texts(self.settings.locales_dir)

        self.clock = 0.0
        self.slept = []

        async def fake_sleep(seconds):  # time moves on without waiting
            self.slept.append(seconds)
            self.clock += seconds

        self.sender = Sender(self.bot, sleep=fake_sleep, clock=lambda: self.clock,
                             on_forbidden=self._forbidden)
        self.unreachable = []
        self.now = NOW
        self.staff_chat = StaffChat(self.db, self.settings, lambda: self.now)
        self.outbox = OutboxDispatcher(self.db, self.texts, self.sender, lambda: self.now,
                                       staff=self.staff_chat)
        self.sealer = Sealer(KEY)
        self.service = IntakeService(self.db, self.settings, self.texts, self.sealer,
                                     clock=lambda: self.now)
        self.schedule = ScheduleService(self.db, self.settings, lambda: self.now)
        self.handoff = HandoffService(self.db, self.settings, lambda: self.now,
                                      schedule=self.schedule, sealer=self.sealer)
        self.front = TelegramFront(self.service, self.sender, self.texts, self.settings)
        self.staff = StaffFront(self.handoff, self.sender, self.texts, self.settings,
                                self.schedule, self.staff_chat)
        self.participants = ParticipantFront(self.schedule, self.sender, self.texts)
        self.dp = make_dispatcher(self.front, self.staff.router, self.participants.router)
        self.update_ids = itertools.count(1)
        self.message_ids = itertools.count(1)

    async def _forbidden(self, chat_id):
        self.unreachable.append(chat_id)
        await self.handoff.resident_blocked(chat_id)

    async def feed(self, update):
        await self.dp.feed_update(self.bot, update)
        await self.staff.idle()  # card edits run in the background
        await self.front.idle()  # and so do the answers to taps

    def user(self, uid):
        names = {COORD_A: "Mojca", COORD_B: "Breda", STRANGER: "Tine"}
        return User(id=uid, is_bot=False, first_name=names.get(uid, "Ana"))

    async def text(self, uid, text, chat_type="private", chat_id=None, update_id=None,
                   **extra):
        chat = Chat(id=chat_id or uid, type=chat_type)
        msg = Message(message_id=next(self.message_ids), date=NOW, chat=chat,
                      from_user=self.user(uid), text=text, **extra)
        update = Update(update_id=update_id or next(self.update_ids), message=msg)
        await self.feed(update)
        return update

    async def contact(self, uid, phone, owner):
        msg = Message(message_id=next(self.message_ids), date=NOW, chat=Chat(id=uid, type="private"),
                      from_user=self.user(uid),
                      contact=Contact(phone_number=phone, first_name="A", user_id=owner))
        await self.feed(Update(update_id=next(self.update_ids), message=msg))

    async def tap(self, uid, data, update_id=None, chat_id=None, message_id=1):
        chat = Chat(id=chat_id or uid, type="supergroup" if (chat_id or uid) < 0 else "private")
        msg = Message(message_id=message_id, date=NOW, chat=chat, text="…")
        query = CallbackQuery(id=str(next(self.update_ids)), from_user=self.user(uid),
                              chat_instance="ci", message=msg, data=data)
        update = Update(update_id=update_id or next(self.update_ids), callback_query=query)
        await self.feed(update)
        return update

    async def staff_text(self, uid, text, reply_to=None):
        """A message in the staff chat, optionally a Telegram reply to a bot message."""
        extra = {}
        if reply_to is not None:
            extra["reply_to_message"] = Message(message_id=reply_to, date=NOW,
                                                chat=Chat(id=STAFF, type="supergroup"),
                                                text="…", from_user=User(id=42, is_bot=True,
                                                                         first_name="korak"))
        return await self.text(uid, text, chat_type="supergroup", chat_id=STAFF, **extra)

    def card(self):
        """The newest card in the staff chat: (message_id, text, {label: callback_data}),
        with edits applied."""
        cards = [m for m in self.session.sent(STAFF) if m.reply_markup is not None]
        assert cards, "no card was sent"
        msg = cards[-1]
        mid = self.session.message_id_of[id(msg)]
        text, markup = msg.text, msg.reply_markup
        for edit in self.session.edits(STAFF):
            if edit.message_id == mid:
                text, markup = edit.text, edit.reply_markup
        buttons = {b.text: b.callback_data for row in (markup.inline_keyboard if markup else [])
                   for b in row}
        return mid, text, buttons

    async def card_press(self, uid, label):
        mid, _, buttons = self.card()
        assert label in buttons, f"{label!r} not among {list(buttons)}"
        await self.tap(uid, buttons[label], chat_id=STAFF, message_id=mid)

    def last_buttons(self, uid):
        for req in reversed(self.session.sent(uid)):
            markup = req.reply_markup
            if markup is not None and getattr(markup, "inline_keyboard", None):
                return {b.text: b.callback_data for row in markup.inline_keyboard for b in row}
        return {}

    async def press(self, uid, label):
        buttons = self.last_buttons(uid)
        assert label in buttons, f"{label!r} not among {list(buttons)}"
        await self.tap(uid, buttons[label])


@pytest.fixture
async def h(tmp_path):
    harness = Harness(tmp_path)
    await harness.db.create_all()
    yield harness
    await harness.db.dispose()
