"""What the conversation says and does, as plain data. The bot layer turns these into Telegram
messages; the terminal chat turns them into printed lines. Texts are catalog msgids."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def N_(msgid: str) -> str:
    """Marks a catalog msgid for extraction; translation happens where the text is shown."""
    return msgid


@dataclass(frozen=True)
class Text:
    msgid: str
    params: dict[str, Any] = field(default_factory=dict)
    # For ngettext: (msgid_plural, n). Slovenian has four forms; the catalog has all of them.
    plural: tuple[str, int] | None = None


@dataclass(frozen=True)
class Lines:
    """Texts shown one per line; the renderer joins them."""

    items: tuple[Text | str, ...]


@dataclass(frozen=True)
class Button:
    id: str
    label: Text


@dataclass(frozen=True)
class Say:
    text: Text | Lines
    buttons: tuple[tuple[Button, ...], ...] = ()
    # Ask for the phone number with Telegram's "share my number" keyboard button.
    share_contact: Text | None = None


@dataclass(frozen=True)
class SubmitRequest:
    """Queue one contact request with these answers (idempotent per resident)."""

    answers: dict[str, Any]


@dataclass(frozen=True)
class DeleteAll:
    """Delete everything stored about the resident, requests included."""


@dataclass(frozen=True)
class Forget:
    """Keep nothing about this conversation (consent declined, questions cancelled)."""


@dataclass(frozen=True)
class RelayToStaff:
    """Pass what the resident wrote to the coordinators, as a reply to their request's card."""

    request_id: int
    text: str


Effect = SubmitRequest | DeleteAll | Forget | RelayToStaff
