"""A local fake WhatsApp Cloud API (aiohttp, 127.0.0.1) for tests. It answers
POST /{version}/{phone_number_id}/messages as the reference describes (and GET
/{version}/{phone_number_id}, the number's details): the Bearer token is checked (401, code
190), the body's limits are enforced (400, code 131009 for interactive messages, 100 for a
text too long), an unapproved template is refused (132001). Like Meta, it
takes a message to an unknown number or one outside the 24-hour window and reports the failure
later, as a webhook status (131026, 131047). It records every request and makes webhook posts
signed with the app secret."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.channels.whatsapp import (MAX_BODY, MAX_BUTTON_TITLE, MAX_BUTTONS, MAX_LIST_BUTTON,
                                   MAX_REPLY_ID, MAX_ROW_DESCRIPTION, MAX_ROW_ID, MAX_ROW_TITLE,
                                   MAX_ROWS, MAX_TEXT, size)

ERRORS = {  # code → (title, HTTP status) as Meta answers them
    190: ("Invalid OAuth access token - Cannot parse access token", 401),
    100: ("Invalid parameter", 400),
    131009: ("Parameter value is not valid", 400),
    132001: ("Template name does not exist in the translation", 404),
    130429: ("Rate limit hit", 400),
    131056: ("(Business Account, Consumer Account) pair rate limit hit", 400),
    131000: ("Something went wrong", 500),
}
FAILED = {131026: "Message undeliverable", 131047: "Re-engagement message"}


def error_body(code: int, details: str = "") -> dict[str, Any]:
    return {"error": {"message": f"(#{code}) {ERRORS[code][0]}", "type": "OAuthException",
                      "code": code, "error_data": {"messaging_product": "whatsapp",
                                                   "details": details or ERRORS[code][0]},
                      "fbtrace_id": "AbCdEf"}}


class Invalid(Exception):
    def __init__(self, code: int, details: str) -> None:
        super().__init__(details)
        self.code, self.details = code, details


def check_interactive(interactive: dict[str, Any]) -> None:
    body = (interactive.get("body") or {}).get("text") or ""
    if not body or len(body) > MAX_BODY:
        raise Invalid(131009, f"Body text length invalid. Min length: 1, Max length: {MAX_BODY}")
    action = interactive.get("action") or {}
    if interactive.get("type") == "button":
        buttons = action.get("buttons") or []
        if not 1 <= len(buttons) <= MAX_BUTTONS:
            raise Invalid(131009, "Buttons count invalid. Min: 1, Max: 3")
        titles = [b["reply"]["title"] for b in buttons]
        ids = [b["reply"]["id"] for b in buttons]
        if any(not 1 <= size(t) <= MAX_BUTTON_TITLE for t in titles):
            raise Invalid(131009, "Button title length invalid. Min length: 1, Max length: 20")
        if any(not 1 <= len(i) <= MAX_REPLY_ID for i in ids):
            raise Invalid(131009, "Button id length invalid. Min length: 1, Max length: 256")
        if len(set(titles)) < len(titles) or len(set(ids)) < len(ids):
            raise Invalid(131009, "Buttons must have unique titles and ids")
    elif interactive.get("type") == "list":
        label = action.get("button") or ""
        if not 1 <= size(label) <= MAX_LIST_BUTTON:
            raise Invalid(131009, "Button label length invalid. Min length: 1, Max length: 20")
        rows = [r for s in action.get("sections") or [] for r in s.get("rows") or []]
        if not 1 <= len(rows) <= MAX_ROWS:
            raise Invalid(131009, f"Total row count exceed max allowed count: {MAX_ROWS}")
        for row in rows:
            if not 1 <= size(row["title"]) <= MAX_ROW_TITLE:
                raise Invalid(131009, "Row title length invalid. Max length: 24")
            if size(row.get("description") or "") > MAX_ROW_DESCRIPTION:
                raise Invalid(131009, "Row description length invalid. Max length: 72")
            if not 1 <= len(row["id"]) <= MAX_ROW_ID:
                raise Invalid(131009, "Row id length invalid. Max length: 200")
        if len({r["id"] for r in rows}) < len(rows):
            raise Invalid(131009, "Row ids must be unique")
    else:
        raise Invalid(100, "Invalid interactive type")


@dataclass
class FakeCloudAPI:
    token: str = "test-token"
    phone_number_id: str = "1234567890"
    app_secret: str = "app-secret"
    unknown: set[str] = field(default_factory=set)  # numbers without WhatsApp
    outside_window: set[str] = field(default_factory=set)  # last wrote more than 24 hours ago
    approved: set[tuple[str, str]] = field(default_factory=set)  # (template name, language)
    fail_next: list[int] = field(default_factory=list)  # error codes to answer the next sends
    requests: list[dict[str, Any]] = field(default_factory=list)  # every body, accepted or not
    accepted: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)  # for the next status webhook

    def __post_init__(self) -> None:
        self._ids = itertools.count(1)
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/{version}/{phone_number_id}/messages", self.messages)
        app.router.add_get("/{version}/{phone_number_id}", self.phone_number)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/v23.0"
        return self.url

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def _error(self, code: int, details: str = "") -> web.Response:
        return web.json_response(error_body(code, details), status=ERRORS[code][1])

    async def phone_number(self, request: web.Request) -> web.Response:
        """GET /{version}/{phone_number_id}: the number's details (`korak doctor` asks them to
        check the token and the id). An id the token has no number of: 400, code 100."""
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return self._error(190)
        number = request.match_info["phone_number_id"]
        if number != self.phone_number_id:
            return self._error(100, f"Unsupported get request. Object with ID '{number}' does "
                                    "not exist, cannot be loaded due to missing permissions, or "
                                    "does not support this operation.")
        return web.json_response({"verified_name": "Socialna aktivacija Koroška",
                                  "code_verification_status": "VERIFIED",
                                  "display_phone_number": "+386 40 000 000",
                                  "quality_rating": "GREEN", "platform_type": "CLOUD_API",
                                  "throughput": {"level": "STANDARD"}, "id": number})

    async def messages(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return self._error(190)
        if request.match_info["phone_number_id"] != self.phone_number_id:
            return self._error(100, "Unsupported post request. Object does not exist")
        try:
            body = await request.json()
        except ValueError:
            return self._error(100, "Invalid JSON")
        self.requests.append(body)
        if self.fail_next:
            return self._error(self.fail_next.pop(0))
        if body.get("messaging_product") != "whatsapp" or not body.get("to"):
            return self._error(100, "The parameter messaging_product is required.")
        kind = body.get("type", "text")
        try:
            if kind == "text":
                text = (body.get("text") or {}).get("body") or ""
                if not 1 <= len(text) <= MAX_TEXT:
                    raise Invalid(100, "Param text['body'] must be at most 4096 characters long.")
            elif kind == "interactive":
                check_interactive(body.get("interactive") or {})
            elif kind == "template":
                template = body.get("template") or {}
                if (template.get("name"), (template.get("language") or {}).get("code")) \
                        not in self.approved:
                    raise Invalid(132001, "template name does not exist in the translation")
            else:
                raise Invalid(100, f"Unsupported message type {kind}")
        except Invalid as exc:
            return self._error(exc.code, exc.details)
        wamid = f"wamid.FAKE{next(self._ids):06d}"
        to = str(body["to"])
        self.accepted.append(body)
        failed = None
        if to in self.unknown:
            failed = 131026
        elif to in self.outside_window and kind != "template":
            failed = 131047
        self.statuses.append(self.status(wamid, to, "failed" if failed else "sent", failed))
        return web.json_response({"messaging_product": "whatsapp",
                                  "contacts": [{"input": to, "wa_id": to}],
                                  "messages": [{"id": wamid}]})

    # ------------------------------------------------------------------ webhooks

    @staticmethod
    def status(wamid: str, to: str, status: str, code: int | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"id": wamid, "status": status, "timestamp": str(int(time.time())),
                               "recipient_id": to}
        if code is not None:
            out["errors"] = [{"code": code, "title": FAILED.get(code, "Error"),
                              "message": FAILED.get(code, "Error"),
                              "error_data": {"details": FAILED.get(code, "Error")}}]
        return out

    def webhook(self, value: dict[str, Any]) -> dict[str, Any]:
        return {"object": "whatsapp_business_account", "entry": [{"id": "WABA_ID", "changes": [{
            "field": "messages",
            "value": {"messaging_product": "whatsapp",
                      "metadata": {"display_phone_number": "38640000000",
                                   "phone_number_id": self.phone_number_id}, **value}}]}]}

    def message_webhook(self, wa_id: str, message: dict[str, Any], name: str = "Ana"
                        ) -> dict[str, Any]:
        """A person's message; `message` is its type and content ({"type": "text",
        "text": {"body": "…"}})."""
        full = {"from": wa_id, "id": f"wamid.IN{next(self._ids):06d}",
                "timestamp": str(int(time.time())), **message}
        return self.webhook({"contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
                             "messages": [full]})

    def status_webhook(self) -> dict[str, Any]:
        """The statuses of what was sent since the last call."""
        statuses, self.statuses = self.statuses, []
        return self.webhook({"statuses": statuses})

    def signed(self, payload: dict[str, Any]) -> tuple[dict[str, str], bytes]:
        """(headers, body) as Meta posts them to the webhook."""
        body = json.dumps(payload, ensure_ascii=False).encode()
        digest = hmac.new(self.app_secret.encode(), body, hashlib.sha256).hexdigest()
        return {"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=" + digest}, body
