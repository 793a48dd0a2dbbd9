"""The privacy notice's promises through Dispatcher.feed_update: the sensitive answer is sealed
and opened only for the coordinator who asks (and logged), /izbrisi and retention leave no staff
message showing the person, a message caught in flight by an erasure is cleared, ids are never
reused, and logs carry no personal data in either format."""

import io
import logging
from datetime import datetime, timedelta, timezone

from aiogram.methods import SendMessage
from sqlalchemy import text

from bot import logs
from bot.runtime.retention import RetentionService
from storage import erasure, repo
from storage.db import Database
from storage.models import person_key

from .conftest import COORD_A, COORD_B, STAFF, STRANGER

U, V = 601, 602
NAME, PHONE, SAID = "Zofka Zupančič", "041 987 654", "hodim v službo samo ob sredah"


async def sensitive_intake(h, uid=U, name=NAME, phone=PHONE):
    """A resident says yes to the question on origin and leaves a name and a number."""
    await h.text(uid, "/start")
    await h.press(uid, "Da, strinjam se")
    await h.press(uid, "Mislinja")
    await h.press(uid, "Ne")
    await h.press(uid, "Ne delam, ne iščem dela")
    await h.press(uid, "Da, lahko vprašate")
    await h.press(uid, "Da")
    await h.press(uid, "Preskočim")
    await h.text(uid, name)
    await h.text(uid, phone)
    await h.press(uid, "Popoldne")
    await h.press(uid, "✅ Potrjujem")


def staff_chat_now(h):
    """Every message the bot put in the staff chat, as it reads now (edits applied)."""
    final = {}
    for m in h.session.sent(STAFF):
        final[h.session.message_id_of[id(m)]] = m.text
    for e in h.session.edits(STAFF):
        final[e.message_id] = e.text
    return final


async def raw(h, sql):
    async with h.db.transaction() as s:
        result = await s.execute(text(sql))
        return result.all() if result.returns_rows else []


async def test_the_card_hides_the_answer_and_opens_it_for_the_one_who_presses(h):
    await h.text(U, "/start")
    await h.press(U, "Da, strinjam se")
    await h.press(U, "Mislinja")
    await h.press(U, "Ne")
    await h.press(U, "Ne delam, ne iščem dela")
    await h.press(U, "Da, lahko vprašate")
    await h.press(U, "Da")
    # in the middle of the questions the answer is stored sealed
    [(state,)] = await raw(h, f"SELECT state FROM resident WHERE person = 'telegram:{U}'")
    assert '"sensitive"' not in state and "sensitive_sealed" in state
    await h.press(U, "Preskočim")
    await h.text(U, NAME)
    await h.text(U, PHONE)
    await h.press(U, "Popoldne")
    await h.press(U, "✅ Potrjujem")
    await h.outbox.run_once()
    mid, card, buttons = h.card()
    assert NAME in card and PHONE in card
    # neither the answer nor a group that gives it away, for anyone in the group
    for shown in staff_chat_now(h).values():
        assert "Občutljiv" not in shown and "romsk" not in shown and "Rominj" not in shown
    assert "Predhodna ciljna skupina: druga neaktivna oseba" in card
    assert list(buttons) == ["Prevzamem", "🔒 Občutljiv odgovor"]
    [(answers, sealed)] = await raw(h, "SELECT answers, sensitive FROM contact_request")
    assert '"sensitive"' not in answers and '"group"' not in answers and "yes" not in sealed
    assert h.sealer.open(sealed) == "yes"

    before = len(h.session.requests)
    await h.tap(STRANGER, buttons["🔒 Občutljiv odgovor"], chat_id=STAFF, message_id=mid)
    assert "Nimate dovoljenja" in h.session.answers()[-1].text
    await h.tap(COORD_A, buttons["🔒 Občutljiv odgovor"], chat_id=STAFF, message_id=mid)
    alert = h.session.answers()[-1]
    assert alert.show_alert and "Rominja): da." in alert.text and len(alert.text) <= 200
    # an alert is the only thing that went out: nothing was posted or edited in the group
    assert [type(r).__name__ for r in h.session.requests[before:]] == ["AnswerCallbackQuery"] * 2
    async with h.db.transaction() as s:
        [look] = await erasure.access_log(s)
    assert (look.actor_id, look.actor_name, look.what) == (COORD_A, "Mojca", "sensitive")


