"""Cover for an absent coordinator through Dispatcher.feed_update: /odsotna and /nazaj in the
staff chat, the card while its owner is away, Predaj (from her absence and at any time), the
history row it leaves, and the no-outcome reminder addressed to everyone while she is away."""

from datetime import date, datetime, timezone

from storage import cover, repo
from storage.models import group_key

from .conftest import COORD_A, COORD_B, STAFF, STRANGER
from .test_handlers import complete_intake
from .test_staff import new_card, stored

ANA = 9003  # a third coordinator, named in the coordinator table


async def team(h):
    async with h.db.transaction() as s:
        await repo.add_coordinator(s, ANA, "Ana", h.now)
        await repo.add_coordinator(s, COORD_B, "Breda", h.now)


async def claimed_by_mojca(h):
    await team(h)
    mid, _, _ = await new_card(h)
    await h.card_press(COORD_A, "Prevzamem")
    return mid


def said(h):
    return h.session.sent(STAFF)[-1].text


async def absent(h):
    async with h.db.transaction() as s:
        return {(a.telegram_id, a.until) for a in await cover.absences(s)}


async def test_away_card_offers_colleagues_and_a_handover_leaves_history(h):
    mid = await claimed_by_mojca(h)
    await h.staff_text(COORD_A, "/odsotna do 4. 12. 2026")
    reply = said(h)
    assert "odsotni ste do vključno 4. 12. 2026" in reply
    assert "Imate 1 odprto prošnjo" in reply and "vsa skupina" in reply
    assert await absent(h) == {(COORD_A, date(2026, 12, 4))}
    await h.outbox.run_once()  # her card is edited in place
    assert h.session.edits(STAFF)[-1].message_id == mid
    _, text, buttons = h.card()
    assert "🌴 Mojca je odsotna do vključno 4. 12. 2026." in text
    assert "Stanje: prevzeta · Mojca" in text
    assert [b for b in buttons if b.startswith("Predaj")] == ["Predaj → Ana", "Predaj → Breda"]
    assert "↪️ Predaj" not in buttons

    # only coordinators may press
    await h.card_press(STRANGER, "Predaj → Breda")
    assert h.session.answers()[-1].text == "Nimate dovoljenja."
    assert (await stored(h))[0].owner_id == COORD_A

    # Ana hands it to Breda
    await h.card_press(ANA, "Predaj → Breda")
    req, events = await stored(h)
    assert (req.status, req.owner_id, req.owner_name) == ("claimed", COORD_B, "Breda")
    handover = events[-1]
    assert (handover.action, handover.actor_id, handover.from_owner_id, handover.from_owner_name,
            handover.to_owner_id, handover.to_owner_name) == (
        "handover", ANA, COORD_A, "Mojca", COORD_B, "Breda")
    assert [e.action for e in events] == ["claim", "handover"]
    _, text, buttons = h.card()
    assert "Stanje: prevzeta · Breda" in text
    assert "🤝 Nadomešča Breda, ker je Mojca odsotna do vključno 4. 12. 2026." in text
    assert "🌴" not in text  # Breda is in: her card is an ordinary one
    assert "Kontaktirano" in buttons and "↪️ Predaj" in buttons
    notice = h.session.sent(STAFF)[-1]
    assert notice.text == "↪️ Prošnja št. 1 je predana: Mojca → Breda. Predala jo je Ana."
    assert notice.reply_to_message_id == mid
    # Breda records the outcome now; Mojca's old card buttons are stale
    await h.card_press(COORD_B, "Kontaktirano")
    assert (await stored(h))[0].status == "contacted"


async def test_predaj_at_any_time_opens_a_choice_and_stale_choices_do_nothing(h):
    mid = await claimed_by_mojca(h)
    await h.card_press(COORD_B, "↪️ Predaj")
    _, text, buttons = h.card()
    assert "Komu predate prošnjo?" in text
    assert list(buttons) == ["Predaj → Ana", "Predaj → Breda", "← Nazaj"]  # not Mojca: hers
    assert (await stored(h))[0].version == 1  # opening the choice changes nothing
    choice = dict(buttons)
    await h.card_press(COORD_B, "Predaj → Breda")  # she takes it herself
    req, events = await stored(h)
    assert req.owner_id == COORD_B and events[-1].actor_id == COORD_B
    # a second tap on the old choice: stale, nothing more happens
    await h.tap(COORD_A, choice["Predaj → Ana"], chat_id=STAFF, message_id=mid)
    assert "ni več veljaven" in h.session.answers()[-1].text
    req, events = await stored(h)
    assert req.owner_id == COORD_B and [e.action for e in events] == ["claim", "handover"]
    # Nazaj leaves the choice
    await h.card_press(COORD_A, "↪️ Predaj")
    await h.card_press(COORD_A, "← Nazaj")
    assert "Stanje: prevzeta · Breda" in h.card()[1] and "Kontaktirano" in h.card()[2]
    # a stranger cannot even open the choice
    await h.card_press(STRANGER, "↪️ Predaj")
    assert h.session.answers()[-1].text == "Nimate dovoljenja."


