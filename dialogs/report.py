"""The programme's report as plain computation: requests by site, municipality and month, the
funnel from a new request to its outcome, working hours to the first claim and the first
contact, sessions with their reminders, answers and attendance (participation in person-hours),
and the preliminary target groups with small counts hidden. No Telegram, no database, no clock:
facts, the period and the working calendar come in as arguments.

Nothing here knows a name, a phone number, a person's own words or a Telegram id: the facts it
is given hold none, and so nothing a report shows can. The target group of a request depends on
the sensitive answer; only counts of it leave this module, and a count under 3 is shown as
"<3" (see `protect`)."""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .intake import GROUP_LABEL, SITE_LABEL
from .replies import N_, Lines, Say, Text
from .workhours import WorkingHours

SITES = ("slovenj-gradec", "radlje-ob-dravi")  # in this order; other and unknown sites after
GROUPS = ("long_term_dsp", "other_inactive", "women_roma", "not_fit", "unclear")
SMALL = 3  # a target-group count under this is not shown

# how far along the way from a new request to an outcome a status is: a request that reached a
# later stage counts in every earlier one (enrolled through `korak enroll` without a claim still
# counts as claimed and contacted). Enrolled and not suitable are decided after a talk with the
# person; unreachable after a claim, without one.
STAGE = {"new": 0, "withdrawn": 0, "claimed": 1, "unreachable": 1, "contacted": 2,
         "enrolled": 3, "not_suitable": 3}
CONTACT = ("contacted", "enrolled", "not_suitable")  # a status that means they have talked
OUTCOMES = ("enrolled", "not_suitable", "unreachable", "withdrawn")
OPEN = ("new", "claimed", "contacted")


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


# ----------------------------------------------------------------------------- cells out


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @property
    def first(self) -> date:
        return date(self.year, self.month, 1)


@dataclass(frozen=True)
class Hidden:
    """A count that is not shown: "<3" (under 3, zero included), or "≥3" for a count of 3 or
    more hidden beside a small one that could otherwise be worked out from the row's total.
    The value itself is not kept."""

    label: str


LESS = Hidden(f"<{SMALL}")
MORE = Hidden(f"≥{SMALL}")

Cell = int | float | str | Text | Month | Hidden | date | datetime | None


@dataclass(frozen=True)
class Table:
    key: str  # a short name (the xlsx sheet)
    title: Text
    header: tuple[Text, ...]
    rows: tuple[tuple[Cell, ...], ...]


# ----------------------------------------------------------------------------- the report


@dataclass(frozen=True)
class Funnel:
    new: int = 0
    claimed: int = 0
    contacted: int = 0
    enrolled: int = 0
    not_suitable: int = 0
    unreachable: int = 0
    withdrawn: int = 0
    open: int = 0  # still new, claimed or contacted

    def row(self) -> tuple[int, ...]:
        return (self.new, self.claimed, self.contacted, self.enrolled, self.not_suitable,
                self.unreachable, self.withdrawn, self.open)


@dataclass(frozen=True)
class Stat:
    """Working hours: how many requests, their median and 90th percentile (None without any)."""

    count: int
    median: float | None
    p90: float | None


@dataclass(frozen=True)
class SessionLine:
    cohort: str
    site: str
    starts_at: datetime
    title: str
    hours: float
    listed: int
    reminders: int
    yes: int
    no: int
    no_answer: int
    present: int
    absent: int
    excused: int
    unmarked: int

    @property
    def person_hours(self) -> float:
        return self.hours * self.present


@dataclass(frozen=True)
class CohortLine:
    cohort: str
    site: str
    sessions: int
    listed: int
    present: int
    person_hours: float


@dataclass(frozen=True)
class Report:
    first: date
    last: date
    made_at: datetime
    sites: tuple[str, ...]  # every site in the report, "" for requests without one
    by_site: dict[str, int]
    by_municipality: tuple[tuple[str, str, int], ...]  # (site, municipality, count)
    by_month: tuple[tuple[Month, dict[str, int]], ...]
    funnel: dict[str, Funnel]
    to_claim: dict[str | None, Stat]  # by site; None: all sites
    to_contact: dict[str | None, Stat]
    sessions: tuple[SessionLine, ...]
    cohorts: tuple[CohortLine, ...]
    groups: dict[str, tuple[int | Hidden, ...]]  # by site: GROUPS in order, then the total

    @property
    def requests(self) -> int:
        return sum(self.by_site.values())

    @property
    def total_funnel(self) -> Funnel:
        rows = [f.row() for f in self.funnel.values()]
        return Funnel(*(sum(col) for col in zip(*rows))) if rows else Funnel()


