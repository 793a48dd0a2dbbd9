"""Schedules as plain rules: reading CSV and iCalendar files, re-import differences, reminder
planning with quiet hours and DST, and the texts participants read."""

import pickle
import warnings
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dialogs.schedule import (MAX_SESSIONS, REPORT_LINES, Existing, Quiet, Session,
                              changes_report, diff, parse_csv, parse_ics, parse_offsets,
                              plan_reminders, upcoming, when)

LJ = ZoneInfo("Europe/Ljubljana")
UTC = timezone.utc
OFFSETS = parse_offsets("-1d@17:00,-2h")
QUIET = Quiet(time(21, 0), time(7, 0))


def lj(*a):
    return datetime(*a, tzinfo=LJ)


# ----------------------------------------------------------------------------- planning

def plan(start, now=None, offsets=OFFSETS, quiet=QUIET):
    now = now or start - timedelta(days=30)
    return [(name, due.astimezone(LJ)) for name, due in
            plan_reminders(start.astimezone(UTC), offsets, quiet, LJ, now.astimezone(UTC))]


def test_default_offsets_the_day_before_at_17_and_two_hours_before():
    assert plan(lj(2026, 12, 3, 9, 0)) == [("-1d@17:00", lj(2026, 12, 2, 17, 0)),
                                           ("-2h", lj(2026, 12, 3, 7, 0))]


def test_a_reminder_in_quiet_hours_is_moved_earlier():
    # 2 h before 10:00 would be 8:00 with quiet hours until 9:00: moved to 20:59 the day before
    quiet = Quiet(time(21, 0), time(9, 0))
    assert plan(lj(2026, 12, 3, 10, 0), quiet=quiet, offsets=parse_offsets("-2h")) == [
        ("-2h", lj(2026, 12, 2, 20, 59))]
    # a late evening reminder (-1d@22:00) moves before 21:00 the same evening
    assert plan(lj(2026, 12, 3, 12, 0), offsets=parse_offsets("-1d@22:00")) == [
        ("-1d@22:00", lj(2026, 12, 2, 20, 59))]


def test_a_moved_reminder_that_would_only_repeat_another_is_dropped():
    # an 8:00 session: "2 h before" = 6:00 is quiet; moved to 20:59 it would follow the 17:00
    # reminder of the same evening, so it is left out
    assert plan(lj(2026, 12, 3, 8, 0)) == [("-1d@17:00", lj(2026, 12, 2, 17, 0))]


def test_wall_clock_across_dst():
    # Monday 30 March 2026 9:00 CEST; the day before (Sunday 29th) is the change itself
    [(n1, d1), (n2, d2)] = plan(lj(2026, 3, 30, 9, 0))
    assert d1 == lj(2026, 3, 29, 17, 0) and d1.utcoffset() == timedelta(hours=2)
    assert d2 == lj(2026, 3, 30, 7, 0)
    # Monday 26 October 2026 after the autumn change: 17:00 on Sunday is 16:00 UTC
    [(_, d), _] = plan(lj(2026, 10, 26, 9, 0))
    assert d.astimezone(UTC) == datetime(2026, 10, 25, 16, 0, tzinfo=UTC)


def test_past_reminders_are_not_planned():
    start = lj(2026, 12, 3, 9, 0)
    assert plan(start, now=lj(2026, 12, 2, 18, 0)) == [("-2h", lj(2026, 12, 3, 7, 0))]
    assert plan(start, now=lj(2026, 12, 3, 8, 0)) == []


def test_offset_syntax():
    assert [o.name for o in parse_offsets(" -2d@9.30 , -30m")] == ["-2d@9.30", "-30m"]
    for bad in ("", "2h", "-1d", "-1x", "tomorrow"):
        with pytest.raises(ValueError):
            parse_offsets(bad)


# ----------------------------------------------------------------------------- CSV

GOOD_CSV = """datum;zacetek;konec;naslov;kraj
3. 12. 2026;9.00;12.00;Uvodno srečanje;Slovenj Gradec, Meškova ulica 21
2026-12-10;9:00;12:00;Delavnica: pisanje prošnje;Slovenj Gradec, Meškova ulica 21
"""


def test_csv_with_slovenian_dates_and_semicolons():
    parsed = parse_csv(GOOD_CSV, LJ)
    assert parsed.problems == []
    first, second = parsed.rows
    assert first.title == "Uvodno srečanje" and first.line == 2
    assert first.starts_at == datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    assert second.ends_at.astimezone(LJ) == lj(2026, 12, 10, 12, 0)