async def test_a_coordinator_who_is_away_is_not_offered_and_cannot_be_chosen(h):
    await claimed_by_mojca(h)
    await h.staff_text(ANA, "/odsotna")
    assert "dokler ne napišete /nazaj" in said(h) and "Odprtih prošenj nimate" in said(h)
    await h.card_press(COORD_B, "↪️ Predaj")
    assert list(h.card()[2]) == ["Predaj → Breda", "← Nazaj"]
    # a forged (or old) button for Ana is refused
    await h.tap(COORD_B, "h|1|give.9003:1", chat_id=STAFF, message_id=h.card()[0])
    assert "ne morete izbrati" in h.session.answers()[-1].text
    assert (await stored(h))[0].owner_id == COORD_A


async def test_reminders_go_to_everyone_while_she_is_away_and_to_her_after_nazaj(h):
    mid = await claimed_by_mojca(h)
    await h.staff_text(COORD_A, "/odsotna")
    # two working days after the claim, no outcome
    h.now = datetime(2026, 12, 1, 11, 0, tzinfo=timezone.utc)
    await h.handoff.plan()
    await h.outbox.run_once()
    reminder = [m for m in h.session.sent(STAFF) if m.text.startswith("⏰")]
    assert len(reminder) == 1
    assert reminder[0].text.startswith("⏰ Vsem koordinatorkam: prošnja št. 1 je od 26. 11. 2026")
    assert "Mojca pa je odsotna" in reminder[0].text and "pri vas" not in reminder[0].text
    assert reminder[0].reply_to_message_id == mid

    await h.staff_text(COORD_A, "/nazaj")
    assert said(h).startswith("Dobrodošli nazaj!")
    assert await absent(h) == set()
    await h.outbox.run_once()
    _, text, buttons = h.card()
    assert "🌴" not in text and "↪️ Predaj" in buttons
    assert not any(b.startswith("Predaj →") for b in buttons)
    # a reminder now names her again
    async with h.db.transaction() as s:
        await repo.add_outbox(s, kind="staff_no_outcome", chat=group_key(STAFF), due_at=h.now,
                              payload={"request_id": 1}, request_id=1, key="no_outcome:again")
    await h.outbox.run_once()
    assert said(h).startswith("⏰ Mojca, prošnja št. 1 je pri vas")
    await h.staff_text(COORD_A, "/nazaj")
    assert "Niste zapisani kot odsotni" in said(h)


async def test_the_absence_ends_by_itself_after_the_last_day(h):
    await claimed_by_mojca(h)
    await h.staff_text(COORD_A, "/odsotna@KorakBot do 27. 11. 2026")  # Friday
    await h.outbox.run_once()
    assert "🌴 Mojca je odsotna do vključno 27. 11. 2026." in h.card()[1]
    h.now = datetime(2026, 11, 27, 22, 30, tzinfo=timezone.utc)  # Friday 23.30 in Ljubljana
    await h.handoff.plan()
    assert await absent(h) != set()
    h.now = datetime(2026, 11, 27, 23, 30, tzinfo=timezone.utc)  # Saturday 0.30: she is back
    await h.staff_text(COORD_B, "/prosnja 1")  # even before the planner has run
    assert "🌴" not in h.card()[1]
    await h.handoff.plan()
    assert await absent(h) == set()
    edits = len(h.session.edits(STAFF))
    await h.outbox.run_once()  # her cards are edited back
    assert len(h.session.edits(STAFF)) > edits and "🌴" not in h.card()[1]


async def test_an_unnamed_coordinator_is_named_as_she_last_acted(h):
    await new_card(h)
    await complete_intake(h, 502)
    await h.outbox.run_once()
    await h.card_press(COORD_B, "Prevzamem")  # request 2: Breda (COORDINATOR_IDS only)
    await h.staff_text(COORD_A, "/prosnja 1")
    await h.card_press(COORD_A, "Prevzamem")
    await h.card_press(COORD_A, "↪️ Predaj")
    assert "Predaj → Breda" in h.card()[2]


async def test_bad_dates_and_strangers(h):
    await claimed_by_mojca(h)
    await h.staff_text(COORD_A, "/odsotna do jutri")
    assert said(h) == ("Datuma »jutri« ne razumem. Napišite ga tako: /odsotna do 10. 12. 2026. "
                       "Če datuma še ne veste, napišite samo /odsotna.")
    await h.staff_text(COORD_A, "/odsotna do 30. 2. 2027")
    assert "Datuma »30. 2. 2027« ne razumem" in said(h)
    await h.staff_text(COORD_A, "/odsotna do 1. 9. 2026")
    assert said(h) == ("Dan 1. 9. 2026 je že mimo. Napišite zadnji dan odsotnosti, na primer: "
                       "/odsotna do 10. 12. 2026.")
    await h.staff_text(COORD_A, "/odsotna do 1. 9. 2030")
    assert "več kot leto dni naprej" in said(h)
    assert await absent(h) == set()
    await h.staff_text(STRANGER, "/odsotna")
    assert said(h) == "Nimate dovoljenja."
    await h.staff_text(STRANGER, "/nazaj")
    assert said(h) == "Nimate dovoljenja."
    assert await absent(h) == set()
    # in a private chat a coordinator is pointed to the staff chat; nothing is stored
    await h.text(COORD_A, "/odsotna")
    assert "sporočite v skupini koordinatork" in h.session.sent(COORD_A)[-1].text
    await h.text(COORD_A, "/nazaj")
    assert "sporočite v skupini koordinatork" in h.session.sent(COORD_A)[-1].text
    assert await absent(h) == set()
