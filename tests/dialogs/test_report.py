"""The report's pure rules: hiding counts of one or two people in every table, also where a total,
another table or the reports of a quarter's months would give them back; whole months, quarters
and years as the only periods; percentiles, the funnel's stages, and the attendance list's
shape and buttons."""

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import holidays

from dialogs import attendance as att
from dialogs import report as rep
from dialogs.workhours import WorkingHours

TZ = ZoneInfo("Europe/Ljubljana")
LESS, MORE = rep.LESS, rep.MORE


def row(*counts):
    """One row of counts and its shown total, hidden; returns the cells, then the total."""
    values = {("p", i): n for i, n in enumerate(counts)} | {("p", "total"): sum(counts)}
    cells = rep.hide(values, [(tuple(("p", i) for i in range(len(counts))), ("p", "total"))])
    return tuple(cells[("p", i)] for i in range(len(counts))) + (cells[("p", "total")],)


def test_counts_of_one_or_two_are_shown_as_less_than_three_and_zero_stays_zero():
    assert row(7, 0, 5, 4, 3) == (7, 0, 5, 4, 3, 19)
    assert row(0, 0, 0) == (0, 0, 0, 0)


def test_a_count_a_total_would_give_back_hides_the_smallest_one_beside_it():
    # the total 9 is shown: with only the 1 hidden it would be 9 - 5 - 3 = 1; with the 3
    # hidden beside it the two would add up to 4, and a "≥3" leaves the 1
    assert row(5, 1, 3) == (MORE, LESS, 3, 9)
    # two hidden that can only both be 2 (they add up to 4): one more is hidden
    assert row(2, 2, 6, 4) == (LESS, LESS, 6, MORE, 14)
    # a lone 1 beside a shown 0 is as clear as a lone 1
    assert row(1, 0, 6, 4) == (LESS, 0, 6, MORE, 11)
    # two hidden adding up to 3: either could be the 1
    assert row(1, 2, 6, 4) == (LESS, LESS, 6, 4, 13)


def test_a_row_of_one_or_two_people_shows_no_zero():
    # with a 0 shown, the one cell left would tell the group of the one or two people
    assert row(1, 0, 0) == (LESS, LESS, LESS, LESS)
    assert row(1, 1, 0, 0) == (LESS,) * 5


HOURS = WorkingHours(tz=TZ, holidays=holidays.country_holidays("SI"))
SG, RD = "slovenj-gradec", "radlje-ob-dravi"


def requests_in(month, *made):
    """Figures of a month of 2027 from (site, municipality, group, how many)."""
    at = datetime(2027, month, 4, 9, tzinfo=timezone.utc)
    facts = [rep.RequestFacts(i, site, municipality, "new", at, group)
             for i, (site, municipality, group) in enumerate(
                 (site, municipality, group) for site, municipality, group, n in made
                 for _ in range(n))]
    return rep.count(facts, [], hours=HOURS)


def shown(period, months, today=date(2027, 4, 2), table="ciljne_skupine"):
    """A table of a report as its cells read: [(first cell, the others as text), …]."""
    r = rep.report(rep.Period.parse(period), months, today=today,
                   made_at=datetime(2027, 4, 2, tzinfo=timezone.utc))
    found = next(t for t in rep.tables(r) if t.key == table)
    return [tuple(str(c) for c in line[1:]) for line in found.rows]


def test_the_woman_from_mislinja_cannot_be_told_apart_by_two_reports():
    # issue 19: January and "1 January to 1 February" differed by her. Now only whole months,
    # quarters and years exist; a quarter is the sum of its kept months.
    jan = rep.Period(2027, "month", 1)
    months = {jan: requests_in(1, (SG, "Mislinja", "women_roma", 1),
                               (SG, "Slovenj Gradec", "long_term_dsp", 5)),
              rep.Period(2027, "month", 2): requests_in(2, (SG, "Slovenj Gradec",
                                                            "long_term_dsp", 4))}
    assert rep.parse_period("1. 1. 2027 1. 2. 2027", date(2027, 5, 1)) is None
    # long-term DSP, other inactive, women of other cultures / Roma, not fit, unclear, total
    assert shown("2027-01", months) == [("≥3", "0", "<3", "0", "0", "6")]
    assert shown("2027-Q1", months) == [("≥3", "0", "<3", "0", "0", "10")]
    assert shown("2027-01", months, table="obcine") == [("Mislinja", "<3"),
                                                        ("Slovenj Gradec", "≥3")]
    assert shown("2027-Q1", months, table="obcine") == [("Mislinja", "<3"),
                                                        ("Slovenj Gradec", "≥3")]


