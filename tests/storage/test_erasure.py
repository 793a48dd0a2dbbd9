"""Erasure and retention in storage, on SQLite and PostgreSQL: /izbrisi takes everything about a
person and queues the edits of every staff message that showed them; retention erases idle
requests the same way, once; ids are never given out again."""

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from dialogs import retention as rules
from dialogs.intake import STEPS
from storage import erasure, repo
from storage import schedule as store
from storage.models import (AccessLog, Attendance, ContactRequest, Enrollment, Outbox,
                            Inbox, RequestEvent, Resident, StaffMessage, group_key, person_key)

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)
STAFF = -100
ANSWERS = {"site": "slovenj-gradec", "municipality": "Mežica", "name": "Zofka",
           "phone": "+38641123456"}


async def person_with_everything(db, uid, *, at=NOW, enrolled_until=None):
    """A resident with a claimed request, its history, a card and two more staff messages (a
    copy made by /prosnja and a relayed message), a sent and an unsent outbox row, an access
    log row, an enrollment with attendance and a reminder, and two handled updates."""
    async with db.transaction() as s:
        me = person_key("telegram", uid)
        await repo.first_time(s, f"telegram:{uid * 10}", at, me)
        await repo.first_time(s, f"telegram:{uid * 10 + 1}", at, me)
        await repo.save_state(s, me, {"step": "done", "answers": {}}, at)
        rid, _ = await repo.create_request(s, person=person_key("telegram", uid), answers=ANSWERS,
                                           now=at, staff_chat_id=STAFF, sensitive="sealed")
        req = await repo.get_request(s, rid)
        await repo.change_request(s, req, action="claim", status="claimed", owner_id=77,
                                  owner_name="Mojca", actor_id=77, actor_name="Mojca", now=at)
        await repo.remember_staff_message(s, STAFF, uid * 100, rid, card=True)
        await repo.remember_staff_message(s, STAFF, uid * 100 + 1, rid, card=True)  # /prosnja
        await repo.remember_staff_message(s, STAFF, uid * 100 + 2, rid)  # a relayed message
        await repo.add_outbox(s, kind="relay_to_resident", chat=me, due_at=at,
                              payload={"request_id": rid, "text": "Pokličem jutri",
                                       "name": "Mojca"}, request_id=rid)
        await erasure.log_access(s, rid, 77, "Mojca", "sensitive", at)
        cohort = await store.create_cohort(s, f"SG {uid}", "slovenj-gradec", at)
        from storage.models import ProgrammeSession
        ends = enrolled_until or at + timedelta(days=3, hours=2)
        session = ProgrammeSession(cohort_id=cohort.id, key="a", title="Uvod", place="SG",
                                   starts_at=ends - timedelta(hours=2), ends_at=ends,
                                   updated_at=at)
        s.add(session)
        await s.flush()
        enr, _ = await store.enroll(s, cohort_id=cohort.id, person=person_key("telegram", uid),
                                    request_id=rid, now=at)
        await store.set_attendance(s, session.id, me, "yes", at)
        await repo.add_outbox(s, kind="reminder", chat=me, due_at=at + timedelta(days=2),
                              payload={"session_id": session.id, "enrollment_id": enr.id},
                              key=f"reminder:{session.id}:{enr.id}:x:1", request_id=rid)
    # the staff notice of the new request is sent: its row is done with
    async with db.transaction() as s:
        for row in await repo.pending_outbox(s):
            if row.kind == "staff_new_request" and row.request_id == rid:
                await repo.finish_outbox(s, row.id, at)
    return rid


async def rows_of(db, model, **where):
    async with db.transaction() as s:
        stmt = select(model)
        for name, value in where.items():
            stmt = stmt.where(getattr(model, name) == value)
        return list((await s.execute(stmt)).scalars().all())