def test_csv_problems_are_reported_with_line_numbers():
    bad = ("date,start,end,title,place\n"
           "31. 2. 2026,9.00,10.00,A,X\n"
           "1. 3. 2026,25.00,10.00,B,X\n"
           "2. 3. 2026,11.00,10.00,C,X\n"
           "3. 3. 2026,9.00,10.00,,X\n"
           "\n"
           "4. 3. 2026,9.00,10.00,D,X\n"
           "4. 3. 2026,10.00,11.00,D,X\n")
    parsed = parse_csv(bad, LJ)
    assert [(p.line, p.text.msgid) for p in parsed.problems] == [
        (2, "schedule.error.date"), (3, "schedule.error.time"),
        (4, "schedule.error.end_before_start"), (5, "schedule.error.title"),
        (8, "schedule.error.duplicate")]
    assert parse_csv("datum,naslov\n1. 1. 2027,X\n", LJ).problems[0].text.params["columns"] \
        == "start, end, place"
    assert parse_csv("", LJ).problems[0].text.msgid == "schedule.error.empty"


# ----------------------------------------------------------------------------- iCalendar

ICS = b"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//korak//SL
BEGIN:VEVENT
UID:uvod-1
DTSTART;TZID=Europe/Ljubljana:20261203T090000
DTEND;TZID=Europe/Ljubljana:20261203T120000
SUMMARY:Uvodno srecanje
LOCATION:Radlje ob Dravi\\, Mariborska cesta 7
END:VEVENT
BEGIN:VEVENT
UID:tedenska
DTSTART;TZID=Europe/Ljubljana:20260318T090000
DTEND;TZID=Europe/Ljubljana:20260318T110000
RRULE:FREQ=WEEKLY;COUNT=4
EXDATE;TZID=Europe/Ljubljana:20260325T090000
SUMMARY:Tedenska delavnica
LOCATION:Radlje
END:VEVENT
BEGIN:VEVENT
UID:odpade
DTSTART:20261217T080000Z
DTEND:20261217T100000Z
STATUS:CANCELLED
SUMMARY:Odpadlo
END:VEVENT
END:VCALENDAR
"""


def test_ics_events_recurrence_across_dst_and_cancelled():
    parsed = parse_ics(ICS, LJ)
    assert parsed.problems == []
    by_title = {}
    for r in parsed.rows:
        by_title.setdefault(r.title, []).append(r)
    assert by_title["Uvodno srecanje"][0].place == "Radlje ob Dravi, Mariborska cesta 7"
    weekly = [r.starts_at.astimezone(LJ) for r in by_title["Tedenska delavnica"]]
    # 18 Mar (CET), 25 Mar excluded, 1 and 8 Apr (CEST): always 9.00 on the wall clock
    assert weekly == [lj(2026, 3, 18, 9, 0), lj(2026, 4, 1, 9, 0), lj(2026, 4, 8, 9, 0)]
    assert [r.key for r in by_title["Tedenska delavnica"]][0] == "tedenska@2026-03-18"
    assert by_title["Odpadlo"][0].cancelled


def test_broken_ics_is_refused_with_the_event_line():
    no_start = ICS.replace(b"DTSTART;TZID=Europe/Ljubljana:20261203T090000\n", b"")
    parsed = parse_ics(no_start, LJ)
    assert [(p.line, p.text.msgid) for p in parsed.problems] == [(4, "schedule.error.no_start")]
    all_day = ICS.replace(b"DTSTART;TZID=Europe/Ljubljana:20261203T090000",
                          b"DTSTART;VALUE=DATE:20261203").replace(
        b"DTEND;TZID=Europe/Ljubljana:20261203T120000", b"DTEND;VALUE=DATE:20261204")
    assert parse_ics(all_day, LJ).problems[0].text.msgid == "schedule.error.all_day"
    assert parse_ics(b"not a calendar", LJ).problems[0].text.msgid in (
        "schedule.error.ics", "schedule.error.empty")


TODAY = date(2026, 11, 26)


def calendar(*events: str) -> bytes:
    """A calendar file of these VEVENT bodies; the first BEGIN:VEVENT is on line 4, each event
    takes its body's lines plus two."""
    body = "".join(f"BEGIN:VEVENT\n{e.strip()}\nEND:VEVENT\n" for e in events)
    head = "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//korak//SL\n"
    return f"{head}{body}END:VCALENDAR\n".encode()


