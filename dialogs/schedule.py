"""Programme sessions as plain rules: reading a schedule file (CSV or iCalendar), what a
re-import changes, when reminders go out (offsets, quiet hours, DST), and what participants
read. No Telegram, no database.

CSV columns (header row, `,` or `;`): `datum` (3. 12. 2026 or 2026-12-03), `zacetek` (9.00),
`konec` (12.00), `naslov`, `kraj`; optional `id` (a stable id per session; without it a session
is known by its date and title) and `odpade` (da/yes/1: cancelled). English headers `date`,
`start`, `end`, `title`, `place`, `cancelled` work too."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .replies import N_, Button, Lines, Say, Text

MAX_TITLE = 200
MAX_PLACE = 300
# The most sessions a file (and so a cohort: its sessions are those of its last file) may
# hold. A programme lasts 6 months: 26 weeks of five working days with a morning and an
# afternoon session is 260; 300 leaves room for a few extra days. Every session costs a
# reminder per participant and offset, so a larger file is a mistake, not a programme.
MAX_SESSIONS = 300
REPORT_LINES = 15  # sessions or problems a report lists one by one; the rest are counted
REPORT_CLIP = 60  # characters of a title or a place a report line shows


@dataclass(frozen=True)
class SessionRow:
    """One session as a schedule file describes it. Times are aware (UTC)."""

    key: str
    title: str
    place: str
    starts_at: datetime
    ends_at: datetime
    cancelled: bool = False
    line: int = 0


@dataclass(frozen=True)
class Problem:
    line: int
    text: Text


@dataclass(frozen=True)
class Parsed:
    rows: list[SessionRow]
    problems: list[Problem]


# ----------------------------------------------------------------------------- reading files

HEADERS = {
    "id": "id", "uid": "id",
    "datum": "date", "date": "date", "dan": "date",
    "zacetek": "start", "začetek": "start", "od": "start", "start": "start",
    "konec": "end", "do": "end", "end": "end",
    "naslov": "title", "title": "title", "vsebina": "title", "srecanje": "title",
    "srečanje": "title",
    "kraj": "place", "naslov_kraja": "place", "lokacija": "place", "place": "place",
    "location": "place",
    "odpade": "cancelled", "cancelled": "cancelled", "preklicano": "cancelled",
}
REQUIRED = ("date", "start", "end", "title", "place")
TRUE = {"da", "yes", "1", "x", "true", "odpade"}


def site_from_name(name: str) -> str | None:
    """The site of a cohort, from its name: "SG 2027/1", "Radlje – jesen" (the staff chat's
    upload and `korak schedule import` alike). None when the name names no site."""
    words = name.casefold().replace("-", " ").replace("–", " ").replace("/", " ").split()
    if "radlje" in words or "rd" in words:
        return "radlje-ob-dravi"
    if "slovenj" in words or "sg" in words:
        return "slovenj-gradec"
    return None


def parse_day(text: str) -> date | None:
    text = text.strip()
    m = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text)
    if m:
        y, mo, d = (int(g) for g in m.groups())
    else:
        m = re.fullmatch(r"(\d{1,2})\.\s*(\d{1,2})\.\s*(\d{4})\.?", text)
        if not m:
            return None
        d, mo, y = (int(g) for g in m.groups())
    try:
        return date(y, mo, d)
    except ValueError:
        return None


def parse_time_of_day(text: str) -> time | None:
    m = re.fullmatch(r"(\d{1,2})(?:[.:](\d{2}))?(?:\s*h)?", text.strip())
    if not m:
        return None
    hour, minute = int(m.group(1)), int(m.group(2) or 0)
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def _problem(line: int, msgid: str, **params: Any) -> Problem:
    return Problem(line, Text(msgid, {"line": line, **params}))


def parse_csv(text: str, tz: ZoneInfo) -> Parsed:
    text = text.lstrip("\ufeff")
    if not text.strip():
        return Parsed([], [_problem(1, N_("schedule.error.empty"))])
    first = text.splitlines()[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = [HEADERS.get(h.strip().lower()) for h in next(reader)]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        return Parsed([], [_problem(1, N_("schedule.error.columns"),
                                    columns=", ".join(missing))])
    rows: list[SessionRow] = []
    problems: list[Problem] = []
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        cell = {name: values[i].strip() if i < len(values) else ""
                for i, name in enumerate(header) if name}
        day = parse_day(cell["date"])
        start, end = parse_time_of_day(cell["start"]), parse_time_of_day(cell["end"])
        if day is None:
            problems.append(_problem(line, N_("schedule.error.date"), value=cell["date"][:40]))
            continue
        if start is None or end is None:
            bad = cell["start"] if start is None else cell["end"]
            problems.append(_problem(line, N_("schedule.error.time"), value=bad[:40]))
            continue
        starts = datetime.combine(day, start, tzinfo=tz)
        ends = datetime.combine(day, end, tzinfo=tz)
        row = _checked(line, cell.get("id") or f"{day.isoformat()}|{cell['title'].casefold()}",
                       cell["title"], cell["place"], starts, ends,
                       cell.get("cancelled", "").lower() in TRUE, problems)
        if row is not None:
            rows.append(row)
    return _finish(rows, problems)


def _checked(line: int, key: str, title: str, place: str, starts: datetime, ends: datetime,
             cancelled: bool, problems: list[Problem]) -> SessionRow | None:
    title, place = " ".join(title.split()), " ".join(place.split())
    if not title:
        problems.append(_problem(line, N_("schedule.error.title")))
        return None
    if len(title) > MAX_TITLE or len(place) > MAX_PLACE or len(key) > 250:
        problems.append(_problem(line, N_("schedule.error.too_long")))
        return None
    if ends <= starts:
        problems.append(_problem(line, N_("schedule.error.end_before_start")))
        return None
    utc = ZoneInfo("UTC")
    return SessionRow(key, title, place, starts.astimezone(utc), ends.astimezone(utc),
                      cancelled, line)


def _finish(rows: list[SessionRow], problems: list[Problem]) -> Parsed:
    seen: dict[str, int] = {}
    for row in rows:
        if row.key in seen:
            problems.append(_problem(row.line, N_("schedule.error.duplicate"),
                                     other=seen[row.key]))
        seen.setdefault(row.key, row.line)
    if len(rows) > MAX_SESSIONS:
        problems.append(_problem(rows[MAX_SESSIONS].line, N_("schedule.error.too_many"),
                                 limit=MAX_SESSIONS))
    if not rows and not problems:
        problems.append(_problem(1, N_("schedule.error.empty")))
    problems.sort(key=lambda p: p.line)
    return Parsed(sorted(rows, key=lambda r: (r.starts_at, r.key)), problems)


# iCalendar files. A session needs a start time; the rest is forgiven where RFC 5545 allows it.
SANE_YEARS = range(1900, 2200)  # a session outside these years is a typo (0001, 20260 …)
# a repeating event is read this far past today (or past its start, if later): a programme
# lasts 6 months, so a year holds a cohort that starts later too
YEARS_AHEAD = 1
TOO_OFTEN = ("HOURLY", "MINUTELY", "SECONDLY")  # repeats that are no programme sessions
ICS_SPAN = (datetime(SANE_YEARS.start, 1, 1), datetime(SANE_YEARS.stop, 1, 1))


class _Refused(Exception):
    """One calendar event cannot become sessions; carries the problem for its line."""

    def __init__(self, msgid: str, **params: Any) -> None:
        super().__init__(msgid)
        self.msgid, self.params = msgid, params


@dataclass
class _Series:
    """The events of one UID: the event itself (`core`) and its changed occurrences
    (RECURRENCE-ID), each with the line of its BEGIN:VEVENT."""

    uid: str | None
    core: list[tuple[Any, int]] = field(default_factory=list)
    changed: list[tuple[Any, int]] = field(default_factory=list)

    @property
    def line(self) -> int:
        return (self.core or self.changed)[0][1]


def parse_ics(data: bytes, tz: ZoneInfo, *, today: date | None = None,
              default_minutes: int = 120) -> Parsed:
    """VEVENTs with a start time become sessions; STATUS:CANCELLED marks one cancelled, an
    event without an end lasts `default_minutes`. Repeating events (RRULE, RDATE, EXDATE,
    RECURRENCE-ID) are expanded by recurring-ical-events, but only after their occurrences up to
    YEARS_AHEAD past `today` are counted (see `_count_rule`): a rule without end, one that never
    occurs or a file of thousands cannot keep the parser busy. Whatever an event gets wrong is a
    problem at the line of its BEGIN:VEVENT, never an exception."""
    from icalendar import Calendar

    text = data.decode("utf-8-sig", errors="replace")
    try:
        calendars = Calendar.from_ical(text, multiple=True)
    except Exception:
        return Parsed([], [_problem(1, N_("schedule.error.ics"))])
    blocks = _event_blocks(text)
    series: dict[str, _Series] = {}
    for n, event in enumerate(e for cal in calendars for e in cal.walk("VEVENT")):
        uid = _text(event.get("UID")) or None
        line = _line_of(blocks, n, uid)
        one = series.setdefault(uid or f"#{n}", _Series(uid))
        (one.changed if "RECURRENCE-ID" in event else one.core).append((event, line))
    rows: list[SessionRow] = []
    problems: list[Problem] = []
    ready: list[tuple[_Series, bool]] = []
    total = 0
    for one in series.values():
        try:
            count, repeating = _prepare(one, tz, today, default_minutes)
        except _Refused as refused:
            problems.append(_problem(refused.params.pop("line", one.line), refused.msgid,
                                     **refused.params))
            continue
        except Exception:
            problems.append(_problem(one.line, N_("schedule.error.event")))
            continue
        total += count
        if total > MAX_SESSIONS:  # counted, not expanded: stop before the work is done
            problems.append(_problem(one.line, N_("schedule.error.too_many"),
                                     limit=MAX_SESSIONS))
            return _finish([], problems)
        ready.append((one, repeating))
    for one, repeating in ready:
        try:
            _expand(one, repeating, tz, rows, problems)
        except Exception:
            problems.append(_problem(one.line, N_("schedule.error.event")))
    return _finish(rows, problems)


def _prepare(one: _Series, tz: ZoneInfo, today: date | None, default_minutes: int
             ) -> tuple[int, bool]:
    """Checks every event of a series and readies it for expansion: an end where there is
    none, a repeating rule in UTC moved to local time (so 9.00 stays 9.00 across DST), each
    RRULE cut to a COUNT. Returns how many sessions the series makes at most and whether it
    repeats. Raises _Refused (with the line of the event at fault)."""
    if len(one.core) > 1:
        raise _Refused(N_("schedule.error.duplicate"), line=one.core[1][1],
                       other=one.core[0][1])
    for event, line in one.core + one.changed:
        try:
            _ready_event(event, tz, default_minutes)
            if "RECURRENCE-ID" in event:
                _sane(_value(event, "RECURRENCE-ID"))
        except _Refused as refused:
            refused.params.setdefault("line", line)
            raise
    count = 1 + len(one.changed)
    if not one.core:
        return count, True
    event, line = one.core[0]
    try:
        rdates = _dates(event, "RDATE")
        _dates(event, "EXDATE")
        start = _value(event, "DTSTART")
        rules = _rules(event)
        if rules and start.tzinfo is not None and start.tzname() == "UTC":
            end = event["DTEND"].dt if "DTEND" in event else None
            event["DTSTART"] = _ical_time(start.astimezone(tz))
            if end is not None:
                event["DTEND"] = _ical_time(end.astimezone(tz))
            start = start.astimezone(tz)
        horizon = _years_ahead(max(today or start.date(), start.date()))
        bounded = []
        for rule in rules:
            matches, more = _count_rule(rule, start, tz, horizon, MAX_SESSIONS - count)
            count += more
            if count > MAX_SESSIONS:
                raise _Refused(N_("schedule.error.repeats"), limit=MAX_SESSIONS)
            if matches:
                bounded.append(_with_count(rule, matches))
        count += len(rdates)
        if count > MAX_SESSIONS:
            raise _Refused(N_("schedule.error.repeats"), limit=MAX_SESSIONS)
        event.pop("RRULE", None)
        for rule in bounded:
            event.add("RRULE", rule)
    except _Refused as refused:
        refused.params.setdefault("line", line)
        raise
    return count, bool(rules or rdates or one.changed)


def _ready_event(event: Any, tz: ZoneInfo, default_minutes: int) -> None:
    """A start with a time of day, an end after it (DTEND, DURATION, or the default length
    written as DTEND), all in sane years."""
    if "DTSTART" not in event:
        raise _Refused(N_("schedule.error.no_start"))
    start = _value(event, "DTSTART")
    if not isinstance(start, datetime):
        raise _Refused(N_("schedule.error.all_day"))
    _sane(start)
    end = None
    if "DTEND" in event:
        end = _value(event, "DTEND")
        if not isinstance(end, datetime):
            raise _Refused(N_("schedule.error.all_day"))
    elif "DURATION" in event:
        length = _value(event, "DURATION")
        if not isinstance(length, timedelta):
            raise _Refused(N_("schedule.error.value"), name="DURATION",
                           value=_raw(event["DURATION"]))
        end = start + length
    if end is None or end == start:  # no end, or a moment: the usual length of a session
        end = start + timedelta(minutes=default_minutes)
        event.pop("DURATION", None)
        event["DTEND"] = _ical_time(end)
    _sane(end)


def _value(event: Any, name: str) -> Any:
    """The decoded value of a property, or a problem naming it with what the file says."""
    prop = event.get(name)
    if isinstance(prop, list):
        raise _Refused(N_("schedule.error.twice"), name=name)
    try:
        return prop.dt
    except Exception:
        raise _Refused(N_("schedule.error.value"), name=name, value=_raw(prop)) from None


def _dates(event: Any, name: str) -> list[Any]:
    """Every value of RDATE or EXDATE, over all its lines (a period counts by its start)."""
    found = []
    props = event.get(name, [])
    for prop in props if isinstance(props, list) else [props]:
        try:
            values = [v.dt for v in prop.dts]
        except Exception:
            raise _Refused(N_("schedule.error.value"), name=name, value=_raw(prop)) from None
        for value in values:
            value = value[0] if isinstance(value, tuple) else value
            if not isinstance(value, date):  # VALUE=TIME: a time of no day
                raise _Refused(N_("schedule.error.value"), name=name, value=_raw(prop))
            _sane(value)
            found.append(value)
    return found


def _rules(event: Any) -> list[Any]:
    """The event's RRULEs, read again without blanks if the file has some ("BYDAY=MO, TU"),
    refused if finer than a day."""
    from icalendar import vRecur

    props = event.get("RRULE", [])
    rules = []
    for prop in props if isinstance(props, list) else [props]:
        rule = prop
        if not isinstance(rule, vRecur):
            try:
                rule = vRecur.from_ical("".join(_raw(prop, None).split()))
            except Exception:
                raise _Refused(N_("schedule.error.value"), name="RRULE",
                               value=_raw(prop)) from None
        freq = str((rule.get("FREQ") or [""])[0]).upper()
        if freq in TOO_OFTEN:
            raise _Refused(N_("schedule.error.too_often"))
        rules.append(rule)
    return rules


def _count_rule(rule: Any, start: datetime, tz: ZoneInfo, horizon: date, limit: int
                ) -> tuple[int, int]:
    """How many times `rule` occurs from `start` up to its UNTIL, its COUNT or `horizon`,
    whichever comes first, and how many of those are not the start itself (which is a session
    anyway), counting no further than `limit` + 1 of these.

    dateutil ends a search only at an occurrence or at the year 9999, so a rule that never
    occurs (30 February) scans day after day for seconds, and UNTIL does not stop it. The
    Gregorian calendar repeats every 400 years, so the rule is counted from the same wall-clock
    start moved 400·k years on, where the year 9999 comes 400 to 800 years after the horizon:
    the same occurrences, and a search that ends soon. A rule that does not occur even in those
    centuries never does: that is a problem. UNTIL may be in UTC (as RFC 5545 asks), in local
    time (as many exports write it: read on the start's clock) or a day (all of it)."""
    from dateutil.rrule import rrulestr
    from icalendar import vRecur

    end = datetime.combine(horizon, time.max)
    until = (rule.get("UNTIL") or [None])[0]
    if isinstance(until, datetime):
        if until.tzinfo is not None:
            until = until.astimezone(start.tzinfo or tz).replace(tzinfo=None)
        end = min(end, until)
    elif isinstance(until, date):
        end = min(end, datetime.combine(until, time.max))
    count = int((rule.get("COUNT") or [0])[0]) or None
    bare = vRecur({k: v for k, v in rule.items() if k not in ("UNTIL", "COUNT")})
    shift = 400 * ((datetime.max.year - 400 - end.year) // 400)
    try:
        probe = rrulestr(bare.to_ical().decode(), dtstart=_years_on(start.replace(tzinfo=None),
                                                                    shift))
        if int((rule.get("INTERVAL") or [1])[0]) < 1:
            raise ValueError("INTERVAL below 1")
    except Exception:
        raise _Refused(N_("schedule.error.value"), name="RRULE",
                       value=rule.to_ical().decode(errors="replace")) from None
    first, stop = _years_on(start.replace(tzinfo=None), shift), _years_on(end, shift)
    matches, more, later = 0, 0, False
    for when in probe:
        if when > stop:
            later = True
            break
        matches += 1
        more += when != first
        if more > limit or (count is not None and matches >= count):
            break
    if matches == 0 and not later:
        raise _Refused(N_("schedule.error.rrule_never"))
    return matches, more


def _with_count(rule: Any, count: int) -> Any:
    """The rule with its end given as a COUNT, the one end dateutil stops at by itself (and
    no UNTIL left for recurring-ical-events to read in a zone of its choosing)."""
    from icalendar import vRecur

    bounded = vRecur({k: v for k, v in rule.items() if k not in ("UNTIL", "COUNT")})
    bounded["COUNT"] = [count]
    return bounded


def _expand(one: _Series, repeating: bool, tz: ZoneInfo, rows: list[SessionRow],
            problems: list[Problem]) -> None:
    """A series' occurrences as sessions. A repeating one is keyed by UID and the day of each
    occurrence (the day it was planned for, if it was moved), with the time added for a second
    one on the same day. What is wrong with every occurrence (no title) is told once."""
    import recurring_ical_events
    from icalendar import Calendar

    calendar = Calendar()
    for event, _line in one.core + one.changed:
        calendar.add_component(event)
    changed_lines = {_instant(event["RECURRENCE-ID"].dt, tz): line
                     for event, line in one.changed}
    first = (one.core or one.changed)[0][0]
    base = one.uid or f"{_aware(first['DTSTART'].dt, tz).astimezone(tz).date().isoformat()}|" \
                      f"{_text(first.get('SUMMARY'))}"
    line = one.line
    keys: set[str] = set()
    found: list[Problem] = []
    occurrences = recurring_ical_events.of(calendar).between(*ICS_SPAN)
    for occurrence in sorted(occurrences, key=lambda o: _instant(o["DTSTART"].dt, tz)):
        planned = occurrence["RECURRENCE-ID"].dt
        at = changed_lines.get(_instant(planned, tz), line)
        start = _aware(occurrence["DTSTART"].dt, tz)
        end = _aware(occurrence["DTEND"].dt, tz)
        key = base
        if repeating:
            day = _aware(planned, tz).astimezone(tz) if isinstance(planned, datetime) else planned
            key = f"{base}@{day.isoformat()[:10]}"
            if key in keys and isinstance(day, datetime):
                key += f"T{day.hour:02d}:{day.minute:02d}"
        keys.add(key)
        row = _checked(at, key, _text(occurrence.get("SUMMARY")),
                       _text(occurrence.get("LOCATION")), start, end,
                       _text(occurrence.get("STATUS")).upper() == "CANCELLED", found)
        if row is not None:
            rows.append(row)
    problems += [p for n, p in enumerate(found) if p not in found[:n]]


def _sane(value: Any) -> None:
    if isinstance(value, date) and value.year not in SANE_YEARS:
        raise _Refused(N_("schedule.error.year"), year=value.year)


def _years_ahead(day: date) -> date:
    try:
        return day.replace(year=day.year + YEARS_AHEAD)
    except ValueError:
        return day.replace(year=day.year + YEARS_AHEAD, day=28)  # from 29 February


def _years_on(moment: datetime, years: int) -> datetime:
    return moment.replace(year=moment.year + years)  # 400·k years on: 29 February stays


def _ical_time(moment: datetime) -> Any:
    from icalendar import vDDDTypes

    return vDDDTypes(moment)


def _instant(value: Any, tz: ZoneInfo) -> Any:
    """A start or RECURRENCE-ID as something comparable: UTC for a time, the day for a day."""
    if isinstance(value, datetime):
        return _aware(value, tz).astimezone(ZoneInfo("UTC"))
    return value


def _aware(value: Any, tz: ZoneInfo) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=tz)  # floating time: local time of the programme
    return value


def _text(value: Any) -> str:
    return "" if value is None else str(value[0] if isinstance(value, list) else value)


def _raw(prop: Any, limit: int | None = 60) -> str:
    """What the file says for a property, short enough to quote to the coordinator."""
    if isinstance(prop, str):  # a value the parser kept as text because it could not read it
        return str(prop)[:limit]
    try:
        raw = prop.to_ical()
        raw = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)
    except Exception:
        raw = str(prop)
    return raw[:limit]


