"""The coordinators' side through Dispatcher.feed_update: card buttons, who may press them,
messages relayed both ways, staff commands, reminders and the digest."""

import asyncio
from datetime import datetime, timezone

from aiogram.exceptions import TelegramForbiddenError

from bot.channels.sender import Sender
from storage import repo

from .conftest import COORD_A, COORD_B, STAFF, STRANGER
from .test_handlers import U, complete_intake


async def new_card(h, uid=U):
    await complete_intake(h, uid)
    await h.outbox.run_once()
    return h.card()


async def stored(h, request_id=1):
    async with h.db.transaction() as s:
        return await repo.get_request(s, request_id), await repo.history(s, request_id)


async def test_new_request_card_has_everything_to_call_and_one_button(h):
    _, text, buttons = await new_card(h)
    assert text.startswith("🆕 Nova prošnja št. 1")
    for part in ("Lokacija: Slovenj Gradec", "Kotlje", "041 123 456",
                 "Kontakt: po telefonu, dopoldne", "dolgotrajni prejemnik DSP",
                 "Čaka na prevzem že"):
        assert part in text
    assert list(buttons) == ["Prevzamem"]
    assert buttons["Prevzamem"] == "h|1|claim:0"


async def test_claim_edits_the_card_records_history_and_tells_the_resident(h):
    mid, _, _ = await new_card(h)
    await h.card_press(COORD_A, "Prevzamem")
    _, text, buttons = h.card()
    assert "Stanje: prevzeta · Mojca" in text and "26. 11. 2026 ob 11.00" in text
    assert list(buttons) == ["Kontaktirano", "Vključen/a", "Ni primerno", "Ni dosegljiv/a",
                             "Vrni v vrsto", "↪️ Predaj"]
    assert h.session.edits(STAFF)[-1].message_id == mid
    req, events = await stored(h)
    assert (req.status, req.owner_id, req.owner_name, req.version) == ("claimed", COORD_A,
                                                                       "Mojca", 1)
    assert [(e.actor_id, e.action, e.from_status, e.to_status) for e in events] == [
        (COORD_A, "claim", "new", "claimed")]
    await h.outbox.run_once()
    told = h.session.sent(U)[-1].text
    assert "Mojca" in told and "Socialna aktivacija" in told
    assert "Breda" not in told and "9001" not in told


async def test_every_outcome_button(h):
    await new_card(h)
    await h.card_press(COORD_A, "Prevzamem")
    await h.card_press(COORD_A, "Kontaktirano")
    assert "Stanje: kontaktirano · Mojca" in h.card()[1]
    assert "Kontaktirano" not in h.card()[2]
    for label, status, shown in (("Vključen/a", "enrolled", "vključen/a v program"),
                                 ("Ni primerno", "not_suitable", "ni primerno"),
                                 ("Ni dosegljiv/a", "unreachable", "ni dosegljiv/a")):
        await h.card_press(COORD_A, label)
        req, _ = await stored(h)
        assert req.status == status and f"Stanje: {shown}" in h.card()[1]
        assert list(h.card()[2]) == ["Vrni v vrsto"]
        await h.card_press(COORD_B, "Vrni v vrsto")  # any coordinator can undo
        req, _ = await stored(h)
        assert req.status == "new" and req.owner_id is None
        await h.card_press(COORD_A, "Prevzamem")
    _, events = await stored(h)
    assert [e.action for e in events] == [
        "claim", "contacted", "enrolled", "release", "claim", "not_suitable", "release", "claim",
        "unreachable", "release", "claim"]
    assert [e.actor_id for e in events if e.action == "release"] == [COORD_B] * 3


async def test_stranger_press_is_refused_and_changes_nothing(h):
    await new_card(h)
    edits_before = len(h.session.edits())
    await h.card_press(STRANGER, "Prevzamem")
    answer = h.session.answers()[-1]
    assert answer.text == "Nimate dovoljenja." and answer.show_alert
    req, events = await stored(h)
    assert req.status == "new" and events == []
    assert len(h.session.edits()) == edits_before  # the card is not touched either


async def test_other_coordinator_cannot_record_the_owners_outcome(h):
    await new_card(h)
    await h.card_press(COORD_A, "Prevzamem")
    await h.card_press(COORD_B, "Vključen/a")
    assert "ima v obdelavi Mojca" in h.session.answers()[-1].text
    req, _ = await stored(h)
    assert req.status == "claimed"


async def test_stale_and_forged_callbacks_change_nothing(h):
    mid, _, buttons = await new_card(h)
    await h.card_press(COORD_A, "Prevzamem")
    # Breda's phone still shows the old card with "Prevzamem"
    await h.tap(COORD_B, buttons["Prevzamem"], chat_id=STAFF, message_id=mid)
    assert "ni več veljaven" in h.session.answers()[-1].text
    for data in ("h|1|enrolled:0", "h|1|enrolled:99", "h|999|claim:0", "h|1|x", "h|abc|claim:0",
                 "h|1|claim:1|extra", "h|" + "9" * 40 + "|claim:0"):
        await h.tap(COORD_A, data, chat_id=STAFF, message_id=mid)
    # pressed from a private chat, even by a coordinator: refused
    await h.tap(COORD_A, "h|1|contacted:1", chat_id=COORD_A)
    assert h.session.answers()[-1].text == "Nimate dovoljenja."
    # and a card button pressed in some other group
    await h.tap(COORD_A, "h|1|contacted:1", chat_id=-100999, message_id=mid)
    req, events = await stored(h)
    assert (req.status, req.version, len(events)) == ("claimed", 1, 1)


