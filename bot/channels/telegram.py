"""aiogram 3: Telegram updates become plain dialog events; plain replies become messages."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiogram import BaseMiddleware, Bot, Dispatcher, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import GetUpdates
from aiogram.methods.base import Response
from aiohttp import ClientError
from aiogram.types import (CallbackQuery, ErrorEvent, InlineKeyboardButton,
                           InlineKeyboardMarkup, KeyboardButton, Message, ReplyKeyboardMarkup,
                           ReplyKeyboardRemove, Update)

from dialogs.intake import Choice, Event, Media, SharedContact
from dialogs.languages import from_telegram
from dialogs.replies import Say
from storage.models import person_key, telegram_chat

from bot.channels.base import choice_token, gather, parse_choice_token, text_event
from bot.channels.filters import private_chat
from bot.channels.sender import Sender, Undeliverable
from bot.config import Settings
from bot.i18n import Texts
from bot.residents.intake import IntakeService, KeyedLocks, Person
from bot.runtime.background import Background
from bot.runtime.inbox import event_of

log = logging.getLogger("korak.bot")


def update_event(update: Any) -> str | None:
    """A Telegram update's key in the inbox (None: not from the inbox, e.g. korak chat)."""
    uid = getattr(update, "update_id", None)
    return None if uid is None else event_of(uid)


def render(texts: Texts, say: Say, step: str) -> tuple[str, Any]:
    """One plain reply as (text, reply_markup)."""
    text = texts.render(say.text)
    if say.share_contact is not None:
        rows = [[KeyboardButton(text=texts.render(say.share_contact), request_contact=True)]]
        rows += [[KeyboardButton(text=texts.render(b.label))] for row in say.buttons for b in row]
        return text, ReplyKeyboardMarkup(keyboard=rows, resize_keyboard=True,
                                         one_time_keyboard=True)
    if say.buttons:
        return text, inline_keyboard(tuple(
            tuple((texts.render(b.label), choice_token(step, b.id)) for b in row)
            for row in say.buttons))
    return text, None


_KEYBOARDS: dict[tuple, InlineKeyboardMarkup] = {}


def inline_keyboard(rows: tuple[tuple[tuple[str, str], ...], ...]) -> InlineKeyboardMarkup:
    """An inline keyboard from rows of (label, callback data). Every resident is asked the
    same questions, so each keyboard is built (and validated by pydantic, which was a
    noticeable part of an update's time) once and then reused; the markup is never changed
    after it is made. The few keyboards with a person's own words (their name) are what
    fills the cache, so it is emptied when it grows large."""
    markup = _KEYBOARDS.get(rows)
    if markup is None:
        if len(_KEYBOARDS) >= 2048:
            _KEYBOARDS.clear()
        markup = _KEYBOARDS[rows] = InlineKeyboardMarkup(inline_keyboard=[
            [InlineKeyboardButton(text=label, callback_data=data) for label, data in row]
            for row in rows])
    return markup


MAX_TEXT = 4096  # Telegram's limit for one message


def compose(texts: Texts, says: list[Say], step: str, hide_keyboard: bool = False
            ) -> list[tuple[str, Any]]:
    """The replies as messages: a text without buttons goes at the top of the message that
    follows it, so an answer gets one message, not an acknowledgement and then a question
    (fewer notifications on an old phone, and half the requests to Telegram).

    `hide_keyboard`: a reply keyboard was showing and the replies do not show it again. A
    message carries one keyboard, so the first text without buttons goes on its own with the
    keyboard's removal (when every reply has buttons, the keyboard stays until the next such
    text; it was one-time and folds away after use anyway)."""
    rendered = [render(texts, say, step) for say in says]
    if any(isinstance(markup, ReplyKeyboardMarkup) for _, markup in rendered):
        hide_keyboard = False
    if hide_keyboard:
        for i, (text, markup) in enumerate(rendered):
            if markup is None:
                rendered[i] = (text, ReplyKeyboardRemove())
                break
    return gather(rendered, MAX_TEXT)


STAFF_PREFIX = "h"


def card_markup(texts: Texts, say: Say, request_id: int) -> InlineKeyboardMarkup | None:
    """A request card's buttons: callback data carries ids only ("h|request|action:version");
    the server checks everything again when one is pressed."""
    if not say.buttons:
        return None
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=texts.render(b.label),
                              callback_data=f"{STAFF_PREFIX}|{request_id}|{b.id}") for b in row]
        for row in say.buttons])