def event(uid="s", start="DTSTART;TZID=Europe/Ljubljana:20261203T090000", more="",
          title="Delavnica"):
    return f"UID:{uid}\n{start}\nSUMMARY:{title}\n{more}"


def read(*events: str, **kw):
    return parse_ics(calendar(*events), LJ, today=TODAY, **kw)


def problems(parsed):
    return [(p.line, p.text.msgid) for p in parsed.problems]


def starts(parsed):
    return [r.starts_at.astimezone(LJ) for r in parsed.rows]


def test_an_event_without_an_end_lasts_the_default_length():
    parsed = read(event())  # neither DTEND nor DURATION, as RFC 5545 allows
    assert problems(parsed) == []
    assert parsed.rows[0].ends_at.astimezone(LJ) == lj(2026, 12, 3, 11, 0)
    parsed = read(event(more="DTEND;TZID=Europe/Ljubljana:20261203T090000"), default_minutes=90)
    assert parsed.rows[0].ends_at.astimezone(LJ) == lj(2026, 12, 3, 10, 30)  # a mere moment
    weekly = read(event(more="RRULE:FREQ=WEEKLY;COUNT=2"), default_minutes=45)
    assert [r.ends_at - r.starts_at for r in weekly.rows] == [timedelta(minutes=45)] * 2


def test_missing_start_and_broken_values_name_the_event_line():
    parsed = read(event(uid="a"), "UID:b\nSUMMARY:Brez začetka\nDTEND:20261203T100000Z",
                  event(uid="c", more="DURATION:P1X"), event(uid="d", more="DTEND:nekoč"))
    assert problems(parsed) == [(9, "schedule.error.no_start"), (14, "schedule.error.value"),
                                (20, "schedule.error.value")]
    assert parsed.problems[1].text.params == {"line": 14, "name": "DURATION",
                                              "value": "P1X"}
    twice = read(event(more="DTSTART;TZID=Europe/Ljubljana:20261203T100000"))
    assert twice.problems[0].text.params["name"] == "DTSTART"


def test_years_out_of_range_are_problems_not_exceptions():
    for start in ("DTSTART:00010101T000000", "DTSTART:00010101T000000Z",
                  "DTSTART;TZID=Europe/Ljubljana:00010101T090000", "DTSTART:99991231T235900Z"):
        parsed = read(event(start=start))
        assert problems(parsed) == [(4, "schedule.error.year")], start
    parsed = read(event(more="RDATE:00010101T090000Z"))
    assert parsed.problems[0].text.params["year"] == 1


def test_until_in_local_time_with_a_zoned_start():
    # exports often write UNTIL on the wall clock although RFC 5545 asks for UTC; it is read on
    # the start's clock, so the last Thursday is in, across the change to summer time
    parsed = read(event(start="DTSTART;TZID=Europe/Ljubljana:20270318T090000",
                        more="RRULE:FREQ=WEEKLY;UNTIL=20270401T090000"))
    assert problems(parsed) == []
    assert starts(parsed) == [lj(2027, 3, 18, 9, 0), lj(2027, 3, 25, 9, 0), lj(2027, 4, 1, 9, 0)]
    # the same in UTC (8.00 in winter is 9.00 on the clock; 1 April is summer time: 7.00 UTC)
    utc = read(event(start="DTSTART;TZID=Europe/Ljubljana:20270318T090000",
                     more="RRULE:FREQ=WEEKLY;UNTIL=20270401T070000Z"))
    assert starts(utc) == starts(parsed)
    day = read(event(start="DTSTART;TZID=Europe/Ljubljana:20270318T090000",
                     more="RRULE:FREQ=WEEKLY;UNTIL=20270401"))
    assert starts(day) == starts(parsed)  # a day as UNTIL: all of it


def test_exdate_on_several_lines_as_a_list_and_as_a_day():
    parsed = read(event(more="RRULE:FREQ=DAILY;COUNT=7\n"
                             "EXDATE;TZID=Europe/Ljubljana:20261204T090000\n"
                             "EXDATE;TZID=Europe/Ljubljana:20261205T090000,20261206T090000\n"
                             "EXDATE:20261207T080000Z\n"
                             "EXDATE;VALUE=DATE:20261208"))
    assert problems(parsed) == []
    assert starts(parsed) == [lj(2026, 12, 3, 9, 0), lj(2026, 12, 9, 9, 0)]
    assert [r.key for r in parsed.rows] == ["s@2026-12-03", "s@2026-12-09"]


