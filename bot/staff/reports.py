"""The programme's report: gathered from storage (storage/report.py), computed in
dialogs/report.py, and rendered here as CSV (UTF-8 with BOM and `;`, as Slovenian Excel opens
it), an Excel workbook (openpyxl) and a PNG chart (matplotlib, Agg, its own DejaVu fonts;
nothing is downloaded). `korak report` writes one of them; /porocilo posts the text summary and
the chart."""

from __future__ import annotations

import asyncio
import csv
import io
import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date

from dialogs import attendance as att
from dialogs import report as rep
from dialogs.intake import preliminary_group
from storage import report as store
from storage.crypto import Sealer
from storage.db import Database

from bot.config import Settings
from bot.i18n import Texts
from bot.staff.handoff import working_hours

log = logging.getLogger("korak.report")

FORMATS = ("csv", "xlsx", "png")


class ReportService:
    def __init__(self, db: Database, settings: Settings, sealer: Sealer | None,
                 clock: Callable[[], datetime]) -> None:
        self.db, self.settings, self.sealer, self.clock = db, settings, sealer, clock
        self.tz = ZoneInfo(settings.timezone)

    def today(self) -> date:
        return self.clock().astimezone(self.tz).date()

    async def build(self, period: rep.Period) -> rep.Report:
        """The report of a whole month, quarter or year: each closed month as it was counted
        the first time it was asked for after it ended (and kept), the month still running as
        it is now, months not begun yet as nothing."""
        now = self.clock()
        today = now.astimezone(self.tz).date()
        months: dict[rep.Period, rep.Figures] = {}
        counted: list[datetime] = []
        for month in period.months():
            if month.first > today:
                break
            if month.closed(today):
                months[month], at = await self._kept(month, now)
                counted.append(at)
            else:
                async with self.db.transaction() as s:
                    months[month] = await self._count(s, month, now)
                counted.append(now)
        # hiding a year's counts together with its months' and quarters' takes a while: off
        # the event loop
        return await asyncio.to_thread(rep.report, period, months, today=today,
                                       made_at=max(counted, default=now))

    async def keep_closed(self) -> None:
        """The month that ended last, counted and kept now if no report has asked for it yet:
        from the daily run, before retention erases anything, so an erasure after the month
        closed never moves its figures."""
        first = self.today().replace(day=1)
        await self._kept(rep.Period.of(first - timedelta(days=1), "month"), self.clock())

    async def _kept(self, month: rep.Period, now: datetime) -> tuple[rep.Figures, datetime]:
        async with self.db.transaction() as s:
            kept = await store.kept_month(s, month.key)
            if kept is None:
                figures = await self._count(s, month, now)
                kept = await store.keep_month(s, month.key, figures.to_json(), now)
        data, at = kept
        return rep.Figures.from_json(data), at

    async def _count(self, s, month: rep.Period, now: datetime) -> rep.Figures:
        """A month's figures from the requests made and the sessions held in it, sessions
        only as far as they have begun."""
        start, end = rep.bounds(month.first, month.last, self.tz)
        requests = await store.requests_between(s, start, end)
        events = await store.events_between(s, start, end)
        sessions = await store.sessions_between(s, start, min(end, now))
        members = await store.members_of(s, {x.cohort_id for x in sessions})
        marks = await store.marks_of(s, [x.id for x in sessions])
        sent = await store.reminders_sent(s, [x.id for x in sessions])
        history: dict[int, list[rep.Event]] = {}
        for e in events:
            history.setdefault(e.request_id, []).append(rep.Event(e.action, e.to_status, e.at))
        facts = [rep.RequestFacts(r.id, r.site, r.municipality, r.status, r.created_at,
                                  self._group(r), tuple(history.get(r.id, ())))
                 for r in requests]
        by_cohort: dict[int, list[store.MemberRow]] = {}
        for m in members:
            by_cohort.setdefault(m.cohort_id, []).append(m)
        marked = {(m.session_id, m.enrollment_id): m for m in marks}
        held = []
        for x in sessions:
            people = []
            for m in by_cohort.get(x.cohort_id, ()):
                if not att.on_list(m.enrolled_at, m.left_at, x.starts_at, x.ends_at):
                    continue
                mark = marked.get((x.id, m.enrollment_id))
                people.append(rep.Participant(mark.answer if mark else None,
                                              mark.presence if mark else None))
            held.append(rep.SessionFacts(x.id, x.cohort, x.site, x.title, x.starts_at,
                                         x.ends_at, sent.get(x.id, 0), tuple(people)))
        return rep.count(facts, held, hours=working_hours(self.settings))

    def _group(self, row: store.RequestRow) -> str:
        """The preliminary target group, with the sealed answer opened here and forgotten."""
        answers = dict(row.answers)
        if row.sensitive is not None and self.sealer is not None:
            answers["sensitive"] = self.sealer.open(row.sensitive)
        return preliminary_group(answers)