ANSWER_PREFIX = "a"


def answer_token(session_id: int, answer: str) -> str:
    """What Pridem / Ne morem priti under a reminder send, on every channel: "a|session|yes"."""
    return f"{ANSWER_PREFIX}|{session_id}|{answer}"


def reminder_markup(texts: Texts, say: Say, session_id: int) -> InlineKeyboardMarkup:
    """Pridem / Ne morem priti under a reminder: "a|session|yes"."""
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=texts.render(b.label),
                              callback_data=answer_token(session_id, b.id)) for b in row]
        for row in say.buttons])


def parse_answer_callback(data: str | None) -> tuple[int, str] | None:
    parts = (data or "").split("|")
    if (len(parts) != 3 or parts[0] != ANSWER_PREFIX or not parts[1].isdigit()
            or len(parts[1]) > 18 or parts[2] not in ("yes", "no")):
        return None
    return int(parts[1]), parts[2]


def parse_staff_callback(data: str | None) -> tuple[int, str] | None:
    parts = (data or "").split("|")
    if len(parts) != 3 or parts[0] != STAFF_PREFIX or not parts[1].isdigit() or len(parts[1]) > 18:
        return None
    return int(parts[1]), parts[2]


def message_event(message: Message) -> Event:
    if message.contact is not None:
        own = message.from_user is not None and message.contact.user_id == message.from_user.id
        return SharedContact(message.contact.phone_number or "", own)
    if message.text is None:
        return Media(str(message.content_type))
    return text_event(message.text)


async def answer_quietly(query: CallbackQuery, alert: str | None = None) -> None:
    """Stop a button's spinner, with an alert for the one who pressed it when there is one
    (Telegram shows at most 200 characters of it)."""
    try:
        if alert is None:
            await query.answer()
        else:
            await query.answer(alert[:200], show_alert=True)
    except Exception:  # an old query can no longer be answered; the tap still counts
        log.debug("callback answer failed")


class TelegramFront:
    """Wires the handlers to the service and the sending path."""

    def __init__(self, service: IntakeService, sender: Sender, texts: Texts,
                 settings: Settings) -> None:
        self.service, self.sender, self.texts, self.settings = service, sender, texts, settings
        self.router = Router(name="resident")
        self.router.message.register(self.on_message, private_chat)
        self.router.callback_query.register(self.on_callback)
        self.router.errors.register(self.on_error)
        self._answering = Background()

    async def reply(self, chat_id: int, says: list[Say], step: str,
                    hide_keyboard: bool = False, lang: str | None = None) -> None:
        for text, markup in compose(self.texts.lang(lang), says, step, hide_keyboard):
            try:
                await self.sender.send_message(chat_id, text, reply_markup=markup)
            except Undeliverable as exc:
                log.warning("reply not delivered", extra={"error": str(exc)})
                return

    async def say_again(self, key: str) -> None:
        """A Telegram resident whose reply was lost (korak stopped in between): told again
        what they were last told (Inbox.say_again_lost)."""
        chat = telegram_chat(key)
        if chat is None:
            return
        done = await self.service.say_again(key)
        if done.says:
            await self.reply(chat, done.says, done.step, False, done.lang)

    async def _run(self, chat_id: int, person: Person, event: Event, update: Any) -> None:
        done = await self.service.handle_with_step(person, event, update_event(update))
        if done.says:
            await self.reply(chat_id, done.says, done.step, done.had_keyboard, done.lang)

    async def on_message(self, message: Message, event_update: Any = None) -> None:
        if message.from_user is None or message.from_user.is_bot:
            return
        person = Person(person_key("telegram", message.from_user.id),
                        message.from_user.first_name, message.from_user.language_code)
        await self._run(message.chat.id, person, message_event(message), event_update)

    async def on_callback(self, query: CallbackQuery, event_update: Any = None) -> None:
        # the button's spinner is stopped alongside the work, not before it (the answer to the
        # tap reaches the resident one round trip sooner), and not waited for either: the
        # person's next update waits for this one to finish, and under load the spinner's
        # request could queue for a long time behind other requests
        self._answering.start(answer_quietly(query))
        msg = query.message
        if msg is None or getattr(msg, "chat", None) is None or msg.chat.type != "private":
            return
        parsed = parse_choice_token(query.data)
        person = Person(person_key("telegram", query.from_user.id), query.from_user.first_name,
                        query.from_user.language_code)
        event: Event = Choice(*parsed) if parsed else Choice("", "")
        await self._run(msg.chat.id, person, event, event_update)

    async def idle(self) -> None:
        """Wait until the callback answers started by taps are done."""
        await self._answering.idle()

    async def on_error(self, event: ErrorEvent) -> bool:
        log.exception("update failed", exc_info=event.exception)
        update = event.update
        chat = None
        if update.message is not None and update.message.chat.type == "private":
            chat = update.message.chat.id
        elif update.callback_query is not None and update.callback_query.message is not None:
            chat = update.callback_query.message.chat.id
        if chat is not None and chat > 0:
            user = getattr(update.message or update.callback_query, "from_user", None)
            texts = self.texts.lang(from_telegram(getattr(user, "language_code", None)))
            try:
                await self.sender.send_message(chat, texts("error.try_again"))
            except Exception:
                log.warning("error notice not delivered")
        return True