async def test_coordinator_reply_to_card_reaches_the_resident_signed(h):
    mid, _, _ = await new_card(h)
    await h.staff_text(COORD_A, "Pokličem vas jutri ob 10h.", reply_to=mid)
    await h.outbox.run_once()
    msg = h.session.sent(U)[-1].text
    assert "Pokličem vas jutri ob 10h." in msg and "Mojca" in msg
    # delivered text is not kept in the outbox
    async with h.db.transaction() as s:
        rows = [r for r in await repo.pending_outbox(s)]
        assert rows == []
        from sqlalchemy import select
        from storage.models import Outbox
        relayed = (await s.execute(select(Outbox).where(Outbox.kind == "relay_to_resident"))
                   ).scalars().one()
        assert "text" not in relayed.payload and relayed.sent_at is not None


async def test_resident_message_appears_as_reply_to_card_and_the_answer_goes_back(h):
    mid, _, _ = await new_card(h)
    await h.text(U, "Ali lahko pridem z otrokom?")
    assert "posredovali ekipi" in h.session.sent(U)[-1].text
    await h.outbox.run_once()
    relayed = h.session.sent(STAFF)[-1]
    assert "Ali lahko pridem z otrokom?" in relayed.text and "prošnja št. 1" in relayed.text
    assert relayed.reply_to_message_id == mid
    # a coordinator answers the relayed message itself
    await h.staff_text(COORD_B, "Seveda.", reply_to=h.session.message_id_of[id(relayed)])
    await h.outbox.run_once()
    assert "Seveda." in h.session.sent(U)[-1].text and "Breda" in h.session.sent(U)[-1].text


async def test_replies_from_strangers_and_unrelated_messages_are_not_relayed(h):
    mid, _, _ = await new_card(h)
    before = len(h.session.sent(U))
    await h.staff_text(STRANGER, "Živjo!", reply_to=mid)
    await h.staff_text(COORD_A, "Kavo?", reply_to=5)  # a reply to something else
    await h.staff_text(COORD_A, "Kdo gre na sestanek?")
    await h.outbox.run_once()
    assert len(h.session.sent(U)) == before


async def test_media_reply_to_card_asks_for_text(h):
    from aiogram.types import PhotoSize
    mid, _, _ = await new_card(h)
    from aiogram.types import Chat, Message, Update

    from .conftest import NOW
    photo = Message(message_id=77, date=NOW, chat=Chat(id=STAFF, type="supergroup"),
                    from_user=h.user(COORD_A),
                    photo=[PhotoSize(file_id="f", file_unique_id="u", width=1, height=1)],
                    reply_to_message=Message(message_id=mid, date=NOW,
                                             chat=Chat(id=STAFF, type="supergroup"), text="…"))
    await h.feed(Update(update_id=999, message=photo))
    assert "samo besedilo" in h.session.sent(STAFF)[-1].text


async def test_blocked_resident_is_marked_and_the_card_says_so(h):
    mid, _, _ = await new_card(h)
    h.session.fail = [lambda m: TelegramForbiddenError(m, "Forbidden: bot was blocked")]
    await h.staff_text(COORD_A, "Ste tam?", reply_to=mid)
    await h.outbox.run_once()
    assert h.unreachable == [U]
    await h.outbox.run_once()
    assert "bota blokirala" in h.session.sent(STAFF)[-1].text
    assert h.session.sent(STAFF)[-1].reply_to_message_id == mid
    await h.handoff.resident_blocked(U)  # a second 403 says nothing new
    await h.outbox.run_once()
    assert sum("bota blokirala" in m.text for m in h.session.sent(STAFF)) == 1
    assert "bota blokirala" in h.card()[1]
    # a further reply says at once that it cannot go
    await h.staff_text(COORD_A, "Halo?", reply_to=mid)
    assert "nismo mogli poslati" in h.session.sent(STAFF)[-1].text


async def test_odprte_lists_open_requests_and_prosnja_shows_a_card_again(h):
    await new_card(h)
    await complete_intake(h, 502)
    await h.outbox.run_once()
    await h.card_press(COORD_A, "Prevzamem")  # the newest card: request 2
    await h.staff_text(COORD_B, "/odprte")
    listing = h.session.sent(STAFF)[-1].text
    assert "Odprte prošnje (2)" in listing
    assert listing.index("št. 1 ") < listing.index("št. 2 ") and "Mojca" in listing
    await h.staff_text(COORD_B, "/prosnja@KorakBot 1")
    mid, text, buttons = h.card()
    assert text.startswith("🆕 Nova prošnja št. 1") and list(buttons) == ["Prevzamem"]
    # the re-shown card is the one replies go to now
    await h.staff_text(COORD_B, "Dober dan!", reply_to=mid)
    await h.outbox.run_once()
    assert "Dober dan!" in h.session.sent(U)[-1].text
    await h.staff_text(COORD_B, "/prosnja 55")
    assert "Prošnje št. 55 ni" in h.session.sent(STAFF)[-1].text
    await h.staff_text(COORD_B, "/prosnja")
    assert "/prosnja 12" in h.session.sent(STAFF)[-1].text


