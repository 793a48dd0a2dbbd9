"""Schedules, enrollment from the card, reminders through the outbox, answers, changes."""

from datetime import datetime, timezone

from storage import repo
from storage import schedule as store
from storage.models import person_key

from .conftest import COORD_A, STAFF
from .test_handlers import U
from .test_staff import new_card

UTC = timezone.utc
# NOW in the harness is Thursday 26 Nov 2026, 11:00 in Ljubljana
CSV = ("datum;zacetek;konec;naslov;kraj\n"
       "3. 12. 2026;9.00;12.00;Uvodno srečanje;Slovenj Gradec, Meškova ulica 21\n"
       "10. 12. 2026;9.00;12.00;Delavnica;Slovenj Gradec, Meškova ulica 21\n")


async def import_csv(h, text=CSV, cohort="SG 2026/2", site="slovenj-gradec"):
    return await h.schedule.import_file(cohort, "urnik.csv", text.encode(), site=site)


async def enrolled(h):
    """Request 1 claimed by A and enrolled in the imported cohort from the card."""
    await import_csv(h)
    await new_card(h)
    await h.card_press(COORD_A, "Prevzamem")
    await h.card_press(COORD_A, "Vključen/a")
    _, text, buttons = h.card()
    assert "V katero skupino" in text and list(buttons) == ["📅 SG 2026/2", "← Nazaj"]
    await h.card_press(COORD_A, "📅 SG 2026/2")
    await h.outbox.run_once()


async def reminders(h):
    async with h.db.transaction() as s:
        return sorted((r.due_at.replace(tzinfo=UTC) if r.due_at.tzinfo is None else r.due_at)
                      for r in await repo.pending_outbox(s) if r.kind == "reminder")


async def test_enroll_from_the_card_plans_reminders(h):
    await enrolled(h)
    req = (await h.handoff.card(1))
    assert req is not None
    _, text, buttons = h.card()
    assert "vključen/a v program" in text and list(buttons) == ["Vrni v vrsto"]
    due = await reminders(h)
    assert due == [datetime(2026, 12, 2, 16, 0, tzinfo=UTC), datetime(2026, 12, 3, 6, 0, tzinfo=UTC),
                   datetime(2026, 12, 9, 16, 0, tzinfo=UTC), datetime(2026, 12, 10, 6, 0, tzinfo=UTC)]


async def test_back_from_the_cohort_choice_changes_nothing(h):
    await import_csv(h)
    await new_card(h)
    await h.card_press(COORD_A, "Prevzamem")
    await h.card_press(COORD_A, "Vključen/a")
    await h.card_press(COORD_A, "← Nazaj")
    assert "Kontaktirano" in h.card()[2]
    async with h.db.transaction() as s:
        assert (await repo.get_request(s, 1)).status == "claimed"
        assert await store.participants(s, 1) == []


async def test_reminder_arrives_on_time_with_buttons_and_not_coming_tells_the_staff(h):
    await enrolled(h)
    h.now = datetime(2026, 12, 2, 15, 59, tzinfo=UTC)
    assert await h.outbox.run_once() == 0
    h.now = datetime(2026, 12, 2, 16, 0, tzinfo=UTC)  # 17:00 in Ljubljana
    assert await h.outbox.run_once() == 1
    msg = h.session.sent(U)[-1]
    assert msg.text.startswith("⏰ Opomnik: Jutri, v četrtek, 3. decembra, ob 9.00 — Slovenj "
                               "Gradec, Meškova ulica 21: Uvodno srečanje.")
    buttons = {b.text: b.callback_data for row in msg.reply_markup.inline_keyboard for b in row}
    assert list(buttons) == ["✅ Pridem", "❌ Ne morem priti"]
    await h.tap(U, buttons["❌ Ne morem priti"])
    assert "Hvala, da ste nam sporočili" in h.session.sent(U)[-1].text
    await h.tap(U, buttons["❌ Ne morem priti"])  # pressed twice: the staff is told once
    await h.outbox.run_once()
    told = [m for m in h.session.sent(STAFF) if "ne more priti" in m.text]
    assert len(told) == 1
    assert "Uvodno srečanje" in told[0].text and "Skrbi: Mojca" in told[0].text
    assert told[0].reply_to_message_id == h.card()[0]
    await h.tap(U, buttons["✅ Pridem"])
    assert h.session.sent(U)[-1].text == "Hvala! Se vidimo."
    async with h.db.transaction() as s:
        assert await store.attendance(s, 1) == {person_key("telegram", U): "yes"}
    assert await h.outbox.run_once() == 0  # nothing is sent twice


