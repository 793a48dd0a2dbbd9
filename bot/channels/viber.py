"""Viber: the REST Bot API's callbacks become plain events; plain replies become send_message
bodies with a Viber keyboard. Viber's own SDK has not been released since 2021, so this speaks
the HTTP API with aiohttp (https://developers.viber.com/docs/api/rest-bot-api/).

What matters on Viber:
- Every callback is signed: X-Viber-Content-Signature is the hex HMAC-SHA256 of the raw body,
  keyed with the bot's auth token.
- A person who opens the chat ("conversation_started") is not yet subscribed: the bot may answer
  with one welcome message, in the body of the HTTP response to that callback (`welcome_body`),
  and with nothing else until they write. Their first message subscribes them (without a
  "subscribed" callback).
- A keyboard button ("reply") sends its ActionBody to the bot as a text message; korak's
  ActionBody is the choice token, so a tap reads as Choice(step, id) and typing cannot pass for a
  button of another question. The buttons are silent: the token never shows in the chat.
- Viber answers every request with HTTP 200 and a JSON `status` (0 is ok); `send` turns the
  others into Refused kinds. At most 100 messages go to a person within an hour without a reply
  from them (status 12); a message is at most 30 KB and its text at most 7000 characters."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import json
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from dialogs.intake import Choice, Event, Media, SharedContact
from dialogs.replies import Button, Lines, Say, Text

from bot.channels.base import (Address, Delivery, Inbound, Refused, Render, choice_token,
                               gather, parse_choice_token, split_text, text_event)

API_URL = "https://chatapi.viber.com/pa"
SIGNATURE = "X-Viber-Content-Signature"
AUTH = "X-Viber-Auth-Token"

MAX_TEXT = 7000  # a text message
MAX_SENDER_NAME = 28  # sender.name
MAX_BUTTON_TEXT = 250  # a button's Text; longer is cropped with "…"
MAX_ACTION_BODY = 250
COLUMNS = 6  # a keyboard is 6 columns wide; a button takes 1-6 of them and 1-2 rows
MAX_ROWS = 24  # rows a keyboard may have
SHARE_PHONE_API = 3  # share-phone buttons need min_api_version 3 (Viber 7.6 and later)
SHARE_PHONE = "share-phone"  # the share-phone button's ActionBody (Viber wants some text)

# How many characters of a label one line of a button holds at TextSize "regular" on a narrow
# phone (about 360 points wide), by the button's width in columns. An estimate: Viber does not
# publish it. A label longer than a line gets a button two rows high (two lines); buttons share
# a line of the keyboard only when every label fits them, in two lines at most (one line for a
# third of the width, too narrow to break words well).
LINE = {6: 34, 3: 15, 2: 9}
LINES = {6: 2, 3: 2, 2: 1}

MEDIA_TYPES = {"picture", "sticker", "file", "video", "location", "url"}
EVENT_TYPES = ("delivered", "seen", "failed", "subscribed", "unsubscribed",
               "conversation_started")  # "message" always comes
DELIVERY = {"delivered": "delivered", "seen": "read", "failed": "failed"}

# send_message and set_webhook statuses (https://developers.viber.com/docs/api/rest-bot-api/
# #error-codes) as Refused kinds; a status not listed is a general error: retry.
STATUS = {
    1: ("invalidUrl", "invalid"),
    2: ("invalidAuthToken", "auth"),
    3: ("badData", "invalid"),
    4: ("missingData", "invalid"),
    5: ("receiverNotRegistered", "gone"),  # not a Viber user
    6: ("receiverNotSubscribed", "blocked"),  # unsubscribed, or never wrote
    7: ("publicAccountBlocked", "auth"),  # korak's account: nothing can go until it is fixed
    8: ("publicAccountNotFound", "auth"),
    9: ("publicAccountSuspended", "auth"),
    10: ("webhookNotSet", "auth"),
    11: ("receiverNoSuitableDevice", "gone"),  # their Viber cannot show bot messages
    12: ("tooManyRequests", "retry"),
    13: ("apiVersionNotSupported", "invalid"),  # their Viber is older than min_api_version
    14: ("incompatibleWithVersion", "invalid"),  # the body needs a higher min_api_version
    15: ("publicAccountNotAuthorized", "auth"),
    16: ("inchatReplyMessageNotAllowed", "invalid"),
    17: ("publicAccountIsNotInline", "invalid"),
    18: ("noPublicChat", "invalid"),
    19: ("cannotSendBroadcast", "invalid"),
    20: ("broadcastNotAllowed", "invalid"),
    21: ("unsupportedCountry", "gone"),
    22: ("paymentUnsupported", "invalid"),
    # out of a session, with no free messages (23) or balance (24) left this month: what goes
    # after the person writes again is in a session
    23: ("freeMessagesExceeded", "window"),
    24: ("noBalance", "window"),
}


def signature(token: str, body: bytes) -> str:
    """The signature Viber puts on a callback's body."""
    return hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:  # a plain dict: HTTP header names are not case-sensitive
        lower = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lower), None)
    return value


