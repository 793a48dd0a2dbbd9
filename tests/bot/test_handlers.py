"""Handlers through Dispatcher.feed_update: the texts and keyboards a resident would see."""

import asyncio

from aiogram.exceptions import TelegramForbiddenError, TelegramRetryAfter, TelegramServerError
from aiogram.types import InlineKeyboardMarkup, ReplyKeyboardMarkup, ReplyKeyboardRemove

from storage import repo
from storage.models import person_key

from .conftest import STAFF, STRANGER

U = 501


async def complete_intake(h, uid=U):
    await h.text(uid, "/start letak")
    await h.press(uid, "Da, strinjam se")
    await h.text(uid, "živim v Kotljah")
    await h.press(uid, "Da")
    await h.press(uid, "Eno leto ali več")
    await h.press(uid, "Ne delam, ne iščem dela")
    await h.press(uid, "Ne, preskočite")
    await h.press(uid, "Preskočim")
    await h.press(uid, "Ana")
    await h.text(uid, "041 123 456")
    await h.press(uid, "Dopoldne")
    await h.press(uid, "✅ Potrjujem")


async def to_name_step(h, uid=U):
    """From /start to the name question (Muta, no DSP, nothing sensitive)."""
    await h.text(uid, "/start")
    await h.press(uid, "Da, strinjam se")
    await h.press(uid, "Muta")
    for label in ("Ne", "Ne delam, ne iščem dela", "Ne, preskočite", "Preskočim"):
        await h.press(uid, label)


async def to_phone_step(h, uid=U):
    """From /start to the phone question, the name taken from the profile."""
    await to_name_step(h, uid)
    await h.press(uid, "Ana")


async def test_each_resident_is_offered_their_own_name(h):
    # keyboards are built once and reused; one with a person's name must not reach another
    for uid in (U, STRANGER):
        await to_name_step(h, uid)
    assert "Ana" in h.last_buttons(U) and "Tine" not in h.last_buttons(U)
    assert "Tine" in h.last_buttons(STRANGER) and "Ana" not in h.last_buttons(STRANGER)
    assert list(h.last_buttons(U))[1:] == list(h.last_buttons(STRANGER))[1:]


async def test_start_welcomes_and_asks_for_consent_with_buttons(h):
    await h.text(U, "/start")
    texts = [m.text for m in h.session.sent(U)]
    # one message: the welcome and the first question at once, the other languages under it
    [text] = texts
    assert text.startswith("Pozdravljeni!") and "Socialna aktivacija" in text
    assert "Ali se strinjate" in text
    buttons = h.last_buttons(U)
    # the other languages first (a person who cannot read the question finds theirs at once)
    assert list(buttons) == ["English", "Bosanski/Hrvatski/Srpski", "Shqip", "Українська",
                             "Da, strinjam se", "Ne, ne strinjam se", "ℹ️ Več o programu",
                             "🔒 Več o podatkih"]
    await h.tap(U, buttons["🔒 Več o podatkih"])  # the whole notice is one tap away
    last = h.session.sent(U)[-1].text  # with the question again below it, in one message
    assert "Informacijskem pooblaščencu" in last and last.endswith("da jih shranimo?")


async def test_whole_intake_reaches_the_staff_chat_once(h):
    await complete_intake(h)
    last = h.session.sent(U)[-1].text  # one message: submitted, and where the unit is
    assert "Vaša prošnja je oddana" in last and "Slovenj Gradec" in last
    assert "Meškova ulica 21" in last
    await h.outbox.run_once()
    [notice] = h.session.sent(STAFF)
    assert "Lokacija: Slovenj Gradec" in notice.text and "Kotlje" in notice.text
    assert "041 123 456" in notice.text and "dolgotrajni prejemnik DSP" in notice.text
    await h.tap(U, "s|summary|confirm")  # an old Potrdi button pressed again
    await h.outbox.run_once()
    assert len(h.session.sent(STAFF)) == 1
    async with h.db.transaction() as s:
        assert len(await repo.requests_of(s, person_key("telegram", U))) == 1


async def test_a_tap_is_answered_but_the_next_answer_does_not_wait_for_that(h):
    """The spinner's answer is a request of its own. When it is slow (under load it waits for
    a connection behind many others), the resident's next answer must not wait for it."""
    await h.text(U, "/start")
    h.session.answer_gate = asyncio.Event()  # answers to taps do not get through yet
    h.feed = lambda update: asyncio.wait_for(h.dp.feed_update(h.bot, update), 5)
    await h.press(U, "Da, strinjam se")
    assert "V kateri občini" in h.session.sent(U)[-1].text
    await h.text(U, "Muta")
    assert "denarno socialno pomoč" in h.session.sent(U)[-1].text
    await h.press(U, "Ne")
    assert h.session.answers() == []
    h.session.answer_gate.set()
    await h.front.idle()
    assert len(h.session.answers()) == 2  # each tap's spinner was stopped


async def test_double_tap_on_confirm_yields_one_request(h):
    await to_phone_step(h)
    await h.text(U, "Raje mi pišite tukaj")  # a reply-keyboard button sends its label
    confirm = h.last_buttons(U)["✅ Potrjujem"]
    await h.tap(U, confirm)
    await h.tap(U, confirm)
    async with h.db.transaction() as s:
        assert len(await repo.requests_of(s, person_key("telegram", U))) == 1
    assert "že oddana" in h.session.sent(U)[-1].text


