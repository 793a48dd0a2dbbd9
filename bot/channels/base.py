"""What every channel adapter offers. korak's conversation (dialogs/) is one and the same on every
channel; what differs per channel is how an update arrives, how a question with buttons is drawn,
and how a message is sent and how sending fails. An adapter is small and knows only its
platform: it turns a request from the platform into plain events (`Inbound`), draws korak's
plain replies (dialogs.replies.Say) as the platform's message bodies, sends one and classifies
what went wrong (`Refused`).

A resident is a channel and an address on it (`Address`): a Telegram user id, a Viber user id,
a WhatsApp number. A choice a person makes is carried as `choice_token(step, id)`, the same on
every channel (Telegram's callback data, Viber's ActionBody, WhatsApp's reply ids): it names the
question it answers, so a button of an old message can never answer another question."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, Protocol, TypeVar

from dialogs.intake import Command, Event, Start, Typed
from dialogs.replies import Say

from bot.channels.filters import split_command

CHOICE_PREFIX = "s"  # Telegram's callback data have always started so


def choice_token(step: str, choice: str) -> str:
    """A button's payload: the question it answers and the choice."""
    return f"{CHOICE_PREFIX}|{step}|{choice}"


def parse_choice_token(data: str | None) -> tuple[str, str] | None:
    """(step, choice) from a button's payload; None for anything else (typed text that merely
    looks like one is then read as text)."""
    if not data:
        return None
    parts = data.split("|", 2)
    if len(parts) != 3 or parts[0] != CHOICE_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


# the commands a resident can type, on every channel: what they are called → what they do
COMMANDS = {
    "start": "start", "pomoc": "pomoc", "help": "pomoc", "preklici": "preklici",
    "cancel": "preklici", "moji_podatki": "moji_podatki", "izbrisi": "izbrisi",
    "status": "status", "jezik": "jezik", "language": "jezik",
}
MAX_TYPED = 4096  # what the conversation reads of one typed message

# Viber and WhatsApp have no slash commands: where a text names one ("napišite /pomoc"), a
# person there reads the word that does the same in their language (each is in that language's
# [commands] table in dialogs/data/answers, so typing it works; a test holds them to it).
# /start: on those channels anything a person writes first starts the conversation.
COMMAND_WORDS = {
    "sl": {"start": "začni", "pomoc": "pomoč", "status": "status", "izbrisi": "izbriši",
           "moji_podatki": "moji podatki", "jezik": "jezik", "preklici": "prekliči"},
    "en": {"start": "start", "pomoc": "help", "status": "status", "izbrisi": "delete",
           "moji_podatki": "my data", "jezik": "language", "preklici": "cancel"},
    "hbs": {"start": "počni", "pomoc": "pomoć", "status": "status", "izbrisi": "izbriši",
            "moji_podatki": "moji podaci", "jezik": "jezik", "preklici": "otkaži"},
    "sq": {"start": "fillo", "pomoc": "ndihmë", "status": "status", "izbrisi": "fshij",
           "moji_podatki": "të dhënat e mia", "jezik": "gjuha", "preklici": "anulo"},
    "uk": {"start": "почати", "pomoc": "допомога", "status": "статус", "izbrisi": "видалити",
           "moji_podatki": "мої дані", "jezik": "мова", "preklici": "скасувати"},
}
_SLASHED = re.compile(r"/(start|pomoc|status|izbrisi|moji_podatki|jezik|preklici)\b")


def without_slashes(text: str, lang: str | None) -> str:
    """A text as a person on Viber or WhatsApp reads it: each slash command named by its
    word in their language, in quotes ("/pomoc" → "»pomoč«")."""
    words = COMMAND_WORDS.get(lang or "sl", COMMAND_WORDS["sl"])
    open_q, close_q = ("»", "«") if lang in (None, "sl", "hbs") else ("«", "»") \
        if lang == "uk" else ('"', '"')
    return _SLASHED.sub(lambda m: f"{open_q}{words[m.group(1)]}{close_q}", text)


class WordsRender:
    """Texts (bot.i18n.Texts of one language) whose slash commands read as words."""

    def __init__(self, texts: Any, lang: str | None) -> None:
        self.texts, self.lang = texts, lang

    def render(self, text: Any) -> str:
        return without_slashes(self.texts.render(text), self.lang)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.texts, name)