def test_a_quarter_minus_its_months_gives_no_hidden_count_back():
    months = {rep.Period(2027, "month", 1): requests_in(1, (SG, "Mislinja", "women_roma", 1),
                                                        (SG, "Mislinja", "long_term_dsp", 4)),
              rep.Period(2027, "month", 2): requests_in(2, (SG, "Mislinja", "women_roma", 3),
                                                        (SG, "Mislinja", "long_term_dsp", 3)),
              rep.Period(2027, "month", 3): requests_in(3, (SG, "Mislinja", "women_roma", 3),
                                                        (SG, "Mislinja", "long_term_dsp", 3))}
    assert shown("2027-01", months) == [("≥3", "0", "<3", "0", "0", "5")]
    assert shown("2027-02", months) == [("3", "0", "3", "0", "0", "6")]
    assert shown("2027-03", months) == [("3", "0", "3", "0", "0", "6")]
    # showing the quarter's 7 would give January's 7 - 3 - 3 = 1 back
    assert shown("2027-Q1", months) == [("≥3", "0", "≥3", "0", "0", "17")]
    year = shown("2027", months, today=date(2028, 1, 2))
    assert year == [("≥3", "0", "≥3", "0", "0", "17")]


def test_every_table_of_people_hides_one_or_two():
    jan = rep.Period(2027, "month", 1)
    at = datetime(2027, 1, 7, 8, tzinfo=timezone.utc)
    facts = [rep.RequestFacts(1, RD, "Muta", "enrolled", at, "long_term_dsp",
                              (rep.Event("claim", "claimed", at + timedelta(hours=1)),
                               rep.Event("contacted", "contacted", at + timedelta(hours=2)),
                               rep.Event("enrolled", "enrolled", at + timedelta(hours=3))))]
    facts += [rep.RequestFacts(i, SG, "Slovenj Gradec", "new", at, "unclear")
              for i in range(2, 6)]
    session = rep.SessionFacts(9, "SG 2027/1", SG, "Uvod", at, at + timedelta(hours=3), 4, (
        rep.Participant("yes", "present"), rep.Participant("yes", "present"),
        rep.Participant("yes", "present"), rep.Participant("no", "absent")))
    months = {jan: rep.count(facts, [session], hours=HOURS)}
    # Slovenj Gradec's 4 would give Radlje ob Dravi's one back from the total
    assert shown("2027-01", months, table="lokacije") == [("≥3",), ("<3",), ("≥3",)]
    # new, claimed, contacted, enrolled, not suitable, unreachable, withdrawn, open: one was
    # claimed in all, so no column of the claimed shows a 0 that would say where
    assert shown("2027-01", months, table="lijak") == [
        ("≥3", "<3", "<3", "<3", "0", "0", "0", "≥3"),
        ("<3", "<3", "<3", "<3", "<3", "<3", "<3", "<3"),
        ("≥3", "<3", "<3", "<3", "0", "0", "0", "≥3")]
    # requests, median, 90th percentile: the hours of one request are hers
    assert [line[1:] for line in shown("2027-01", months, table="delovne_ure")] == [
        ("<3", "*", "*")] * 6
    [line] = shown("2027-01", months, table="srecanja")
    # listed, reminders (messages, shown), yes, no, no answer, present, absent, excused,
    # unmarked, person-hours (3 h × those present would give them back)
    assert line[4:] == ("≥3", "4", "≥3", "<3", "0", "≥3", "<3", "0", "0", "*")
    assert shown("2027-01", months, table="ciljne_skupine") == [
        ("0", "0", "0", "0", "≥3", "≥3"), ("<3", "<3", "<3", "<3", "<3", "<3")]


def test_an_open_month_is_counted_live_and_shows_no_target_groups():
    months = {rep.Period(2027, "month", 4): requests_in(4, (SG, "Mislinja", "women_roma", 5))}
    r = rep.report(rep.Period.parse("2027-04"), months, today=date(2027, 4, 20),
                   made_at=datetime(2027, 4, 20, tzinfo=timezone.utc))
    assert not r.closed and r.requests == 5 and r.groups == {}
    period = next(t for t in rep.tables(r) if t.key == "obdobje")
    assert rep.Text("report.note.open") in [line[1] for line in period.rows]


def test_percentile_is_the_nearest_rank_and_median_the_middle():
    assert rep.percentile([], 0.9) is None
    assert rep.percentile([4.0], 0.9) == 4.0
    assert rep.percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9) == 9
    assert rep.percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 0.9) == 10


def test_a_later_stage_counts_in_every_earlier_one():
    at = datetime(2026, 12, 1, tzinfo=timezone.utc)
    enrolled_by_command = rep.RequestFacts(1, "slovenj-gradec", None, "enrolled", at, "unclear",
                                           (rep.Event("enrolled", "enrolled", at),))
    released = rep.RequestFacts(2, "slovenj-gradec", None, "new", at, "unclear",
                                (rep.Event("claim", "claimed", at),
                                 rep.Event("release", "new", at)))
    unreachable = rep.RequestFacts(3, "slovenj-gradec", None, "unreachable", at, "unclear")
    assert [rep.stage(r) for r in (enrolled_by_command, released, unreachable)] == [3, 1, 1]


