"""What the conversation says and does, as plain data. The bot layer turns these into Telegram
messages; the terminal chat turns them into printed lines. Texts are catalog msgids."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


FENCE = "┃ "
# characters some phones or Telegram clients show as a line break
_BREAKS = {"\r": "\n", "\u2028": "\n", "\u2029": "\n", "\x85": "\n", "\v": "\n", "\f": "\n"}
# a slash that begins a word and is followed by a letter, digit or _: a bot command to Telegram
_COMMAND = re.compile(r"(?<![\w/])/(?=\w)")
# DIVISION SLASH: looks like "/", is printable (not a format character that could be stripped
# or hide anything), and Telegram makes a command only of a word that begins with "/" itself
COMMAND_SLASH = "\u2215"


def plain(line: str) -> str:
    """One line of a person's words (or their name) made safe for a message to the staff chat;
    every such message takes them through here (fence, one_line). Nothing that is not
    printable stays (control and format characters: U+202E would turn the line around, a
    zero-width one hide a word), and a bot command in their words ("/odsotna") is shown with
    COMMAND_SLASH, so no coordinator can run it by tapping it."""
    kept = "".join(ch for ch in line if ch.isprintable() or ch == "\t")
    return _COMMAND.sub(COMMAND_SLASH, kept)


def fence(text: str) -> str:
    """A person's own words inside a message korak composes (a card, a relayed message): every
    line marked with ┃ and made plain, so that what they wrote can never pass for one of the
    message's own lines (a fake "Telefon:" line) nor act in the staff chat."""
    text = text.replace("\r\n", "\n")
    for old, new in _BREAKS.items():
        text = text.replace(old, new)
    return "\n".join(FENCE + plain(line) for line in text.split("\n"))


def one_line(text: str) -> str:
    """A short value (a name) on one line, made plain: whatever would break it becomes a
    space."""
    for old in (*_BREAKS, "\n"):
        text = text.replace(old, " ")
    return " ".join(plain(text).split())


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
