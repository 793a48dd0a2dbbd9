"""Schedules as plain rules: reading CSV and iCalendar files, re-import differences, reminder
planning with quiet hours and DST, and the texts participants read."""

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from dialogs.schedule import (Existing, Quiet, Session, diff, parse_csv, parse_ics,
                              parse_offsets, plan_reminders, upcoming, when)

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
    no_end = ICS.replace(b"DTEND;TZID=Europe/Ljubljana:20261203T120000\n", b"")
    parsed = parse_ics(no_end, LJ)
    assert [(p.line, p.text.msgid) for p in parsed.problems] == [(4, "schedule.error.ics_event")]
    all_day = ICS.replace(b"DTSTART;TZID=Europe/Ljubljana:20261203T090000",
                          b"DTSTART;VALUE=DATE:20261203").replace(
        b"DTEND;TZID=Europe/Ljubljana:20261203T120000", b"DTEND;VALUE=DATE:20261204")
    assert parse_ics(all_day, LJ).problems[0].text.msgid == "schedule.error.all_day"
    assert parse_ics(b"not a calendar", LJ).problems[0].text.msgid in (
        "schedule.error.ics", "schedule.error.empty")


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
    assert w.msgid == "when.tomorrow" and w.params["time"] == "9.00" and w.params["day"] == 3
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