def test_periods_are_whole_months_quarters_and_years():
    assert [m.key for m in rep.Period.parse("2026-Q4").months()] == ["2026-10", "2026-11",
                                                                      "2026-12"]
    assert (rep.Period.parse("2027").first, rep.Period.parse("2027").last) == (
        date(2027, 1, 1), date(2027, 12, 31))
    assert rep.Period.parse("2027-2").last == date(2027, 2, 28)
    assert rep.Period.spanning(date(2027, 4, 1), date(2027, 6, 30)).key == "2027-Q2"
    for bad in ("2027-13", "2027-Q5", "27-01", "januar"):
        assert rep.Period.parse(bad) is None, bad
    start, end = rep.bounds(date(2026, 12, 1), date(2026, 12, 31), TZ)
    assert start == datetime(2026, 11, 30, 23, 0, tzinfo=timezone.utc)
    assert end == datetime(2026, 12, 31, 23, 0, tzinfo=timezone.utc)


def test_porocilo_periods():
    today = date(2027, 5, 14)
    key = lambda text: rep.parse_period(text, today).key  # noqa: E731
    assert [key(t) for t in ("", "mesec", "Četrtletje", "leto", "2027-03", "2026-q4", "2026",
                             "1. 1. 2027 31. 3. 2027", "od 1.1.2027 do 31.1.2027",
                             "2027-01-01 – 2027-12-31")] == [
        "2027-05", "2027-05", "2027-Q2", "2027", "2027-03", "2026-Q4", "2026", "2027-Q1",
        "2027-01", "2027"]
    for bad in ("1. 1. 2027", "31. 3. 2027 1. 1. 2027", "30. 2. 2027 1. 3. 2027", "lani",
                "1. 1. 2027 31. 3. 2027 in še kaj", "1. 1. 2027 1. 2. 2027",
                "2. 1. 2027 31. 1. 2027", "1. 2. 2027 30. 4. 2027"):
        assert rep.parse_period(bad, today) is None, bad


def test_decimal_comma():
    assert [rep.decimal(v) for v in (3.5, 4.0, 0.04, None)] == ["3,5", "4", "0", "—"]


def test_who_is_on_a_sessions_list():
    start = datetime(2026, 12, 3, 8, tzinfo=timezone.utc)
    end = start + timedelta(hours=3)
    before, after = start - timedelta(days=1), end + timedelta(days=1)
    assert att.on_list(before, None, start, end)
    assert att.on_list(before, after, start, end)  # left later: was there
    assert not att.on_list(after, None, start, end)  # enrolled after it
    assert not att.on_list(before - timedelta(days=1), before, start, end)  # left before


def _people(n):
    return [att.Listed(i, 100 + i, f"Oseba {i}") for i in range(1, n + 1)]


def test_list_has_three_buttons_a_person_and_splits_after_25():
    session = att.Session(7, "Uvod", "SG 2026/2", datetime(2026, 12, 3, 8, tzinfo=timezone.utc),
                          datetime(2026, 12, 3, 11, tzinfo=timezone.utc))
    people = _people(27)
    assert [len(p) for p in att.parts(people)] == [25, 2]
    first = att.sheet(session, people, 0)
    assert len(first.buttons) == 25 and all(len(row) == 3 for row in first.buttons)
    assert [b.id for b in first.buttons[0]] == ["at|7|1|p", "at|7|1|a", "at|7|1|e"]
    second = att.sheet(session, people, 1)
    assert [b.label.params["n"] for b in second.buttons[0]] == [26, 26, 26]
    assert att.part_of(people, 26) == 1 and att.part_of(people, 99) is None
    assert att.sheet(session, people, 2).buttons == ()  # a part left with nobody


def test_attendance_callbacks_parse_strictly():
    assert att.parse_callback("at|12|7|p") == (12, 7, "present")
    assert att.parse_callback("at|12|7|e") == (12, 7, "excused")
    for bad in (None, "", "at|12|7", "at|12|7|x", "at|a|7|p", "h|12|7|p", "at|12|7|p|x",
                "at|" + "9" * 19 + "|7|p"):
        assert att.parse_callback(bad) is None, bad


def test_requests_without_a_site_have_a_row_of_their_own():
    """Issue 22: a request made with "Ne vem, pokličite me" until its site is chosen."""
    months = {rep.Period(2027, "month", 1): requests_in(
        1, (SG, "Mislinja", "unclear", 4), (None, None, "unclear", 3))}
    r = rep.report(rep.Period.parse("2027-01"), months, today=date(2027, 4, 2),
                   made_at=datetime(2027, 4, 2, tzinfo=timezone.utc))
    by_site = next(t for t in rep.tables(r) if t.key == "lokacije")
    labels = [line[0].msgid for line in by_site.rows]
    assert "report.site_none" in labels
    assert [str(line[1]) for line in by_site.rows if line[0].msgid == "report.site_none"] == ["3"]
    assert rep.site_label("kje-drugje").msgid == "report.site_unknown"