async def test_staff_commands_are_for_coordinators_in_the_staff_chat_only(h):
    await new_card(h)
    await h.staff_text(STRANGER, "/odprte")
    assert h.session.sent(STAFF)[-1].text == "Nimate dovoljenja."
    await h.text(COORD_A, "/odprte")  # private chat of a coordinator: no personal data
    reply = h.session.sent(COORD_A)[-1].text
    assert "samo v skupini" in reply and "041" not in reply
    await h.text(U, "/odprte")  # a resident: just an unknown command
    assert "Odprte" not in h.session.sent(U)[-1].text
    # another group: the bot stays silent
    before = len(h.session.requests)
    await h.text(COORD_A, "/odprte", chat_type="supergroup", chat_id=-100555)
    assert len(h.session.requests) == before


async def test_coordinators_added_in_the_database_may_act(h):
    await new_card(h)
    async with h.db.transaction() as s:
        await repo.add_coordinator(s, STRANGER, "Tine", h.now)
    await h.card_press(STRANGER, "Prevzamem")
    req, _ = await stored(h)
    assert req.owner_id == STRANGER


async def test_reminders_and_digest_are_planned_once_across_restarts(h):
    await new_card(h)
    sent_before = len(h.session.sent(STAFF))
    # Thursday 11:00 + 8 working hours = Friday 12:00 (Ljubljana)
    h.now = datetime(2026, 11, 27, 10, 59, tzinfo=timezone.utc)
    assert await h.handoff.plan() == 1  # Friday's digest only
    h.now = datetime(2026, 11, 27, 11, 0, tzinfo=timezone.utc)
    assert await h.handoff.plan() == 1  # the unclaimed reminder
    assert await h.handoff.plan() == 0
    from bot.staff.handoff import HandoffService
    restarted = HandoffService(h.db, h.settings, lambda: h.now)
    assert await restarted.plan() == 0
    await h.outbox.run_once()
    new = [m.text for m in h.session.sent(STAFF)[sent_before:]]
    assert len(new) == 2  # read at noon: "Dober dan!", not "Dobro jutro"
    assert any(t.startswith("Dober dan!") and "Slovenj Gradec, nova, čaka na prevzem: 1" in t
               for t in new)
    remind = [m for m in h.session.sent(STAFF) if "še nima nikogar" in m.text]
    assert len(remind) == 1 and remind[0].reply_to_message_id == h.card()[0]
    # claimed and left: the owner is reminded after two working days
    await h.card_press(COORD_A, "Prevzamem")
    h.now = datetime(2026, 12, 1, 11, 0, tzinfo=timezone.utc)  # Tuesday
    await h.handoff.plan()
    await h.outbox.run_once()
    assert any("Mojca, prošnja št. 1 je pri vas" in m.text for m in h.session.sent(STAFF))


async def test_a_burst_of_cards_queues_within_the_group_limit(h):
    for uid in range(600, 625):
        await complete_intake(h, uid)
    h.slept.clear()
    start = h.clock
    assert await h.outbox.run_once() == 25
    assert len(h.session.sent(STAFF)) == 25
    # 20 messages a minute: 25 cards take over a minute of (fake) waiting, none is lost
    assert h.clock - start >= 60


async def test_deleted_request_card_button_says_it_is_gone(h):
    await new_card(h)
    await h.text(U, "/izbrisi")
    await h.press(U, "Da, izbrišite vse")
    await h.outbox.run_once()
    mid, text, buttons = h.card()
    assert "umaknjena" in text and "041" not in text and "Kotlje" not in text and not buttons
    await h.tap(COORD_A, "h|1|claim:0", chat_id=STAFF, message_id=mid)  # an old copy of it
    assert "izbrisala svoje podatke" in h.session.answers()[-1].text


async def test_edits_of_one_card_waiting_for_the_group_limit_collapse_into_the_newest(h):
    # a real wait for the group's limit (sped up: 10 a second), the allowance used up first
    sender = Sender(h.bot, group_per_minute=600)
    for _ in range(3):
        sender._bucket(STAFF).wait_time()
    texts = [f"različica {n}" for n in range(6)]
    await asyncio.gather(*(sender.edit_text(STAFF, 77, t) for t in texts))
    assert [e.text for e in h.session.edits(STAFF)] == ["različica 0", "različica 5"]
    await sender.edit_text(STAFF, 78, "druga kartica")  # another message is its own
    assert h.session.edits(STAFF)[-1].message_id == 78
