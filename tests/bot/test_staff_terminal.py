"""`korak chat --staff`: the coordinators' side in a terminal, on `korak chat`'s database. A
request made with `korak chat` is a card there; numbers press its buttons as a coordinator."""

import io
from unittest import mock

from bot import cli
from bot.channels.terminal import TERMINAL_USER, chat
from bot.config import Settings
from bot.staff.terminal import TERMINAL_COLLEAGUE, staff_chat
from storage import repo
from storage.db import Database
from storage.models import person_key

# consent, place, "yes that one", no DSP, registered, skip sensitive, skip hopes, name, phone,
# any time, confirm
INTAKE = ["5", "v Radljah", "1", "2", "2", "2", "1", "Marta", "041 555 666", "3", "1"]


def _settings(tmp_path) -> tuple[Settings, str]:
    url = f"sqlite+aiosqlite:///{tmp_path}/chat.db"
    # the real bot's database, staff chat and coordinators are set, as in a real .env: the
    # staff side in the terminal keeps away from all three
    return Settings(_env_file=None, database_url=f"sqlite:///{tmp_path}/bot.db",
                    chat_database_url=url, staff_chat_id=-100123,
                    coordinator_ids=[424242]), url


async def test_a_request_from_korak_chat_is_a_card_a_coordinator_works_in_the_terminal(tmp_path):
    settings, url = _settings(tmp_path)
    await chat(settings, lines=iter(INTAKE), out=io.StringIO())  # the resident's side first

    out = io.StringIO()
    await staff_chat(settings, lines=iter([
        "1",                                # Prevzamem
        "/odprte",
        "> 1 Pokličem vas jutri dopoldne.",  # a reply to card 1
        "/odsotna",
        "6",                                # Predaj → Mojca, while away
        "/nazaj",
        "/porocilo",
        "/prosnja 7",
        "> 7 Dober dan",
        "kar nekaj",
    ]), out=out)
    text = out.getvalue()
    intro, _, rest = text.partition("\n")
    assert "> 12 besedilo" in intro and "/odprte" in intro  # the syntax is said first
    new, _, rest = rest.partition("Pokličem")[0].partition("  1) Prevzamem")
    assert "🆕 Nova prošnja št. 1" in new
    assert "Ime: Marta" in new and "Telefon: 041 555 666" in new
    claimed = rest.split("Odprte prošnje")[0]
    assert "📋 Prošnja št. 1 · " in claimed and " · Ana (vi) · " in claimed  # the card as it is now
    assert "1) Kontaktirano" in claimed and "Prevzamem" not in claimed
    assert "Odprte prošnje (1)" in text
    assert "V Telegramu bi osebi zdaj poslali vaše sporočilo k prošnji št. 1" in text
    away = text.split("Zapisano: odsotni ste")[1]
    assert "🌴 Ana (vi) je odsotna." in away
    assert "  6) Predaj → Mojca" in away  # her card offers her colleague while she is away
    assert "↪️ Prošnja št. 1 je predana: Ana (vi) → Mojca." in away
    assert "Stanje: prevzeta · Mojca · " in away.split("Dobrodošli nazaj")[0]
    assert "📊 Poročilo od" in text
    assert text.count("Prošnje št. 7 ni") == 2  # /prosnja 7 and a reply to card 7
    assert "Tega ne razumem" in text
    assert "Traceback" not in text

    db = Database(url)
    async with db.transaction() as s:
        [req] = await repo.requests_of(s, person_key("telegram", TERMINAL_USER))
        rows = await repo.pending_outbox(s)
    await db.dispose()
    assert req.status == "claimed" and req.owner_id == TERMINAL_COLLEAGUE
    assert req.owner_name == "Mojca"
    relays = [r for r in rows if r.kind == "relay_to_resident"]
    assert [(r.chat, r.payload["text"], r.payload["name"]) for r in relays] == [
        (person_key("telegram", TERMINAL_USER), "Pokličem vas jutri dopoldne.", "Ana (vi)")]
    assert {r.kind for r in rows} == {"relay_to_resident", "resident_claimed"}  # no staff chat
    assert not (tmp_path / "bot.db").exists()  # the bot's database was never opened


async def test_the_staff_terminal_without_requests_says_how_to_make_one(tmp_path):
    settings, _ = _settings(tmp_path)
    out = io.StringIO()
    await staff_chat(settings, lines=iter(["/odprte", "5"]), out=out)
    text = out.getvalue()
    assert "korak chat" in text.split("\n", 1)[1]  # no request yet: how to make one
    assert "Odprtih prošenj ni." in text
    assert "Tega ne razumem" in text  # a number with no button to press


def test_korak_chat_staff_starts_the_staff_side():
    with mock.patch("bot.staff.terminal.staff_chat", new=mock.AsyncMock(return_value=0)) as run:
        assert cli.main(["chat", "--staff"]) == 0
    run.assert_awaited_once()
