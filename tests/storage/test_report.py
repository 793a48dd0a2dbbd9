"""The report's numbers on a known data set (report_data.py), on SQLite and PostgreSQL: requests
by site, municipality and month, the funnel, working hours with Christmas skipped, sessions with
reminders, answers and attendance in person-hours, target groups with small counts hidden; and
attendance marks and lists in storage."""

from datetime import date

from bot.config import Settings
from bot.report import ReportService
from dialogs import report as rep
from storage import attendance as marks
from storage import erasure, repo
from storage.crypto import Sealer, generate_key
from storage.models import Attendance, Outbox

from .report_data import NOW, build, local, tid

SG, RD = "slovenj-gradec", "radlje-ob-dravi"


def service(db, sealer, now=NOW):
    settings = Settings(_env_file=None, database_url="sqlite://")
    return ReportService(db, settings, sealer, lambda: now)


async def december(db):
    sealer = Sealer(generate_key())
    made = await build(db, sealer)
    return made, await service(db, sealer).build(date(2026, 12, 1), date(2026, 12, 31))


async def test_requests_by_site_municipality_and_month(db):
    _, r = await december(db)
    assert r.by_site == {SG: 3, RD: 4}
    assert r.requests == 7  # November's and January's are outside
    assert r.by_municipality == (
        (SG, "Mislinja", 1), (SG, "Slovenj Gradec", 2),
        (RD, "Muta", 1), (RD, "Podvelka", 1), (RD, "Radlje ob Dravi", 1), (RD, "Vuzenica", 1))
    assert r.by_month == ((rep.Month(2026, 12), {SG: 3, RD: 4}),)


async def test_funnel_by_site_from_history_and_status(db):
    _, r = await december(db)
    # new, claimed, contacted, enrolled, not suitable, unreachable, withdrawn, still open
    assert r.funnel[SG].row() == (3, 3, 2, 1, 1, 1, 0, 0)
    # R6 was put back and claimed again: counted once; R9 withdrew before any claim
    assert r.funnel[RD].row() == (4, 2, 1, 0, 0, 0, 1, 3)
    assert r.total_funnel.row() == (7, 5, 3, 1, 1, 1, 1, 3)


async def test_working_hours_skip_weekends_and_christmas(db):
    _, r = await december(db)
    assert r.to_claim[None] == rep.Stat(5, 2.0, 3.0)
    assert r.to_contact[None] == rep.Stat(3, 7.0, 8.0)
    # R1 came on Thursday 24. 12. at 14:00 and was claimed on Monday at 9:00: two working
    # hours, as Christmas (Friday) is a holiday; counted as a working day it would be nine
    assert r.to_claim[SG] == rep.Stat(3, 2.0, 2.5)
    assert r.to_contact[SG] == rep.Stat(2, 5.5, 7.0)


async def test_sessions_reminders_answers_attendance_and_person_hours(db):
    _, r = await december(db)
    # the cancelled session and January's are not in it
    assert [(x.title, x.listed, x.reminders, x.yes, x.no, x.no_answer, x.present, x.absent,
             x.excused, x.unmarked, x.hours, x.person_hours) for x in r.sessions] == [
        ("Srečanje 1", 3, 3, 1, 1, 1, 1, 1, 1, 0, 3.0, 3.0),
        ("Srečanje 2", 3, 2, 2, 0, 1, 2, 0, 0, 1, 3.0, 6.0)]
    assert r.cohorts == (rep.CohortLine("SG 2026/2", SG, 2, 6, 3, 9.0),)


async def test_target_groups_under_three_are_hidden_and_the_sealed_answer_counts(db):
    _, r = await december(db)
    less = rep.LESS
    # long-term DSP, other inactive, women of other cultures / Roma, not fit, unclear, total
    assert r.groups[SG] == (less, less, less, less, less, 3)
    # three of Radlje's four gave the sensitive answer: their group is counted from the sealed
    # answer (they would otherwise be "unclear" or "other inactive")
    assert r.groups[RD] == (less, less, 3, less, less, 4)


async def test_without_the_key_the_group_that_needs_it_is_not_counted(db):
    made = await build(db, Sealer(generate_key()))
    other = Sealer(generate_key())  # DATA_KEY lost: nothing opens
    r = await service(db, other).build(date(2026, 12, 1), date(2026, 12, 31))
    assert r.groups[RD][2] == rep.LESS and made


async def test_a_period_with_nothing_in_it(db):
    sealer = Sealer(generate_key())
    await build(db, sealer)
    r = await service(db, sealer).build(date(2026, 6, 1), date(2026, 6, 30))
    assert r.requests == 0 and r.sessions == () and r.groups == {}
    assert r.to_claim[None] == rep.Stat(0, None, None)
    assert r.by_month == ((rep.Month(2026, 6), {SG: 0, RD: 0}),)