async def test_izbrisi_takes_everything_about_the_person_and_nothing_of_others(db):
    gone = await person_with_everything(db, 4)
    kept = await person_with_everything(db, 5)
    async with db.transaction() as s:
        assert await erasure.erase_person(s, "telegram:4", NOW, STAFF) == 1
    for model in (Resident, ContactRequest, Enrollment, Attendance, Inbox):
        assert await rows_of(db, model, person="telegram:4") == [], model.__name__
        assert await rows_of(db, model, person="telegram:5") != [], model.__name__
    for model in (RequestEvent, StaffMessage, AccessLog, Outbox):
        assert await rows_of(db, model, request_id=gone) == [], model.__name__
        assert await rows_of(db, model, request_id=kept) != [], model.__name__
    # nothing is waiting for the person's chat
    assert await rows_of(db, Outbox, chat="telegram:4") == []
    # one row edits every message that showed the request, then tells the staff chat
    [erase] = [r for r in await rows_of(db, Outbox, kind="staff_request_deleted")]
    assert erase.request_id is None and erase.chat == group_key(STAFF)
    assert erase.payload == {"id": gone, "messages": [[STAFF, 400], [STAFF, 401], [STAFF, 402]],
                             "notice": True, "reason": "person"}


async def test_a_request_number_is_never_given_out_again(db):
    async with db.transaction() as s:
        first, _ = await repo.create_request(s, person="telegram:1", answers=ANSWERS,
                                             now=NOW, staff_chat_id=STAFF)
    async with db.transaction() as s:
        await erasure.erase_person(s, "telegram:1", NOW, STAFF)
    async with db.transaction() as s:
        second, _ = await repo.create_request(s, person="telegram:2", answers=ANSWERS,
                                              now=NOW, staff_chat_id=STAFF)
    assert second > first


async def test_an_idle_request_is_erased_once_by_retention_and_a_busy_one_is_kept(db):
    old = NOW - timedelta(days=400)
    idle = await person_with_everything(db, 6, at=old, enrolled_until=old + timedelta(days=30))
    # the same age, but enrolled in a cohort with a session ahead: in the programme, kept
    busy = await person_with_everything(db, 7, at=old, enrolled_until=NOW + timedelta(days=20))
    recent = await person_with_everything(db, 8, at=NOW - timedelta(days=30))
    cutoff = rules.cutoffs(NOW, 12, 30).requests
    async with db.transaction() as s:
        assert [t.id for t in await erasure.idle_requests(s, cutoff)] == [idle]
    async with db.transaction() as s:
        assert await erasure.erase_if_idle(s, idle, cutoff, NOW, STAFF, STEPS)
    async with db.transaction() as s:  # a second run (another replica) finds nothing to do
        assert not await erasure.erase_if_idle(s, idle, cutoff, NOW, STAFF, STEPS)
        assert not await erasure.erase_if_idle(s, busy, cutoff, NOW, STAFF, STEPS)
    assert await rows_of(db, ContactRequest, id=idle) == []
    assert await rows_of(db, Resident, person="telegram:6") == []  # their last request: gone
    assert await rows_of(db, Inbox, person="telegram:6") == []
    assert {r.id for r in await rows_of(db, ContactRequest)} == {busy, recent}
    [erase] = await rows_of(db, Outbox, kind="staff_request_deleted")
    assert erase.payload["reason"] == "retention" and not erase.payload["notice"]
    assert erase.payload["messages"] == [[STAFF, 600], [STAFF, 601], [STAFF, 602]]


async def test_activity_moves_the_retention_clock(db):
    rid = await person_with_everything(db, 9, at=NOW - timedelta(days=400),
                                       enrolled_until=NOW - timedelta(days=300))
    async with db.transaction() as s:
        await repo.touch(s, rid, NOW - timedelta(days=10))  # a message came last week
    cutoff = rules.cutoffs(NOW, 12, 30).requests
    async with db.transaction() as s:
        assert await erasure.idle_requests(s, cutoff) == []


