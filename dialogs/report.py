"""The programme's report as plain computation: requests by site, municipality and month, the
funnel from a new request to its outcome, working hours to the first claim and the first
contact, sessions with their reminders, answers and attendance (participation in person-hours),
and the preliminary target groups. No Telegram, no database, no clock: facts, the period, the
day and the working calendar come in as arguments.

Nothing here knows a name, a phone number, a person's own words or a Telegram id: the facts it
is given hold none, and so nothing a report shows can. The target group of a request depends on
the sensitive answer, so no report may let anyone work out a count of one or two people, alone
or together with another report. The rule, for every count of people in every table:

- A report covers a whole calendar month, quarter or year (`Period`), never any other span: two
  reports either cover the same months or one covers all the months of the other, so "January"
  and "1 January to 1 February" can no longer differ by one person.
- A count of 1 or 2 is shown as "<3"; 0 stays 0. In a row or column whose total is itself 1 or 2
  every cell is "<3", zeros too: which cell is empty would tell the group of its one or two people.
- Where a total, the rows of the same table, or the reports of the period's months and quarters
  would give a hidden count back, the smallest count of 3 or more that helps is hidden too, as
  "≥3" (complementary suppression, see `hide`). A figure worked out from a hidden count (hours
  from its requests, person-hours from those present) is hidden as well, as "*".
- A closed month (its last day is past) is counted once and kept as it was then (`Figures`, as
  JSON in storage); a quarter and a year are the sum of their months' kept figures, and hidden
  so that they cannot be taken apart with their months' and quarters' reports. So a later
  erasure, or a claim on an old request, changes no closed period by exactly one person: a
  quarter computed after an erasure from live data would have differed from the sum of its
  months, computed before, by that person and her group. And because a quarter is always the sum
  of its months, a quarter minus two of its months is the third month, which was already hidden
  as it had to be; what a quarter adds (its totals over three months) is hidden where it would
  give back a month's hidden count.
- The month still running is counted live, and its figures change from day to day: the target
  groups are shown only once the period has closed, so that two reports a day apart cannot tell
  the group of the one request made in between."""

from __future__ import annotations

import math
import re
import statistics
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .intake import GROUP_LABEL, SITE_LABEL
from .replies import N_, Lines, Say, Text
from .workhours import WorkingHours

SITES = ("slovenj-gradec", "radlje-ob-dravi")  # in this order; other and unknown sites after
GROUPS = ("long_term_dsp", "other_inactive", "women_roma", "not_fit", "unclear")
SMALL = 3  # a count of people under this is not shown

# how far along the way from a new request to an outcome a status is: a request that reached a
# later stage counts in every earlier one (enrolled through `korak enroll` without a claim still
# counts as claimed and contacted). Enrolled and not suitable are decided after a talk with the
# person; unreachable after a claim, without one.
STAGE = {"new": 0, "withdrawn": 0, "claimed": 1, "unreachable": 1, "contacted": 2,
         "enrolled": 3, "not_suitable": 3}
CONTACT = ("contacted", "enrolled", "not_suitable")  # a status that means they have talked
OUTCOMES = ("enrolled", "not_suitable", "unreachable", "withdrawn")
ENDS = OUTCOMES + ("open",)  # where each request stands: they add up to the new ones
STAGES = ("claimed", "contacted") + ENDS  # the funnel's columns after "new"
WAITS = ("claim", "contact")
PEOPLE = ("listed", "yes", "no", "no_answer", "present", "absent", "excused", "unmarked")


# ----------------------------------------------------------------------------- facts in


@dataclass(frozen=True)
class Event:
    """A row of a request's history: what was done and the status it led to."""

    action: str
    to_status: str
    at: datetime


@dataclass(frozen=True)
class RequestFacts:
    id: int
    site: str | None
    municipality: str | None
    status: str
    created_at: datetime
    group: str  # the preliminary target group (dialogs.intake.preliminary_group)
    events: tuple[Event, ...] = ()


@dataclass(frozen=True)
class Participant:
    """One person on a session's list (dialogs.attendance.on_list), without who they are."""

    answer: str | None = None  # to the reminder: yes | no
    presence: str | None = None  # present | absent | excused


@dataclass(frozen=True)
class SessionFacts:
    id: int
    cohort: str
    site: str
    title: str
    starts_at: datetime
    ends_at: datetime
    reminders_sent: int
    participants: tuple[Participant, ...] = ()


# ----------------------------------------------------------------------------- periods

