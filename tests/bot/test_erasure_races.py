"""What an erasure must win against (issue 19, items 1, 2, 4, 5, 7): the raw update of the tap
that erased a person or answered the question on origin, a card posted again with /prosnja or
edited after a press while the person erased, a staff group that became a supergroup, and rows
korak gave up sending."""

import asyncio
import json
import os
from datetime import timedelta

from aiogram.exceptions import TelegramMigrateToChat
from aiogram.methods import AnswerCallbackQuery, SendMessage
from aiogram.types import CallbackQuery, Chat, Message, Update, User

from bot.runtime.inbox import Inbox
from bot.runtime.outbox import MAX_ATTEMPTS
from bot.runtime.retention import RetentionService
from storage import inbox as store
from storage import repo
from storage.models import group_key, person_key

from .conftest import COORD_A, KEY, NOW, STAFF
from .test_handlers import U, complete_intake

NEW_STAFF = -100999
NAME_IN_TELEGRAM = "Zlatoslava"  # the resident's Telegram profile name: only raw updates hold it


def database_bytes(h) -> bytes:
    path = h.settings.database_url.split("///", 1)[1]
    return b"".join(open(p, "rb").read() for p in (path, path + "-wal") if os.path.exists(p))


def raw_tap(uid, update_id, data, message_id=1):
    """A tap as Telegram sends it, from a person whose profile says NAME_IN_TELEGRAM."""
    user = User(id=uid, is_bot=False, first_name=NAME_IN_TELEGRAM, username="zlato_9")
    query = CallbackQuery(id=str(update_id), from_user=user, chat_instance="ci", data=data,
                          message=Message(message_id=message_id, date=NOW, text="…",
                                          chat=Chat(id=uid, type="private")))
    return Update(update_id=update_id, callback_query=query)


def raw_text(uid, update_id, text):
    user = User(id=uid, is_bot=False, first_name=NAME_IN_TELEGRAM, username="zlato_9")
    return Update(update_id=update_id, message=Message(
        message_id=update_id, date=NOW, text=text, from_user=user,
        chat=Chat(id=uid, type="private")))


def button(h, uid, label):
    buttons = h.last_buttons(uid)
    assert label in buttons, f"{label!r} not among {list(buttons)}"
    return buttons[label]


# ----------------------------------------------------------------- items 1 and 2: raw updates


async def test_the_batch_with_the_erasing_tap_goes_at_once_and_nothing_of_it_was_in_the_clear(h):
    inbox = Inbox(h.db, h.dp, h.bot, lambda: h.now, h.sealer)
    await complete_intake(h)
    await h.text(U, "/izbrisi")
    seen = []
    real_store = store.store_batch

    async def watching(s, sealed, now, finished=()):  # what reaches the database
        seen.append(sealed)
        return await real_store(s, sealed, now, finished)

    store.store_batch, saved = watching, real_store
    try:
        await inbox.receive_batch([raw_tap(U, 9001, button(h, U, "Da, izbrišite vse"))])
        await inbox.idle()
    finally:
        store.store_batch = saved
    assert "Vsi vaši podatki so izbrisani" in h.session.sent(U)[-1].text
    # nobody writes after: the batch is gone all the same, and the log is emptied
    async with h.db.transaction() as s:
        assert await store.batches(s) == []
    held = database_bytes(h)
    assert NAME_IN_TELEGRAM.encode() not in held and b"zlato_9" not in held
    # what was stored was sealed: it opens with DATA_KEY, and holds the tap
    assert NAME_IN_TELEGRAM not in seen[0]
    assert json.loads(h.sealer.open(seen[0]))[0]["callback_query"]["from"]["first_name"] \
        == NAME_IN_TELEGRAM


async def test_the_answer_on_origin_never_reaches_the_file_in_the_clear(h):
    inbox = Inbox(h.db, h.dp, h.bot, lambda: h.now, h.sealer)
    await h.text(U, "/start")
    await h.press(U, "Da, strinjam se")
    await h.text(U, "Mislinja")
    await h.press(U, "Ne")
    await h.press(U, "Ne delam, ne iščem dela")
    await h.press(U, "Da, lahko vprašate")
    data = button(h, U, "Da")
    await inbox.receive_batch([raw_tap(U, 9101, data)])
    await inbox.idle()
    async with h.db.transaction() as s:  # answered, and kept sealed in the conversation
        state = (await repo.conversation(s, person_key("telegram", U))).state
    assert state["step"] != "sensitive" and "sensitive_sealed" in state["answers"]
    held = database_bytes(h)
    assert data.encode() not in held  # the button's data names the question and the answer
    assert NAME_IN_TELEGRAM.encode() not in held
    async with h.db.transaction() as s:  # the batch went as soon as it was handled
        assert await store.batches(s) == []


