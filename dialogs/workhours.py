"""Working-hours arithmetic for the coordinators' reminders. Pure: the holiday calendar comes in
as a container of dates (bot/ passes Slovenian public holidays from the `holidays` package).

Times go in and out as aware datetimes (UTC in storage); the arithmetic is done on the local
wall clock, so a working day is 8:00–15:00 in Ljubljana on both sides of a DST change."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def parse_clock(text: str) -> time:
    """'8:00', '08.30' or '15' → time."""
    text = text.strip().replace(".", ":")
    hour, _, minute = text.partition(":")
    return time(int(hour), int(minute or 0))


def parse_span(text: str) -> tuple[time, time]:
    """'08:00-15:00' → (8:00, 15:00); the end must come after the start."""
    start, sep, end = text.replace("–", "-").partition("-")
    if not sep:
        raise ValueError(f"expected START-END, got {text!r}")
    a, b = parse_clock(start), parse_clock(end)
    if b <= a:
        raise ValueError(f"the working day must end after it starts: {text!r}")
    return a, b


def parse_weekdays(text: str) -> frozenset[int]:
    """'1-5' (Monday to Friday) or '1,2,3,4,5' → {0..4} (Python weekday numbers)."""
    out: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        for day in range(int(lo), int(hi or lo) + 1):
            if not 1 <= day <= 7:
                raise ValueError(f"weekdays are 1 (Monday) to 7 (Sunday): {text!r}")
            out.add(day - 1)
    if not out:
        raise ValueError("no working days")
    return frozenset(out)


@dataclass(frozen=True)
class WorkingHours:
    tz: ZoneInfo
    start: time = time(8, 0)
    end: time = time(15, 0)
    weekdays: frozenset[int] = frozenset(range(5))
    holidays: Container[date] = field(default_factory=frozenset)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() in self.weekdays and day not in self.holidays

    def _at(self, day: date, clock: time) -> datetime:
        return datetime.combine(day, clock, tzinfo=self.tz)

    @property
    def hours_per_day(self) -> float:
        return (datetime.combine(date.min, self.end)
                - datetime.combine(date.min, self.start)).total_seconds() / 3600

    def add(self, moment: datetime, hours: float) -> datetime:
        """The moment `hours` working hours after `moment` (aware; returned in the same zone
        as the working hours)."""
        local = moment.astimezone(self.tz)
        remaining = timedelta(hours=hours)
        day = local.date()
        cursor = local
        for _ in range(3660):  # ten years of days: a calendar with no working day stops here
            if self.is_working_day(day):
                opens, closes = self._at(day, self.start), self._at(day, self.end)
                begin = max(cursor, opens)
                if begin < closes:
                    available = closes - begin
                    if remaining <= available:
                        return begin + remaining
                    remaining -= available
            day += timedelta(days=1)
            cursor = self._at(day, time(0, 0))
        raise ValueError("the working calendar has no working days")

    def add_days(self, moment: datetime, days: int) -> datetime:
        return self.add(moment, days * self.hours_per_day)

    def between(self, a: datetime, b: datetime) -> float:
        """Working hours from a to b (0 when b is not after a)."""
        if b <= a:
            return 0.0
        a_local, b_local = a.astimezone(self.tz), b.astimezone(self.tz)
        total = timedelta()
        day = a_local.date()
        while day <= b_local.date():
            if self.is_working_day(day):
                lo = max(a_local, self._at(day, self.start))
                hi = min(b_local, self._at(day, self.end))
                if hi > lo:
                    total += hi - lo
            day += timedelta(days=1)
        return total.total_seconds() / 3600


def digest_key(now: datetime, hours: WorkingHours, at: time) -> str | None:
    """The digest due at `now`, named by its local date: on a working day, from `at` until the
    working day ends (an hour after `at` when `at` is set past the end). A process that first
    ticks in the evening sends none that day: a morning digest at night helps nobody."""
    local = now.astimezone(hours.tz)
    if not hours.is_working_day(local.date()) or local.time() < at:
        return None
    until = hours.end if at < hours.end else \
        (datetime.combine(local.date(), at) + timedelta(hours=1)).time()
    if local.time() >= until and until > at:
        return None
    return local.date().isoformat()


def greeting(now: datetime, tz: ZoneInfo) -> str:
    """Which greeting fits the local hour: morning (until 10), day (until 18), evening."""
    hour = now.astimezone(tz).hour
    return "morning" if 4 <= hour < 10 else "day" if 10 <= hour < 18 else "evening"