def text_event(text: str) -> Event:
    """A typed message as the conversation reads it: a command ("/start payload", "/pomoc",
    "/help@korak_bot") or words."""
    split = split_command(text)
    if split is not None:
        name, rest = split
        command = COMMANDS.get(name)
        if command == "start":
            return Start(rest[:64] or None)
        return Command(command or name)
    return Typed(text[:MAX_TYPED])


Markup = TypeVar("Markup")


def gather(parts: list[tuple[str, Markup | None]], limit: int
           ) -> list[tuple[str, Markup | None]]:
    """Messages from (text, buttons) parts: a text without buttons goes at the top of the
    message that follows it, a blank line between, as long as the message stays within `limit`
    characters. An answer and the next question then arrive as one message: one notification
    on an old phone, and fewer requests."""
    out: list[tuple[str, Markup | None]] = []
    waiting: list[str] = []
    for text, markup in parts:
        if waiting and sum(len(t) + 2 for t in waiting) + len(text) > limit:
            out.append(("\n\n".join(waiting), None))
            waiting.clear()
        waiting.append(text)
        if markup is not None:
            out.append(("\n\n".join(waiting), markup))
            waiting.clear()
    if waiting:
        out.append(("\n\n".join(waiting), None))
    return out


def split_text(text: str, limit: int) -> list[str]:
    """A text in pieces of at most `limit` characters, cut at a paragraph, a line or a word
    where one is near, so no piece ends in the middle of a word when it can be helped."""
    pieces: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n\n", 0, limit + 1)
        if cut < limit // 2:
            cut = text.rfind("\n", 0, limit + 1)
        if cut < limit // 2:
            cut = text.rfind(" ", 0, limit + 1)
        if cut < limit // 2:
            cut = limit
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip("\n ")
    pieces.append(text)
    return pieces


@dataclass(frozen=True)
class Address:
    """A person on a channel."""

    channel: str  # telegram | viber | whatsapp
    id: str  # Telegram user id, Viber user id, WhatsApp number (digits, with country code)


@dataclass(frozen=True)
class Delivery:
    """What the platform reports about a message korak sent (WhatsApp's statuses)."""

    message_id: str
    status: str  # sent | delivered | read | failed
    error: str | None = None  # a Refused kind when it failed


@dataclass(frozen=True)
class Inbound:
    """One thing that reached korak from a person, as the conversation reads it."""

    address: Address
    event_id: str  # the platform's id of this callback or message: a repeat is handled once
    event: Event | None  # None: nothing for the conversation (a receipt, a status)
    kind: str = "message"  # message | opened (the chat opened) | blocked | status
    name: str | None = None  # the name the platform shows for the person
    language: str | None = None  # the platform's language hint (a code such as "sl")
    delivery: Delivery | None = None  # kind "status"


class Refused(Exception):
    """The platform would not take a message. `kind`: retry (try again later, after
    `retry_after` seconds when given), blocked (the person blocked korak or left: send nothing
    more), gone (the address does not exist), invalid (korak's message is wrong: do not retry),
    window (WhatsApp: outside the 24-hour window, only a template may go), template (the
    template is missing or not approved), auth (korak's token or key is wrong)."""

    def __init__(self, kind: str, detail: str = "", retry_after: float | None = None,
                 code: int | str | None = None) -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind, self.detail, self.retry_after, self.code = kind, detail, retry_after, code


class Render(Protocol):
    """Turns a catalog text into the person's language (bot.i18n.Texts for one language)."""

    def render(self, text: Any) -> str: ...


class Channel(Protocol):
    """The small interface every adapter has."""

    name: str

    def verify(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Whether the request really comes from the platform (its signature)."""

    def parse(self, body: bytes) -> list[Inbound]:
        """The events in a request's body; ValueError when it is not the platform's JSON."""

    def render(self, texts: Render, says: list[Say], step: str) -> list[dict[str, Any]]:
        """korak's replies as the platform's message bodies (without the receiver), within the
        platform's limits: long texts split, buttons drawn as the platform allows."""

    async def send(self, address: Address, body: dict[str, Any]) -> str:
        """Send one message body to the person; returns the platform's message id. Raises
        Refused."""