# ----------------------------------------------------------------------------- cells


def cell_text(texts: Texts, value: rep.Cell) -> str:
    """A cell as words and numbers in Slovenian: decimal comma, dates as 3. 12. 2026."""
    if value is None:
        return ""
    if isinstance(value, rep.Hidden):
        return value.label
    if isinstance(value, rep.Period):
        return format_date(value.first, "LLLL yyyy", locale=texts.locale)
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float):
        return rep.decimal(value)
    if isinstance(value, int):
        return str(value)
    return str(texts.value(value))


def to_csv(report: rep.Report, texts: Texts) -> bytes:
    """Every table one after another (a title line, a header, its rows, an empty line), `;`
    between cells, UTF-8 with a BOM: Excel set to Slovenian opens it as it is."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    for i, table in enumerate(rep.tables(report)):
        if i:
            writer.writerow([])
        writer.writerow([texts.render(table.title)])
        writer.writerow([texts.render(h) for h in table.header])
        for row in table.rows:
            writer.writerow([cell_text(texts, c) for c in row])
    return buffer.getvalue().encode("utf-8-sig")


def to_xlsx(report: rep.Report, texts: Texts) -> bytes:
    """A workbook with a sheet per table; numbers as numbers, dates as dates."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    tz = texts.tz
    for table in rep.tables(report):
        sheet = book.create_sheet(table.key[:31])
        sheet.append([texts.render(table.title)])
        sheet["A1"].font = Font(bold=True, size=13)
        sheet.append([])
        sheet.append([texts.render(h) for h in table.header])
        for cell in sheet[3]:
            cell.font = Font(bold=True)
        widths = [len(texts.render(h)) for h in table.header]
        for row in table.rows:
            values = []
            for value in row:
                if isinstance(value, datetime):
                    values.append(value.astimezone(tz).replace(tzinfo=None))
                elif isinstance(value, date) or (isinstance(value, (int, float))
                                                 and not isinstance(value, bool)):
                    values.append(value)
                else:
                    values.append(cell_text(texts, value))
            sheet.append(values)
            for cell, value in zip(sheet[sheet.max_row], values):
                if isinstance(value, datetime):
                    cell.number_format = "d. m. yyyy h:mm"
                elif isinstance(value, date):
                    cell.number_format = "d. m. yyyy"
            for i, value in enumerate(row):
                if i < len(widths):
                    widths[i] = max(widths[i], len(cell_text(texts, value)))
        for i, width in enumerate(widths, 1):
            sheet.column_dimensions[get_column_letter(i)].width = min(60, max(10, width + 2))
        sheet.freeze_panes = "A4"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# ----------------------------------------------------------------------------- the chart

COLOURS = {"slovenj-gradec": "#0072B2", "radlje-ob-dravi": "#E69F00", "": "#999999"}
OTHER_COLOURS = ("#009E73", "#CC79A7", "#56B4E9", "#D55E00")