async def test_a_webhook_update_is_stored_sealed_and_replayed_from_the_seal(h):
    inbox = Inbox(h.db, h.dp, h.bot, lambda: h.now, h.sealer)
    await inbox.receive([raw_text(U, 9201, "/start")])  # stored; its process dies here
    async with h.db.transaction() as s:
        [(stored,)] = (await s.execute(
            __import__("sqlalchemy").text(
                "SELECT payload FROM inbox WHERE event = 'telegram:9201'"))
        ).all()
    assert NAME_IN_TELEGRAM not in stored and "/start" not in stored
    assert await inbox.drain(person_key("telegram", U)) == 1  # another process, from the seal
    assert h.session.sent(U)[0].text.startswith("Pozdravljeni")


# ----------------------------------------------------------------- item 4: staff-chat races


def staff_view(h):
    """Every bot message in the staff chat as it reads now (edits applied)."""
    shown = {h.session.message_id_of[id(m)]: m.text for m in h.session.sent(STAFF)}
    for e in h.session.edits(STAFF):
        shown[e.message_id] = e.text
    return shown


async def erase(h, uid=U):
    await h.text(uid, "/izbrisi")
    await h.press(uid, "Da, izbrišite vse")


async def test_a_card_posted_again_while_the_person_erased_is_edited_to_the_removal_text(h):
    await complete_intake(h)
    await h.outbox.run_once()
    real = h.session.make_request
    erased = []

    async def erase_during_the_send(bot, method, timeout=None):
        answer = await real(bot, method, timeout)
        if isinstance(method, SendMessage) and method.chat_id == STAFF and not erased \
                and "Ana" in method.text and "041" in method.text:
            erased.append(True)  # the erasure lands while the card is on its way
            await erase(h)
        return answer

    h.session.make_request = erase_during_the_send
    await h.staff_text(COORD_A, "/prosnja 1")
    h.session.make_request = real
    assert erased
    await h.outbox.run_once()
    await h.outbox.run_once()
    for mid, text in staff_view(h).items():
        assert "041 123 456" not in text, (mid, text)


async def test_a_card_posted_again_after_the_erasure_waited_for_its_turn_is_not_sent(h):
    await complete_intake(h)
    await h.outbox.run_once()
    sender = h.sender
    pace = sender._pace

    async def slow_turn(chat_id):  # the group's 20 a minute: the erasure comes meanwhile
        if chat_id == STAFF and not slow_turn.done:
            slow_turn.done = True
            await erase(h)
        await pace(chat_id)
    slow_turn.done = False
    sender._pace = slow_turn
    await h.staff_text(COORD_A, "/prosnja 1")
    sender._pace = pace
    await h.outbox.run_once()
    assert not any("041 123 456" in t for t in staff_view(h).values())
    assert "Prošnje št. 1 ni" in h.session.sent(STAFF)[-1].text \
        or "umaknjena" in h.session.sent(STAFF)[-1].text


async def test_a_press_does_not_edit_the_card_over_the_removal_text(h):
    await complete_intake(h)
    await h.outbox.run_once()
    mid, _, _ = h.card()
    real, gate, held = h.session.make_request, asyncio.Event(), []

    async def slow_answer(bot, method, timeout=None):
        if isinstance(method, AnswerCallbackQuery) and not held:
            held.append(method)  # Telegram is slow to take the answer to the press
            await gate.wait()
        return await real(bot, method, timeout)

    h.session.make_request = slow_answer
    press = asyncio.ensure_future(h.card_press(COORD_A, "Prevzamem"))
    while not held:
        await asyncio.sleep(0)
    await erase(h)
    await h.outbox.run_once()
    assert staff_view(h)[mid].startswith("🗑 Prošnja št. 1")
    gate.set()
    await press
    await h.staff.idle()
    await h.outbox.run_once()
    assert staff_view(h)[mid].startswith("🗑 Prošnja št. 1"), staff_view(h)[mid]


