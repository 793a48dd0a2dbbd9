"""/pomoc and /start in the staff chat answer with the staff commands and the card's buttons,
in two screens at most (issue 22, point 6)."""

from aiogram.types import Chat, Message, Update, User

from bot.channels.sender import Sender
from bot.staff.setup import SetupFront
from aiogram import Dispatcher

from .conftest import COORD_A, NOW, STAFF, STRANGER

SCREEN_LINES = 20  # about what a phone shows of a chat message at once


async def test_pomoc_and_start_in_the_staff_chat_answer_with_the_commands_and_buttons(h):
    for command in ("/pomoc", "/start", "/pomoč@korak_bot"):
        before = len(h.session.sent(STAFF))
        await h.staff_text(COORD_A, command)
        [reply] = h.session.sent(STAFF)[before:]
        text = reply.text
        for needle in ("/odprte", "/prosnja", "/porocilo", "/odsotna", "/nazaj", "/pomoc",
                       "Prevzamem", "Kontaktirano", "Vključen/a", "Ni primerno",
                       "Ni dosegljiv/a", "Vrni v vrsto", "↪️ Predaj", "🔒 Občutljiv odgovor",
                       ".ics", "Odgovori"):
            assert needle in text, (needle, text)
        assert len(text.splitlines()) <= 2 * SCREEN_LINES and len(text) <= 2000
        assert "{" not in text  # every button label filled in


async def test_help_shows_no_data_so_anyone_in_the_staff_chat_gets_it(h):
    await h.staff_text(STRANGER, "/pomoc")
    [reply] = h.session.sent(STAFF)
    assert "Pomoč za skupino koordinatork" in reply.text


async def test_a_resident_pomoc_in_private_is_not_the_staff_help(h):
    await h.text(7001, "/pomoc")
    assert all("Pomoč za skupino koordinatork" not in m.text for m in h.session.sent(7001))


# ----------------------------------------------------------------------------- set-up mode

class Setup:
    def __init__(self, h):
        self.h = h
        self.dp = Dispatcher(disable_fsm=True)
        self.dp.include_router(SetupFront(Sender(h.bot), h.texts).router)

    async def say(self, uid, text, chat_id=None, chat_type="private", lang=None):
        chat = Chat(id=chat_id or uid, type=chat_type)
        user = User(id=uid, is_bot=False, first_name="Ana", language_code=lang)
        msg = Message(message_id=next(self.h.message_ids), date=NOW, chat=chat,
                      from_user=user, text=text)
        before = len(self.h.session.sent(chat.id))
        await self.dp.feed_update(self.h.bot, Update(update_id=next(self.h.update_ids),
                                                     message=msg))
        return [m.text for m in self.h.session.sent(chat.id)[before:]]


async def test_set_up_mode_answers_id_and_pomoc_anywhere_and_residents_one_line(h):
    setup = Setup(h)
    [group] = await setup.say(5001, "/id", chat_id=-100555, chat_type="group")
    assert "-100555" in group and "5001" in group and "STAFF_CHAT_ID=-100555" in group
    assert "COORDINATOR_IDS=5001" in group
    [private] = await setup.say(5001, "/id@korak_bot")
    assert "5001" in private and "napišite /id" in private  # the next step: the group
    [steps] = await setup.say(5001, "/pomoc", chat_id=-100555, chat_type="supergroup")
    assert "STAFF_CHAT_ID" in steps and "/id" in steps and "/setprivacy" in steps
    assert await setup.say(5001, "Dober dan vsem", chat_id=-100555, chat_type="group") == []
    # a resident: one line, in the language of their app
    assert await setup.say(7001, "/start") == ["Ta storitev še ni odprta. Poskusite znova pozneje."]
    assert await setup.say(7002, "Pozdravljeni", lang="en-GB") == [
        "This service is not open yet. Please try again later."]