async def test_unfinished_conversations_go_and_a_fresh_one_stays(db):
    limits = rules.cutoffs(NOW, 12, 30)
    states = {
        1: ({"step": "consent", "answers": {}}, NOW - timedelta(days=2)),  # walked away
        2: ({"step": "consent", "answers": {}}, NOW - timedelta(hours=3)),  # still reading
        3: ({"step": "phone", "answers": {"consent": True, "name": "A"}},
            NOW - timedelta(days=31)),
        4: ({"step": "phone", "answers": {"consent": True, "name": "B"}},
            NOW - timedelta(days=29)),
        # referred outside Koroška two days ago: kept only for a correction within minutes
        6: ({"step": "outside", "answers": {}, "outside_at": "x"}, NOW - timedelta(days=2)),
    }
    async with db.transaction() as s:
        for uid, (state, at) in states.items():
            await repo.save_state(s, person_key("telegram", uid), state, at)
            await repo.first_time(s, f"telegram:{uid}", at, person_key("telegram", uid))
        # 5 has a request and left a new conversation half-way: reset, not deleted
        await repo.save_state(s, "telegram:5", {"step": "work", "answers": {"consent": True}},
                              NOW - timedelta(days=40))
        await repo.create_request(s, person="telegram:5", answers=ANSWERS,
                                  now=NOW - timedelta(days=40), staff_chat_id=None)
    async with db.transaction() as s:
        stored = await erasure.conversations_before(s, limits.unconsented)
    fates = {int(c.person.split(":")[1]): rules.resident_fate(c.state, c.updated_at,
                                                               c.has_requests, limits)
             for c in stored}
    assert fates == {1: ("delete", "unconsented"), 3: ("delete", "idle_intake"),
                     5: ("reset", "idle_intake"), 4: None, 6: ("delete", "unconsented")}
    for conv in stored:
        fate = fates[int(conv.person.split(":")[1])]
        if fate:
            async with db.transaction() as s:
                assert await erasure.drop_conversation(
                    s, conv.person, conv.updated_at + timedelta(microseconds=1), fate[0])
    assert {r.person for r in await rows_of(db, Resident)} == {
        "telegram:2", "telegram:4", "telegram:5"}
    assert [r.state["answers"] for r in await rows_of(db, Resident, person="telegram:5")] == [{}]
    assert {r.person for r in await rows_of(db, Inbox)} == {"telegram:2", "telegram:4"}


async def test_a_conversation_touched_after_it_was_read_is_not_dropped(db):
    async with db.transaction() as s:
        await repo.save_state(s, "telegram:1", {"step": "consent"}, NOW - timedelta(days=2))
    async with db.transaction() as s:
        [conv] = await erasure.conversations_before(s, NOW - timedelta(days=1))
    async with db.transaction() as s:  # the person writes again meanwhile
        await repo.save_state(s, "telegram:1", {"step": "place"}, NOW)
    async with db.transaction() as s:
        assert not await erasure.drop_conversation(
            s, "telegram:1", conv.updated_at + timedelta(microseconds=1), "delete")
    assert len(await rows_of(db, Resident, person="telegram:1")) == 1


async def test_update_ids_and_sent_rows_are_pruned_after_a_week(db):
    async with db.transaction() as s:
        await repo.first_time(s, "telegram:1", NOW - timedelta(days=8), "telegram:1")
        await repo.first_time(s, "telegram:2", NOW - timedelta(days=6), "telegram:1")
        await repo.add_outbox(s, kind="staff_digest", chat=group_key(STAFF), payload={},
                              due_at=NOW - timedelta(days=8), key="digest:old")
        await repo.add_outbox(s, kind="staff_digest", chat=group_key(STAFF), payload={},
                              due_at=NOW - timedelta(days=2), key="digest:new")
        s.add(Outbox(kind="relay_to_staff", chat=group_key(STAFF), payload={"text": "old korak"},
                     due_at=NOW - timedelta(days=2), sent_at=NOW - timedelta(days=2)))
    async with db.transaction() as s:
        for row in await repo.pending_outbox(s):
            sent = NOW - timedelta(days=8 if row.key == "digest:old" else 2)
            await repo.finish_outbox(s, row.id, sent)
    limits = rules.cutoffs(NOW, 12, 30)
    async with db.transaction() as s:
        assert await erasure.prune_processed(s, limits.processed, dry_run=True) == 1
        assert await erasure.prune_sent(s, limits.sent, dry_run=True) == 1
        assert await erasure.blank_sent(s, dry_run=True) == 1
    async with db.transaction() as s:
        assert await erasure.prune_processed(s, limits.processed) == 1
        assert await erasure.prune_sent(s, limits.sent) == 1
        assert await erasure.blank_sent(s) == 1
    assert [r.event for r in await rows_of(db, Inbox)] == ["telegram:2"]
    left = await rows_of(db, Outbox)
    assert sorted(r.key or "" for r in left) == ["", "digest:new"]
    assert all(r.chat is None and r.payload == {} for r in left)


