"""Webhook mode with aiogram's aiohttp integration: Telegram posts each update to WEBHOOK_URL;
the secret token Telegram sends with it (WEBHOOK_SECRET, set with setWebhook at start) is
checked on every request, as bytes (a header that is not ASCII is refused like any wrong one);
the update is stored in the inbox before the 200, so an update a process could not store (or
that died before answering) is delivered again by Telegram. Then the update's lane is drained
here, in order, unless another process is handling it."""

from __future__ import annotations

import hmac
import logging
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.types import Update
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from bot.runtime.inbox import Inbox, lane_of

log = logging.getLogger("korak.webhook")


class InboxRequestHandler(SimpleRequestHandler):
    def __init__(self, dispatcher: Dispatcher, bot: Bot, inbox: Inbox, secret: str) -> None:
        super().__init__(dispatcher, bot, handle_in_background=True, secret_token=secret)
        self.inbox = inbox
        self.secret = secret.encode()

    async def close(self) -> None:  # the bot's session is closed by whoever made it
        return None

    def verify_secret(self, telegram_secret_token: str, bot: Bot) -> bool:
        """aiogram compares str, which raises on a header that is not ASCII: every such request
        was a 500 and an ERROR line. The bytes as sent are compared instead."""
        sent = telegram_secret_token.encode("utf-8", "surrogateescape")
        return hmac.compare_digest(sent, self.secret)

    async def _handle_request_background(self, bot: Bot, request: web.Request) -> web.Response:
        try:
            data: Any = await request.json()
            update = Update.model_validate(data, context={"bot": bot})
        except Exception:  # not an update: asking again would not help
            log.warning("webhook request is not an update")
            return web.json_response({}, status=400)
        try:
            await self.inbox.receive([update])
        except Exception:  # not stored: Telegram must deliver it again
            log.exception("update could not be stored", extra={"update_id": update.update_id})
            return web.json_response({"ok": False}, status=500)
        # stored and answered; handled here in order unless another process has the lane
        self.inbox.running.start(self.inbox.drain(lane_of(update)))
        return web.json_response({})
