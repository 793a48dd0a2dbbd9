"""`korak chat`: the resident's conversation in a terminal, on the same database, no Telegram.
Buttons become numbered choices."""

from __future__ import annotations

import asyncio
import sys

from dialogs.intake import Choice, Command, Start, Typed
from dialogs.replies import Say

from .config import Settings
from .database import open_database
from .i18n import Texts
from .service import IntakeService, Person
from .telegram import COMMANDS

TERMINAL_USER = 1  # one local person; the real bot never sees a Telegram id this small for people


def show(texts: Texts, says: list[Say], out=sys.stdout) -> list[str]:
    """Print the replies; return the choice ids in the order they were numbered."""
    ids: list[str] = []
    for say in says:
        out.write("\n" + texts.render(say.text) + "\n")
        for row in say.buttons:
            for button in row:
                ids.append(button.id)
                out.write(f"  {len(ids)}) {texts.render(button.label)}\n")
    out.flush()
    return ids


async def chat(settings: Settings, lines=None, out=sys.stdout) -> int:
    texts = Texts(settings.locales_dir, settings.locale, settings.timezone)
    db = await open_database(settings, texts)
    service = IntakeService(db, settings, texts)
    person = Person(TERMINAL_USER, TERMINAL_USER, None)
    out.write(texts("cli.chat_intro") + "\n")
    state = await service.current_step(TERMINAL_USER)
    says = await service.handle(person, Start() if state.step == "idle" else Command("pomoc"))
    ids = show(texts, says, out)
    try:
        while True:
            line = await asyncio.to_thread(sys.stdin.readline) if lines is None else next(lines, "")
            if not line:
                break
            line = line.strip()
            step = (await service.current_step(TERMINAL_USER)).step
            if line.startswith("/"):
                name = line[1:].split()[0].lower() if len(line) > 1 else ""
                event = Start() if COMMANDS.get(name) == "start" else Command(COMMANDS.get(name, name))
            elif line.isdigit() and 0 < int(line) <= len(ids):
                event = Choice(step, ids[int(line) - 1])
            else:
                event = Typed(line)
            ids = show(texts, await service.handle(person, event), out)
    finally:
        await db.dispose()
    return 0
