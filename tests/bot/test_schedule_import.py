"""Reading a schedule file happens in a worker process: the event loop stays free, a file that
takes too long is stopped (and its process with it), and whatever goes wrong reaches the
coordinator as a listed problem."""

import asyncio
import os
import signal
import time
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from bot.staff.schedule import parse_in_worker
from storage import repo
from storage import schedule as store

from ..dialogs.test_schedule import calendar, event

LJ = ZoneInfo("Europe/Ljubljana")
# NOW in the harness is Thursday 26 Nov 2026, 11:00 in Ljubljana


NEVER = "RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"  # 30 February: searched for centuries


async def import_ics(h, data, cohort="SG 2026/2"):
    result = await h.schedule.import_file(cohort, "urnik.ics", data, site="slovenj-gradec")
    return result, h.texts.render(result.report.text)


async def sessions(h, cohort="SG 2026/2"):
    async with h.db.transaction() as s:
        found = await store.cohort_by_name(s, cohort)
        return [] if found is None else await store.sessions_of(s, found.id)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_a_parse_past_the_time_limit_is_stopped_and_its_worker_is_gone(h, monkeypatch):
    # each rule that never occurs takes a fraction of a second to rule out: 300 take minutes
    slow = calendar(*(event(uid=f"e{i}", more=NEVER) for i in range(300)))
    pids = []
    began = time.monotonic()
    parsed = await parse_in_worker("urnik.ics", slow, LJ, today=None, default_minutes=120,
                                   seconds=1, started=pids.append)
    assert time.monotonic() - began < 30  # generous: the limit is 1 s
    assert [p.text.msgid for p in parsed.problems] == ["schedule.error.timeout"]
    assert parsed.rows == [] and len(pids) == 1 and gone(pids[0])
    # and through the import, as the coordinator sees it: nothing changes
    monkeypatch.setattr(h.settings, "schedule_parse_seconds", 1.0)
    result, report = await import_ics(h, slow)
    assert not result.ok
    assert "Nič ni spremenjeno" in report and "trajalo več kot 1 s" in report
    assert await sessions(h) == []


async def test_a_long_parse_leaves_the_event_loop_free(h):
    # rules that never occur take a fraction of a second each to rule out: a few of them are
    # over a second of work, then the file is refused
    data = calendar(*(event(uid=f"e{i}", more=NEVER) for i in range(8)))
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    try:
        result, report = await import_ics(h, data)
        during = ticks
    finally:
        task.cancel()
    assert not result.ok and f"Vrstica {4 + 7 * 6}: pravilo ponavljanja (RRULE)" in report
    assert during >= 10  # parsed on the loop, the ticker would not have moved at all


async def test_a_rule_that_never_occurs_is_refused_not_searched_for_ever(h, monkeypatch):
    monkeypatch.setattr(h.settings, "schedule_parse_seconds", 5.0)  # searched, it takes longer
    result, report = await import_ics(h, calendar(event(more=NEVER)))
    assert not result.ok
    assert "Vrstica 4: pravilo ponavljanja (RRULE) ne da nobenega datuma." in report


async def test_malformed_rules_and_impossible_years_are_listed_by_line(h):
    data = calendar(event(uid="a", more="RRULE:FREQ=WEEKLY;BYDAY=XX"),
                    event(uid="b", more="RRULE:FREQ=HOURLY;COUNT=5"),
                    event(uid="c", start="DTSTART:00010101T000000"),
                    "UID:d\nSUMMARY:Brez začetka\nLOCATION:Radlje")
    result, report = await import_ics(h, data)
    assert not result.ok
    assert "Vrstica 4: vrednosti RRULE ne razumem: »FREQ=WEEKLY;BYDAY=XX«." in report
    assert "Vrstica 10: dogodek se ponavlja po urah, minutah ali sekundah." in report
    assert "Vrstica 16: leto 1 ne more biti pravo." in report
    assert "Vrstica 21: dogodku manjka začetek (DTSTART)." in report
    assert await sessions(h) == []


