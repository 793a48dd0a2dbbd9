"""Issue 22, the residents' dead ends, through the real `korak run` process and the Bot API
emulator: "Drugje" then an unknown place; a way on without a place (the card in the main chat
with the sites to choose, the report's row of its own); a place outside Koroška chosen at the
summary; a correction soon after the referral; /status and /pomoc in the middle of the intake.

One process serves the whole module (each resident has an id of their own), so the file runs
in about the time of one intake per point."""

import time

import pytest

from .test_e2e import (COORD, STAFF, Chat, Emulator, answer_the_rest, buttons_of,  # noqa: F401
                       free_port, pytestmark, start_bot, stop)

TOPICS = {"slovenj-gradec": 11, "radlje-ob-dravi": 12}  # a forum group: a topic per site


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dead_ends")
    emu = Emulator(free_port())
    log = open(tmp / "bot.log", "w")
    bot = start_bot(emu, tmp / "e2e.db", log,
                    STAFF_TOPICS=",".join(f"{s}={t}" for s, t in TOPICS.items()))
    try:
        yield emu, bot
    finally:
        stop(bot, log)
        emu.stop()
        text = (tmp / "bot.log").read_text()
        assert "Traceback" not in text, text[-3000:]


def begin(r):
    r.say("/start")
    r.press("Da, strinjam se")
    r.wait("V kateri občini živite")


def test_after_drugje_an_unknown_place_is_asked_again(running):
    emu, _ = running
    r = Chat(emu, 7901)
    begin(r)
    r.press("Drugje")
    r.wait("Napišite njeno ime")
    r.say("Meškova 21")
    r.wait("Tega kraja žal ne poznam")
    assert r.button("Prevalje")  # the place question again, with its buttons
    assert not any("Koroškem" in (m.get("text") or "") for m in r.seen)
    r.press("Drugje")
    r.say("ne vem")
    r.wait("Ne vem, pokličite me")  # the second miss offers the way on
    r.press("Drugje")
    r.say("Maribor")  # known, outside Koroška: the referral
    r.wait("v podravski regiji")


def test_a_way_on_without_a_place_reaches_the_main_chat_with_site_buttons(running):
    emu, _ = running
    staff = Chat(emu, STAFF)
    staff.seen += emu.inbox(STAFF)
    staff.seen.clear()
    r = Chat(emu, 7902)
    begin(r)
    r.say("Meškova 21")
    r.wait("Tega kraja žal ne poznam")
    asked = r.wait("Izberite spodaj ali napišite kraj")
    assert "Prevalje" in buttons_of(asked)
    assert "Ne vem, pokličite me" not in buttons_of(asked)  # not after one miss
    r.say("ne vem")
    r.wait("še vedno ne najdem")
    r.press("Ne vem, pokličite me")
    r.wait("Nadaljujemo brez kraja")
    summary = answer_the_rest(r)
    assert "Kraj: ne vem" in summary["text"]
    assert "Lokacija programa: izbrala jo bo koordinatorka" in summary["text"]
    r.press("✅ Potrjujem")
    r.wait("Z vami se bo dogovorila tudi o lokaciji programa")

    card = staff.wait("Nova prošnja")
    assert "Lokacija še ni izbrana" in card["text"], card["text"]
    assert card.get("message_thread_id") is None, card  # the main chat, not a site topic
    assert {"📍 Slovenj Gradec", "📍 Radlje ob Dravi", "Prevzamem"} <= set(buttons_of(card))

    # the report counts it in a row of its own until a site is chosen
    staff.seen.clear()
    emu.say(COORD, "/porocilo", chat_id=STAFF, chat_type="supergroup")
    summary = staff.wait("📊 Poročilo od")
    assert "Brez lokacije <3" in summary["text"], summary["text"]

    emu.tap(COORD, buttons_of(card)["📍 Radlje ob Dravi"], chat_id=STAFF,
            message_id=card["message_id"])
    deadline = time.time() + 20
    while "Lokacija: Radlje ob Dravi" not in emu.current(card["message_id"])["text"]:
        assert time.time() < deadline, emu.current(card["message_id"])["text"]
        time.sleep(0.1)
    now = emu.current(card["message_id"])
    assert "Lokacija še ni izbrana" not in now["text"]
    assert not any(label.startswith("📍") for label in buttons_of(now))
    staff.seen.clear()
    emu.say(COORD, "/porocilo", chat_id=STAFF, chat_type="supergroup")
    summary = staff.wait("📊 Poročilo od")
    assert "Brez lokacije" not in summary["text"], summary["text"]

    # a request with a site still goes to its site's topic
    other = Chat(emu, 7912)
    begin(other)
    other.say("Prevalje")
    other.wait("lokacija programa je")
    answer_the_rest(other)
    other.press("✅ Potrjujem")
    staff.seen.clear()
    card = staff.wait("Nova prošnja")
    assert card.get("message_thread_id") == TOPICS["slovenj-gradec"], card


def test_changing_the_place_to_one_outside_koroska_asks_first(running):
    emu, _ = running
    r = Chat(emu, 7903)
    begin(r)
    r.say("Prevalje")
    r.wait("lokacija programa je")
    answer_the_rest(r)
    r.press("✏️ Želim popraviti")
    r.press("Kraj")
    r.wait("V kateri občini živite")
    r.say("Maribor")
    asked = r.wait("Ali res živite tam")
    assert "Občina Maribor je v podravski regiji, ne na Koroškem." in asked["text"]
    assert set(buttons_of(asked)) == {"Da, živim tam", "Nazaj na povzetek"}
    r.press("Nazaj na povzetek")
    summary = r.wait("Preverite svoje odgovore")
    assert "Prevalje" in summary["text"] and f"Oseba{r.uid}" in summary["text"]
    r.press("✅ Potrjujem")
    r.wait("Vaša prošnja je oddana")


def test_a_koroska_place_soon_after_the_referral_is_a_correction(running):
    emu, _ = running
    r = Chat(emu, 7904)
    begin(r)
    r.say("Maribor")
    r.wait("v podravski regiji")
    r.say("oprostite, mislila sem Muta")
    r.wait("Muta je na Koroškem")
    r.press("Da, strinjam se")  # the consent again, in one tap
    r.wait("lokacija programa je Radlje ob Dravi")
    r.wait("Ali prejemate denarno socialno pomoč")


def test_status_and_help_in_the_middle_of_the_intake(running):
    emu, _ = running
    r = Chat(emu, 7905)
    begin(r)
    r.say("Kotlje")
    r.wait("Ali prejemate denarno socialno pomoč")
    r.say("/status")
    told = r.wait("Vaše prošnje še niste oddali")
    assert "Nimate odprte prošnje" not in told["text"]
    r.wait("Ali prejemate denarno socialno pomoč")  # and the open question again
    r.say("/pomoc")
    r.wait("Ta pomočnik vam pove")
    r.wait("Vaše prošnje še niste oddali")
    r.wait("Ali prejemate denarno socialno pomoč")
    r.press("Ne")  # and on, where they were
    r.wait("Kaj od tega velja za vas")