# ----------------------------------------------------------------- item 5: old group


async def test_an_erasure_finishes_when_the_group_became_a_supergroup(h):
    await complete_intake(h)
    await h.outbox.run_once()
    card_mid, _, _ = h.card()
    real = h.session.make_request
    tries = []

    async def old_group_gone(bot, method, timeout=None):
        if getattr(method, "chat_id", None) == STAFF:
            tries.append(type(method).__name__)
            raise TelegramMigrateToChat(method=method, message="migrated",
                                        migrate_to_chat_id=NEW_STAFF)
        return await real(bot, method, timeout)

    h.session.make_request = old_group_gone
    await erase(h)
    for _ in range(MAX_ATTEMPTS + 2):
        await h.outbox.run_once()
        await h.outbox.idle()
        h.now += timedelta(hours=2)
    async with h.db.transaction() as s:
        assert await repo.pending_outbox(s) == []  # finished, not retried for ever
        assert await repo.failed_outbox(s) == []
    edits = [t for t in tries if t == "EditMessageText"]
    assert 1 <= len(edits) <= 2, tries  # each copy tried, and not again and again
    told = [m.text for m in h.session.sent(NEW_STAFF)]
    assert any("umaknjena" in t for t in told), told  # the removal notice, in the new group
    assert any("Prošnja št. 1 je izbrisana" in t and "ročno" in t for t in told), told
    assert h.settings.staff_chat_id == NEW_STAFF


# ----------------------------------------------------------------- item 7: failed rows


async def test_a_failed_row_is_blanked_after_the_stated_time(h):
    await complete_intake(h)
    await h.text(U, "Pokličite me raje zvečer, hvala")  # relayed: the person's words
    async with h.db.transaction() as s:
        rows = await repo.pending_outbox(s)
        relay = next(r for r in rows if r.kind == "relay_to_staff")
        await repo.fail_outbox(s, relay.id, h.now, "bad request")
    service = RetentionService(h.db, h.settings, lambda: h.now)
    counts = await service.run(h.now + timedelta(days=6))
    assert counts.blanked_failed == 0  # still within OUTBOX_FAILED_KEEP_DAYS
    counts = await service.run(h.now + timedelta(days=8))
    assert counts.blanked_failed == 1
    async with h.db.transaction() as s:
        [row] = await repo.failed_outbox(s)
    assert row.chat is None and row.payload == {} and row.blanked_at is not None
    assert b"raje zve" not in database_bytes(h)

def test_outbox_failed_says_what_is_kept_and_retry_says_a_blanked_row_is_gone(
        tmp_path, monkeypatch, capsys):
    from bot.cli import main
    from storage import erasure
    from storage.db import Database

    url = f"sqlite:///{tmp_path}/korak.db"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DATA_KEY", KEY)
    assert main(["db", "upgrade"]) == 0

    async def seed():
        db = Database(url)
        async with db.transaction() as s:
            for n in (1, 2):
                await repo.add_outbox(s, kind="relay_to_staff", chat=group_key(STAFF), due_at=NOW,
                                      payload={"request_id": n, "text": "raje zvečer"},
                                      request_id=n)
        async with db.transaction() as s:
            old, new = await repo.pending_outbox(s)
            await repo.fail_outbox(s, old.id, NOW - timedelta(days=9), "bad request")
            await repo.fail_outbox(s, new.id, NOW, "bad request")
            await erasure.blank_failed(s, NOW - timedelta(days=7), NOW)
        await db.dispose()
        return old.id, new.id

    old, new = asyncio.run(seed())
    capsys.readouterr()
    assert main(["outbox", "failed"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert "vsebina izbrisana 26. 11. 2026" in next(x for x in listed if x.startswith(f"{old} "))
    assert "vsebina hranjena do 3. 12. 2026" in next(x for x in listed if x.startswith(f"{new} "))
    assert main(["outbox", "retry", str(old)]) == 1
    said = capsys.readouterr().out
    assert f"Sporočilo {old} ni več mogoče poslati: njegova vsebina je bila izbrisana 26. 11. " \
        "2026" in said
    assert "Znova v vrsti za pošiljanje: 0." in said
    assert main(["outbox", "retry", "--all"]) == 0  # the one still kept goes again
    assert "Znova v vrsti za pošiljanje: 1." in capsys.readouterr().out
