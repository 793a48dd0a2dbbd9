"""`korak chat`: the same conversation in a terminal, buttons as numbers, same database."""

import io

from bot.config import Settings
from bot.terminal import chat
from storage import repo
from storage.db import Database


async def test_terminal_chat_completes_an_intake(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/chat.db"
    settings = Settings(_env_file=None, database_url=url)
    # consent, place, "yes that one", no DSP, registered, skip sensitive, skip hopes, name,
    # phone, any time, confirm
    lines = iter(["1", "v Radljah", "1", "2", "2", "2", "1", "Marta", "041 555 666", "3", "1"])
    out = io.StringIO()
    await chat(settings, lines=lines, out=out)
    text = out.getvalue()
    assert "  1) Da, strinjam se" in text
    assert "Ste mislili Radlje (občina Radlje ob Dravi)?" in text
    assert "Ime: Marta" in text and "Telefon: 041 555 666" in text
    assert "Vaša prošnja je oddana" in text
    db = Database(url)
    async with db.transaction() as s:
        [req] = await repo.requests_of(s, 1)
    await db.dispose()
    assert req.site == "radlje-ob-dravi" and req.answers["call_time"] == "any"
    assert req.answers["work"] == "registered" and req.answers["hopes"] is None