def _person(data: dict[str, Any], key: str) -> dict[str, Any]:
    person = data.get(key)
    if not isinstance(person, dict) or not isinstance(person.get("id"), str) or not person["id"]:
        raise ValueError(f"a Viber {data.get('event')} callback without {key}.id")
    return person


def message_event(message: dict[str, Any]) -> Event:
    """A person's message as the conversation reads it. A tap on a keyboard button arrives as a
    text equal to its ActionBody, the choice token; any other text is read as words or a
    command. A contact is what the share-phone button sends: the person's own number."""
    kind = message.get("type")
    if kind == "text":
        text = message.get("text")
        text = text if isinstance(text, str) else ""
        parsed = parse_choice_token(text)
        return Choice(*parsed) if parsed else text_event(text)
    if kind == "contact":
        contact = message.get("contact")
        phone = contact.get("phone_number") if isinstance(contact, dict) else None
        return SharedContact(phone if isinstance(phone, str) else "", True)
    return Media(kind if isinstance(kind, str) else "unknown")


def button_text(label: str) -> str:
    """A label as a button's Text, which Viber reads as a little HTML (<b>, <font> …): a
    person's name is shown as written, never as markup."""
    text = html.escape(label, quote=False)
    return text if len(text) <= MAX_BUTTON_TEXT else text[:MAX_BUTTON_TEXT - 1] + "…"


def _fits(label: str, columns: int) -> bool:
    return len(label) <= LINE[columns] * LINES[columns]


def _button(label: str, action: str, body: str, columns: int, rows: int) -> dict[str, Any]:
    if len(body) > MAX_ACTION_BODY:
        raise ValueError(f"a Viber button's ActionBody is longer than {MAX_ACTION_BODY}")
    button = {"Columns": columns, "Rows": rows, "ActionType": action, "ActionBody": body,
              "Text": button_text(label), "TextSize": "regular"}
    if action == "reply":
        button["Silent"] = True  # the chat shows no token; the next question shows the answer
    return button