def _event_blocks(text: str) -> list[tuple[int, str | None]]:
    """(line of BEGIN:VEVENT, UID or None) for every event in the raw text, in file order."""
    blocks: list[tuple[int, str | None]] = []
    for number, raw in enumerate(text.split("\n"), 1):
        upper = raw.strip().upper()
        if upper == "BEGIN:VEVENT":
            blocks.append((number, None))
        elif upper.startswith(("UID:", "UID;")) and blocks and blocks[-1][1] is None:
            blocks[-1] = (blocks[-1][0], raw.strip().split(":", 1)[-1])
    return blocks


def _line_of(blocks: list[tuple[int, str | None]], n: int, uid: str | None) -> int:
    """The line where the n-th parsed event begins: the n-th BEGIN:VEVENT if its UID agrees,
    else the first block with that UID (the parser may have skipped a broken one), else the
    n-th block, else line 1."""
    if n < len(blocks) and (uid is None or blocks[n][1] in (None, uid)):
        return blocks[n][0]
    for number, found in blocks:
        if uid is not None and found == uid:
            return number
    return blocks[n][0] if n < len(blocks) else 1


# ----------------------------------------------------------------------------- re-imports


@dataclass(frozen=True)
class Existing:
    id: int
    key: str
    title: str
    place: str
    starts_at: datetime
    ends_at: datetime
    cancelled: bool