_RESPONSE_TYPES: dict[Any, Any] = {}


async def keep_response_types(make_request, bot: Bot, method) -> Any:
    """aiogram reads every answer through pydantic's `Response[T]`; pydantic keeps such
    generic classes only weakly, so after a garbage collection the class is built again
    (about 12 ms with the event loop blocked, some two hundred times in a busy minute).
    Holding each one once keeps it built."""
    returning = method.__returning__
    if returning not in _RESPONSE_TYPES:
        _RESPONSE_TYPES[returning] = Response[returning]
    return await make_request(bot, method)


class JsonSession(AiohttpSession):
    """Bot API requests as JSON bodies, which Telegram accepts. aiogram sends a url-encoded
    form, and percent-encoding Slovenian text (every č, š and ž becomes six characters) was the
    largest single cost of a reply. A request carrying a file still goes as a form."""

    raw_updates: dict[int, dict] = {}  # the last getUpdates batch as sent, by update id

    async def make_request(self, bot: Bot, method: Any, timeout: int | None = None) -> Any:
        files: dict[str, Any] = {}
        payload: dict[str, Any] = {}
        for key, value in method.model_dump(warnings=False).items():
            value = self.prepare_value(value, bot=bot, files=files, _dumps_json=False)
            if value is not None:
                payload[key] = value
        if files:
            return await super().make_request(bot, method, timeout)
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=method.__api_method__)
        body = json.dumps(payload, ensure_ascii=False).encode()
        try:
            async with session.post(url, data=body, headers=_JSON_HEADERS,
                                    timeout=self.timeout if timeout is None else timeout) as resp:
                raw = await resp.text()
        except asyncio.TimeoutError as exc:
            raise TelegramNetworkError(method=method, message="Request timeout error") from exc
        except ClientError as exc:
            raise TelegramNetworkError(method=method,
                                       message=f"{type(exc).__name__}: {exc}") from exc
        response = self.check_response(bot=bot, method=method, status_code=resp.status,
                                       content=raw)
        if isinstance(method, GetUpdates) and response.result:
            # the updates as Telegram sent them, for the inbox to store as they are (dumping the
            # parsed objects again cost more than storing them)
            self.raw_updates = {u["update_id"]: u for u in json.loads(raw)["result"]}
        return response.result


_JSON_HEADERS = {"Content-Type": "application/json"}


def make_bot(settings: Settings) -> Bot:
    api = TelegramAPIServer.from_base(settings.telegram_api_url.rstrip("/"))
    session = JsonSession(api=api, timeout=settings.telegram_timeout)
    session.middleware(keep_response_types)
    return Bot(token=settings.bot_token or "", session=session)


class PerUserOrder(BaseMiddleware):
    """Updates of one person are handled one after another, in the order they came; different
    people are handled concurrently."""

    def __init__(self) -> None:
        self.locks = KeyedLocks()

    async def __call__(self, handler, event: Update, data: dict[str, Any]) -> Any:
        user = None
        if event.message is not None and event.message.from_user is not None:
            user = event.message.from_user.id
        elif event.callback_query is not None:
            user = event.callback_query.from_user.id
        if user is None:
            return await handler(event, data)
        async with self.locks.lock(user):
            return await handler(event, data)


def make_dispatcher(front: TelegramFront, *before: Router) -> Dispatcher:
    """`before` are routers that see updates first (the staff chat's)."""
    dp = Dispatcher(disable_fsm=True)  # the conversation state lives in the database
    dp.update.outer_middleware(PerUserOrder())
    for router in before:
        dp.include_router(router)
    dp.include_router(front.router)
    return dp