def keyboard(rows: list[list[tuple[str, str, str]]]) -> dict[str, Any]:
    """A Viber keyboard from rows of (label, ActionType, ActionBody), in the conversation's
    order. Buttons of one row share a line of the keyboard (up to three, each 6, 3 or 2
    columns wide) when every label fits; otherwise each takes the whole width. Viber fills
    its 6 columns in the order the buttons come, so every line is filled to 6, and the buttons
    of a line are equally high, so the next row starts a line of its own."""
    buttons: list[dict[str, Any]] = []
    for row in rows:
        per = min(len(row), 3)
        while per > 1 and not all(_fits(label, COLUMNS // per) for label, _, _ in row):
            per -= 1
        for i in range(0, len(row), per):
            group = row[i:i + per]
            columns = COLUMNS // len(group)
            height = 1 if all(len(label) <= LINE[columns] for label, _, _ in group) else 2
            buttons += [_button(label, action, body, columns, height)
                        for label, action, body in group]
    if keyboard_rows(buttons) > MAX_ROWS:
        for button in buttons:
            button["Rows"] = 1
    if keyboard_rows(buttons) > MAX_ROWS:
        raise ValueError(f"more buttons than a Viber keyboard's {MAX_ROWS} rows hold")
    return {"Type": "keyboard", "DefaultHeight": False, "Buttons": buttons}


def keyboard_rows(buttons: list[dict[str, Any]]) -> int:
    """How many rows Viber draws for these buttons: it fits as many as it can into each line of
    6 columns, in order, and a line is as high as its highest button."""
    rows = used = height = 0
    for button in buttons:
        if used + button["Columns"] > COLUMNS:
            rows, used, height = rows + height, 0, 0
        used += button["Columns"]
        height = max(height, button["Rows"])
    return rows + height


def preview(body: dict[str, Any]) -> tuple[str, list[tuple[str, str | None]]]:
    """A send_message body as a person sees it: its text and its buttons in order, each with
    what a tap sends (None for share-phone, which sends the phone's number); for `korak chat
    --channel viber`."""
    buttons = (body.get("keyboard") or {}).get("Buttons") or []
    return body.get("text", ""), [
        (html.unescape(b["Text"]), None if b["ActionType"] == SHARE_PHONE else b["ActionBody"])
        for b in buttons]


class ViberChannel:
    """korak on Viber: one bot account, its auth token, the name and avatar its messages carry."""

    name = "viber"

    def __init__(self, auth_token: str, bot_name: str, avatar: str | None = None,
                 api_url: str = API_URL,
                 session: aiohttp.ClientSession | Callable[[], aiohttp.ClientSession] | None = None,
                 timeout: float = 10.0) -> None:
        if not bot_name or len(bot_name) > MAX_SENDER_NAME:
            raise ValueError(f"a Viber bot name has 1 to {MAX_SENDER_NAME} characters")
        self.auth_token, self.api_url = auth_token, api_url.rstrip("/")
        self.sender: dict[str, str] = {"name": bot_name}
        if avatar:
            self.sender["avatar"] = avatar
        self._session = session if isinstance(session, aiohttp.ClientSession) else None
        self._make_session = session if callable(session) and self._session is None else None
        self._own_session = session is None
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    # ------------------------------------------------------------------------ in

    def verify(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Whether the callback is signed with korak's auth token (compared in constant time);
        a missing or garbled signature is simply False."""
        given = _header(headers, SIGNATURE)
        if not given:
            return False
        try:
            given_bytes = given.strip().encode("ascii")
        except UnicodeEncodeError:
            return False
        return hmac.compare_digest(given_bytes, signature(self.auth_token, body).encode())

    def parse(self, body: bytes) -> list[Inbound]:
        """The event in a callback's body (none for Viber's own: the webhook check, or an event
        korak does not know); ValueError when the body is not a Viber callback."""
        data = json.loads(body)
        if not isinstance(data, dict) or not isinstance(data.get("event"), str):
            raise ValueError("not a Viber callback")
        event = data["event"]
        if event == "webhook" or event not in ("message", "conversation_started", "subscribed",
                                               "unsubscribed", *DELIVERY):
            return []
        token = data.get("message_token")
        if not isinstance(token, (int, str)) or isinstance(token, bool) or token == "":
            raise ValueError(f"a Viber {event} callback without message_token")
        event_id = str(token)
        if event == "message":
            sender = _person(data, "sender")
            message = data.get("message")
            if not isinstance(message, dict):
                raise ValueError("a Viber message callback without its message")
            return [self._inbound(sender, event_id, message_event(message))]
        if event in ("conversation_started", "subscribed"):
            return [self._inbound(_person(data, "user"), event_id, None, "opened")]
        user_id = data.get("user_id")
        if not isinstance(user_id, str) or not user_id:
            raise ValueError(f"a Viber {event} callback without user_id")
        address = Address(self.name, user_id)
        if event == "unsubscribed":
            return [Inbound(address, event_id, None, "blocked")]
        failed = event == "failed"
        return [Inbound(address, event_id, None, "status", delivery=Delivery(
            event_id, DELIVERY[event], "invalid" if failed else None))]

    def _inbound(self, person: dict[str, Any], event_id: str, event: Event | None,
                 kind: str = "message") -> Inbound:
        name, language = person.get("name"), person.get("language")
        return Inbound(Address(self.name, person["id"]), event_id, event, kind,
                       name if isinstance(name, str) else None,
                       language if isinstance(language, str) else None)

    # ------------------------------------------------------------------------ out

    def render(self, texts: Render, says: list[Say], step: str) -> list[dict[str, Any]]:
        """korak's replies as send_message bodies (without the receiver). A text without buttons
        goes at the top of the message that follows it, as on Telegram; a text longer than
        Viber's 7000 characters goes in pieces, the buttons under the last."""
        parts: list[tuple[str, dict[str, Any] | None]] = []
        for say in says:
            *pieces, last = split_text(texts.render(say.text), MAX_TEXT)
            parts += [(piece, None) for piece in pieces]
            parts.append((last, self._keyboard(texts, say, step)))
        return [self.message_body(text, markup) for text, markup in gather(parts, MAX_TEXT)]

    def _keyboard(self, texts: Render, say: Say, step: str) -> dict[str, Any] | None:
        rows = [[(texts.render(b.label), "reply", choice_token(step, b.id)) for b in row]
                for row in say.buttons]
        if say.share_contact is not None:
            rows.insert(0, [(texts.render(say.share_contact), SHARE_PHONE, SHARE_PHONE)])
        return keyboard(rows) if rows else None

    def message_body(self, text: str, markup: dict[str, Any] | None) -> dict[str, Any]:
        body: dict[str, Any] = {"type": "text", "text": text, "sender": dict(self.sender)}
        if markup is not None:
            body["keyboard"] = markup
            if any(b["ActionType"] == SHARE_PHONE for b in markup["Buttons"]):
                body["min_api_version"] = SHARE_PHONE_API
        return body

    def welcome_body(self, texts: Render, greeting: Text | Lines | str,
                     buttons: tuple[tuple[Button, ...], ...] = (), step: str = ""
                     ) -> dict[str, Any]:
        """The welcome message: the body of korak's HTTP answer to a conversation_started
        callback, the only message Viber lets through before the person writes. `greeting` is a
        catalog text (or its msgid); `buttons` answer the question `step` when given."""
        text = Text(greeting) if isinstance(greeting, str) else greeting
        return self.render(texts, [Say(text, buttons)], step)[0]

    async def send(self, address: Address, body: dict[str, Any]) -> str:
        """Send one body to the person; their message token. Raises Refused."""
        answer = await self._call("send_message", {**body, "receiver": address.id})
        return str(answer.get("message_token", ""))

    async def set_webhook(self, url: str, event_types: tuple[str, ...] = EVENT_TYPES,
                          send_name: bool = True, send_photo: bool = False) -> list[str]:
        """Point Viber's callbacks at `url` (HTTPS with a certificate from a trusted CA; "" removes
        the webhook); the event types Viber confirms. Viber checks the URL at once with a signed
        "webhook" callback, which must be answered with HTTP 200: korak's web server must be up
        first. Raises Refused."""
        answer = await self._call("set_webhook", {
            "url": url, "event_types": list(event_types), "send_name": send_name,
            "send_photo": send_photo})
        types = answer.get("event_types")
        return [t for t in types if isinstance(t, str)] if isinstance(types, list) else []

    async def _call(self, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        data = json.dumps(payload, ensure_ascii=False).encode()
        headers = {AUTH: self.auth_token, "Content-Type": "application/json"}
        try:
            session = self._get_session()
            async with session.post(f"{self.api_url}/{method}", data=data, headers=headers,
                                    timeout=self.timeout) as resp:
                status, raw = resp.status, await resp.read()
        except asyncio.TimeoutError as exc:
            raise Refused("retry", f"{method}: timeout") from exc
        except aiohttp.ClientError as exc:
            raise Refused("retry", f"{method}: {type(exc).__name__}") from exc
        if status == 429 or status >= 500:
            raise Refused("retry", f"{method}: HTTP {status}", code=status)
        if status != 200:
            raise Refused("auth" if status in (401, 403) else "invalid",
                          f"{method}: HTTP {status}", code=status)
        try:
            answer = json.loads(raw)
            code = answer["status"]
        except (ValueError, TypeError, KeyError) as exc:
            raise Refused("retry", f"{method}: not Viber's JSON") from exc
        if code == 0:
            return answer
        name, kind = STATUS.get(code, ("generalError", "retry")) if isinstance(code, int) \
            else ("generalError", "retry")
        raise Refused(kind, f"{method}: {name}", code=code)

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = self._make_session() if self._make_session else aiohttp.ClientSession()
        return self._session

    async def close(self) -> None:
        """Close the HTTP session when the channel made it."""
        if self._own_session and self._session is not None:
            await self._session.close()