@dataclass
class Changes:
    added: list[SessionRow] = field(default_factory=list)
    moved: list[tuple[Existing, SessionRow]] = field(default_factory=list)  # time or place
    renamed: list[tuple[Existing, SessionRow]] = field(default_factory=list)
    cancelled: list[Existing] = field(default_factory=list)
    restored: list[tuple[Existing, SessionRow]] = field(default_factory=list)
    unchanged: int = 0

    @property
    def any(self) -> bool:
        return bool(self.added or self.moved or self.renamed or self.cancelled or self.restored)


def diff(existing: list[Existing], incoming: list[SessionRow]) -> Changes:
    """What importing `incoming` over `existing` does. A session missing from the new file is
    cancelled, not deleted: participants are told and its history stays."""
    out = Changes()
    by_key = {e.key: e for e in existing}
    for row in incoming:
        old = by_key.pop(row.key, None)
        if old is None:
            if not row.cancelled:
                out.added.append(row)
            continue
        if row.cancelled:
            if not old.cancelled:
                out.cancelled.append(old)
            else:
                out.unchanged += 1
            continue
        if old.cancelled:
            out.restored.append((old, row))
        elif (old.starts_at, old.ends_at, old.place) != (row.starts_at, row.ends_at, row.place):
            out.moved.append((old, row))
        elif old.title != row.title:
            out.renamed.append((old, row))
        else:
            out.unchanged += 1
    out.cancelled += [e for e in by_key.values() if not e.cancelled]
    return out