async def test_prosnja_is_logged_and_the_resident_sees_who_looked(h):
    await sensitive_intake(h)
    await h.outbox.run_once()
    mid, _, buttons = h.card()
    await h.tap(COORD_A, buttons["🔒 Občutljiv odgovor"], chat_id=STAFF, message_id=mid)
    await h.staff_text(COORD_B, "/prosnja 1")
    await h.text(U, "/moji_podatki")
    told = "\n".join(m.text for m in h.session.sent(U)[-4:])
    assert "Kdo si je ogledal vašo prošnjo" in told
    assert "• Mojca, 26. 11. 2026 ob 11.00: odgovor na občutljivo vprašanje" in told
    assert "• Breda, 26. 11. 2026 ob 11.00: prošnja št. 1" in told
    # the resident's own answer is theirs to see
    assert "Občutljivo vprašanje: da" in told


async def test_izbrisi_edits_every_staff_message_that_ever_showed_the_person(h):
    await sensitive_intake(h)
    await h.outbox.run_once()
    await h.staff_text(COORD_A, "/prosnja 1")  # a second copy of the card
    await h.text(U, SAID)  # relayed to the staff chat
    await h.outbox.run_once()
    shown = staff_chat_now(h)
    assert sum(NAME in t for t in shown.values()) == 3  # two cards and the relayed message
    await h.text(U, "/izbrisi")
    await h.press(U, "Da, izbrišite vse")
    await h.outbox.run_once()
    now_shown = staff_chat_now(h)
    for words in (NAME, PHONE, SAID, "Zofka", "987"):
        assert not any(words in t for t in now_shown.values()), words
    removed = [mid for mid, t in now_shown.items() if t.startswith("🗑 Prošnja št. 1")]
    assert sorted(removed) == sorted(mid for mid, t in shown.items() if NAME in t)
    assert "umaknjena: oseba je izbrisala svoje podatke" in h.session.sent(STAFF)[-1].text
    # and nothing in the database holds them
    for table in ("resident", "contact_request", "outbox", "staff_message", "inbox",
                  "request_event", "access_log"):
        for row in await raw(h, f"SELECT * FROM {table}"):
            assert NAME not in str(row) and "987654" not in str(row) and SAID not in str(row)
    assert await raw(h, f"SELECT * FROM inbox WHERE person = 'telegram:{U}'") == []
    # not even in the file's free space or its write-ahead log (secure_delete, scrub)
    path = h.settings.database_url.split("///", 1)[1]
    held = b"".join(open(p, "rb").read() for p in (path, path + "-wal")
                    if __import__("os").path.exists(p))
    for words in ("Zofka", "Zupan", "987654", "ob sredah"):
        assert words.encode() not in held, words


async def test_a_card_waiting_for_the_group_is_not_posted_once_the_request_is_erased(h):
    await sensitive_intake(h)
    erased = []

    async def erase_while_waiting(seconds):
        h.slept.append(seconds)
        h.clock += seconds
        if not erased:  # the resident erases while the card waits for the group's turn
            async with h.db.transaction() as s:
                erased.append(await erasure.erase_person(s, person_key("telegram", U), h.now, STAFF))

    for _ in range(3):  # the group's allowance is used up
        h.sender._bucket(STAFF).wait_time()
    h.sender.sleep = erase_while_waiting
    await h.outbox.run_once()
    assert erased == [1]
    assert not any(NAME in t for t in staff_chat_now(h).values())
    async with h.db.transaction() as s:
        assert await repo.pending_outbox(s) == []  # the erasure's notice went out too


async def test_a_card_sent_just_as_the_request_was_erased_is_cleared_and_not_remembered(h):
    await sensitive_intake(h)
    send = h.session.make_request

    async def erase_during_the_send(bot, method, timeout=None):
        result = await send(bot, method, timeout)
        if isinstance(method, SendMessage) and method.chat_id == STAFF and NAME in method.text:
            async with h.db.transaction() as s:  # the erasure lands while the card is sent
                await erasure.erase_person(s, person_key("telegram", U), h.now, STAFF)
        return result

    h.session.make_request = erase_during_the_send
    await h.outbox.run_once()
    await h.outbox.idle()
    await h.outbox.run_once()
    assert not any(NAME in t for t in staff_chat_now(h).values())
    assert any(t.startswith("🗑 Prošnja št. 1") for t in staff_chat_now(h).values())
    assert await raw(h, "SELECT * FROM staff_message") == []


