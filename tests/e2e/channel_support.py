"""Small helpers for the Viber and WhatsApp privacy tests (tests/e2e/test_channels_privacy.py),
on top of tests/e2e/test_channels.py's fakes and people: a Viber person with a profile name of
their own, one intake for either channel, and the database's files read as an outsider reads
them (raw bytes, while korak runs)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.e2e.test_channels import ViberPerson, WhatsAppPerson, wait_for


class NamedViberPerson(ViberPerson):
    """A Viber user whose profile name (sender.name in every callback) is `name`."""

    def __init__(self, viber, base, user_id, name="Ana"):
        super().__init__(viber, base, user_id)
        self.name = name

    def say(self, text):
        return self.send(self.viber.text(self.id, text, name=self.name))

    def press(self, label):
        def button():
            return next((b for b in self.viber.keyboard(self.id) if b.get("Text") == label
                         and b.get("ActionType", "reply") == "reply"), None)
        found = wait_for(button, f"button {label!r}")
        self.send(self.viber.text(self.id, found["ActionBody"], name=self.name))

    def texts(self):
        """Every text Viber carried to this person."""
        return [b.get("text", "") for b in self.messages()]


class ChannelWhatsAppPerson(WhatsAppPerson):
    def texts(self):
        return [self.text_of(b) for b in self.messages()]


def intake(p, *, place, name, phone, origin=False, asked=None):
    """A whole intake on Viber or WhatsApp: the place typed, the question on origin answered
    "Da" (`origin`) or skipped, the name and the phone typed. `asked()` runs once the answer
    on origin is handled (the next question has arrived)."""
    p.say("Dober dan")
    p.press("Da, strinjam se")
    p.wait("V kateri občini živite")
    p.say(place)
    p.wait("lokacija programa je")
    p.press("Ne")
    p.press("Ne delam, ne iščem dela")
    if origin:
        p.press("Da, lahko vprašate")
        p.wait("drugega kulturnega okolja")  # the question on origin itself
        p.press("Da")
        p.wait("Kaj pričakujete")
        if asked is not None:
            asked()
    else:
        p.press("Ne, preskočite")
    p.press("Preskočim")
    p.wait("Napišite svoje ime")
    before = len(p.messages())
    p.say(name)
    # "Na katero številko …", or on WhatsApp "… pokliče na številko 0xx …? … drugo številko,
    # jo napišite": a number typed answers either
    wait_for(lambda: any("številko" in t for t in p.texts()[before:]), "the phone question")
    p.say(phone)
    p.press("Popoldne")
    p.wait("Preverite svoje odgovore")
    p.press("✅ Potrjujem")
    p.wait("Vaša prošnja je oddana")


def on_disk(folder: Path) -> bytes:
    """Every byte of every file in the data folder (the database, its -wal and -shm files,
    a -journal, anything else korak keeps there), read as raw files while korak may be
    running: no SQLite connection, so nothing is checkpointed or locked by the reading."""
    out = b""
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            out += path.read_bytes()
    return out


def forms(text: str) -> list[bytes]:
    """The ways a text can sit in the files: UTF-8 as SQLite stores it, and as JSON writes it
    with ensure_ascii (\\u escapes for anything past ASCII)."""
    found = {text.encode(), json.dumps(text)[1:-1].encode()}
    return sorted(found)


def found_in(data: bytes, texts) -> list[str]:
    """Which of the texts are in the bytes, in any of their forms."""
    return [t for t in texts if any(f in data for f in forms(t))]


SENSITIVE_ANSWER = re.compile(rb'"sensitive"\s*:\s*"yes"')
ORIGIN_TOKEN = "s|sensitive|yes"  # the tap that answers the question on origin "Da"