def to_png(report: rep.Report, texts: Texts) -> bytes:
    """The funnel by site and the requests per month and site, one under the other, 1080 px
    wide with large type: readable on a phone; a hidden count has no bar, only its mark.
    Matplotlib's object API only (no pyplot, so no global state), rendered by Agg with its
    bundled DejaVu Sans."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    r = report
    sites = [s for s in r.sites if r.by_site.get(s) or s in rep.SITES]
    labels = {s: texts.render(rep.site_label(s)) for s in sites}
    colour = {s: COLOURS.get(s) or OTHER_COLOURS[i % len(OTHER_COLOURS)]
              for i, s in enumerate(sites)}
    fig = Figure(figsize=(7.2, 10.8), dpi=150)
    fig.patch.set_facecolor("white")
    funnel_ax, month_ax = fig.subplots(2, 1, gridspec_kw={"height_ratios": [1.15, 1]})
    fig.suptitle(texts("report.chart.title", start=r.first, end=r.last), fontsize=17,
                 fontweight="bold")

    stages = [texts(m) for m in rep.FUNNEL_HEADER[:7]]
    count = len(sites) or 1
    height = 0.8 / count
    top = 0
    for i, site in enumerate(sites):
        values = r.funnel[site][:7]
        ys = [y + (i - (count - 1) / 2) * height for y in range(len(stages))]
        bars = funnel_ax.barh(ys, _heights(values), height=height * 0.95, color=colour[site],
                              label=labels[site])
        funnel_ax.bar_label(bars, labels=[str(v) for v in values], padding=3, fontsize=12)
        top = max(top, *_heights(values))
    funnel_ax.set_yticks(range(len(stages)), stages, fontsize=14)
    funnel_ax.invert_yaxis()
    funnel_ax.set_xlim(0, max(1, top) * 1.18)
    funnel_ax.set_title(texts("report.chart.funnel"), fontsize=16, loc="left")
    funnel_ax.tick_params(axis="x", labelsize=12)
    _plain(funnel_ax)

    month_names = [format_date(m.first, "LLL yyyy", locale=texts.locale)
                   for m, _, _ in r.by_month]
    many = len(month_names) > 12  # a long period: every few months named, no numbers on bars
    step = -(-len(month_names) // 12)
    width = 0.8 / count
    top = 0
    for i, site in enumerate(sites):
        values = [c.get(site, 0) for _, c, _ in r.by_month]
        xs = [x + (i - (count - 1) / 2) * width for x in range(len(month_names))]
        bars = month_ax.bar(xs, _heights(values), width=width * 0.95, color=colour[site],
                            label=labels[site])
        if not many:
            month_ax.bar_label(bars, labels=[str(v) for v in values], padding=2, fontsize=12)
        top = max(top, *_heights(values))
    month_ax.set_xticks(range(len(month_names)),
                        [n if i % step == 0 else "" for i, n in enumerate(month_names)],
                        fontsize=13, rotation=45 if len(month_names) > 4 else 0,
                        ha="right" if len(month_names) > 4 else "center")
    month_ax.set_ylim(0, max(1, top) * 1.15)
    month_ax.set_title(texts("report.chart.months"), fontsize=16, loc="left")
    month_ax.tick_params(axis="y", labelsize=12)
    month_ax.yaxis.get_major_locator().set_params(integer=True)
    _plain(month_ax)

    # one legend for both charts, under the title
    handles, names = funnel_ax.get_legend_handles_labels()
    fig.legend(handles, names, loc="upper center", ncol=max(1, len(names)), fontsize=14,
               frameon=False, bbox_to_anchor=(0.5, 0.955))
    fig.tight_layout(rect=(0, 0, 1, 0.925))
    out = io.BytesIO()
    FigureCanvasAgg(fig).print_png(out)
    return out.getvalue()


def _heights(values: list[rep.Count]) -> list[int]:
    """Bars for counts: a hidden count gets none, only its mark beside it."""
    return [v if isinstance(v, int) else 0 for v in values]


def _plain(ax) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def render(report: rep.Report, texts: Texts, fmt: str) -> bytes:
    return {"csv": to_csv, "xlsx": to_xlsx, "png": to_png}[fmt](report, texts)