_PERIOD = re.compile(r"(\d{4})(?:-(?:(\d{1,2})|[qQ]([1-4])))?")
SPAN = {"month": 1, "quarter": 3, "year": 12}


@dataclass(frozen=True)
class Period:
    """A whole calendar month (2027-01), quarter (2027-Q1) or year (2027): the only spans a
    report covers."""

    year: int
    kind: str = "year"  # month | quarter | year
    number: int = 1  # the month or the quarter; 1 for a year

    @property
    def first(self) -> date:
        return date(self.year, 1 + (self.number - 1) * SPAN[self.kind], 1)

    @property
    def last(self) -> date:
        after = self.first.month - 1 + SPAN[self.kind]
        return date(self.year + after // 12, after % 12 + 1, 1) - timedelta(days=1)

    @property
    def key(self) -> str:
        if self.kind == "month":
            return f"{self.year}-{self.number:02d}"
        return f"{self.year}-Q{self.number}" if self.kind == "quarter" else str(self.year)

    def months(self) -> list[Period]:
        return [Period(self.year, "month", self.first.month + i) for i in range(SPAN[self.kind])]

    def partitions(self) -> list[list[Period]]:
        """The ways the period splits into shorter ones: a quarter into its months, a year
        into its quarters and into its months."""
        if self.kind == "month":
            return []
        quarters = [[Period(self.year, "quarter", q) for q in range(1, 5)]]
        return (quarters if self.kind == "year" else []) + [self.months()]

    def closed(self, today: date) -> bool:
        return self.last < today

    @classmethod
    def of(cls, day: date, kind: str) -> Period:
        """The month, quarter or year a day is in."""
        return cls(day.year, kind, 1 + (day.month - 1) // SPAN[kind])

    @classmethod
    def parse(cls, text: str) -> Period | None:
        """"2027-01" (also 2027-1), "2027-Q1" or "2027"; None for anything else."""
        found = _PERIOD.fullmatch(text.strip())
        if found is None:
            return None
        year, month, quarter = found.groups()
        if month is not None:
            return cls(int(year), "month", int(month)) if 1 <= int(month) <= 12 else None
        return cls(int(year), "quarter", int(quarter)) if quarter else cls(int(year))

    @classmethod
    def spanning(cls, first: date, last: date) -> Period | None:
        """The month, quarter or year that is exactly `first` to `last`, or None."""
        for kind in SPAN:
            period = cls.of(first, kind)
            if (period.first, period.last) == (first, last):
                return period
        return None


def bounds(first: date, last: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The days as [start, end) instants: from the first day's midnight to the midnight after
    the last day, in local time."""
    return (datetime.combine(first, time(0), tzinfo=tz),
            datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz))


# ----------------------------------------------------------------------------- hiding

Key = tuple  # a count's name: the period's key, then what it counts
Line = tuple[tuple[Key, ...], Key]  # counts, and the total they add up to


@dataclass(frozen=True)
class Hidden:
    """A figure that is not shown: "<3" (1 or 2 people, or a 0 in a row of one or two), "≥3"
    for a count of 3 or more hidden beside a small one that could otherwise be worked out, "*"
    for a figure worked out from a hidden count. The value itself is not kept."""

    label: str

    def __str__(self) -> str:
        return self.label


LESS = Hidden(f"<{SMALL}")
MORE = Hidden(f"≥{SMALL}")
DERIVED = Hidden("*")

Count = int | Hidden


def hide(values: Mapping[Key, int], lines: Iterable[Line],
         published: Mapping[Key, Count] | None = None) -> dict[Key, Count]:
    """Every count as it may be shown. `lines` say which counts add up to which total;
    `published` are counts of other reports already shown as they are (they are not hidden
    again; what they give away is taken into account).

    A count of 1 or 2 is "<3"; every cell of a line whose total is "<3" is too. Then, as long as
    what is shown pins a "<3" to one value (worked out by narrowing each count's possible range
    through every line, as anyone with the reports could), a count of 3 or more near it is
    hidden as "≥3" (`_helper`)."""
    lines = list(lines)
    given = dict(published or {})
    cells: dict[Key, Count] = {k: given.get(k, LESS if 0 < v < SMALL else v)
                               for k, v in values.items()}
    touching: dict[Key, list[int]] = {k: [] for k in cells}
    for i, (parts, total) in enumerate(lines):
        for k in (*parts, total):
            touching[k].append(i)
    loose = set()  # cells that may be 0 though shown "<3"
    for parts, total in lines:
        if cells[total] is LESS:
            loose.update(parts)
            cells.update({p: LESS for p in parts if p not in given})
    ranges = _Ranges(lines, touching, loose)
    while True:
        low, high = ranges(cells)
        pinned = [k for k, c in cells.items() if c is LESS and low[k] == high[k]]
        for k in pinned:
            helper = _helper(k, values, cells, ranges, given)
            if helper is not None:
                cells[helper] = MORE
                break
        else:
            return cells


def _helper(pinned: Key, values: Mapping[Key, int], cells: dict[Key, Count],
            ranges: _Ranges, given: Mapping[Key, Count]) -> Key | None:
    """The count to hide beside a pinned one: of the counts of 3 or more in its lines (then in
    the lines of the hidden counts in those, and so on), the smallest whose hiding frees it,
    or else the smallest. None when there is none left to hide."""
    reached, seen = {pinned}, set()
    while True:
        near = {i for k in reached for i in ranges.touching[k]} - seen
        if not near:
            return None
        seen |= near
        keys = list(dict.fromkeys(k for i in sorted(near) for k in (*ranges.lines[i][0],
                                                                    ranges.lines[i][1])))
        found = sorted((k for k in keys if k not in given and isinstance(cells[k], int)
                        and cells[k] >= SMALL), key=values.get)
        for k in found:
            low, high = ranges({**cells, k: MORE})
            if low[pinned] < high[pinned]:
                return k
        if found:
            return found[0]
        reached |= {k for k in keys if isinstance(cells[k], Hidden)}


class _Ranges:
    """The smallest and largest value each count can have, given what is shown: every line
    narrows its counts from the others' ranges, again while any range of it narrows."""

    def __init__(self, lines: list[Line], touching: Mapping[Key, list[int]], loose: set):
        self.lines, self.touching, self.loose = lines, touching, loose

    def __call__(self, cells: Mapping[Key, Count]) -> tuple[dict[Key, float], dict[Key, float]]:
        low: dict[Key, float] = {}
        high: dict[Key, float] = {}
        for k, c in cells.items():
            if c is LESS:
                low[k], high[k] = (0 if k in self.loose else 1), SMALL - 1
            elif c is MORE:
                low[k], high[k] = SMALL, math.inf
            else:
                low[k] = high[k] = c
        waiting = deque(range(len(self.lines)))
        queued = set(waiting)
        while waiting:
            i = waiting.popleft()
            queued.discard(i)
            parts, total = self.lines[i]
            terms = [(p, 1) for p in parts] + [(total, -1)]  # Σ sign·count = 0
            least = [low[x] if s > 0 else -high[x] for x, s in terms]
            most = [high[x] if s > 0 else -low[x] for x, s in terms]
            least_sum, least_open = _finite_sum(least)
            most_sum, most_open = _finite_sum(most)
            for (k, sign), a, b in zip(terms, least, most):
                rest_least = (-math.inf if least_open - math.isinf(a) else
                              least_sum - (0 if math.isinf(a) else a))
                rest_most = (math.inf if most_open - math.isinf(b) else
                             most_sum - (0 if math.isinf(b) else b))
                lo, hi = (-rest_most, -rest_least) if sign > 0 else (rest_least, rest_most)
                if lo > low[k] or hi < high[k]:
                    low[k], high[k] = max(low[k], lo), min(high[k], hi)
                    for j in self.touching[k]:
                        if j not in queued:
                            waiting.append(j)
                            queued.add(j)
        return low, high


def _finite_sum(values: list[float]) -> tuple[float, int]:
    """The sum of the finite values, and how many are infinite."""
    return sum(v for v in values if not math.isinf(v)), sum(map(math.isinf, values))


# ----------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class SessionLine:
    """A session's figures: exact in `Figures`, as they may be shown in a `Report`."""

    id: int
    cohort: str
    site: str
    starts_at: datetime
    title: str
    hours: float
    reminders: int  # messages, not people
    listed: Count
    yes: Count
    no: Count
    no_answer: Count
    present: Count
    absent: Count
    excused: Count
    unmarked: Count
    person_hours: float | Hidden


@dataclass(frozen=True)
class Figures:
    """The exact figures of one or more months: counts by name (("site", site), ("muni", site,
    municipality), ("month", "2027-01", site), ("stage", site, stage), ("group", site, group)),
    the working hours each request waited for its first claim and contact by site, without
    dates or ids, and the sessions. What a closed month keeps; months add up to a quarter or a
    year."""

    counts: dict[tuple[str, ...], int] = field(default_factory=dict)
    waits: dict[tuple[str, str], tuple[float, ...]] = field(default_factory=dict)
    sessions: tuple[SessionLine, ...] = ()

    def __add__(self, other: Figures) -> Figures:
        counts = dict(self.counts)
        for k, n in other.counts.items():
            counts[k] = counts.get(k, 0) + n
        waits = dict(self.waits)
        for k, hours in other.waits.items():
            waits[k] = waits.get(k, ()) + hours
        return Figures(counts, waits, self.sessions + other.sessions)

    def to_json(self) -> dict:
        return {"counts": [[list(k), n] for k, n in self.counts.items()],
                "waits": [[list(k), list(v)] for k, v in self.waits.items()],
                "sessions": [{**asdict(x), "starts_at": x.starts_at.isoformat()}
                             for x in self.sessions]}

    @classmethod
    def from_json(cls, data: dict) -> Figures:
        return cls({tuple(k): n for k, n in data["counts"]},
                   {tuple(k): tuple(v) for k, v in data["waits"]},
                   tuple(SessionLine(**{**x, "starts_at": datetime.fromisoformat(x["starts_at"])})
                         for x in data["sessions"]))


def site_order(sites: Iterable[str | None]) -> tuple[str, ...]:
    seen = {s or "" for s in sites}
    known = [s for s in SITES if s in seen]
    other = sorted(s for s in seen if s and s not in SITES)
    return tuple(known + other + ([""] if "" in seen else []))


def percentile(values: list[float], share: float) -> float | None:
    """Nearest rank: the smallest value with at least `share` of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def first_at(events: Iterable[Event], statuses: Iterable[str]) -> datetime | None:
    wanted = set(statuses)
    times = [e.at for e in events if e.to_status in wanted]
    return min(times) if times else None


def stage(req: RequestFacts) -> int:
    return max([STAGE.get(req.status, 0)] + [STAGE.get(e.to_status, 0) for e in req.events])


def count(requests: list[RequestFacts], sessions: list[SessionFacts], *,
          hours: WorkingHours) -> Figures:
    """The figures of the requests made and the sessions held in a month (both chosen by the
    caller). A request counts in every stage up to the furthest it reached, and ends either in
    an outcome or open."""
    counts: dict[tuple[str, ...], int] = {}
    waits: dict[tuple[str, str], tuple[float, ...]] = {}

    def add(*key: str) -> None:
        counts[key] = counts.get(key, 0) + 1

    for req in requests:
        site = req.site or ""
        add("site", site)
        add("muni", site, req.municipality or "")
        add("month", Period.of(req.created_at.astimezone(hours.tz).date(), "month").key, site)
        reached = stage(req)
        for name, at_least in (("claimed", 1), ("contacted", 2)):
            if reached >= at_least:
                add("stage", site, name)
        add("stage", site, req.status if req.status in OUTCOMES else "open")
        add("group", site, req.group if req.group in GROUPS else "unclear")
        # only what happened is measured: a first contact counts after a claim, so a request
        # enrolled without one (`korak enroll`) is no "first contact after 0 h"
        claimed = first_at(req.events, ("claimed",))
        contact = first_at(req.events, CONTACT)
        if contact is not None and (claimed is None or contact < claimed):
            contact = None
        for kind, at in zip(WAITS, (claimed, contact)):
            if at is not None:
                waits[(kind, site)] = waits.get((kind, site), ()) + (
                    hours.between(req.created_at, at),)
    lines = []
    for s in sorted(sessions, key=lambda x: (x.starts_at, x.cohort, x.id)):
        ps = s.participants
        length = round((s.ends_at - s.starts_at).total_seconds() / 3600, 2)
        present = sum(p.presence == "present" for p in ps)
        lines.append(SessionLine(
            id=s.id, cohort=s.cohort, site=s.site, starts_at=s.starts_at, title=s.title,
            hours=length, reminders=s.reminders_sent, listed=len(ps),
            yes=sum(p.answer == "yes" for p in ps), no=sum(p.answer == "no" for p in ps),
            no_answer=sum(p.answer not in ("yes", "no") for p in ps), present=present,
            absent=sum(p.presence == "absent" for p in ps),
            excused=sum(p.presence == "excused" for p in ps),
            unmarked=sum(p.presence not in ("present", "absent", "excused") for p in ps),
            person_hours=round(length * present, 2)))
    return Figures(counts, waits, tuple(lines))


# ----------------------------------------------------------------------------- the report


@dataclass(frozen=True)
class Stat:
    """Working hours: how many requests, their median and 90th percentile (None without any)."""

    count: Count
    median: float | Hidden | None
    p90: float | Hidden | None


@dataclass(frozen=True)
class CohortLine:
    cohort: str
    site: str
    sessions: int
    listed: Count
    present: Count
    person_hours: float | Hidden


@dataclass(frozen=True)
class Report:
    """A period's report as it may be shown: every count of people hidden by the rule."""

    period: Period
    closed: bool  # its last day is past: its figures are kept and the target groups shown
    made_at: datetime  # when its months were counted (the latest), or now for an open one
    sites: tuple[str, ...]  # every site in the report, "" for requests without one
    requests: Count
    by_site: dict[str, Count]
    by_municipality: tuple[tuple[str, str, Count], ...]  # (site, municipality, count)
    by_month: tuple[tuple[Period, dict[str, Count], Count], ...]  # by site, then the total
    funnel: dict[str | None, tuple[Count, ...]]  # by site, None: all; "new", then STAGES
    waits: dict[tuple[str, str | None], Stat]  # (WAITS, site); None: all sites
    sessions: tuple[SessionLine, ...]
    cohorts: tuple[CohortLine, ...]
    attendance: tuple[Count, Count, float | Hidden]  # present, listed, person-hours in all
    groups: dict[str, tuple[Count, ...]]  # by site: GROUPS in order, then the total

    @property
    def first(self) -> date:
        return self.period.first

    @property
    def last(self) -> date:
        return self.period.last


def _problem(period: Period, figures: Figures) -> tuple[dict[Key, int], list[Line]]:
    """Every count of a period's report by name and how they add up. A count is named by its
    period's key first; a month's requests by site and a session's counts are named by their
    month and their session alone, so that a quarter's rows of them are its months' very counts
    (kept from hiding twice, and hidden alike)."""
    f, p = figures, period.key
    sites = _sites(f)
    months = [m.key for m in period.months()]
    values: dict[Key, int] = {}
    lines: list[Line] = []

    def adds_up(parts: Iterable[Key], total: Key) -> None:
        parts = tuple(parts)
        values[total] = sum(values[x] for x in parts)
        lines.append((parts, total))

    for (kind, *rest), n in f.counts.items():
        if kind == "month":
            values[(rest[0], "site", rest[1])] = n
        elif kind != "site":
            values[(p, kind, *rest)] = n
    for s in sites:
        for m in months:
            values.setdefault((m, "site", s), 0)
        for kind, names in (("stage", STAGES), ("group", GROUPS)):
            for name in names:
                values.setdefault((p, kind, s, name), 0)
        for kind in WAITS:
            values[(p, "wait", kind, s)] = len(f.waits.get((kind, s), ()))
    if len(months) > 1:
        for m in months:
            adds_up([(m, "site", s) for s in sites], (m, "all"))
        for s in sites:
            adds_up([(m, "site", s) for m in months], (p, "site", s))
        adds_up([(m, "all") for m in months], (p, "all"))
    for s in sites:
        adds_up([k for k in values if k[:3] == (p, "muni", s)], (p, "site", s))
        adds_up([(p, "stage", s, e) for e in ENDS], (p, "site", s))
        adds_up([(p, "group", s, g) for g in GROUPS], (p, "site", s))
    adds_up([(p, "site", s) for s in sites], (p, "all"))
    for name in STAGES:
        adds_up([(p, "stage", s, name) for s in sites], (p, "stage", name))
    for kind in WAITS:
        adds_up([(p, "wait", kind, s) for s in sites], (p, "wait", kind))
    for x in f.sessions:
        for name in PEOPLE:
            values[("session", x.id, name)] = getattr(x, name)
        for shares in (("yes", "no", "no_answer"), ("present", "absent", "excused", "unmarked")):
            adds_up([("session", x.id, a) for a in shares], ("session", x.id, "listed"))
    cohorts = _cohorts(f)
    for name in ("listed", "present"):
        for (cohort, site), xs in cohorts.items():
            adds_up([("session", x.id, name) for x in xs], (p, "cohort", cohort, site, name))
        adds_up([(p, "cohort", c, s, name) for c, s in cohorts], (p, "attendance", name))
    return values, lines


def _sites(f: Figures) -> tuple[str, ...]:
    return site_order([k[1] for k in f.counts if k[0] == "site"]
                      + [x.site for x in f.sessions] + list(SITES))


def _cohorts(f: Figures) -> dict[tuple[str, str], list[SessionLine]]:
    out: dict[tuple[str, str], list[SessionLine]] = {}
    for x in f.sessions:
        out.setdefault((x.cohort, x.site), []).append(x)
    return dict(sorted(out.items()))


def _figures(period: Period, months: Mapping[Period, Figures]) -> Figures:
    return sum((months.get(m, Figures()) for m in period.months()), Figures())


def _tied(period: Period, months: Mapping[Period, Figures], today: date
          ) -> tuple[dict[Key, int], list[Line]]:
    """A period's counts and lines; for a closed quarter or year with those of its months and
    quarters too, tied to them by its counts being their sums."""
    values, lines = _problem(period, _figures(period, months))
    if not period.closed(today):
        return values, lines
    own = [k for k in values if k[0] == period.key]
    for parts in period.partitions():
        for part in parts:
            part_values, part_lines = _tied(part, months, today)
            values.update(part_values)
            lines += part_lines
        for key in own:  # a count a part lacks is 0 there, and adds nothing
            lines.append((tuple(k for part in parts if (k := (part.key, *key[1:])) in values),
                          key))
    return values, lines


def _shown(period: Period, months: Mapping[Period, Figures], today: date) -> dict[Key, Count]:
    """The counts of a period as shown. A closed quarter or year is hidden together with its
    months' and quarters' reports as they are shown (worked out here again, the same way, from
    the same kept months), so that no difference between them gives a hidden count back."""
    values, lines = _tied(period, months, today)
    published: dict[Key, Count] = {}
    if period.closed(today):
        for parts in period.partitions():
            for part in parts:
                published.update(_shown(part, months, today))
    return hide(values, dict.fromkeys(lines), published)


def _stat(hours: list[float], shown: Count) -> Stat:
    if shown is LESS:
        return Stat(shown, DERIVED, DERIVED)
    median = statistics.median(hours) if hours else None
    return Stat(shown, median, percentile(hours, 0.9))


def report(period: Period, months: Mapping[Period, Figures], *, today: date,
           made_at: datetime) -> Report:
    """The report of a period from the figures of its months (those begun by `today`)."""
    f = _figures(period, months)
    cells = _shown(period, months, today)
    p = period.key

    def c(*key: object) -> Count:
        return cells[(p, *key)]

    sites = _sites(f)
    closed = period.closed(today)
    waits = {}
    for kind in WAITS:
        for s in sites:
            waits[(kind, s)] = _stat(list(f.waits.get((kind, s), ())), c("wait", kind, s))
        waits[(kind, None)] = _stat([h for s in sites for h in f.waits.get((kind, s), ())],
                                    c("wait", kind))
    sessions = tuple(replace(x, **{n: cells[("session", x.id, n)] for n in PEOPLE},
                             person_hours=x.person_hours if isinstance(
                                 cells[("session", x.id, "present")], int) else DERIVED)
                     for x in f.sessions)
    cohorts = []
    for (cohort, site), xs in _cohorts(f).items():
        shown = [x for x in sessions if (x.cohort, x.site) == (cohort, site)]
        cohorts.append(CohortLine(cohort, site, len(xs), c("cohort", cohort, site, "listed"),
                                  c("cohort", cohort, site, "present"),
                                  _sum_hours([x.person_hours for x in shown])))
    return Report(
        period=period, closed=closed, made_at=made_at, sites=sites, requests=c("all"),
        by_site={s: c("site", s) for s in sites},
        by_municipality=tuple((k[2], k[3], cells[k]) for k in sorted(
            (k for k in cells if k[0] == p and k[1] == "muni"),
            key=lambda k: (sites.index(k[2]), k[3]))),
        by_month=tuple((m, {s: cells[(m.key, "site", s)] for s in sites},
                        cells[(m.key, "all")]) for m in period.months()),
        funnel={**{s: (c("site", s),) + tuple(c("stage", s, n) for n in STAGES)
                   for s in sites},
                None: (c("all"),) + tuple(c("stage", n) for n in STAGES)},
        waits=waits, sessions=sessions, cohorts=tuple(cohorts),
        attendance=(c("attendance", "present"), c("attendance", "listed"),
                    _sum_hours([x.person_hours for x in sessions])),
        groups={s: tuple(c("group", s, g) for g in GROUPS) + (c("site", s),)
                for s in sites if closed and f.counts.get(("site", s))})


def _sum_hours(hours: list[float | Hidden]) -> float | Hidden:
    """Person-hours added up; hidden when any of them is (the sum would give it back)."""
    if any(isinstance(h, Hidden) for h in hours):
        return DERIVED
    return round(sum(hours), 2)


# ----------------------------------------------------------------------------- tables


Cell = int | float | str | Text | Period | Hidden | date | datetime | None


@dataclass(frozen=True)
class Table:
    key: str  # a short name (the xlsx sheet)
    title: Text
    header: tuple[Text, ...]
    rows: tuple[tuple[Cell, ...], ...]



def site_label(site: str | None) -> Text:
    if not site:  # requests made without a place, until a coordinator chooses their site
        return Text(N_("report.site_none"))
    return Text(SITE_LABEL.get(site, N_("report.site_unknown")))


FUNNEL_HEADER = (N_("report.col.new"), N_("report.col.claimed"), N_("report.col.contacted"),
                 N_("report.col.enrolled"), N_("report.col.not_suitable"),
                 N_("report.col.unreachable"), N_("report.col.withdrawn"), N_("report.col.open"))


def _h(*msgids: str) -> tuple[Text, ...]:
    return tuple(Text(m) for m in msgids)


def tables(report: Report, notes: tuple[tuple[Cell, Cell], ...] = ()) -> list[Table]:
    """The report as tables, in the order the CSV and the workbook show them; `notes` (what
    the file says beside its figures: where they come from, the co-financing) end the first."""
    r = report
    total = Text(N_("report.row.total"))
    note = Text(N_("report.row.note"))
    out = [Table("obdobje", Text(N_("report.table.period")), _h(N_("report.col.what"),
                                                                 N_("report.col.value")), (
        (Text(N_("report.row.from")), r.first),
        (Text(N_("report.row.to")), r.last),
        (Text(N_("report.row.made")), r.made_at),
        (note, Text(N_("report.note.small"))),
    ) + (() if r.closed else ((note, Text(N_("report.note.open"))),)) + tuple(notes))]
    site_rows = tuple((site_label(s), r.by_site[s]) for s in r.sites)
    out.append(Table("lokacije", Text(N_("report.table.by_site")),
                     _h(N_("report.col.site"), N_("report.col.requests")),
                     site_rows + ((total, r.requests),)))
    out.append(Table("obcine", Text(N_("report.table.by_municipality")),
                     _h(N_("report.col.site"), N_("report.col.municipality"),
                        N_("report.col.requests")),
                     tuple((site_label(s), m or Text(N_("report.municipality_unknown")), n)
                           for s, m, n in r.by_municipality)))
    out.append(Table("meseci", Text(N_("report.table.by_month")),
                     (Text(N_("report.col.month")),) + tuple(site_label(s) for s in r.sites)
                     + (total,),
                     tuple((m,) + tuple(c[s] for s in r.sites) + (n,) for m, c, n in r.by_month)))
    out.append(Table("lijak", Text(N_("report.table.funnel")),
                     (Text(N_("report.col.site")),) + _h(*FUNNEL_HEADER),
                     tuple((site_label(s) if s is not None else total,) + row
                           for s, row in r.funnel.items())))
    hour_rows = []
    for label, kind in ((N_("report.row.to_claim"), "claim"),
                        (N_("report.row.to_contact"), "contact")):
        for site in (*r.sites, None):
            if site is not None and not r.by_site[site]:
                continue
            st = r.waits[(kind, site)]
            hour_rows.append((Text(label), site_label(site) if site is not None else total,
                              st.count, _measured(st.median), _measured(st.p90)))
    out.append(Table("delovne_ure", Text(N_("report.table.hours")),
                     _h(N_("report.col.measure"), N_("report.col.site"),
                        N_("report.col.requests"), N_("report.col.median"),
                        N_("report.col.p90")), tuple(hour_rows)))
    out.append(Table("srecanja", Text(N_("report.table.sessions")), _h(
        N_("report.col.cohort"), N_("report.col.site"), N_("report.col.when"),
        N_("report.col.session"), N_("report.col.hours"), N_("report.col.listed"),
        N_("report.col.reminders"), N_("report.col.yes"), N_("report.col.no"),
        N_("report.col.no_answer"), N_("report.col.present"), N_("report.col.absent"),
        N_("report.col.excused"), N_("report.col.unmarked"), N_("report.col.person_hours")),
        tuple((x.cohort, site_label(x.site), x.starts_at, x.title, x.hours, x.listed,
               x.reminders, x.yes, x.no, x.no_answer, x.present, x.absent, x.excused,
               x.unmarked, _round(x.person_hours)) for x in r.sessions)))
    out.append(Table("skupine", Text(N_("report.table.cohorts")), _h(
        N_("report.col.cohort"), N_("report.col.site"), N_("report.col.sessions"),
        N_("report.col.listed_total"), N_("report.col.present_total"),
        N_("report.col.person_hours")),
        tuple((c.cohort, site_label(c.site), c.sessions, c.listed, c.present,
               _round(c.person_hours)) for c in r.cohorts)
        + (((total, "", len(r.sessions), r.attendance[1], r.attendance[0],
             _round(r.attendance[2])),) if r.cohorts else ())))
    out.append(Table("ciljne_skupine", Text(N_("report.table.groups")),
                     (Text(N_("report.col.site")),) + tuple(Text(GROUP_LABEL[g]) for g in GROUPS)
                     + (total,),
                     tuple((site_label(s),) + cells for s, cells in r.groups.items())))
    return out


def _round(value: float | Hidden | None) -> float | Hidden | None:
    return round(value, 1) if isinstance(value, float) else value


def _measured(value: float | Hidden | None) -> float | Hidden | str:
    """Hours in a table: "—" where nothing was measured (an empty cell looks like a gap)."""
    return decimal(None) if value is None else _round(value)


def decimal(value: float | Hidden | None) -> str:
    """3.5 → "3,5"; 4.0 → "4"; None → "—" (Slovenian decimal comma); a hidden one by its
    mark."""
    if value is None:
        return "—"
    if isinstance(value, Hidden):
        return value.label
    text = f"{value:.1f}".replace(".", ",")
    return text[:-2] if text.endswith(",0") else text


# ----------------------------------------------------------------------------- /porocilo


def summary(report: Report) -> Say:
    """The short text /porocilo posts with the chart."""
    r = report
    lines: list[Text | str] = [Text(N_("report.summary.title"), {"start": r.first,
                                                                  "end": r.last})]
    if not r.closed:
        lines.append(Text(N_("report.summary.open")))
    if not r.requests:
        lines.append(Text(N_("report.summary.no_requests")))
    else:
        per_site = [Text(N_("report.summary.site_count"), {"site": site_label(s),
                                                           "count": r.by_site[s]})
                    for s in r.sites if r.by_site[s]]
        lines.append(Text(N_("report.summary.requests"), {"count": r.requests,
                                                          "sites": per_site}))
        f = dict(zip(("new",) + STAGES, r.funnel[None]))
        lines.append(Text(N_("report.summary.funnel"), {
            k: f[k] for k in ("claimed", "contacted", "enrolled", "not_suitable",
                              "unreachable", "open")}))
        for kind, msgid, none in (("claim", N_("report.summary.to_claim"),
                                   N_("report.summary.to_claim_none")),
                                  ("contact", N_("report.summary.to_contact"),
                                   N_("report.summary.to_contact_none"))):
            st = r.waits[(kind, None)]
            lines.append(Text(msgid, {"median": decimal(st.median), "p90": decimal(st.p90),
                                      "count": st.count}) if st.count else Text(none))
    if r.sessions:
        present, listed, person_hours = r.attendance
        lines.append(Text(N_("report.summary.sessions"), {
            "sessions": len(r.sessions), "present": present, "listed": listed,
            "person_hours": decimal(person_hours)}))
    else:
        lines.append(Text(N_("report.summary.no_sessions")))
    lines.append(Text(N_("report.summary.more"), {"period": r.period.key}))
    return Say(Lines(tuple(lines)))


_DATE = re.compile(r"(\d{1,2})\s*\.\s*(\d{1,2})\s*\.\s*(\d{4})|(\d{4})-(\d{1,2})-(\d{1,2})")
NOW = {"month": ("", "mesec", "ta mesec"),
       "quarter": ("četrtletje", "cetrtletje", "to četrtletje", "kvartal"),
       "year": ("leto", "letos", "to leto")}


def parse_period(text: str, today: date) -> Period | None:
    """/porocilo's argument: nothing or "mesec" (this month), "četrtletje" (this quarter),
    "leto" (this year); a month, quarter or year as 2027-01, 2027-Q1, 2027; or two dates that
    are exactly one of them, "1. 1. 2027 31. 3. 2027" (also "od … do …", or 2027-01-01). None
    for anything else."""
    words = " ".join(text.casefold().split())
    for kind, names in NOW.items():
        if words in names:
            return Period.of(today, kind)
    if (period := Period.parse(words)) is not None:
        return period
    found = _DATE.findall(words)
    rest = _DATE.sub(" ", words).replace("od", " ").replace("do", " ").replace("–", " ") \
        .replace("-", " ")
    if len(found) != 2 or rest.strip():
        return None
    try:
        days = [date(int(d[2]), int(d[1]), int(d[0])) if d[0] else
                date(int(d[3]), int(d[4]), int(d[5])) for d in found]
    except ValueError:
        return None
    return Period.spanning(*days)
