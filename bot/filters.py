"""Router filters as coroutines. aiogram runs a plain function or a magic filter (`F.…`) in a
worker thread (`asyncio.to_thread`) for every update it is tried on: four or five thread hops
per update, most of korak's time per update under load. These do the same checks on the event
loop."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Filter = Callable[[Any], Awaitable[bool]]


async def private_chat(message: Any) -> bool:
    chat = getattr(message, "chat", None)
    return chat is not None and chat.type == "private"


def in_chat(chat_id: int) -> Filter:
    async def check(message: Any) -> bool:
        chat = getattr(message, "chat", None)
        return chat is not None and chat.id == chat_id
    return check


async def slash_command(message: Any) -> bool:
    return (getattr(message, "text", None) or "").startswith("/")


def data_prefix(prefix: str) -> Filter:
    async def check(query: Any) -> bool:
        return (getattr(query, "data", None) or "").startswith(prefix)
    return check


def command_in(names: tuple[str, ...]) -> Filter:
    """/name or /name@bot, any case."""
    async def check(message: Any) -> bool:
        text = getattr(message, "text", None) or ""
        return text.split(" ")[0].split("@")[0].lower() in names
    return check