async def test_a_session_not_begun_yet_is_not_reported(db):
    sealer = Sealer(generate_key())
    await build(db, sealer)
    early = service(db, sealer, now=local(10, 8, 30))  # S2 starts at 9:00
    r = await early.build(date(2026, 12, 1), date(2026, 12, 31))
    assert [x.title for x in r.sessions] == ["Srečanje 1"]


async def test_a_mark_is_stored_changed_and_kept_apart_from_the_answer(db):
    made = await build(db, Sealer(generate_key()))
    s2, e4 = made["sessions"][2], made["enrollments"][4]
    async with db.transaction() as s:
        assert await marks.mark(s, s2, e4, "absent", 9002, NOW) == (True, None)
        assert await marks.mark(s, s2, e4, "absent", 9002, NOW) == (False, "absent")
        assert await marks.mark(s, s2, e4, "excused", 9001, NOW) == (True, "absent")
        row = await s.get(Attendance, (s2, tid(12)))
        assert (row.answer, row.at, row.presence, row.presence_by) == (None, None, "excused",
                                                                     9001)
        e1 = made["enrollments"][1]
        assert await marks.mark(s, s2, e1, "absent", 9001, NOW) == (True, "present")
        row = await s.get(Attendance, (s2, tid(7)))
        assert (row.answer, row.presence) == ("yes", "absent")  # the answer stays
        # an enrollment of another cohort, or none at all, is not marked
        assert await marks.mark(s, s2, 99999, "present", 9001, NOW) is None


async def test_members_carry_the_name_from_the_request_and_the_marks(db):
    made = await build(db, Sealer(generate_key()))
    async with db.transaction() as s:
        found = await marks.session_and_cohort(s, made["sessions"][1])
        people = await marks.members(s, made["sessions"][1], found[1].id)
    assert [(m.name, m.answer, m.presence) for m in people] == [
        ("Gregor Vidmar", "yes", "present"), ("Helena Kos", "no", "excused"),
        ("Igor Mlakar", None, "absent"), ("Jana Kovač", None, None)]


async def test_ended_sessions_are_those_without_a_list_in_the_window(db):
    made = await build(db, Sealer(generate_key()))
    s1, s2 = made["sessions"][1], made["sessions"][2]
    async with db.transaction() as s:
        found = await marks.ended_sessions(s, local(1, 0), local(10, 12))
        assert [x.id for x in found] == [s1, s2]
        await marks.remember_sheet(s, -100, 55, s1, 0)
        await marks.remember_sheet(s, -100, 55, s1, 0)  # twice: one row
        assert [x.id for x in await marks.ended_sessions(s, local(1, 0), local(10, 12))] == [s2]
        assert [x.id for x in await marks.ended_sessions(s, local(1, 0), local(10, 11))] == []
        assert len(await marks.sheet_messages(s, s1)) == 1


async def test_erasing_a_participant_queues_an_edit_of_every_list_that_showed_them(db):
    made = await build(db, Sealer(generate_key()))
    s1, s2 = made["sessions"][1], made["sessions"][2]
    async with db.transaction() as s:
        await marks.remember_sheet(s, -100, 55, s1, 0)
        await marks.remember_sheet(s, -100, 56, s2, 0)
    async with db.transaction() as s:
        await erasure.erase_person(s, tid(10), NOW, -100)
    async with db.transaction() as s:
        rows = [r for r in await repo.pending_outbox(s) if r.kind == marks.KIND]
        assert sorted((r.chat_id, r.payload["session_id"], r.payload["refresh"], r.request_id)
                      for r in rows) == [(-100, s1, True, None), (-100, s2, True, None)]
        assert await s.get(Attendance, (s1, tid(10))) is None
    # and the report no longer counts them
    r = await service(db, Sealer(generate_key())).build(date(2026, 12, 1), date(2026, 12, 31))
    assert [x.listed for x in r.sessions] == [2, 2]


async def test_a_person_on_no_list_queues_nothing(db):
    made = await build(db, Sealer(generate_key()))
    async with db.transaction() as s:
        await marks.remember_sheet(s, -100, 55, made["sessions"][1], 0)
        await erasure.erase_person(s, tid(3), NOW, -100)  # a request, but in no cohort
        rows = (await s.execute(Outbox.__table__.select().where(
            Outbox.kind == marks.KIND))).all()
    assert rows == []


async def test_two_first_marks_of_one_person_at_once_leave_one_row(pg_db):
    import asyncio

    made = await build(pg_db, Sealer(generate_key()))
    s2, e4 = made["sessions"][2], made["enrollments"][4]

    async def press(presence, actor):
        async with pg_db.transaction() as s:
            return await marks.mark(s, s2, e4, presence, actor, NOW)

    results = await asyncio.gather(press("absent", 9001), press("excused", 9002))
    assert sorted(r[1] or "" for r in results) in (["", "absent"], ["", "excused"])
    async with pg_db.transaction() as s:
        row = await s.get(Attendance, (s2, tid(12)))
    assert row.presence in ("absent", "excused") and row.answer is None