def changes_report(changes: Changes, cohort: str, tz: ZoneInfo) -> Say:
    """What an import did, for the coordinator: the first REPORT_LINES changes one by one
    (titles and places clipped to REPORT_CLIP), the rest counted, so the report stays one
    message whatever the file held."""
    def when(row: SessionRow | Existing) -> str:
        return clock(row.starts_at, tz)

    def clip(text: str) -> str:
        return text if len(text) <= REPORT_CLIP else text[:REPORT_CLIP - 1] + "…"

    changed: list[Text | str] = []
    for row in changes.added:
        changed.append(Text(N_("schedule.report.added"), {"title": clip(row.title),
                                                          "when": when(row)}))
    for old, row in changes.moved:
        changed.append(Text(N_("schedule.report.moved"), {
            "title": clip(row.title), "old": when(old), "when": when(row),
            "place": clip(row.place)}))
    for old, row in changes.renamed:
        changed.append(Text(N_("schedule.report.renamed"), {
            "old": clip(old.title), "title": clip(row.title), "when": when(row)}))
    for old, row in changes.restored:
        changed.append(Text(N_("schedule.report.restored"), {"title": clip(row.title),
                                                             "when": when(row)}))
    for old in changes.cancelled:
        changed.append(Text(N_("schedule.report.cancelled"), {"title": clip(old.title),
                                                              "when": when(old)}))
    lines = [Text(N_("schedule.report.header"), {"cohort": cohort}), *_first(changed)]
    if not changes.any:
        lines.append(Text(N_("schedule.report.nothing")))
    elif changes.unchanged:
        lines.append(Text(N_("schedule.report.unchanged"), {"count": changes.unchanged}))
    return Say(Lines(tuple(lines)))


