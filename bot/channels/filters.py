"""Router filters as coroutines. aiogram runs a plain function or a magic filter (`F.…`) in a
worker thread (`asyncio.to_thread`) for every update it is tried on: four or five thread hops
per update, most of korak's time per update under load. These do the same checks on the event
loop."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Filter = Callable[[Any], Awaitable[bool]]


def split_command(text: str | None) -> tuple[str, str] | None:
    """"/Name@bot rest" → ("name", "rest"); None when the text is not a command."""
    if not text or not text.startswith("/"):
        return None
    head, _, rest = text[1:].partition(" ")
    return head.split("@", 1)[0].lower(), rest.strip()


async def private_chat(message: Any) -> bool:
    chat = getattr(message, "chat", None)
    return chat is not None and chat.type == "private"


def in_chat(chat_id: Callable[[], int | None]) -> Filter:
    """The message is in the chat `chat_id()` names now (the staff chat can change its id)."""
    async def check(message: Any) -> bool:
        chat = getattr(message, "chat", None)
        return chat is not None and chat.id == chat_id()
    return check


def migrated_from(chat_id: Callable[[], int | None]) -> Filter:
    """The first message of a supergroup that the chat `chat_id()` became."""
    async def check(message: Any) -> bool:
        old = getattr(message, "migrate_from_chat_id", None)
        return old is not None and old == chat_id()
    return check


async def slash_command(message: Any) -> bool:
    return (getattr(message, "text", None) or "").startswith("/")


def data_prefix(prefix: str) -> Filter:
    async def check(query: Any) -> bool:
        return (getattr(query, "data", None) or "").startswith(prefix)
    return check


def command_in(names: tuple[str, ...]) -> Filter:
    """/name or /name@bot, any case, for a name in `names` (written without the slash)."""
    async def check(message: Any) -> bool:
        command = split_command(getattr(message, "text", None))
        return command is not None and command[0] in names
    return check