async def test_repeated_update_is_handled_once(h):
    await h.text(U, "/start")
    await h.press(U, "Da, strinjam se")
    before = len(h.session.sent(U))
    update = await h.text(U, "Mežica")
    after = len(h.session.sent(U))
    await h.feed(update)  # Telegram delivers it again
    assert len(h.session.sent(U)) == after > before
    state = await h.service.current_step(person_key("telegram", U))
    assert state.step == "dsp"


async def test_phone_step_offers_share_button_and_checks_owner(h):
    await to_phone_step(h)
    markup = h.session.sent(U)[-1].reply_markup
    assert isinstance(markup, ReplyKeyboardMarkup) and markup.keyboard[0][0].request_contact
    n = len(h.session.sent(U))
    await h.contact(U, "+38631000111", owner=999)
    [again] = h.session.sent(U)[n:]  # why, and the question with its keyboard, in one message
    assert "svojo številko" in again.text and "Na katero številko" in again.text
    assert isinstance(again.reply_markup, ReplyKeyboardMarkup)
    await h.contact(U, "+38631000111", owner=U)
    assert (await h.service.current_step(person_key("telegram", U))).step == "call_time"


async def test_an_answer_gets_one_message_with_the_next_question(h):
    await h.text(U, "/start")
    await h.press(U, "Da, strinjam se")
    n = len(h.session.sent(U))
    await h.text(U, "Mežica")
    [reply] = h.session.sent(U)[n:]
    assert "Mežica" in reply.text and "denarno socialno pomoč" in reply.text
    assert list(h.last_buttons(U)) == ["Da", "Ne", "Ne vem"]


async def test_leaving_the_phone_step_hides_its_keyboard(h):
    await to_phone_step(h)
    n = len(h.session.sent(U))
    await h.text(U, "/preklici")
    [reply] = h.session.sent(U)[n:]
    assert isinstance(reply.reply_markup, ReplyKeyboardRemove)
    n = len(h.session.sent(U))
    await h.text(U, "/start")  # no keyboard was showing: nothing to remove
    assert all(m.reply_markup is None or isinstance(m.reply_markup, InlineKeyboardMarkup)
               for m in h.session.sent(U)[n:])


async def test_media_and_gibberish_get_a_kind_reply_and_the_question(h):
    from aiogram.types import PhotoSize, Sticker, Voice
    await h.text(U, "/start")
    await h.press(U, "Da, strinjam se")
    n = len(h.session.sent(U))
    await h.text(U, "🙂")  # gibberish where a place is asked
    replies = [m.text for m in h.session.sent(U)[n:]]
    assert "Tega kraja žal ne poznam" in replies[0] and "V kateri občini" in replies[-1]
    media = {"photo": [PhotoSize(file_id="p", file_unique_id="p", width=1, height=1)],
             "voice": Voice(file_id="v", file_unique_id="v", duration=3),
             "sticker": Sticker(file_id="s", file_unique_id="s", type="regular", width=1,
                                height=1, is_animated=False, is_video=False)}
    for kind, value in media.items():  # a photo, a voice message, a sticker: no text at all
        n = len(h.session.sent(U))
        await h.text(U, None, **{kind: value})
        replies = [m.text for m in h.session.sent(U)[n:]]
        assert len(replies) == 1, kind
        assert "žal ne morem prebrati" in replies[0], (kind, replies)
        assert "V kateri občini" in replies[0], kind


async def test_group_chats_other_than_staff_are_ignored(h):
    await h.text(U, "/start", chat_type="group", chat_id=-555)
    assert h.session.sent() == []


async def test_forged_callback_changes_nothing(h):
    await h.text(U, "/start")
    await h.tap(U, "s|summary|confirm")
    await h.tap(U, "garbage")
    assert (await h.service.current_step(person_key("telegram", U))).step == "consent"
    assert sum("ne velja več" in m.text for m in h.session.sent(U)) == 2


async def test_429_and_5xx_are_retried_and_403_marks_unreachable(h):
    def retry(method):
        return TelegramRetryAfter(method=method, message="Too Many Requests", retry_after=1)

    def server(method):
        return TelegramServerError(method=method, message="Bad Gateway")

    h.session.fail = [retry, server]
    await h.text(U, "/start")
    assert h.session.sent(U)[0].text.startswith("Pozdravljeni!")
    assert 1.0 in h.slept  # waited out retry_after

    def forbidden(method):
        return TelegramForbiddenError(method=method, message="bot was blocked by the user")

    h.session.fail = [forbidden]
    await h.text(U, "/pomoc")
    assert h.unreachable == [U]


async def test_every_callback_fits_telegram_limit(h):
    await h.text(U, "/start")
    await h.press(U, "Da, strinjam se")
    await h.text(U, "Tolsti Vrh")
    for req in h.session.sent(U):
        markup = req.reply_markup
        for row in getattr(markup, "inline_keyboard", None) or []:
            for b in row:
                assert len(b.callback_data.encode()) <= 64


async def test_delete_tells_staff_without_personal_data(h):
    await complete_intake(h)
    await h.outbox.run_once()
    await h.text(U, "/izbrisi")
    await h.press(U, "Da, izbrišite vse")
    await h.outbox.run_once()
    notice = h.session.sent(STAFF)[-1].text
    assert "umaknjena" in notice and "041" not in notice and "Ana" not in notice
    async with h.db.transaction() as s:
        assert await repo.requests_of(s, person_key("telegram", U)) == []