async def test_a_finished_row_keeps_neither_chat_nor_text(db):
    async with db.transaction() as s:
        await repo.add_outbox(s, kind="relay_to_resident", chat="telegram:12", due_at=NOW,
                              payload={"request_id": 1, "text": "041 555 666", "name": "Mojca"},
                              request_id=1)
    async with db.transaction() as s:
        [row] = await repo.pending_outbox(s)
        await repo.finish_outbox(s, row.id, NOW, error="forbidden")
    [row] = await rows_of(db, Outbox)
    assert (row.chat, row.payload, row.request_id) == (None, {}, 1)
    assert row.sent_at is not None and row.last_error == "forbidden"


async def test_a_failing_statement_does_not_carry_its_values_into_the_error(db):
    """Both engines hide statement parameters: an error raised while a relayed message with a
    phone number is stored does not quote it (logs print errors; storage/db.py)."""
    import traceback

    from sqlalchemy import text
    async with db.transaction() as s:
        if db.sync_engine is not None:
            await s.execute(text("CREATE TRIGGER refuse BEFORE INSERT ON outbox BEGIN "
                                 "SELECT RAISE(ABORT, 'refused'); END"))
        else:
            await s.execute(text("CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN "
                                 "RAISE EXCEPTION 'refused'; END $$ LANGUAGE plpgsql"))
            await s.execute(text("CREATE TRIGGER refuse BEFORE INSERT ON outbox "
                                 "FOR EACH ROW EXECUTE FUNCTION refuse()"))
    try:
        async with db.transaction() as s:
            await repo.add_outbox(s, kind="relay_to_staff", chat=group_key(STAFF), due_at=NOW,
                                  payload={"request_id": 1, "text": "Pokličite 041 555 777"})
            await s.flush()
    except Exception as exc:  # noqa: BLE001
        told = "".join(traceback.format_exception(exc))
    else:
        raise AssertionError("the trigger did not refuse")
    assert "refused" in told and "555 777" not in told and "parameters hidden" in told


async def test_erased_words_leave_the_sqlite_file_and_its_log(tmp_path):
    """secure_delete zeroes what is deleted, and scrub() empties the write-ahead log into the
    file: the erased person's words are nowhere in the bytes, the others' still are."""
    from storage.db import Database

    db = Database(f"sqlite:///{tmp_path}/korak.db")
    await db.create_all()
    async with db.transaction() as s:
        for uid in range(20, 40):
            answers = {**ANSWERS, "name": f"Oseba{uid} Priimek", "hopes": f"upanje {uid}"}
            await repo.create_request(s, person=person_key("telegram", uid), answers=answers,
                                      now=NOW, staff_chat_id=STAFF)
            await repo.save_state(s, person_key("telegram", uid),
                                  {"step": "done", "answers": answers}, NOW)
    async with db.transaction() as s:
        await erasure.erase_person(s, "telegram:31", NOW, STAFF)
    await db.scrub()
    files = [tmp_path / "korak.db", tmp_path / "korak.db-wal"]
    held = b"".join(p.read_bytes() for p in files if p.exists())
    assert b"Oseba31" not in held and b"upanje 31" not in held
    assert b"Oseba30" in held and b"upanje 32" in held
    assert not (tmp_path / "korak.db-wal").exists() or \
        (tmp_path / "korak.db-wal").stat().st_size == 0
    await db.dispose()