def test_rdate_adds_sessions_and_a_second_one_on_a_day_gets_its_time_in_the_key():
    parsed = read(event(more="RDATE;TZID=Europe/Ljubljana:20261210T090000,20261203T140000\n"
                             "RDATE;TZID=Europe/Ljubljana:20261217T090000"))
    assert starts(parsed) == [lj(2026, 12, 3, 9, 0), lj(2026, 12, 3, 14, 0),
                              lj(2026, 12, 10, 9, 0), lj(2026, 12, 17, 9, 0)]
    assert [r.key for r in parsed.rows][:2] == ["s@2026-12-03", "s@2026-12-03T14:00"]


def test_a_changed_occurrence_replaces_its_own_and_keeps_its_key():
    parsed = read(event(more="RRULE:FREQ=WEEKLY;COUNT=3\n"
                             "DTEND;TZID=Europe/Ljubljana:20261203T110000"),
                  event(start="DTSTART;TZID=Europe/Ljubljana:20261211T130000",
                        more="DTEND;TZID=Europe/Ljubljana:20261211T150000\n"
                             "RECURRENCE-ID;TZID=Europe/Ljubljana:20261210T090000\n"
                             "LOCATION:Radlje",
                        title="Delavnica (prestavljena)"),
                  event(start="DTSTART;TZID=Europe/Ljubljana:20261217T090000",
                        more="RECURRENCE-ID;TZID=Europe/Ljubljana:20261217T090000\n"
                             "STATUS:CANCELLED"))
    assert problems(parsed) == []
    assert [(r.key, r.title, r.place, r.line, r.cancelled) for r in parsed.rows] == [
        ("s@2026-12-03", "Delavnica", "", 4, False),
        ("s@2026-12-10", "Delavnica (prestavljena)", "Radlje", 11, False),
        ("s@2026-12-17", "Delavnica", "", 19, True)]
    assert parsed.rows[1].starts_at.astimezone(LJ) == lj(2026, 12, 11, 13, 0)


def test_a_repeating_event_in_utc_keeps_its_local_time_across_dst():
    parsed = read(event(start="DTSTART:20270318T080000Z", more="RRULE:FREQ=WEEKLY;COUNT=3"))
    assert [s.hour for s in starts(parsed)] == [9, 9, 9]


def test_rules_that_cannot_be_sessions_are_refused_with_a_reason():
    for rule, msgid in (("FREQ=HOURLY;COUNT=3", "schedule.error.too_often"),
                        ("FREQ=MINUTELY;INTERVAL=1440", "schedule.error.too_often"),
                        ("FREQ=WEEKLY;BYDAY=XX", "schedule.error.value"),
                        ("BYDAY=MO", "schedule.error.value"),
                        ("FREQ=DAILY;INTERVAL=0", "schedule.error.value"),
                        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "schedule.error.rrule_never"),
                        ("FREQ=DAILY;BYMONTH=4;BYMONTHDAY=31", "schedule.error.rrule_never"),
                        ("FREQ=DAILY", "schedule.error.repeats")):
        parsed = read(event(uid="x"), event(more=f"RRULE:{rule}"))
        assert problems(parsed) == [(9, msgid)], rule
    assert read(event(more=f"RRULE:FREQ=DAILY;COUNT={MAX_SESSIONS + 1}")
                ).problems[0].text.params["limit"] == MAX_SESSIONS
    # blanks inside a rule, as some servers write it, are forgiven
    parsed = read(event(more="RRULE:FREQ=WEEKLY;BYDAY=TH, FR;COUNT=4"))
    assert problems(parsed) == [] and len(parsed.rows) == 4


def test_a_rule_without_end_is_read_a_year_past_today_or_its_start():
    parsed = read(event(start="DTSTART;TZID=Europe/Ljubljana:20261105T090000",
                        more="RRULE:FREQ=WEEKLY"))
    assert problems(parsed) == []  # today is 26 November 2026
    assert starts(parsed)[-1] == lj(2027, 11, 25, 9, 0) and len(parsed.rows) == 56
    later = read(event(more="RRULE:FREQ=WEEKLY"))  # starting 3 December: until 3 December 2027
    assert starts(later)[-1] == lj(2027, 12, 2, 9, 0)
    # a rule that repeats, but first after a year: the start alone
    parsed = read(event(more="RRULE:FREQ=YEARLY;INTERVAL=5"))
    assert problems(parsed) == [] and starts(parsed) == [lj(2026, 12, 3, 9, 0)]