async def test_an_erased_request_number_never_reaches_another_resident(h):
    await sensitive_intake(h)
    await h.outbox.run_once()
    old_card, _, old_buttons = h.card()
    await h.text(U, "/izbrisi")
    await h.press(U, "Da, izbrišite vse")
    await sensitive_intake(h, V, name="Vida Novak", phone="041 111 222")
    await h.outbox.run_once()
    _, new_text, _ = h.card()
    assert new_text.startswith("🆕 Nova prošnja št. 2")
    # a reply to the old card and a press on it reach nobody
    await h.staff_text(COORD_A, "Vas pokličem jutri?", reply_to=old_card)
    await h.tap(COORD_A, old_buttons["Prevzamem"], chat_id=STAFF, message_id=old_card)
    await h.outbox.run_once()
    assert not any("pokličem jutri" in m.text for m in h.session.sent(V))
    async with h.db.transaction() as s:
        assert (await repo.get_request(s, 2)).status == "new"


async def test_retention_erases_an_idle_request_as_izbrisi_does_and_only_once(h):
    await sensitive_intake(h)
    await h.outbox.run_once()
    await h.text(U, SAID)
    await h.outbox.run_once()
    service = RetentionService(h.db, h.settings, lambda: h.now)
    assert (await service.run(h.now + timedelta(days=300))).requests == 0
    h.now += timedelta(days=370)  # past RETENTION_MONTHS (12) since the last message
    dry = await service.run(dry_run=True)
    assert dry.requests == 1
    counts = await service.run()
    assert counts.requests == 1
    await h.outbox.run_once()
    shown = staff_chat_now(h)
    assert not any(NAME in t or SAID in t for t in shown.values())
    assert sum("minil je rok hrambe" in t for t in shown.values()) == 2
    assert "umaknjena" not in h.session.sent(STAFF)[-1].text  # no notice, only the edits
    again = await service.run()
    assert again.requests == 0 and await raw(h, "SELECT * FROM resident") == []


async def test_daily_retention_runs_once_a_day(h):
    service = RetentionService(h.db, h.settings, lambda: h.now)
    assert await service.run_daily() is not None
    assert await service.run_daily() is None
    h.now += timedelta(days=1)
    assert await service.run_daily() is not None


def capture(fmt, secrets=()):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    redact = logs.Redactor(secrets)
    handler.setFormatter(logs.JsonFormatter(redact) if fmt == "json"
                         else logs.TextFormatter(redact))
    logging.getLogger().addHandler(handler)
    return stream, handler


async def test_a_database_error_while_storing_a_relay_logs_no_personal_data(h):
    await sensitive_intake(h)
    await raw(h, "CREATE TRIGGER refuse BEFORE INSERT ON outbox WHEN NEW.kind = "
                 "'relay_to_staff' BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    streams = [capture("text", ["42:TEST"]), capture("json", ["42:TEST"])]
    try:
        await h.text(U, "Pokličite me raje na 041 555 777, Zofka")
        logging.getLogger("korak.bot").error(
            "a failed request to https://api.telegram.org/bot42:TEST/sendMessage")
    finally:
        for _, handler in streams:
            logging.getLogger().removeHandler(handler)
    assert "nekaj je šlo narobe" in h.session.sent(U)[-1].text  # the resident is answered
    for stream, _ in streams:
        out = stream.getvalue()
        assert "update failed" in out and "IntegrityError" in out  # the fault can be found
        for secret in ("041 555 777", "555 777", "Zofka", NAME, "42:TEST"):
            assert secret not in out, (secret, out)
    text_out = streams[0][0].getvalue()
    assert "Traceback (values left out)" in text_out and "[redacted]" in text_out


async def test_the_database_file_and_folder_are_private(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/new/korak.db")
    await db.create_all()
    async with db.transaction() as s:
        await repo.save_state(s, "telegram:1", {"step": "consent"}, datetime.now(timezone.utc))
    folder = tmp_path / "new"
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    for name in ("korak.db", "korak.db-wal"):
        assert oct((folder / name).stat().st_mode & 0o777) == "0o600", name
    await db.dispose()