async def test_what_calendar_programs_write_is_imported(h):
    data = calendar(
        # UNTIL on the wall clock (RFC 5545 asks for UTC), EXDATE over two lines, no end
        event(uid="tedenska", start="DTSTART;TZID=Europe/Ljubljana:20261203T090000",
              more="RRULE:FREQ=WEEKLY;UNTIL=20261231T090000\n"
                   "EXDATE;TZID=Europe/Ljubljana:20261210T090000\n"
                   "EXDATE;TZID=Europe/Ljubljana:20261224T090000"),
        # one occurrence moved to the afternoon
        event(uid="tedenska", start="DTSTART;TZID=Europe/Ljubljana:20261217T130000",
              more="DTEND;TZID=Europe/Ljubljana:20261217T143000\n"
                   "RECURRENCE-ID;TZID=Europe/Ljubljana:20261217T090000",
              title="Delavnica popoldne"))
    result, report = await import_ics(h, data)
    assert result.ok, report
    got = [(r.title, r.starts_at.replace(tzinfo=ZoneInfo("UTC")).astimezone(LJ).strftime(
        "%d. %m. %H.%M"), int((r.ends_at - r.starts_at).total_seconds() // 60))
        for r in await sessions(h)]
    assert sorted(got, key=lambda g: g[1]) == [
        ("Delavnica", "03. 12. 09.00", 120), ("Delavnica popoldne", "17. 12. 13.00", 90),
        ("Delavnica", "31. 12. 09.00", 120)]
    assert "➕ novo: Delavnica popoldne, 17. 12. 2026 ob 13.00" in report


async def test_a_worker_that_fails_or_dies_is_a_listed_problem(h):
    # an exception inside the worker (here: no file at all)
    parsed = await parse_in_worker("urnik.ics", None, LJ, today=None, default_minutes=120,
                                   seconds=20)
    assert [(p.text.msgid, p.text.params["error"]) for p in parsed.problems] == [
        ("schedule.error.worker", "AttributeError")]
    # a worker killed from outside (out of memory, say) before it answers
    slow = calendar(*(event(uid=f"e{i}", more=NEVER) for i in range(300)))
    parsed = await parse_in_worker("urnik.ics", slow, LJ, today=None, default_minutes=120,
                                   seconds=20, started=lambda pid: os.kill(pid, signal.SIGKILL))
    assert [p.text.msgid for p in parsed.problems] == ["schedule.error.worker"]
    assert "Sporočite to skrbniku sistema" in h.texts.render(parsed.problems[0].text)


def upload(h, monkeypatch, data: bytes, caption: str, name: str = "urnik.ics"):
    """A coordinator sends `data` into the staff chat as a schedule file."""
    from aiogram.types import Chat, Document, Message, Update

    from .conftest import COORD_A, NOW, STAFF

    async def fake_download(self, file, destination=None, **kw):
        destination.write(data)
        destination.seek(0)
        return destination
    monkeypatch.setattr(type(h.bot), "download", fake_download)
    return h.feed(Update(update_id=7000, message=Message(
        message_id=77, date=NOW, chat=Chat(id=STAFF, type="supergroup"),
        from_user=h.user(COORD_A), caption=caption,
        document=Document(file_id="f", file_unique_id="u", file_name=name,
                          file_size=len(data)))))


async def test_a_small_calendar_of_thousands_of_sessions_is_refused_in_one_short_reply(
        h, monkeypatch):
    from .conftest import STAFF

    # 1.6 KB: 12 events of 400 daily occurrences, 4,800 sessions for one cohort
    data = calendar(*(event(uid=f"e{i}", more="RRULE:FREQ=DAILY;COUNT=400")
                      for i in range(12)))
    assert len(data) < 1700
    await upload(h, monkeypatch, data, "SG 2026/2")
    reply = h.session.sent(STAFF)[-1].text
    assert len(reply.encode("utf-16-le")) // 2 <= 4096
    assert reply.startswith("Urnika nismo naložili")
    assert "Vrstica 4: dogodek se ponovi več kot 300-krat." in reply
    assert await sessions(h) == []


async def test_a_full_programme_for_ten_participants_is_planned_and_fits_one_reply(
        h, monkeypatch):
    from dialogs.schedule import MAX_SESSIONS

    from .conftest import NOW, STAFF

    async with h.db.transaction() as s:
        cohort = await store.create_cohort(s, "SG 2027/1", "slovenj-gradec", NOW)
        for n in range(10):
            await store.enroll(s, cohort_id=cohort.id, person=f"telegram:{500 + n}",
                               request_id=None, now=NOW)
    # morning and afternoon sessions on weekdays from January: the most a cohort may hold
    days = [d for d in (date(2027, 1, 4) + timedelta(days=i) for i in range(400))
            if d.weekday() < 5][:MAX_SESSIONS // 2]
    csv = "datum;zacetek;konec;naslov;kraj\n" + "".join(
        f"{d.day}. {d.month}. {d.year};{h0}.00;{h0 + 3}.00;Delavnica ob {h0}.00;Slovenj Gradec\n"
        for d in days for h0 in (8, 13))
    await upload(h, monkeypatch, csv.encode(), "SG 2027/1", name="urnik.csv")
    reply = h.session.sent(STAFF)[-1].text
    assert reply.startswith("Urnik skupine »SG 2027/1« je naložen.")
    assert len(reply.encode("utf-16-le")) // 2 <= 4096
    assert reply.endswith(f"… in še {MAX_SESSIONS - 15}.")
    assert len(await sessions(h, "SG 2027/1")) == MAX_SESSIONS
    async with h.db.transaction() as s:
        planned = [r for r in await repo.pending_outbox(s) if r.kind == "reminder"]
    # the day before at 17.00 for each session, and 2 h before the afternoon ones (the
    # morning ones' would fall in quiet hours and only repeat the evening's)
    assert len(planned) == 10 * (MAX_SESSIONS + MAX_SESSIONS // 2)
