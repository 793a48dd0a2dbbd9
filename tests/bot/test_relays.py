"""What one resident can send the coordinators: at most RELAY_PER_HOUR messages an hour, then
one kind reply; a long message reaches the staff chat whole, in parts within Telegram's limit;
a person's own words are fenced in cards and relays so they cannot imitate the card's lines."""

from datetime import timedelta

from dialogs.replies import FENCE, fence
from storage import repo

from .conftest import COORD_A, STAFF
from .test_handlers import U, complete_intake
from .test_staff import new_card


async def test_past_the_hourly_limit_one_kind_reply_then_quiet(h):
    h.settings.relay_per_hour = 3
    await complete_intake(h)
    for n in range(3):
        await h.text(U, f"sporočilo {n}")
        assert "posredovali" in h.session.sent(U)[-1].text
    before = len(h.session.sent(U))
    await h.text(U, "še eno")
    told = h.session.sent(U)[-1].text
    assert "največ 3 sporočila" in told and len(h.session.sent(U)) == before + 1
    for _ in range(5):  # a flood: no reply to each, nothing queued
        await h.text(U, "in še")
    assert len(h.session.sent(U)) == before + 1
    async with h.db.transaction() as s:
        relays = [r for r in await repo.pending_outbox(s) if r.kind == "relay_to_staff"]
    assert len(relays) == 3
    # an hour later the count has room again
    h.now += timedelta(hours=1, minutes=1)
    await h.text(U, "naslednji dan")
    assert "posredovali" in h.session.sent(U)[-1].text


async def test_a_long_message_reaches_the_staff_chat_whole_in_parts(h):
    await new_card(h)
    # as long as Telegram lets a resident write (4,096): with the card's template it is more
    words = " ".join(f"beseda{i}" for i in range(420))
    assert 4000 < len(words) <= 4096
    await h.text(U, words)
    await h.outbox.run_once()
    parts = [m for m in h.session.sent(STAFF) if "Sporočilo" in m.text or "beseda" in m.text]
    assert len(parts) == 2 and all(len(m.text) <= 4096 for m in parts)
    assert parts[0].text.count("(1/2)") == 1 and "(2/2)" in parts[1].text
    got = " ".join(line.removeprefix(FENCE) for m in parts for line in m.text.split("\n")
                   if line.startswith(FENCE))
    assert [w for w in got.split() if w.startswith("beseda")] == words.split()
    card = h.card()[0]
    assert all(m.reply_to_message_id == card for m in parts)


async def test_a_long_reply_from_a_coordinator_reaches_the_resident_whole(h):
    mid, _, _ = await new_card(h)
    await h.card_press(COORD_A, "Prevzamem")
    text = "Pozdravljeni. " + "x" * 5000
    await h.staff_text(COORD_A, text, reply_to=mid)
    await h.outbox.run_once()
    got = [m.text for m in h.session.sent(U) if "xxxx" in m.text]
    assert len(got) == 2 and all(len(t) <= 4096 for t in got)
    assert sum(t.count("x") for t in got) == 5000


async def test_words_that_imitate_card_lines_are_fenced(h):
    await h.text(U, "/start")
    await h.press(U, "Da, strinjam se")
    await h.press(U, "Muta")
    for label in ("Ne", "Ne delam, ne iščem dela", "Ne, preskočite"):
        await h.press(U, label)
    await h.text(U, "Rada bi delala\nTelefon: 040 000 000\nKontakt: Ponoči")
    await h.press(U, "Ana")
    await h.text(U, "041 123 456")
    await h.press(U, "Dopoldne")
    await h.press(U, "✅ Potrjujem")
    await h.outbox.run_once()
    _, card, _ = h.card()
    lines = card.split("\n")
    assert [ln for ln in lines if ln.startswith("Telefon:")] == ["Telefon: 041 123 456"]
    assert f"{FENCE}Telefon: 040 000 000" in lines and f"{FENCE}Kontakt: Ponoči" in lines
    await h.text(U, "Ime: Nekdo Drug\u2028Telefon: 031 999 999")
    await h.outbox.run_once()
    relayed = h.session.sent(STAFF)[-1].text.split("\n")
    assert not any(ln.startswith(("Telefon:", "Ime:")) for ln in relayed)
    assert f"{FENCE}Telefon: 031 999 999" in relayed


def test_fence_marks_every_line_and_drops_what_cannot_be_shown():
    assert fence("a\r\nb\u2029c\x00d") == f"{FENCE}a\n{FENCE}b\n{FENCE}cd"
