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
MAX_SESSIONS = 5000
RECURRENCE_LIMIT = 400  # occurrences of one repeating calendar event


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


def parse_ics(data: bytes, tz: ZoneInfo) -> Parsed:
    """VEVENTs with a start and an end time. Repeating events (RRULE, EXDATE) are expanded;
    STATUS:CANCELLED marks a session as cancelled. Line numbers point at BEGIN:VEVENT."""
    from dateutil.rrule import rrulestr
    from icalendar import Calendar

    text = data.decode("utf-8-sig", errors="replace")
    lines = [i + 1 for i, raw in enumerate(text.splitlines()) if raw.strip() == "BEGIN:VEVENT"]
    try:
        cal = Calendar.from_ical(text)
    except Exception:
        return Parsed([], [_problem(1, N_("schedule.error.ics"))])
    rows: list[SessionRow] = []
    problems: list[Problem] = []
    for n, event in enumerate(cal.walk("VEVENT")):
        line = lines[n] if n < len(lines) else 1
        try:
            start = event.decoded("DTSTART")
            end = event.decoded("DTEND") if "DTEND" in event else None
            if end is None and "DURATION" in event:
                end = start + event.decoded("DURATION")
        except Exception:
            start = end = None
        if start is None or end is None:
            problems.append(_problem(line, N_("schedule.error.ics_event")))
            continue
        if not isinstance(start, datetime) or not isinstance(end, datetime):
            problems.append(_problem(line, N_("schedule.error.all_day")))
            continue
        start, end = _aware(start, tz), _aware(end, tz)
        uid = str(event.get("UID") or f"{start.date().isoformat()}|{event.get('SUMMARY', '')}")
        title = str(event.get("SUMMARY") or "")
        place = str(event.get("LOCATION") or "")
        cancelled = str(event.get("STATUS") or "").upper() == "CANCELLED"
        if "RECURRENCE-ID" in event:
            continue  # a changed single occurrence; handled below with its series
        if "RRULE" not in event:
            row = _checked(line, uid, title, place, start, end, cancelled, problems)
            if row is not None:
                rows.append(row)
            continue
        length = end - start
        rule = rrulestr(event["RRULE"].to_ical().decode(), dtstart=start.astimezone(tz)
                        .replace(tzinfo=None), forceset=True)
        for ex in _exdates(event, tz):
            rule.exdate(ex.replace(tzinfo=None))
        for k, occurrence in enumerate(rule):
            if k >= RECURRENCE_LIMIT:
                problems.append(_problem(line, N_("schedule.error.too_many"),
                                         limit=RECURRENCE_LIMIT))
                break
            begin = occurrence.replace(tzinfo=tz)  # wall clock: 9.00 stays 9.00 over DST
            row = _checked(line, f"{uid}@{begin.date().isoformat()}", title, place, begin,
                           begin + length, cancelled, problems)
            if row is not None:
                rows.append(row)
    overrides = {}
    for n, event in enumerate(cal.walk("VEVENT")):
        if "RECURRENCE-ID" in event:
            rid = _aware(event.decoded("RECURRENCE-ID"), tz)
            overrides[f"{event.get('UID')}@{rid.date().isoformat()}"] = (n, event)
    for key, (n, event) in overrides.items():
        line = lines[n] if n < len(lines) else 1
        start = _aware(event.decoded("DTSTART"), tz)
        end = _aware(event.decoded("DTEND"), tz) if "DTEND" in event else start
        rows = [r for r in rows if r.key != key]
        row = _checked(line, key, str(event.get("SUMMARY") or ""),
                       str(event.get("LOCATION") or ""), start, end,
                       str(event.get("STATUS") or "").upper() == "CANCELLED", problems)
        if row is not None:
            rows.append(row)
    return _finish(rows, problems)


def _aware(value: Any, tz: ZoneInfo) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=tz)  # floating time: local time of the programme
    return value


def _exdates(event: Any, tz: ZoneInfo) -> list[datetime]:
    out = []
    raw = event.get("EXDATE")
    for group in raw if isinstance(raw, list) else ([raw] if raw is not None else []):
        for item in group.dts:
            out.append(_aware(item.dt, tz).astimezone(tz))
    return out


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
    """What an import did, for the coordinator."""
    def when(row: SessionRow | Existing) -> str:
        return clock(row.starts_at, tz)

    lines: list[Text | str] = [Text(N_("schedule.report.header"), {"cohort": cohort})]
    for row in changes.added:
        lines.append(Text(N_("schedule.report.added"), {"title": row.title, "when": when(row)}))
    for old, row in changes.moved:
        lines.append(Text(N_("schedule.report.moved"), {
            "title": row.title, "old": when(old), "when": when(row), "place": row.place}))
    for old, row in changes.renamed:
        lines.append(Text(N_("schedule.report.renamed"), {"old": old.title, "title": row.title,
                                                          "when": when(row)}))
    for old, row in changes.restored:
        lines.append(Text(N_("schedule.report.restored"), {"title": row.title,
                                                           "when": when(row)}))
    for old in changes.cancelled:
        lines.append(Text(N_("schedule.report.cancelled"), {"title": old.title,
                                                            "when": when(old)}))
    if not changes.any:
        lines.append(Text(N_("schedule.report.nothing")))
    elif changes.unchanged:
        lines.append(Text(N_("schedule.report.unchanged"), {"count": changes.unchanged}))
    return Say(Lines(tuple(lines)))


def problems_report(problems: list[Problem], limit: int = 20) -> Say:
    lines: list[Text | str] = [Text(N_("schedule.report.rejected"), {"count": len(problems)})]
    lines += [p.text for p in problems[:limit]]
    if len(problems) > limit:
        lines.append(Text(N_("schedule.report.more_problems"), {"count": len(problems) - limit}))
    return Say(Lines(tuple(lines)))


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
    """'Jutri, v četrtek, 3. decembra, ob 9.00' — today, tomorrow, or the day."""
    local, today = starts_at.astimezone(tz), now.astimezone(tz).date()
    params = {"weekday": Text(WEEKDAY_IN[local.weekday()]), "day": local.day,
              "month": Text(MONTH_OF[local.month - 1]),
              "time": f"{local.hour}.{local.minute:02d}"}
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

