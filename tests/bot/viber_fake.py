"""A fake Viber REST Bot API on 127.0.0.1, for tests: /pa/send_message, /pa/set_webhook and
/pa/get_account_info answer as Viber's documentation says
(https://developers.viber.com/docs/api/rest-bot-api/), and what korak sent is kept. It signs
the callbacks it builds as Viber does, so a test can post them to korak's webhook as Viber
would.

Statuses it answers: 0 ok, 1 invalidUrl, 2 invalidAuthToken, 3 badData, 4 missingData,
5 receiverNotRegistered, 6 receiverNotSubscribed, 12 tooManyRequests, 13 apiVersionNotSupported,
14 incompatibleWithVersion; `force` answers any other."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
from typing import Any

import aiohttp
from aiohttp import web

SIGNATURE = "X-Viber-Content-Signature"
MAX_BODY = 30 * 1024  # a message is at most 30 KB
MAX_TEXT = 7000
MAX_SENDER_NAME = 28
MAX_KEYBOARD_ROWS = 24
ACTION_TYPES = {"reply", "open-url", "location-picker", "share-phone", "none"}
API_LEVEL_3 = {"share-phone", "location-picker"}  # button actions that need min_api_version 3
EVENT_TYPES = ["delivered", "seen", "failed", "subscribed", "unsubscribed",
               "conversation_started"]
NAMES = {0: "ok", 1: "invalidUrl", 2: "invalidAuthToken", 3: "badData", 4: "missingData",
         5: "receiverNotRegistered", 6: "receiverNotSubscribed", 12: "tooManyRequests",
         13: "apiVersionNotSupported", 14: "incompatibleWithVersion"}


def keyboard_rows(buttons: list[dict[str, Any]]) -> int:
    """The rows Viber draws: buttons fill lines of 6 columns in order, a line as high as its
    highest button."""
    rows = used = height = 0
    for b in buttons:
        if used + b.get("Columns", 6) > 6:
            rows, used, height = rows + height, 0, 0
        used += b.get("Columns", 6)
        height = max(height, b.get("Rows", 1))
    return rows + height


class FakeViber:
    """Viber for one bot account. `subscribed`: user ids subscribed to the bot; `registered`:
    Viber users who are not (yet) subscribed. Everything else is not a Viber user."""

    def __init__(self, token: str = "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9",
                 subscribed: tuple[str, ...] = (), registered: tuple[str, ...] = ()) -> None:
        self.token = token
        self.subscribed = set(subscribed)
        self.registered = set(registered) | self.subscribed
        self.api_version: dict[str, int] = {}  # a user's device api_version (default 10)
        self.limit = 100  # messages to a person within an hour without a reply from them
        self.unanswered: dict[str, int] = {}
        self.sent: list[dict[str, Any]] = []  # send_message bodies Viber accepted
        self.requests: list[tuple[str, Any]] = []  # every request: (method, JSON or raw bytes)
        self.webhook: dict[str, Any] | None = None
        self.require_https = True
        self.ping_webhook = False  # check the webhook with a signed "webhook" callback
        self.http_errors: list[int] = []  # HTTP statuses for the next requests
        self.force: list[int] = []  # Viber statuses for the next requests
        self.delay = 0.0
        self.tokens = itertools.count(4912661846655238145)
        self.account_name = "korak"  # get_account_info's name
        self.url = ""
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------------------ server

    async def start(self) -> str:
        """Serve on a free port of 127.0.0.1; the API URL to give korak."""
        app = web.Application()
        app.router.add_post("/pa/send_message", self._send_message)
        app.router.add_post("/pa/set_webhook", self._set_webhook)
        app.router.add_post("/pa/get_account_info", self._get_account_info)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/pa"
        return self.url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @staticmethod
    def _status(code: int, **extra: Any) -> web.Response:
        return web.json_response({"status": code, "status_message": NAMES.get(code, "failure"),
                                  **extra})

    async def _read(self, request: web.Request, method: str) -> tuple[Any, web.Response | None]:
        raw = await request.read()
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        self.requests.append((method, data if data is not None else raw))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.http_errors:
            return None, web.Response(status=self.http_errors.pop(0), text="error")
        if self.force:
            return None, self._status(self.force.pop(0))
        token = request.headers.get("X-Viber-Auth-Token")
        if token is None:
            return None, web.json_response({"status": 2, "status_message": "missing_auth_token"})
        if token != self.token:
            return None, self._status(2)
        if not isinstance(data, dict) or len(raw) > MAX_BODY:
            return None, self._status(3)
        return data, None

    async def _send_message(self, request: web.Request) -> web.Response:
        body, refused = await self._read(request, "send_message")
        if refused is not None:
            return refused
        code = self._check_message(body)
        if code:
            return self._status(code)
        receiver = body["receiver"]
        self.unanswered[receiver] = self.unanswered.get(receiver, 0) + 1
        self.sent.append(body)
        return self._status(0, message_token=next(self.tokens), chat_hostname="SN-CHAT-05_",
                            billing_status=1)

    def _check_message(self, body: dict[str, Any]) -> int:
        sender = body.get("sender")
        if (not body.get("receiver") or not body.get("type") or not isinstance(sender, dict)
                or not sender.get("name")):
            return 4
        if body["type"] == "text" and not isinstance(body.get("text"), str):
            return 4
        if len(sender["name"]) > MAX_SENDER_NAME or len(body.get("text", "")) > MAX_TEXT:
            return 3
        api = body.get("min_api_version", 1)
        if not isinstance(api, int) or api < 1:
            return 3
        code = self._check_keyboard(body.get("keyboard"), api)
        if code:
            return code
        receiver = body["receiver"]
        if receiver not in self.registered:
            return 5
        if receiver not in self.subscribed:
            return 6
        if api > self.api_version.get(receiver, 10):
            return 13
        if self.unanswered.get(receiver, 0) >= self.limit:
            return 12
        return 0

    @staticmethod
    def _check_keyboard(kb: Any, api: int) -> int:
        if kb is None:
            return 0
        if not isinstance(kb, dict) or kb.get("Type") != "keyboard":
            return 3
        buttons = kb.get("Buttons")
        if not isinstance(buttons, list) or not buttons:
            return 4
        for b in buttons:
            if not isinstance(b, dict) or not isinstance(b.get("ActionBody"), str) \
                    or not b["ActionBody"]:
                return 4
            if (b.get("ActionType", "reply") not in ACTION_TYPES
                    or b.get("Columns", 6) not in range(1, 7) or b.get("Rows", 1) not in (1, 2)
                    or b.get("TextSize", "regular") not in ("small", "regular", "large")):
                return 3
            if b.get("ActionType") in API_LEVEL_3 and api < 3:
                return 14
        if keyboard_rows(buttons) > MAX_KEYBOARD_ROWS:
            return 3
        return 0

    async def _set_webhook(self, request: web.Request) -> web.Response:
        body, refused = await self._read(request, "set_webhook")
        if refused is not None:
            return refused
        url = body.get("url")
        if not isinstance(url, str):
            return self._status(4)
        if url == "":
            self.webhook = None
            return self._status(0)
        if self.require_https and not url.startswith("https://"):
            return self._status(1)
        if self.ping_webhook and not await self._ping(url):
            return self._status(1)
        event_types = body.get("event_types", EVENT_TYPES)
        self.webhook = body
        return self._status(0, event_types=event_types)

    async def _get_account_info(self, request: web.Request) -> web.Response:
        """The bot account's details, as Viber's get_account_info gives them (`korak doctor`
        asks it to check the token)."""
        _body, refused = await self._read(request, "get_account_info")
        if refused is not None:
            return refused
        return self._status(0, id="pa:75346594275468546724", name=self.account_name,
                            uri="korak", icon="http://example.com/icon.png",
                            background="http://example.com/bg.png", category="Community",
                            subcategory="Social services", country="SI",
                            webhook=(self.webhook or {}).get("url", ""),
                            event_types=(self.webhook or {}).get("event_types", EVENT_TYPES),
                            subscribers_count=len(self.subscribed), members=[])

    async def _ping(self, url: str) -> bool:
        event = {"event": "webhook", "timestamp": 1457764197627, "chat_hostname": "SN-CHAT-05_",
                 "message_token": next(self.tokens)}
        try:
            status, _ = await self.post(url, event)
        except aiohttp.ClientError:
            return False
        return status == 200

    # ------------------------------------------------------------------------ callbacks

    def sign(self, body: bytes) -> dict[str, str]:
        """The headers Viber sends with a callback's body."""
        mac = hmac.new(self.token.encode(), body, hashlib.sha256).hexdigest()
        return {SIGNATURE: mac, "Content-Type": "application/json"}

    def callback(self, event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        """A callback as Viber posts it: (body, headers)."""
        body = json.dumps(event).encode()
        return body, self.sign(body)

    async def post(self, url: str, event: dict[str, Any]) -> tuple[int, bytes]:
        """Post a signed callback to korak's webhook; (HTTP status, response body)."""
        body, headers = self.callback(event)
        async with aiohttp.ClientSession() as session:
            async with session.post(url, data=body, headers=headers) as resp:
                return resp.status, await resp.read()

    def user(self, user_id: str, name: str = "Ana", language: str = "sl") -> dict[str, Any]:
        return {"id": user_id, "name": name, "avatar": "http://avatar.example.com",
                "country": "SI", "language": language, "api_version":
                    self.api_version.get(user_id, 10)}

    def message(self, user_id: str, message: dict[str, Any], **who: Any) -> dict[str, Any]:
        """A person's message callback; their writing subscribes them and resets the count of
        messages sent to them without a reply."""
        self.registered.add(user_id)
        self.subscribed.add(user_id)
        self.unanswered[user_id] = 0
        return {"event": "message", "timestamp": 1457764197627, "chat_hostname": "SN-CHAT-05_",
                "message_token": next(self.tokens), "sender": self.user(user_id, **who),
                "message": message, "silent": False}

    def text(self, user_id: str, text: str, **who: Any) -> dict[str, Any]:
        return self.message(user_id, {"type": "text", "text": text}, **who)

    def keyboard(self, user_id: str) -> list[dict[str, Any]]:
        """The buttons of the last keyboard sent to the person (the one their Viber shows)."""
        for body in reversed(self.sent):
            if body["receiver"] == user_id and "keyboard" in body:
                return body["keyboard"]["Buttons"]
        return []

    def press(self, user_id: str, label: str) -> dict[str, Any]:
        """The callback of a tap on the button that shows `label`: a "reply" button sends its
        ActionBody as a text message."""
        for button in self.keyboard(user_id):
            if button.get("Text") == label and button.get("ActionType", "reply") == "reply":
                return self.text(user_id, button["ActionBody"])
        raise AssertionError(f"no button {label!r} in {self.keyboard(user_id)}")

    def share_phone(self, user_id: str, phone: str) -> dict[str, Any]:
        """The callback of a tap on the share-phone button: a contact message."""
        assert any(b.get("ActionType") == "share-phone" for b in self.keyboard(user_id))
        return self.message(user_id, {"type": "contact", "contact": {
            "name": "Ana", "phone_number": phone, "avatar": "http://avatar.example.com"}})