def test_too_many_sessions_are_counted_before_they_are_made():
    events = [event(uid=f"e{i}", more="RRULE:FREQ=WEEKLY;COUNT=4") for i in range(1500)]
    parsed = read(*events)
    # 75 events make 300 sessions; the next one is where the file is refused
    assert MAX_SESSIONS == 300
    assert problems(parsed) == [(4 + 75 * 6, "schedule.error.too_many")]
    assert parsed.rows == []


def test_a_small_calendar_cannot_make_more_sessions_than_a_programme_holds():
    # 1.6 KB: 12 events of 400 occurrences each would be 4,800 sessions for one cohort
    parsed = read(*(event(uid=f"e{i}", more="RRULE:FREQ=DAILY;COUNT=400") for i in range(12)))
    assert problems(parsed) == [(4 + i * 6, "schedule.error.repeats") for i in range(12)]
    assert parsed.rows == []
    # 12 events of 30 are 360 sessions: refused as a whole, at the event past the bound
    parsed = read(*(event(uid=f"e{i}", more="RRULE:FREQ=WEEKLY;COUNT=30") for i in range(12)))
    assert problems(parsed) == [(4 + 10 * 6, "schedule.error.too_many")]
    assert parsed.rows == []
    # and a CSV file the same
    rows = "".join(f"{d.day}. {d.month}. {d.year};9.00;12.00;Delavnica {n};Radlje\n"
                   for n, d in enumerate((date(2027, 1, 4) + timedelta(hours=12 * i)
                                          for i in range(MAX_SESSIONS + 1)), 1))
    parsed = parse_csv("datum;zacetek;konec;naslov;kraj\n" + rows, LJ)
    assert problems(parsed)[-1] == (MAX_SESSIONS + 2, "schedule.error.too_many")


def test_an_import_report_lists_some_changes_and_counts_the_rest():
    rows = parse_csv("datum;zacetek;konec;naslov;kraj\n" + "".join(
        f"{4 + i % 28}. 1. 2027;{8 + i // 28}.00;{9 + i // 28}.00;{'Delavnica ' * 15}{i};"
        f"{'Meškova ulica ' * 14}\n" for i in range(MAX_SESSIONS)), LJ).rows
    assert len(rows) == MAX_SESSIONS
    report = changes_report(diff([], rows), "SG 2027/1", LJ).text.items
    assert len(report) == 1 + REPORT_LINES + 1
    assert report[-1].msgid == "schedule.report.more"
    assert report[-1].params == {"count": MAX_SESSIONS - REPORT_LINES}
    assert all(len(line.params["title"]) <= 60 for line in report[1:-1])


def test_what_is_wrong_with_every_occurrence_is_told_once():
    parsed = read(event(title="", more="RRULE:FREQ=WEEKLY;COUNT=50"))
    assert problems(parsed) == [(4, "schedule.error.title")]


def test_the_same_uid_twice_is_a_duplicate():
    parsed = read(event(), event(start="DTSTART;TZID=Europe/Ljubljana:20261210T090000"))
    assert problems(parsed) == [(9, "schedule.error.duplicate")]
    assert parsed.problems[0].text.params["other"] == 4


def test_the_result_crosses_a_process_boundary():
    parsed = read(event(more="RRULE:FREQ=WEEKLY;COUNT=2"), "UID:x\nSUMMARY:Brez začetka")
    assert parsed.rows and parsed.problems
    assert pickle.loads(pickle.dumps(parsed)) == parsed


# ----------------------------------------------------------------------------- real-world files

def icalendar_test_files():
    """The calendars the icalendar package tests itself with: RFC examples, exports of Google,
    Outlook and Apple, and broken files."""
    try:
        import icalendar
    except ImportError:
        return []
    root = Path(icalendar.__file__).parent / "tests"
    return sorted(root.glob("**/*.ics")) if root.is_dir() else []


def timed(data: bytes) -> bool:
    """Whether icalendar itself finds an event with a start time of day in the file."""
    from icalendar import Calendar
    try:
        calendars = Calendar.from_ical(data.decode("utf-8-sig", errors="replace"),
                                       multiple=True)
    except Exception:
        return False
    for cal in calendars:
        for ev in cal.walk("VEVENT"):
            try:
                if isinstance(ev.get("DTSTART").dt, datetime):
                    return True
            except Exception:
                continue
    return False


GENERIC = {"schedule.error.ics", "schedule.error.event"}


