"""Working-hours arithmetic: weekends, Slovenian public holidays, and DST days."""

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

import holidays
import pytest

from dialogs.workhours import (WorkingHours, digest_key, parse_clock, parse_span,
                               parse_weekdays)

LJ = ZoneInfo("Europe/Ljubljana")
SI = holidays.country_holidays("SI")
WH = WorkingHours(tz=LJ, holidays=SI)


def lj(*args):
    return datetime(*args, tzinfo=LJ)


def test_hours_inside_one_working_day():
    assert WH.add(lj(2026, 11, 26, 9, 0), 3) == lj(2026, 11, 26, 12, 0)


def test_evening_request_starts_counting_next_morning():
    # Thursday 20:00 + 8 working hours: Friday 8-15 (7 h) and Monday 8-9
    assert WH.add(lj(2026, 11, 26, 20, 0), 8) == lj(2026, 11, 30, 9, 0)


def test_weekend_request_waits_for_monday():
    assert WH.add(lj(2026, 11, 28, 11, 0), 1) == lj(2026, 11, 30, 9, 0)


def test_public_holidays_are_off():
    # 24 Dec 2026 is a Thursday; 25 Dec (Christmas) and 26 Dec (Independence Day) are holidays,
    # 27 is a Sunday: a request on Thursday at 14:00 reaches Monday 28 Dec after 8 hours.
    assert date(2026, 12, 25) in SI and date(2026, 12, 26) in SI
    assert WH.add(lj(2026, 12, 24, 14, 0), 8) == lj(2026, 12, 28, 15, 0)
    # Easter Monday 2027 is 29 March
    assert WH.add(lj(2027, 3, 26, 15, 0), 1) == lj(2027, 3, 30, 9, 0)


def test_across_the_spring_dst_change():
    # Friday 27 Mar 2026 (CET) 14:00 + 2 h → Monday 30 Mar (CEST) 9:00; in UTC 13:00 and 7:00
    start = datetime(2026, 3, 27, 13, 0, tzinfo=timezone.utc)
    end = WH.add(start, 2)
    assert end == lj(2026, 3, 30, 9, 0)
    assert end.astimezone(timezone.utc) == datetime(2026, 3, 30, 7, 0, tzinfo=timezone.utc)


def test_a_dst_day_itself_has_seven_working_hours_when_sundays_count():
    every_day = WorkingHours(tz=LJ, weekdays=parse_weekdays("1-7"))
    for day in (date(2026, 3, 29), date(2026, 10, 25)):  # both changes are on Sundays
        start = datetime.combine(day, time(0, 0), tzinfo=LJ)
        end = datetime.combine(day, time(23, 0), tzinfo=LJ)
        assert every_day.between(start, end) == 7.0
        assert every_day.add(start, 7) == datetime.combine(day, time(15, 0), tzinfo=LJ)


def test_across_the_autumn_dst_change_in_utc():
    start = datetime(2026, 10, 23, 12, 0, tzinfo=timezone.utc)  # Friday 14:00 CEST
    end = WH.add(start, 2)  # Monday 26 Oct 9:00 CET = 8:00 UTC
    assert end.astimezone(timezone.utc) == datetime(2026, 10, 26, 8, 0, tzinfo=timezone.utc)


def test_between_counts_only_working_time():
    assert WH.between(lj(2026, 11, 27, 14, 0), lj(2026, 11, 30, 9, 30)) == 2.5  # Fri 14-15, Mon 8-9.30
    assert WH.between(lj(2026, 11, 30, 9, 0), lj(2026, 11, 27, 9, 0)) == 0.0


def test_add_days_counts_whole_working_days():
    assert WH.add_days(lj(2026, 11, 26, 10, 0), 2) == lj(2026, 11, 30, 10, 0)


def test_custom_hours_and_days():
    wh = WorkingHours(tz=LJ, start=parse_clock("7.30"), end=parse_clock("13"),
                      weekdays=parse_weekdays("1,3,5"))
    # Tuesday is not a working day: Monday 13:00 + 1 h → Wednesday 8:30
    assert wh.add(lj(2026, 11, 30, 13, 0), 1) == lj(2026, 12, 2, 8, 30)


def test_a_calendar_without_working_days_is_refused():
    with pytest.raises(ValueError):
        parse_weekdays("")
    with pytest.raises(ValueError):
        parse_weekdays("0-8")
    with pytest.raises(ValueError):
        parse_span("15:00-08:00")
    with pytest.raises(ValueError):
        parse_span("8")


def test_digest_is_due_on_working_days_from_its_hour():
    at = time(8, 0)
    assert digest_key(lj(2026, 11, 26, 7, 59), WH, at) is None
    assert digest_key(lj(2026, 11, 26, 8, 0), WH, at) == "2026-11-26"
    assert digest_key(lj(2026, 11, 28, 9, 0), WH, at) is None  # Saturday
    assert digest_key(lj(2026, 12, 25, 9, 0), WH, at) is None  # Christmas
    # 23:30 UTC on Thursday is already Friday in Ljubljana
    late = datetime(2026, 11, 26, 23, 30, tzinfo=timezone.utc)
    assert digest_key(late, WH, time(0, 15)) == "2026-11-27"


def test_a_process_started_in_the_evening_sends_no_digest_that_day():
    at = time(8, 0)
    assert digest_key(lj(2026, 11, 26, 14, 59), WH, at) == "2026-11-26"
    assert digest_key(lj(2026, 11, 26, 15, 0), WH, at) is None  # working hours are over
    assert digest_key(lj(2026, 11, 26, 21, 5), WH, at) is None
    # set after the working day's end: due for an hour from then
    assert digest_key(lj(2026, 11, 26, 16, 30), WH, time(16, 0)) == "2026-11-26"
    assert digest_key(lj(2026, 11, 26, 17, 30), WH, time(16, 0)) is None
