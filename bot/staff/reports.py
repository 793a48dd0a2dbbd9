"""The programme's report: gathered from storage (storage/report.py), computed in
dialogs/report.py, and rendered here as CSV (UTF-8 with BOM and `;`, as Slovenian Excel opens
it), an Excel workbook (openpyxl) and a one-page PNG (matplotlib, Agg, its own DejaVu fonts;
nothing is downloaded) a programme manager can put into a quarterly report as it is. Every file
carries its `Imprint`: the co-financing acknowledgement (with the emblem when there is one) and
where its figures come from. `korak report` writes one of them; /porocilo posts the text
summary and the page, or a file into the staff chat."""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date

from dialogs import attendance as att
from dialogs import report as rep
from dialogs.intake import GROUP_LABEL, preliminary_group
from dialogs.replies import N_, Text
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

    def imprint(self, report: rep.Report, texts: Texts) -> Imprint:
        """What a file of `report` made now says beside its figures."""
        return imprint(report, texts, self.settings, self.clock())

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


# ----------------------------------------------------------------------------- the imprint


@dataclass(frozen=True)
class Imprint:
    """What every file of a report says beside its figures: the co-financing acknowledgement
    (the emblem beside it when there is one: a PNG or JPEG file) and where the figures come
    from ("prepared on … by korak from data up to …")."""

    acknowledgement: str
    source: str
    emblem: Path | None = None


def imprint(report: rep.Report, texts: Texts, settings: Settings | None = None,
            now: datetime | None = None) -> Imprint:
    """The imprint of a file made at `now` (default: when its figures were counted):
    REPORT_ACKNOWLEDGEMENT or the programme's own wording, REPORT_EMBLEM_FILE."""
    wording = (settings.report_acknowledgement.strip() if settings is not None else "")
    made = now or report.made_at
    return Imprint(
        acknowledgement=wording or texts("report.acknowledgement"),
        source=texts("report.source", prepared=made.astimezone(texts.tz).date(),
                     made=report.made_at),
        emblem=settings.report_emblem_file if settings is not None else None)


def _notes(mark: Imprint) -> tuple[tuple[Text, str], ...]:
    return ((Text(N_("report.row.source")), mark.source),
            (Text(N_("report.row.acknowledgement")), mark.acknowledgement))


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


def to_csv(report: rep.Report, texts: Texts, mark: Imprint | None = None) -> bytes:
    """Every table one after another (a title line, a header, its rows, an empty line), `;`
    between cells, UTF-8 with a BOM: Excel set to Slovenian opens it as it is."""
    mark = mark or imprint(report, texts)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    for i, table in enumerate(rep.tables(report, _notes(mark))):
        if i:
            writer.writerow([])
        writer.writerow([texts.render(table.title)])
        writer.writerow([texts.render(h) for h in table.header])
        for row in table.rows:
            writer.writerow([cell_text(texts, c) for c in row])
    return buffer.getvalue().encode("utf-8-sig")


def to_xlsx(report: rep.Report, texts: Texts, mark: Imprint | None = None) -> bytes:
    """A workbook with a sheet per table; numbers as numbers, dates as dates. The first sheet
    ends with where the figures come from and the acknowledgement, the emblem beside it."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    mark = mark or imprint(report, texts)
    book = Workbook()
    book.remove(book.active)
    tz = texts.tz
    for table in rep.tables(report, _notes(mark)):
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
        if table.key == "obdobje":
            for row in sheet.iter_rows(min_row=4, max_col=2):
                row[1].alignment = Alignment(wrap_text=True, vertical="top")
            if (logo := _emblem_for_xlsx(mark.emblem)) is not None:
                sheet.add_image(logo, f"C{sheet.max_row}")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _emblem_for_xlsx(path: Path | None):
    """The emblem as an openpyxl image, about 60 px high; None without one (or unreadable)."""
    if path is None:
        return None
    try:
        from openpyxl.drawing.image import Image
        logo = Image(str(path))
    except Exception as exc:  # a wrong path must not cost the report
        log.warning("report emblem unreadable", extra={"error": type(exc).__name__})
        return None
    scale = 60 / max(1, logo.height)
    logo.width, logo.height = logo.width * scale, logo.height * scale
    return logo


# ----------------------------------------------------------------------------- the page

COLOURS = {"slovenj-gradec": "#0072B2", "radlje-ob-dravi": "#E69F00", "": "#999999"}
OTHER_COLOURS = ("#009E73", "#CC79A7", "#56B4E9", "#D55E00")
PAGE = (1240, 1754)  # pixels: A4 portrait at 150 dpi, a page to print and readable on a phone
DPI = 150
HATCH = "///"
INK, GREY = "#222222", "#555555"


def _mark(value: rep.Count | float | None) -> str:
    if isinstance(value, float):
        return rep.decimal(value)
    return "—" if value is None else str(value)


def _bars(values: list[rep.Count]) -> tuple[list[float], list[bool]]:
    """Bar heights for counts: a hidden count ("<3", "≥3") is never drawn as its value but as
    an empty hatched bar as high as the threshold (3), whatever it hides."""
    hidden = [isinstance(v, rep.Hidden) for v in values]
    return [rep.SMALL if h else float(v) for v, h in zip(values, hidden)], hidden


def _draw(ax, positions, values: list[rep.Count], size: float, colour: str, label: str,
          horizontal: bool, numbers: bool = True, fontsize: float = 9,
          zeros: bool = True) -> float:
    """One site's bars; returns the highest drawn."""
    heights, hidden = _bars(values)
    draw = ax.barh if horizontal else ax.bar
    kw = {"height" if horizontal else "width": size}
    bars = draw(positions, heights, color=colour, label=label, **kw)
    for bar, h in zip(bars, hidden):
        if h:
            bar.set_facecolor("white")
            bar.set_edgecolor(colour)
            bar.set_hatch(HATCH)
            bar.set_linewidth(1.0)
    if numbers:
        ax.bar_label(bars, labels=[_mark(v) if zeros or v != 0 else "" for v in values],
                     padding=2, fontsize=fontsize,
                     color=INK)
    return max(heights, default=0)


