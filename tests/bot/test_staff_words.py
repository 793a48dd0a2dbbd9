"""What a resident writes reaches the staff chat as words only: no character that turns a line
around, no command a coordinator could tap, no link preview; and a participant tapping
Pridem / Ne morem priti back and forth is told to the staff chat in one message, edited."""

from datetime import datetime, timedelta, timezone

from aiogram.methods import EditMessageText, SendMessage
from aiogram.types import LinkPreviewOptions

from dialogs.replies import COMMAND_SLASH
from storage import attendance as attendance_store
from storage import erasure, repo
from storage.models import person_key

from .conftest import STAFF
from .test_handlers import U, to_name_step
from .test_schedule_flow import enrolled

UTC = timezone.utc
NAME = "Ana \u202eNovak\u200b /odsotna"  # U+202E would reverse the line, U+200B hides


async def intake_named(h, name=NAME):
    await to_name_step(h)
    await h.text(U, name)
    await h.text(U, "041 123 456")
    await h.press(U, "Dopoldne")
    await h.press(U, "✅ Potrjujem")
    await h.outbox.run_once()


def to_staff(h):
    return [r for r in h.session.requests if isinstance(r, (SendMessage, EditMessageText))
            and r.chat_id == STAFF]


async def test_a_residents_name_and_words_are_only_words_in_the_staff_chat(h):
    await intake_named(h)
    await h.text(U, "Ne bom mogla.\n/odsotna do petka, glejte https://example.com/stran\u202e")
    await h.outbox.run_once()
    card, relay = (m.text for m in h.session.sent(STAFF)[:2])
    for text in (card, relay):
        assert "\u202e" not in text and "\u200b" not in text
        assert "/odsotna" not in text
    assert f"Ana Novak {COMMAND_SLASH}odsotna" in card
    assert f"┃ {COMMAND_SLASH}odsotna do petka, glejte https://example.com/stran" in relay
    assert to_staff(h) and all(
        r.link_preview_options is not None and r.link_preview_options.is_disabled
        for r in to_staff(h))


async def test_staff_messages_show_no_link_previews_and_residents_are_left_as_they_were(h):
    await intake_named(h, "Ana")
    await h.card_press(9001, "Prevzamem")  # an edit of the card
    assert any(isinstance(r, EditMessageText) for r in to_staff(h))
    assert all(r.link_preview_options.is_disabled for r in to_staff(h))
    assert not any(isinstance(m.link_preview_options, LinkPreviewOptions)
                   for m in h.session.sent(U))


async def reminder_buttons(h):
    await enrolled(h)
    h.now = datetime(2026, 12, 2, 16, 0, tzinfo=UTC)  # the reminder the day before, 17:00
    await h.outbox.run_once()
    msg = h.session.sent(U)[-1]
    return {b.text: b.callback_data for row in msg.reply_markup.inline_keyboard for b in row}


async def test_tapping_back_and_forth_is_one_notice_edited_as_the_answer_changes(h):
    buttons = await reminder_buttons(h)
    before = len(to_staff(h))
    for n in range(60):  # Ne morem priti, Pridem, Ne morem priti, …
        await h.tap(U, buttons["❌ Ne morem priti" if n % 2 == 0 else "✅ Pridem"])
        await h.outbox.run_once()
    told = to_staff(h)[before:]
    assert len(told) == 1 and isinstance(told[0], SendMessage)
    assert "ne more priti" in told[0].text
    # the last tap was Pridem: a minute later the notice says so, in the same message
    h.now += timedelta(minutes=1)
    await h.outbox.run_once()
    told = to_staff(h)[before:]
    assert len(told) == 2 and isinstance(told[1], EditMessageText)
    assert told[1].message_id == h.session.message_id_of[id(told[0])]
    assert "vseeno pride" in told[1].text
    assert await h.outbox.run_once() == 0


async def test_the_notice_names_her_plainly_and_erasure_edits_it(h):
    buttons = await reminder_buttons(h)
    async with h.db.transaction() as s:  # her name, as she typed it, with a U+202E in it
        req = await repo.get_request(s, 1)
        req.answers = {**req.answers, "name": NAME}
        s.add(req)
    await h.tap(U, buttons["❌ Ne morem priti"])
    await h.outbox.run_once()
    notice = h.session.sent(STAFF)[-1]
    assert "ne more priti" in notice.text and "\u202e" not in notice.text
    assert f"{COMMAND_SLASH}odsotna" in notice.text
    mid = h.session.message_id_of[id(notice)]
    async with h.db.transaction() as s:
        assert await attendance_store.notice_shown(s, 1, person_key("telegram", U)) == (STAFF, mid)
        await erasure.erase_person(s, person_key("telegram", U), h.now, STAFF)
    await h.outbox.run_once()
    assert mid in {e.message_id for e in h.session.edits(STAFF)
                   if "umaknjena" in e.text}