def test_every_calendar_of_the_icalendar_test_suite_imports_or_gets_specific_reasons():
    files = icalendar_test_files()
    if not files:
        pytest.skip("the icalendar package ships no tests/ folder with .ics files here")
    outcome: dict[str, list[str]] = {"imported": [], "refused": []}
    for path in files:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # icalendar warns about guessed time zones
            data = path.read_bytes()
            parsed = parse_ics(data, LJ, today=TODAY)  # must not raise
            if not timed(data):
                continue
        name = path.relative_to(path.parents[1]).as_posix()
        if parsed.rows and not parsed.problems:
            outcome["imported"].append(name)
            continue
        assert parsed.problems, f"{name}: neither sessions nor problems"
        generic = [p for p in parsed.problems if p.text.msgid in GENERIC]
        assert not generic, f"{name}: {generic}"
        outcome["refused"].append(name + ": " + ", ".join(sorted(
            {p.text.msgid.removeprefix("schedule.error.") for p in parsed.problems})))
    imported, refused = len(outcome["imported"]), len(outcome["refused"])
    print(f"\n{len(files)} calendars, {imported + refused} with timed events: "
          f"{imported} imported, {refused} refused")
    print("\n".join("  refused " + line for line in outcome["refused"]))
    # measured with icalendar 7.3.2 (163 files, 80 with timed events): 62 imported, 18 refused
    # (11 for events without a title, 2 without a start, 4 for values that cannot be read: a
    # DURATION of 10^18 weeks, FREQ=INVALID…, RDATE as a bare time of day, a broken RDATE
    # period; 1 for a weekly rule without end since 2012); before (the hand-written
    # expansion), 45 imported, 31 were refused and 4 crashed
    assert imported >= 0.7 * (imported + refused)


# ----------------------------------------------------------------------------- re-imports

def existing(rows):
    return [Existing(i, r.key, r.title, r.place, r.starts_at, r.ends_at, r.cancelled)
            for i, r in enumerate(rows, 1)]


def test_reimport_moves_cancels_adds_and_renames():
    old = parse_csv(GOOD_CSV + "2026-12-17;9.00;12.00;Obisk delodajalca;Podjetje\n", LJ).rows
    new_csv = ("datum;zacetek;konec;naslov;kraj\n"
               "3. 12. 2026;10.00;13.00;Uvodno srečanje;Slovenj Gradec, Meškova ulica 21\n"
               "2026-12-24;9:00;12:00;Novo;Slovenj Gradec\n"
               "2026-12-17;9.00;12.00;Obisk delodajalca;Podjetje\n")
    changes = diff(existing(old), parse_csv(new_csv, LJ).rows)
    assert [(o.title, n.starts_at.astimezone(LJ).hour) for o, n in changes.moved] == [
        ("Uvodno srečanje", 10)]
    assert [e.title for e in changes.cancelled] == ["Delavnica: pisanje prošnje"]
    assert [r.title for r in changes.added] == ["Novo"]
    assert changes.unchanged == 1
    assert not diff(existing(old), old).any


def test_texts_for_participants():
    now = lj(2026, 12, 2, 17, 0)
    w = when(lj(2026, 12, 3, 9, 0).astimezone(UTC), now, LJ)
    # the wall-clock time, written by each language its own way ("9.00", "9:00": bot/i18n.py)
    assert w.msgid == "when.tomorrow" and w.params["time"] == time(9, 0) and w.params["day"] == 3
    assert w.params["weekday"].msgid == "weekday.in.3" and w.params["month"].msgid == "month.of.12"
    assert when(lj(2026, 12, 2, 19, 30), now, LJ).msgid == "when.today"
    assert when(lj(2026, 12, 9, 9, 0), now, LJ).msgid == "when.other"
    sessions = [Session(1, "A", "X", lj(2026, 12, 1, 9, 0), lj(2026, 12, 1, 10, 0)),
                Session(2, "B", "X", lj(2026, 12, 9, 9, 0), lj(2026, 12, 9, 10, 0)),
                Session(3, "C", "X", lj(2026, 12, 3, 9, 0), lj(2026, 12, 3, 10, 0)),
                Session(4, "D", "X", lj(2026, 12, 4, 9, 0), lj(2026, 12, 4, 10, 0), True)]
    say = upcoming(sessions, now, LJ)
    assert [t.params["title"] for t in say.text.items[1:]] == ["C", "B"]
    assert upcoming(sessions[:1], now, LJ).text.msgid == "termini.none"