def problems_report(problems: list[Problem]) -> Say:
    return Say(Lines((Text(N_("schedule.report.rejected"), {"count": len(problems)}),
                      *_first([p.text for p in problems]))))


def _first(lines: list[Text | str]) -> list[Text | str]:
    """The first REPORT_LINES lines, and how many more there are."""
    if len(lines) <= REPORT_LINES:
        return lines
    return [*lines[:REPORT_LINES], Text(N_("schedule.report.more"),
                                        {"count": len(lines) - REPORT_LINES})]


# ----------------------------------------------------------------------------- reminders


@dataclass(frozen=True)
class Offset:
    """'-1d@17:00': the day before at 17:00; '-2h' / '-30m': that long before the start."""

    name: str
    days: int = 0
    at: time | None = None
    before: timedelta = timedelta()


def parse_offsets(text: str) -> tuple[Offset, ...]:
    out = []
    for part in text.split(","):
        part = part.strip().replace(" ", "")
        if not part:
            continue
        m = re.fullmatch(r"-(\d{1,2})d@(\d{1,2})[:.](\d{2})", part)
        if m:
            out.append(Offset(part, days=int(m.group(1)),
                              at=time(int(m.group(2)), int(m.group(3)))))
            continue
        m = re.fullmatch(r"-(\d{1,4})([hm])", part)
        if m:
            n = int(m.group(1))
            out.append(Offset(part, before=timedelta(hours=n) if m.group(2) == "h"
                              else timedelta(minutes=n)))
            continue
        raise ValueError(f"not a reminder offset: {part!r} (use -1d@17:00, -2h or -30m)")
    if not out:
        raise ValueError("no reminder offsets")
    return tuple(out)


