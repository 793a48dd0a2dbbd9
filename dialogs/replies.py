"""What the conversation says and does, as plain data. The bot layer turns these into Telegram
messages; the terminal chat turns them into printed lines. Texts are catalog msgids."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


FENCE = "┃ "
# characters some phones or Telegram clients show as a line break
_BREAKS = {"\r": "\n", "\u2028": "\n", "\u2029": "\n", "\x85": "\n", "\v": "\n", "\f": "\n"}


def fence(text: str) -> str:
    """A person's own words inside a message korak composes (a card, a relayed message): every
    line marked with ┃, and nothing that is not printable, so that what they wrote can never
    pass for one of the message's own lines (a fake "Telefon:" line)."""
    text = text.replace("\r\n", "\n")
    for old, new in _BREAKS.items():
        text = text.replace(old, new)
    lines = ("".join(ch for ch in line if ch.isprintable() or ch == "\t")
             for line in text.split("\n"))
    return "\n".join(FENCE + line for line in lines)


def one_line(text: str) -> str:
    """A short value (a name) on one line: whatever would break it becomes a space."""
    for old in (*_BREAKS, "\n"):
        text = text.replace(old, " ")
    return " ".join("".join(ch for ch in text if ch.isprintable()).split())


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
