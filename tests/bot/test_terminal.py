"""`korak chat`: the same conversation in a terminal, buttons as numbers, same database."""

import io

from bot.config import Settings
from bot.channels.terminal import chat
from storage import repo
from storage.db import Database


async def test_terminal_chat_completes_an_intake(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/chat.db"
    # the bot's own database and staff chat are set, as in a real .env: the try-out keeps
    # away from both
    settings = Settings(_env_file=None, database_url=f"sqlite:///{tmp_path}/bot.db",
                        chat_database_url=url, staff_chat_id=-100123)
    # consent, place, "yes that one", no DSP, registered, skip sensitive, skip hopes, name,
    # phone, any time, confirm
    lines = iter(["5", "v Radljah", "1", "2", "2", "2", "1", "Marta", "041 555 666", "3", "1"])
    out = io.StringIO()
    await chat(settings, lines=lines, out=out)
    text = out.getvalue()
    # the other languages come first, above the answers
    assert "  1) English" in text and "  5) Da, strinjam se" in text
    assert "Ste mislili Radlje (občina Radlje ob Dravi)?" in text
    assert "Ime: Marta" in text and "Telefon: 041 555 666" in text
    assert "Vaša prošnja je oddana" in text
    db = Database(url)
    async with db.transaction() as s:
        [req] = await repo.requests_of(s, "telegram:1")
    assert req.site == "radlje-ob-dravi" and req.answers["call_time"] == "any"
    assert req.answers["work"] == "registered" and req.answers["hopes"] is None
    assert not (tmp_path / "bot.db").exists()  # the bot's database was never opened
    async with db.transaction() as s:  # and no card is waiting for a staff chat
        assert await repo.pending_outbox(s) == []
    await db.dispose()
    # without DATA_KEY the try-out made a key of its own, readable by this user alone
    assert oct((tmp_path / "chat.key").stat().st_mode & 0o777) == "0o600"


async def test_terminal_chat_draws_the_conversation_as_whatsapp_and_viber_do(tmp_path):
    """`korak chat --channel`: the same intake, drawn by the channel's adapter: WhatsApp's list
    of ten rows for the thirteen places (the tenth names the rest, who are reached by typing),
    Viber's keyboard; a numbered pick sends what a tap there sends."""
    for channel in ("whatsapp", "viber"):
        url = f"sqlite+aiosqlite:///{tmp_path}/{channel}.db"
        settings = Settings(_env_file=None, chat_database_url=url)
        # consent; "Drugje" (the tenth row on WhatsApp: Radlje is not among the first nine)
        # then the place typed; no DSP; registered; skip; skip; name; phone; any time; confirm
        other = "10" if channel == "whatsapp" else "14"
        lines = iter(["5", other, "Radlje ob Dravi", "2", "2", "2", "1", "Marta",
                      "041 555 666", "3", "1"])
        out = io.StringIO()
        await chat(settings, lines=lines, out=out, channel=channel)
        text = out.getvalue()
        assert "Vaša prošnja je oddana" in text, (channel, text[-800:])
        if channel == "whatsapp":
            assert "  10) ✍️ Drugje — Ribnica na Pohorju, Radlje ob Dravi, Podvelka" in text
            assert "  11)" not in text.split("V kateri občini")[1].split("\n\n")[0]
        db = Database(url)
        async with db.transaction() as s:
            [req] = await repo.requests_of(s, f"{channel}:1")
        assert req.site == "radlje-ob-dravi" and req.answers["work"] == "registered"
        await db.dispose()
