"""Names, not numbers (issue 22, point 7): wherever a coordinator appears (the card's status
line, the handover buttons, the notice under the card) she has one display name: the one
`korak coordinators add --name` gave, else the Telegram first name korak last saw her under in
the staff chat, else the one getChatMember gives; never her bare id."""

from types import SimpleNamespace

from aiogram.methods import GetChatMember

from storage import cover, repo

from .conftest import COORD_A, COORD_B, STAFF
from .test_staff import new_card


def member_names(h, names):
    record = h.session.make_request

    async def make_request(bot, method, timeout=None):
        if isinstance(method, GetChatMember) and method.user_id in names:
            h.session.requests.append(method)
            return SimpleNamespace(status="member", user=SimpleNamespace(
                id=method.user_id, first_name=names[method.user_id]))
        return await record(bot, method, timeout)
    h.session.make_request = make_request


async def test_a_coordinator_seen_in_the_staff_chat_is_named_not_numbered(h):
    """Breda (COORDINATOR_IDS only) has written in the staff chat but never pressed a card:
    the handover, the card and the notice all say Breda."""
    await new_card(h)
    await h.staff_text(COORD_B, "/odprte")
    await h.card_press(COORD_A, "Prevzamem")
    await h.card_press(COORD_A, "Kontaktirano")
    await h.card_press(COORD_A, "↪️ Predaj")
    buttons = h.card()[2]
    assert "Predaj → Breda" in buttons and not any("9002" in b for b in buttons), buttons
    await h.card_press(COORD_A, "Predaj → Breda")
    _, text, _ = h.card()
    assert "Stanje: kontaktirano · Breda" in text and "9002" not in text
    notice = h.session.sent(STAFF)[-1].text
    assert "Mojca → Breda" in notice and "9002" not in notice


async def test_the_name_given_with_coordinators_add_is_used_everywhere(h):
    async with h.db.transaction() as s:
        await repo.add_coordinator(s, COORD_A, "Mojca Kos", h.now)
    await new_card(h)
    await h.card_press(COORD_A, "Prevzamem")  # her Telegram first name is only "Mojca"
    _, text, _ = h.card()
    assert "Stanje: prevzeta · Mojca Kos" in text
    await h.staff_text(COORD_B, "/odprte")
    await h.card_press(COORD_B, "↪️ Predaj")
    await h.card_press(COORD_B, "Predaj → Breda")  # Breda takes it over
    notice = h.session.sent(STAFF)[-1].text
    assert "Mojca Kos → Breda" in notice and "Predala jo je Breda" in notice
    await h.card_press(COORD_B, "↪️ Predaj")
    assert "Predaj → Mojca Kos" in h.card()[2]


async def test_a_coordinator_never_seen_is_named_as_telegram_gives_her(h):
    member_names(h, {COORD_B: "Brigita"})
    assert await h.staff_chat.learn_names(h.bot) == 1
    assert await h.staff_chat.learn_names(h.bot) == 0  # asked once, not every day again
    await new_card(h)
    await h.card_press(COORD_A, "Prevzamem")
    await h.card_press(COORD_A, "↪️ Predaj")
    assert "Predaj → Brigita" in h.card()[2]
    # seen in the staff chat later under another first name: the name she was seen under wins
    await h.staff_text(COORD_B, "/odprte")  # her Telegram first name here is Breda
    await h.card_press(COORD_A, "← Nazaj")
    await h.card_press(COORD_A, "↪️ Predaj")
    assert "Predaj → Breda" in h.card()[2]


async def test_names_of_people_no_longer_coordinators_go(h):
    async with h.db.transaction() as s:
        await cover.saw_name(s, 4242, "Nekdo", h.now)
        await cover.saw_name(s, COORD_A, "Mojca", h.now)
    await h.staff_chat.learn_names(h.bot)
    async with h.db.transaction() as s:
        assert await cover.seen_names(s) == {COORD_A: "Mojca"}