def bounds(first: date, last: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The period as [start, end) instants: from the first day's midnight to the midnight after
    the last day, in local time."""
    return (datetime.combine(first, time(0), tzinfo=tz),
            datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz))


def months(first: date, last: date) -> list[Month]:
    out, y, m = [], first.year, first.month
    while (y, m) <= (last.year, last.month):
        out.append(Month(y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


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


def stat(values: list[float]) -> Stat:
    if not values:
        return Stat(0, None, None)
    return Stat(len(values), statistics.median(values), percentile(values, 0.9))


def protect(values: list[int]) -> tuple[int | Hidden, ...]:
    """A row of target-group counts as it may be shown: a count under 3 (zero too) as "<3".
    The row's total is known (it is the site's number of requests), so when the hidden counts
    could be worked out from it (a single one above zero; or several that can only be their
    maximum), the smallest count shown is hidden as well, as "≥3"."""
    out: list[int | Hidden] = [v if v >= SMALL else LESS for v in values]
    small = [v for v in values if v < SMALL]
    if small and sum(small) > (SMALL - 1) * (len(small) - 1):
        shown = [(v, i) for i, v in enumerate(values) if v >= SMALL]
        if shown:
            out[min(shown)[1]] = MORE
    return tuple(out)


def first_at(events: Iterable[Event], statuses: Iterable[str]) -> datetime | None:
    wanted = set(statuses)
    times = [e.at for e in events if e.to_status in wanted]
    return min(times) if times else None


def stage(req: RequestFacts) -> int:
    return max([STAGE.get(req.status, 0)] + [STAGE.get(e.to_status, 0) for e in req.events])


def compute(requests: list[RequestFacts], sessions: list[SessionFacts], *, first: date,
            last: date, made_at: datetime, hours: WorkingHours) -> Report:
    """The report over the requests made in the period and the sessions held in it (both
    chosen by the caller)."""
    sites = site_order([r.site for r in requests] + [s.site for s in sessions]
                       + list(SITES))
    by_site = {s: 0 for s in sites}
    by_muni: dict[tuple[str, str], int] = {}
    month_list = months(first, last)
    by_month: dict[Month, dict[str, int]] = {m: {s: 0 for s in sites} for m in month_list}
    funnels: dict[str, dict[str, int]] = {s: dict.fromkeys(Funnel.__dataclass_fields__, 0)
                                         for s in sites}
    claim_hours: dict[str | None, list[float]] = {None: []}
    contact_hours: dict[str | None, list[float]] = {None: []}
    group_counts: dict[str, dict[str, int]] = {s: dict.fromkeys(GROUPS, 0) for s in sites}
    for req in requests:
        site = req.site or ""
        by_site[site] += 1
        key = (site, req.municipality or "")
        by_muni[key] = by_muni.get(key, 0) + 1
        local = req.created_at.astimezone(hours.tz)
        month = Month(local.year, local.month)
        if month in by_month:
            by_month[month][site] += 1
        f = funnels[site]
        reached = stage(req)
        f["new"] += 1
        f["claimed"] += reached >= 1
        f["contacted"] += reached >= 2
        if req.status in OUTCOMES:
            f[req.status] += 1
        elif req.status in OPEN:
            f["open"] += 1
        group_counts[site][req.group if req.group in GROUPS else "unclear"] += 1
        claimed = first_at(req.events, ("claimed",))
        if claimed is not None:
            worked = hours.between(req.created_at, claimed)
            claim_hours.setdefault(site, []).append(worked)
            claim_hours[None].append(worked)
        talked = first_at(req.events, CONTACT)
        if talked is not None:
            worked = hours.between(req.created_at, talked)
            contact_hours.setdefault(site, []).append(worked)
            contact_hours[None].append(worked)

    lines = []
    for s in sorted(sessions, key=lambda x: (x.starts_at, x.cohort, x.id)):
        ps = s.participants
        lines.append(SessionLine(
            cohort=s.cohort, site=s.site, starts_at=s.starts_at, title=s.title,
            hours=round((s.ends_at - s.starts_at).total_seconds() / 3600, 2), listed=len(ps),
            reminders=s.reminders_sent, yes=sum(p.answer == "yes" for p in ps),
            no=sum(p.answer == "no" for p in ps),
            no_answer=sum(p.answer not in ("yes", "no") for p in ps),
            present=sum(p.presence == "present" for p in ps),
            absent=sum(p.presence == "absent" for p in ps),
            excused=sum(p.presence == "excused" for p in ps),
            unmarked=sum(p.presence not in ("present", "absent", "excused") for p in ps)))
    cohorts: dict[tuple[str, str], list[SessionLine]] = {}
    for line in lines:
        cohorts.setdefault((line.cohort, line.site), []).append(line)
    cohort_lines = tuple(CohortLine(c, site, len(ls), sum(x.listed for x in ls),
                                    sum(x.present for x in ls),
                                    round(sum(x.person_hours for x in ls), 2))
                         for (c, site), ls in sorted(cohorts.items()))

    groups = {}
    for site in sites:
        counts = group_counts[site]
        if not by_site[site]:
            continue
        groups[site] = protect([counts[g] for g in GROUPS]) + (by_site[site],)
    return Report(
        first=first, last=last, made_at=made_at, sites=sites, by_site=by_site,
        by_municipality=tuple((s, m, n) for (s, m), n in sorted(
            by_muni.items(), key=lambda kv: (sites.index(kv[0][0]), kv[0][1]))),
        by_month=tuple((m, by_month[m]) for m in month_list),
        funnel={s: Funnel(**funnels[s]) for s in sites},
        to_claim={k: stat(v) for k, v in claim_hours.items()},
        to_contact={k: stat(v) for k, v in contact_hours.items()},
        sessions=tuple(lines), cohorts=cohort_lines, groups=groups)


# ----------------------------------------------------------------------------- tables


def site_label(site: str | None) -> Text:
    return Text(SITE_LABEL.get(site or "", N_("report.site_unknown")))


FUNNEL_HEADER = (N_("report.col.new"), N_("report.col.claimed"), N_("report.col.contacted"),
                 N_("report.col.enrolled"), N_("report.col.not_suitable"),
                 N_("report.col.unreachable"), N_("report.col.withdrawn"), N_("report.col.open"))


def _h(*msgids: str) -> tuple[Text, ...]:
    return tuple(Text(m) for m in msgids)


def tables(report: Report) -> list[Table]:
    """The report as tables, in the order the CSV and the workbook show them."""
    r = report
    out = [Table("obdobje", Text(N_("report.table.period")), _h(N_("report.col.what"),
                                                                 N_("report.col.value")), (
        (Text(N_("report.row.from")), r.first),
        (Text(N_("report.row.to")), r.last),
        (Text(N_("report.row.made")), r.made_at),
        (Text(N_("report.row.note")), Text(N_("report.note.small"))),
    ))]
    site_rows = tuple((site_label(s), r.by_site[s]) for s in r.sites)
    out.append(Table("lokacije", Text(N_("report.table.by_site")),
                     _h(N_("report.col.site"), N_("report.col.requests")),
                     site_rows + ((Text(N_("report.row.total")), r.requests),)))
    out.append(Table("obcine", Text(N_("report.table.by_municipality")),
                     _h(N_("report.col.site"), N_("report.col.municipality"),
                        N_("report.col.requests")),
                     tuple((site_label(s), m or Text(N_("report.municipality_unknown")), n)
                           for s, m, n in r.by_municipality)))
    out.append(Table("meseci", Text(N_("report.table.by_month")),
                     (Text(N_("report.col.month")),) + tuple(site_label(s) for s in r.sites)
                     + (Text(N_("report.row.total")),),
                     tuple((m,) + tuple(c[s] for s in r.sites) + (sum(c.values()),)
                           for m, c in r.by_month)))
    funnel_rows = tuple((site_label(s),) + r.funnel[s].row() for s in r.sites)
    out.append(Table("lijak", Text(N_("report.table.funnel")),
                     (Text(N_("report.col.site")),) + _h(*FUNNEL_HEADER),
                     funnel_rows + ((Text(N_("report.row.total")),) + r.total_funnel.row(),)))
    hour_rows = []
    for label, stats in ((N_("report.row.to_claim"), r.to_claim),
                         (N_("report.row.to_contact"), r.to_contact)):
        for site in (*r.sites, None):
            st = stats.get(site, Stat(0, None, None))
            if site is not None and not r.by_site.get(site):
                continue
            hour_rows.append((Text(label), site_label(site) if site is not None
                              else Text(N_("report.row.total")), st.count,
                              _round(st.median), _round(st.p90)))
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
               _round(c.person_hours)) for c in r.cohorts)))
    out.append(Table("ciljne_skupine", Text(N_("report.table.groups")),
                     (Text(N_("report.col.site")),) + tuple(Text(GROUP_LABEL[g]) for g in GROUPS)
                     + (Text(N_("report.row.total")),),
                     tuple((site_label(s),) + cells for s, cells in r.groups.items())))
    return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def decimal(value: float | None) -> str:
    """3.5 → "3,5"; 4.0 → "4"; None → "—" (Slovenian decimal comma)."""
    if value is None:
        return "—"
    text = f"{value:.1f}".replace(".", ",")
    return text[:-2] if text.endswith(",0") else text


# ----------------------------------------------------------------------------- /porocilo


def summary(report: Report) -> Say:
    """The short text /porocilo posts with the chart."""
    r = report
    lines: list[Text | str] = [Text(N_("report.summary.title"), {"start": r.first,
                                                                  "end": r.last})]
    if not r.requests:
        lines.append(Text(N_("report.summary.no_requests")))
    else:
        per_site = [Text(N_("report.summary.site_count"), {"site": site_label(s),
                                                           "count": r.by_site[s]})
                    for s in r.sites if r.by_site[s]]
        lines.append(Text(N_("report.summary.requests"), {"count": r.requests,
                                                          "sites": per_site}))
        f = r.total_funnel
        lines.append(Text(N_("report.summary.funnel"), {
            "claimed": f.claimed, "contacted": f.contacted, "enrolled": f.enrolled,
            "not_suitable": f.not_suitable, "unreachable": f.unreachable, "open": f.open}))
        for msgid, none, st in ((N_("report.summary.to_claim"),
                                 N_("report.summary.to_claim_none"), r.to_claim[None]),
                                (N_("report.summary.to_contact"),
                                 N_("report.summary.to_contact_none"), r.to_contact[None])):
            lines.append(Text(msgid, {"median": decimal(st.median), "p90": decimal(st.p90),
                                      "count": st.count}) if st.count else Text(none))
    listed = sum(x.listed for x in r.sessions)
    if r.sessions:
        lines.append(Text(N_("report.summary.sessions"), {
            "sessions": len(r.sessions), "present": sum(x.present for x in r.sessions),
            "listed": listed,
            "person_hours": decimal(sum(x.person_hours for x in r.sessions))}))
    else:
        lines.append(Text(N_("report.summary.no_sessions")))
    lines.append(Text(N_("report.summary.more"), {"start": r.first.isoformat(),
                                                  "end": r.last.isoformat()}))
    return Say(Lines(tuple(lines)))


_DATE = re.compile(r"(\d{1,2})\s*\.\s*(\d{1,2})\s*\.\s*(\d{4})|(\d{4})-(\d{1,2})-(\d{1,2})")


def parse_period(text: str, today: date) -> tuple[date, date] | None:
    """/porocilo's argument: nothing or "mesec" (this month up to today), "četrtletje" (this
    quarter up to today), or two dates "1. 1. 2027 31. 3. 2027" (also "od … do …", or
    2027-01-01). None when it is none of these."""
    words = " ".join(text.casefold().split())
    if words in ("", "mesec", "ta mesec"):
        return today.replace(day=1), today
    if words in ("četrtletje", "cetrtletje", "to četrtletje", "kvartal"):
        return date(today.year, 3 * ((today.month - 1) // 3) + 1, 1), today
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
    if days[0] > days[1]:
        return None
    return days[0], days[1]
