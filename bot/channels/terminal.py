"""`korak chat`: the resident's conversation in a terminal, on the same database, no Telegram.
Buttons become numbered choices. With `--channel viber` or `--channel whatsapp` the replies are
drawn as that channel's adapter draws them (its keyboards or lists, its label and length
limits), so one can see what a person there sees without an account."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from sqlalchemy.engine import make_url

from dialogs.intake import Choice, Command, Event, Start, Typed
from dialogs.replies import Say
from storage.crypto import Sealer, generate_key
from storage.db import normalize_url, private_file
from storage.models import person_key

from bot.channels import viber, whatsapp
from bot.channels.base import COMMANDS, parse_choice_token
from bot.config import Settings
from bot.database import open_database, sealer
from bot.i18n import Texts
from bot.residents.intake import IntakeService, Person

TERMINAL_USER = 1  # one local person; the real bot never sees a Telegram id this small for people


CHANNELS = ("telegram", "viber", "whatsapp")
# the adapters as `korak chat` uses them: to draw, never to send
_DRAWN = {"viber": (viber.ViberChannel("chat", "korak"), viber.preview),
          "whatsapp": (whatsapp.WhatsApp("chat", "0", "chat", "chat"), whatsapp.preview)}


def show(texts: Texts, says: list[Say], out=sys.stdout, step: str = "",
         channel: str = "telegram") -> list[Event | None]:
    """Print the replies as `channel` draws them; return what each number stands for (the
    event a tap makes), in the order they were numbered."""
    picks: list[Event | None] = []
    if channel in _DRAWN:
        adapter, preview = _DRAWN[channel]
        for body in adapter.render(texts, says, step):
            text, choices = preview(body)
            out.write("\n" + text + "\n")
            for label, payload in choices:
                parsed = parse_choice_token(payload)
                picks.append(Choice(*parsed) if parsed else None)
                out.write(f"  {len(picks)}) {label}\n")
        out.flush()
        return picks
    for say in says:
        out.write("\n" + texts.render(say.text) + "\n")
        for row in say.buttons:
            for button in row:
                picks.append(Choice(step, button.id))
                out.write(f"  {len(picks)}) {texts.render(button.label)}\n")
    out.flush()
    return picks


def chat_settings(settings: Settings) -> Settings:
    """`korak chat` never touches the real bot's data: a database file of its own
    (CHAT_DATABASE_URL), no staff chat, so a try-out never queues a card a running bot would
    post."""
    return settings.model_copy(update={"database_url": settings.chat_database_url,
                                       "staff_chat_id": None, "staff_topics": {}})


def chat_sealer(settings: Settings, texts: Texts) -> Sealer:
    """DATA_KEY when it is set; otherwise a key of the try-out's own, kept (0600) beside its
    database file, so a sensitive answer typed in a try-out is sealed too."""
    if settings.data_key:
        return sealer(settings, texts)
    url = make_url(normalize_url(settings.database_url))
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return sealer(settings, texts)  # refused: DATA_KEY is needed
    path = Path(url.database).with_name("chat.key")
    private_file(Path(url.database))
    if not path.exists() or not path.read_text().strip():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(generate_key() + "\n")
    return Sealer(path.read_text().strip())


async def chat(settings: Settings, lines=None, out=sys.stdout, channel: str = "telegram") -> int:
    texts = Texts(settings.locales_dir, settings.locale, settings.timezone)
    settings = chat_settings(settings)
    seal = chat_sealer(settings, texts)
    db = await open_database(settings, texts)
    service = IntakeService(db, settings, texts, seal)
    person = Person(person_key(channel, TERMINAL_USER))  # the person on the channel shown
    out.write(texts("cli.chat_intro") + "\n")
    state = await service.current_step(person.key)
    done = await service.handle_with_step(
        person, Start() if state.step == "idle" else Command("pomoc"))
    picks = show(texts.lang(done.lang), done.says, out, done.step, channel)
    try:
        while True:
            line = await asyncio.to_thread(sys.stdin.readline) if lines is None else next(lines, "")
            if not line:
                break
            line = line.strip()
            event: Event | None = None
            if line.startswith("/"):
                name = line[1:].split()[0].lower() if len(line) > 1 else ""
                event = Start() if COMMANDS.get(name) == "start" else Command(COMMANDS.get(name, name))
            elif line.isdigit() and 0 < int(line) <= len(picks):
                event = picks[int(line) - 1]
            if event is None:  # words, or a button that sends no choice (share-phone)
                event = Typed(line)
            done = await service.handle_with_step(person, event)
            picks = show(texts.lang(done.lang), done.says, out, done.step, channel)
    finally:
        await db.dispose()
    return 0