def _counts_axis(ax, axis: str, top: float) -> None:
    """Whole numbers only on a count axis, from 0 to a little above the highest bar."""
    from matplotlib.ticker import MaxNLocator

    limit = max(SMALL_AXIS, top) * 1.2
    if axis == "x":
        ax.set_xlim(0, limit)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=2))
    else:
        ax.set_ylim(0, limit)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=2))
    ax.tick_params(axis=axis, labelsize=9, colors=GREY)
    ax.grid(axis=axis, color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


SMALL_AXIS = 1  # the count axis reaches at least this far


def period_name(period: rep.Period, texts: Texts) -> str:
    """"december 2026", "4. četrtletje 2026", "leto 2026"."""
    if period.kind == "month":
        return format_date(period.first, "LLLL yyyy", locale=texts.locale)
    if period.kind == "quarter":
        return texts("report.period.quarter", number=period.number, year=period.year)
    return texts("report.period.year", year=period.year)


def figure(report: rep.Report, texts: Texts, mark: Imprint | None = None):
    """The report on one A4 page (a matplotlib Figure, drawn by `to_png`): the title and
    period, the totals, the funnel and the requests per month by site, the preliminary target
    groups, attendance and person-hours by cohort, what "<3", "≥3" and "*" mean, the
    co-financing acknowledgement (with the emblem) and the source line. Counts hidden by the
    rule are drawn as empty hatched bars with their mark, never as their value. Matplotlib's
    object API only (no pyplot, so no global state)."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    r = report
    mark = mark or imprint(report, texts)
    sites = [s for s in r.sites if r.by_site.get(s) or s in rep.SITES]
    labels = {s: texts.render(rep.site_label(s)) for s in sites}
    colour = {s: COLOURS.get(s) or OTHER_COLOURS[i % len(OTHER_COLOURS)]
              for i, s in enumerate(sites)}
    fig = Figure(figsize=(PAGE[0] / DPI, PAGE[1] / DPI), dpi=DPI)
    fig.patch.set_facecolor("white")
    left = 0.06

    # ---- header: title, period, totals
    fig.text(left, 0.972, texts("report.chart.title", period=period_name(r.period, texts)),
             fontsize=16, fontweight="bold", color=INK, va="top")
    when = texts("report.chart.period", start=r.first, end=r.last)
    if not r.closed:
        when += " · " + texts("report.chart.open")
    fig.text(left, 0.945, when, fontsize=10.5, color=GREY, va="top")
    f = dict(zip(("new",) + rep.STAGES, r.funnel[None]))
    present, listed, person_hours = r.attendance
    tiles = ((r.requests, "report.kpi.requests"), (f["enrolled"], "report.kpi.enrolled"),
             (len(r.sessions), "report.kpi.sessions"),
             (f"{_mark(present)} / {_mark(listed)}", "report.kpi.present"),
             (person_hours if r.sessions else 0, "report.kpi.person_hours"))
    width = (1 - 2 * left) / len(tiles)
    for i, (value, msgid) in enumerate(tiles):
        x = left + i * width
        fig.add_artist(_tile(fig, x, 0.862, width - 0.012, 0.062))
        fig.text(x + 0.012, 0.913, value if isinstance(value, str) else _mark(value),
                 fontsize=18, fontweight="bold", color=INK, va="top")
        fig.text(x + 0.012, 0.878, "\n".join(textwrap.wrap(texts(msgid), 24)),
                 fontsize=7.5, color=GREY, va="center", linespacing=1.1)

    # ---- one legend: the sites and what a hatched bar is
    handles = [Patch(facecolor=colour[s], label=labels[s]) for s in sites]
    handles.append(Patch(facecolor="white", edgecolor=GREY, hatch=HATCH,
                         label=texts("report.chart.hidden")))
    fig.legend(handles=handles, loc="upper left", ncol=len(handles), fontsize=9,
               frameon=False, bbox_to_anchor=(left - 0.01, 0.857), handlelength=1.6,
               columnspacing=1.4)

    count = len(sites) or 1

    # ---- the funnel, by site; each stage with its total
    funnel_ax = fig.add_axes((0.33, 0.635, 0.6, 0.165), label="funnel")
    stages = [texts("report.chart.stage_total", stage=texts(m), count=_mark(n))
              for m, n in zip(rep.FUNNEL_HEADER[:7], r.funnel[None][:7])]
    size = 0.8 / count
    top = 0.0
    for i, site in enumerate(sites):
        ys = [y + (i - (count - 1) / 2) * size for y in range(len(stages))]
        top = max(top, _draw(funnel_ax, ys, list(r.funnel[site][:7]), size * 0.92,
                             colour[site], labels[site], horizontal=True))
    funnel_ax.set_yticks(range(len(stages)), stages, fontsize=9.5, color=INK)
    funnel_ax.tick_params(axis="y", length=0)
    funnel_ax.invert_yaxis()
    _counts_axis(funnel_ax, "x", top)
    fig.text(left, 0.812, texts("report.chart.funnel"), fontsize=12, fontweight="bold",
             color=INK)

    # ---- requests per month and site, each month with its total
    month_ax = fig.add_axes((0.1, 0.47, 0.83, 0.115), label="months")
    many = len(r.by_month) > 4
    names = []
    for m, _, n in r.by_month:
        name = format_date(m.first, "LLL yyyy", locale=texts.locale)
        names.append(name if many else texts("report.chart.month_total", month=name,
                                             count=_mark(n)))
    step = -(-len(names) // 12)
    size = 0.8 / count
    top = 0.0
    for i, site in enumerate(sites):
        xs = [x + (i - (count - 1) / 2) * size for x in range(len(names))]
        top = max(top, _draw(month_ax, xs, [c.get(site, 0) for _, c, _ in r.by_month],
                             size * 0.92, colour[site], labels[site], horizontal=False,
                             numbers=len(names) <= 12, fontsize=8 if many else 9,
                             zeros=not many))
    month_ax.set_xticks(range(len(names)),
                        [n if i % step == 0 else "" for i, n in enumerate(names)],
                        fontsize=9, color=INK, rotation=45 if many else 0,
                        ha="right" if many else "center")
    month_ax.tick_params(axis="x", length=0)
    spare = max(0.0, (3 - len(names)) / 2)  # a month or two: narrow bars in the middle
    month_ax.set_xlim(-0.6 - spare, len(names) - 0.4 + spare)
    _counts_axis(month_ax, "y", top)
    fig.text(left, 0.597, texts("report.chart.months"), fontsize=12, fontweight="bold",
             color=INK)

    # ---- preliminary target groups by site (a closed period only)
    fig.text(left, 0.4, texts("report.table.groups"), fontsize=12, fontweight="bold",
             color=INK)
    if r.groups:
        groups_ax = fig.add_axes((0.33, 0.28, 0.6, 0.11), label="groups")
        rows = ["\n".join(textwrap.wrap(texts(GROUP_LABEL[g]), 30)) for g in rep.GROUPS]
        shown = [s for s in sites if s in r.groups]
        size = 0.8 / max(1, len(shown))
        top = 0.0
        for i, site in enumerate(shown):
            ys = [y + (i - (len(shown) - 1) / 2) * size for y in range(len(rows))]
            top = max(top, _draw(groups_ax, ys, list(r.groups[site][:len(rep.GROUPS)]),
                                 size * 0.92, colour[site], labels[site], horizontal=True,
                                 fontsize=8.5))
        groups_ax.set_yticks(range(len(rows)), rows, fontsize=8.5, color=INK)
        groups_ax.tick_params(axis="y", length=0)
        groups_ax.invert_yaxis()
        _counts_axis(groups_ax, "x", top)
    else:
        why = "report.note.open" if not r.closed else "report.summary.no_requests"
        fig.text(left, 0.385, texts(why), fontsize=10, color=GREY, va="top")

    # ---- attendance and person-hours by cohort, with the total
    fig.text(left, 0.24, texts("report.table.cohorts"), fontsize=12, fontweight="bold",
             color=INK)
    if r.cohorts:
        header = [texts(m) for m in ("report.col.cohort", "report.col.site",
                                     "report.col.sessions", "report.col.listed_total",
                                     "report.col.present_total", "report.col.person_hours")]
        body = [[c.cohort, labels.get(c.site) or texts.render(rep.site_label(c.site)),
                 str(c.sessions), _mark(c.listed), _mark(c.present), _mark(c.person_hours)]
                for c in r.cohorts]
        body.append([texts("report.row.total"), "", str(len(r.sessions)), _mark(listed),
                     _mark(present), _mark(person_hours)])
        # heights in page fractions: a header of two lines, then as many rows as fit above
        # the notes (many cohorts get smaller type)
        head, line = 0.03, min(0.017, 0.1 / len(body))
        high = head + line * len(body)
        table_ax = fig.add_axes((left, 0.232 - high, 1 - 2 * left, high), label="attendance")
        table_ax.set_axis_off()
        table = table_ax.table(cellText=body,
                               colLabels=["\n".join(textwrap.wrap(h, 17)) for h in header],
                               loc="upper center", cellLoc="center",
                               colWidths=[0.17, 0.2, 0.12, 0.19, 0.19, 0.13])
        table.auto_set_font_size(False)
        table.set_fontsize(8.5 if line >= 0.015 else 7)
        for (row, _), cell in table.get_celld().items():
            cell.set_edgecolor("#cccccc")
            cell.set_height((head if row == 0 else line) / high)
            if row == 0 or row == len(body):
                cell.set_text_props(fontweight="bold", color=INK)
            if row == 0:
                cell.set_facecolor("#f2f2f2")
    else:
        fig.text(left, 0.225, texts("report.summary.no_sessions"), fontsize=10, color=GREY,
                 va="top")

    # ---- the rule, then the acknowledgement (with the emblem beside it) and the source
    fig.text(left, 0.082, "\n".join(textwrap.wrap(texts("report.chart.note"), 150)),
             fontsize=6.5, color=GREY, va="top", linespacing=1.25)
    text_x = left
    logo = _emblem_image(mark.emblem)
    if logo is not None:
        high = 0.036
        wide = high * PAGE[1] / PAGE[0] * logo.shape[1] / max(1, logo.shape[0])
        emblem_ax = fig.add_axes((left, 0.008, wide, high), label="emblem")
        emblem_ax.imshow(logo, interpolation="antialiased")
        emblem_ax.set_axis_off()
        text_x = left + wide + 0.015
    fig.text(text_x, 0.036, "\n".join(textwrap.wrap(mark.acknowledgement,
                                                    int(105 * (1 - text_x) / (1 - left)))),
             fontsize=8.5, color=INK, va="center", linespacing=1.2)
    fig.text(text_x, 0.014, mark.source, fontsize=7, color=GREY, va="center")
    return fig


def _tile(fig, x: float, y: float, w: float, h: float):
    from matplotlib.patches import FancyBboxPatch

    return FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0,rounding_size=0.006",
                          transform=fig.transFigure, facecolor="#f4f6f8", edgecolor="none",
                          figure=fig)


def _emblem_image(path: Path | None):
    """The emblem's pixels; None without one, or when the file cannot be read (the text is
    then drawn alone and the report goes on)."""
    if path is None:
        return None
    try:
        from PIL import Image
        import numpy as np

        with Image.open(path) as image:
            return np.asarray(image.convert("RGBA"))
    except Exception as exc:
        log.warning("report emblem unreadable", extra={"error": type(exc).__name__})
        return None


def to_png(report: rep.Report, texts: Texts, mark: Imprint | None = None) -> bytes:
    """The page as a PNG (rendered by Agg with its bundled DejaVu Sans)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = figure(report, texts, mark)
    out = io.BytesIO()
    FigureCanvasAgg(fig).print_png(out)
    return out.getvalue()


def render(report: rep.Report, texts: Texts, fmt: str, mark: Imprint | None = None) -> bytes:
    return {"csv": to_csv, "xlsx": to_xlsx, "png": to_png}[fmt](report, texts, mark)