async def test_after_downtime_late_reminders_go_only_before_the_session(h):
    await enrolled(h)
    h.now = datetime(2026, 12, 3, 7, 30, tzinfo=UTC)  # 8:30: both reminders overdue
    await h.outbox.run_once()
    texts = [m.text for m in h.session.sent(U) if m.text.startswith("⏰")]
    assert len(texts) == 2 and all("Danes, v četrtek" in t for t in texts)
    h.now = datetime(2026, 12, 10, 8, 30, tzinfo=UTC)  # the 10 Dec session began at 9:00
    before = len(h.session.sent(U))
    assert await h.outbox.run_once() == 0
    assert len(h.session.sent(U)) == before
    async with h.db.transaction() as s:
        assert [r for r in await repo.pending_outbox(s) if r.kind == "reminder"] == []


async def test_reimport_moves_and_cancels_and_tells_participants_at_once(h):
    await enrolled(h)
    changed = CSV.replace("3. 12. 2026;9.00;12.00", "4. 12. 2026;9.00;12.00").replace(
        "10. 12. 2026;9.00;12.00;Delavnica;Slovenj Gradec, Meškova ulica 21\n", "")
    result = await import_csv(h, changed)
    report = h.texts.render(result.report.text)
    # no "id" column: a session is known by date and title, so a new date is a new session
    assert "➕ novo: Uvodno srečanje, 4. 12. 2026 ob 9.00" in report
    assert "❌ odpade: Uvodno srečanje, 3. 12. 2026 ob 9.00" in report
    assert "❌ odpade: Delavnica, 10. 12. 2026 ob 9.00" in report
    await h.outbox.run_once()
    notices = [m.text for m in h.session.sent(U) if "odpade" in m.text]
    assert len(notices) == 2
    due = await reminders(h)
    assert due == [datetime(2026, 12, 3, 16, 0, tzinfo=UTC), datetime(2026, 12, 4, 6, 0, tzinfo=UTC)]


async def test_moving_by_id_keeps_the_session_and_replans(h):
    with_ids = "id;" + CSV.replace("\n3.", "\nuvod;3.").replace("\n10.", "\ndel;10.")
    await import_csv(h, with_ids)
    await new_card(h)
    await h.card_press(COORD_A, "Prevzamem")
    await h.card_press(COORD_A, "Vključen/a")
    await h.card_press(COORD_A, "📅 SG 2026/2")
    result = await import_csv(h, with_ids.replace("uvod;3. 12. 2026;9.00;12.00",
                                                  "uvod;3. 12. 2026;13.00;15.00"))
    report = h.texts.render(result.report.text)
    assert "↪️ prestavljeno: Uvodno srečanje, 3. 12. 2026 ob 9.00 → 3. 12. 2026 ob 13.00" in report
    assert "Nespremenjenih srečanj: 1." in report
    await h.outbox.run_once()
    moved = [m.text for m in h.session.sent(U) if "prestavljeno" in m.text]
    assert len(moved) == 1 and "ob 13.00" in moved[0] and "ob 9.00" in moved[0]
    assert (await reminders(h))[:2] == [datetime(2026, 12, 2, 16, 0, tzinfo=UTC),
                                        datetime(2026, 12, 3, 10, 0, tzinfo=UTC)]


