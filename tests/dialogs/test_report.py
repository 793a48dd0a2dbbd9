"""The report's pure rules: hiding small target-group counts, percentiles, the funnel's stages,
the period /porocilo understands, and the attendance list's shape and buttons."""

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import holidays

from dialogs import attendance as att
from dialogs import report as rep
from dialogs.workhours import WorkingHours

TZ = ZoneInfo("Europe/Ljubljana")
LESS, MORE = rep.LESS, rep.MORE


def test_counts_under_three_are_shown_as_less_than_three_zero_included():
    assert rep.protect([7, 0, 5, 4, 3]) == (7, LESS, 5, 4, 3)
    assert rep.protect([0, 0, 0]) == (LESS, LESS, LESS)
    assert rep.protect([2, 1, 0, 0, 0]) == (LESS,) * 5


def test_a_lone_small_count_beside_a_known_total_hides_the_smallest_shown_one_too():
    # total 9 is known: with only the 1 hidden it would be 9 - 5 - 3 = 1
    assert rep.protect([5, 1, 3]) == (5, LESS, MORE)
    # a lone zero gives nothing away: nobody
    assert rep.protect([5, 0, 3]) == (5, LESS, 3)
    # two hidden that can only both be 2 (sum 4): worked out too, so one more is hidden
    assert rep.protect([2, 2, 6, 4]) == (LESS, LESS, 6, MORE)
    # two hidden summing to 1: either could be the 1
    assert rep.protect([1, 0, 6, 4]) == (LESS, LESS, 6, 4)


def test_percentile_is_the_nearest_rank_and_median_the_middle():
    assert rep.percentile([], 0.9) is None
    assert rep.percentile([4.0], 0.9) == 4.0
    assert rep.percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9) == 9
    assert rep.percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 0.9) == 10
    assert rep.stat([3.0, 1.0, 2.0, 10.0]) == rep.Stat(4, 2.5, 10.0)


def test_a_later_stage_counts_in_every_earlier_one():
    at = datetime(2026, 12, 1, tzinfo=timezone.utc)
    enrolled_by_command = rep.RequestFacts(1, "slovenj-gradec", None, "enrolled", at, "unclear",
                                           (rep.Event("enrolled", "enrolled", at),))
    released = rep.RequestFacts(2, "slovenj-gradec", None, "new", at, "unclear",
                                (rep.Event("claim", "claimed", at),
                                 rep.Event("release", "new", at)))
    unreachable = rep.RequestFacts(3, "slovenj-gradec", None, "unreachable", at, "unclear")
    assert [rep.stage(r) for r in (enrolled_by_command, released, unreachable)] == [3, 1, 1]


def test_months_and_bounds_of_a_period():
    assert rep.months(date(2026, 11, 15), date(2027, 2, 1)) == [
        rep.Month(2026, 11), rep.Month(2026, 12), rep.Month(2027, 1), rep.Month(2027, 2)]
    start, end = rep.bounds(date(2026, 12, 1), date(2026, 12, 31), TZ)
    assert start == datetime(2026, 11, 30, 23, 0, tzinfo=timezone.utc)
    assert end == datetime(2026, 12, 31, 23, 0, tzinfo=timezone.utc)


def test_porocilo_periods():
    today = date(2027, 5, 14)
    assert rep.parse_period("", today) == (date(2027, 5, 1), today)
    assert rep.parse_period("mesec", today) == (date(2027, 5, 1), today)
    assert rep.parse_period("Četrtletje", today) == (date(2027, 4, 1), today)
    assert rep.parse_period("cetrtletje", date(2027, 3, 31)) == (date(2027, 1, 1),
                                                                date(2027, 3, 31))
    assert rep.parse_period("1. 1. 2027 31. 3. 2027", today) == (date(2027, 1, 1),
                                                                  date(2027, 3, 31))
    assert rep.parse_period("od 1.1.2027 do 31.3.2027", today) == (date(2027, 1, 1),
                                                                    date(2027, 3, 31))
    assert rep.parse_period("2027-01-01 – 2027-03-31", today) == (date(2027, 1, 1),
                                                                   date(2027, 3, 31))
    for bad in ("1. 1. 2027", "31. 3. 2027 1. 1. 2027", "30. 2. 2027 1. 3. 2027", "leto",
                "1. 1. 2027 31. 3. 2027 in še kaj"):
        assert rep.parse_period(bad, today) is None, bad


def test_decimal_comma():
    assert [rep.decimal(v) for v in (3.5, 4.0, 0.04, None)] == ["3,5", "4", "0", "—"]


def test_tables_hold_no_more_than_the_counts():
    hours = WorkingHours(tz=TZ, holidays=holidays.country_holidays("SI"))
    at = datetime(2026, 12, 1, 9, tzinfo=timezone.utc)
    facts = [rep.RequestFacts(i, "slovenj-gradec", "Mislinja", "new", at, "women_roma")
             for i in range(2)]
    r = rep.compute(facts, [], first=date(2026, 12, 1), last=date(2026, 12, 31),
                    made_at=at + timedelta(days=40), hours=hours)
    groups = next(t for t in rep.tables(r) if t.key == "ciljne_skupine")
    assert groups.rows[0][1:] == (LESS, LESS, LESS, LESS, LESS, 2)


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