@dataclass(frozen=True)
class Quiet:
    """Local hours when nothing is sent, e.g. 21:00–07:00 (may wrap midnight)."""

    start: time = time(21, 0)
    end: time = time(7, 0)

    def contains(self, t: time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end

    def before(self, local: datetime) -> datetime:
        """The last moment before the quiet hours that contain `local`."""
        day = local.date()
        if self.start > self.end and local.time() < self.end:
            day -= timedelta(days=1)  # after midnight: the quiet hours began the evening before
        return datetime.combine(day, self.start, tzinfo=local.tzinfo) - timedelta(minutes=1)


def plan_reminders(starts_at: datetime, offsets: tuple[Offset, ...], quiet: Quiet, tz: ZoneInfo,
                   now: datetime) -> list[tuple[str, datetime]]:
    """When each reminder for a session starting at `starts_at` goes out: on the local wall
    clock (so "the day before at 17:00" is 17:00 on both sides of a DST change), moved earlier
    out of quiet hours. Reminders already past at `now` are not planned. A reminder that moving
    puts within 12 hours after another one of the same session is dropped: it would only
    repeat it (e.g. "2 h before" an 8:00 session would land on the evening before)."""
    local_start = starts_at.astimezone(tz)
    planned: list[tuple[str, datetime, bool]] = []
    for off in offsets:
        if off.at is not None:
            day = local_start.date() - timedelta(days=off.days)
            due = datetime.combine(day, off.at, tzinfo=tz)
        else:
            due = (starts_at - off.before).astimezone(tz)
        moved = False
        if quiet.contains(due.timetz().replace(tzinfo=None)):
            due, moved = quiet.before(due), True
        if due >= local_start:
            continue
        planned.append((off.name, due, moved))
    planned.sort(key=lambda p: p[1])
    kept: list[tuple[str, datetime]] = []
    for name, due, moved in planned:
        if moved and any(timedelta(0) <= due - other <= timedelta(hours=12)
                         for _, other in kept):
            continue
        if any(other == due for _, other in kept):
            continue
        kept.append((name, due))
    utc = ZoneInfo("UTC")
    return [(name, due.astimezone(utc)) for name, due in kept if due > now]


# ----------------------------------------------------------------------------- what people read

WEEKDAY_IN = (N_("weekday.in.0"), N_("weekday.in.1"), N_("weekday.in.2"), N_("weekday.in.3"),
              N_("weekday.in.4"), N_("weekday.in.5"), N_("weekday.in.6"))
MONTH_OF = (N_("month.of.1"), N_("month.of.2"), N_("month.of.3"), N_("month.of.4"),
            N_("month.of.5"), N_("month.of.6"), N_("month.of.7"), N_("month.of.8"),
            N_("month.of.9"), N_("month.of.10"), N_("month.of.11"), N_("month.of.12"))


def clock(moment: datetime, tz: ZoneInfo) -> str:
    """'3. 12. 2026 ob 9.00' without Babel: the pure layer's plain date."""
    local = moment.astimezone(tz)
    return f"{local.day}. {local.month}. {local.year} ob {local.hour}.{local.minute:02d}"


def when(starts_at: datetime, now: datetime, tz: ZoneInfo) -> Text:
    """'Jutri, v četrtek, 3. decembra, ob 9.00' — today, tomorrow, or the day. The time is the
    local wall clock as a `time`: each language writes it its own way (bot/i18n.py: "9.00" in
    Slovenian, "9:00" in English)."""
    local, today = starts_at.astimezone(tz), now.astimezone(tz).date()
    params = {"weekday": Text(WEEKDAY_IN[local.weekday()]), "day": local.day,
              "month": Text(MONTH_OF[local.month - 1]),
              "time": local.time()}
    days = (local.date() - today).days
    if days == 0:
        return Text(N_("when.today"), params)
    if days == 1:
        return Text(N_("when.tomorrow"), params)
    return Text(N_("when.other"), params)


@dataclass(frozen=True)
class Session:
    id: int
    title: str
    place: str
    starts_at: datetime
    ends_at: datetime
    cancelled: bool = False
    site: str | None = None


def reminder(session: Session, now: datetime, tz: ZoneInfo, answer: str | None = None) -> Say:
    """The reminder with Pridem / Ne morem priti (button ids 'yes' / 'no')."""
    text = Text(N_("reminder.text"), {"when": when(session.starts_at, now, tz),
                                      "title": session.title, "place": session.place})
    return Say(text, ((Button("yes", Text(N_("reminder.button.yes"))),
                       Button("no", Text(N_("reminder.button.no")))),))


def answer_reply(session: Session | None, answer: str, now: datetime) -> Text:
    if session is None or session.cancelled:
        return Text(N_("reminder.answer_cancelled"))
    if session.starts_at <= now:
        return Text(N_("reminder.answer_too_late"))
    return Text(N_("reminder.answer_yes") if answer == "yes" else N_("reminder.answer_no"))


def upcoming(sessions: list[Session], now: datetime, tz: ZoneInfo, limit: int = 10) -> Say:
    """/termini: the participant's next sessions."""
    ahead = sorted((s for s in sessions if s.ends_at > now and not s.cancelled),
                   key=lambda s: s.starts_at)[:limit]
    if not ahead:
        return Say(Text(N_("termini.none")))
    return Say(Lines((Text(N_("termini.header")),) + tuple(
        Text(N_("termini.line"), {"when": when(s.starts_at, now, tz), "title": s.title,
                                  "place": s.place}) for s in ahead)))


def change_notice(old: Existing | None, new: Session, tz: ZoneInfo, now: datetime,
                  cancelled: bool) -> Text:
    """Told to participants at once when a session moves or is cancelled."""
    if cancelled:
        return Text(N_("session.cancelled_notice"), {
            "title": new.title, "when": when(new.starts_at, now, tz)})
    return Text(N_("session.moved_notice"), {
        "title": new.title, "old": when(old.starts_at, now, tz) if old else "",
        "when": when(new.starts_at, now, tz), "place": new.place})