async def test_broken_import_changes_nothing(h):
    await enrolled(h)
    before = await reminders(h)
    result = await import_csv(h, CSV + "11. 12. 2026;25.00;12.00;X;Y\n")
    assert not result.ok
    report = h.texts.render(result.report.text)
    assert "Nič ni spremenjeno" in report and "Vrstica 4" in report
    assert await reminders(h) == before


async def test_termini_and_leaving_a_cohort(h):
    await enrolled(h)
    await h.text(U, "/status")  # an enrolled participant's request is no longer open
    assert "Stanje: vključeni ste v program" in h.session.sent(U)[-1].text
    await h.text(U, "/termini")
    listing = h.session.sent(U)[-1].text
    assert listing.startswith("Vaša naslednja srečanja:")
    assert listing.index("Uvodno srečanje") < listing.index("Delavnica")
    assert "v četrtek, 3. decembra, ob 9.00" in listing
    text = await h.schedule.enroll_request(1, "SG 2026/2", leave=True)
    assert text.msgid == "schedule.left"
    assert await reminders(h) == []
    await h.text(U, "/termini")
    assert "nimate nobenega" in h.session.sent(U)[-1].text


async def test_forged_answers_change_nothing(h):
    await enrolled(h)
    await h.tap(777, "a|1|no")  # not a participant
    assert "ni v vašem urniku" in h.session.sent(777)[-1].text
    await h.tap(U, "a|1|maybe")
    await h.tap(U, "a|99999|no")
    async with h.db.transaction() as s:
        assert await store.attendance(s, 1) == {}
    assert [m for m in h.session.sent(STAFF) if "ne more priti" in m.text] == []


async def test_blocked_participant_is_marked_and_the_staff_told(h):
    from aiogram.exceptions import TelegramForbiddenError
    await enrolled(h)
    h.now = datetime(2026, 12, 2, 16, 0, tzinfo=UTC)
    h.session.fail = [lambda m: TelegramForbiddenError(m, "Forbidden: bot was blocked")]
    await h.outbox.run_once()
    await h.outbox.run_once()
    assert U in h.unreachable
    assert any("bota blokirala" in m.text for m in h.session.sent(STAFF))


async def test_schedule_file_sent_into_the_staff_chat(h, monkeypatch):
    from aiogram.types import Chat, Document, Message, Update

    from .conftest import NOW

    async def fake_download(self, file, destination=None, **kw):
        destination.write(CSV.encode())
        destination.seek(0)
        return destination
    monkeypatch.setattr(type(h.bot), "download", fake_download)

    def document(uid, caption):
        return Update(update_id=5000 + uid, message=Message(
            message_id=70 + uid % 10, date=NOW, chat=Chat(id=STAFF, type="supergroup"),
            from_user=h.user(uid), caption=caption,
            document=Document(file_id="f", file_unique_id="u", file_name="urnik.csv",
                              file_size=200)))
    await h.feed(document(COORD_A, "Radlje 2027/1"))
    reply = h.session.sent(STAFF)[-1].text
    assert reply.startswith("Urnik skupine »Radlje 2027/1« je naložen.")
    async with h.db.transaction() as s:
        assert (await store.cohort_by_name(s, "Radlje 2027/1")).site == "radlje-ob-dravi"
    await h.feed(document(COORD_A, "Jesen"))  # a new cohort without a site in its name
    assert "povejte lokacijo" in h.session.sent(STAFF)[-1].text
    before = len(h.session.sent(STAFF))
    from .conftest import STRANGER
    await h.feed(document(STRANGER, "SG 2027/9"))
    assert len(h.session.sent(STAFF)) == before  # nobody else can load a schedule
    async with h.db.transaction() as s:
        assert await store.cohort_by_name(s, "SG 2027/9") is None
