"""Reports and attendance through the bot: /porocilo in the staff chat (the summary and the page
as a photo, coordinators only; /porocilo xlsx|csv the whole report as a file), the attendance
list after a session with its buttons (press, edit, change, who may), lists edited when a
participant is erased, the CSV, workbook and the one-page PNG (its texts, whole-number axes,
hidden counts, the acknowledgement and emblem), and `korak report`."""

import asyncio
import csv
import io
import struct

import pytest
from aiogram.exceptions import TelegramBadRequest
import matplotlib.image
import matplotlib.text
from aiogram.methods import SendDocument, SendPhoto
from matplotlib.backends.backend_agg import FigureCanvasAgg
from openpyxl import load_workbook

from bot import cli
from bot.staff.attendance import AttendanceService
from bot.channels.sender import Undeliverable
from bot.staff.reports import ReportService, figure, to_csv, to_png, to_xlsx
from bot.staff.report_command import ReportingFront
from bot.channels.telegram import make_dispatcher
from dialogs import report as rep
from dialogs.report import Period
from storage import erasure, migrate
from storage.db import Database
from storage.models import Attendance

from ..storage.report_data import NAMES, NOW, build, local, tid
from . import conftest
from .conftest import COORD_A, COORD_B, KEY, STAFF, STRANGER, Harness

PNG = b"\x89PNG\r\n\x1a\n"
PAGE = (1240, 1754)  # A4 at 150 dpi
DECEMBER = Period.parse("2026-12")
PRIVATE = [*NAMES.values(), "+38641", "Upam na delo", tid(7).split(":")[1], tid(10).split(":")[1]]


@pytest.fixture
async def r(tmp_path, monkeypatch):
    """The staff harness with the reporting router in front of the staff router (as `wire`
    puts it), and the December data set in its database; the clock in January."""
    routers = []
    monkeypatch.setattr(conftest, "make_dispatcher", lambda *given: routers.extend(given))
    h = Harness(tmp_path)
    await h.db.create_all()
    h.now = NOW
    h.made = await build(h.db, h.sealer)
    h.reports = ReportService(h.db, h.settings, h.sealer, lambda: h.now)
    h.attendance = AttendanceService(h.db, h.settings, lambda: h.now)
    h.reporting = ReportingFront(h.reports, h.attendance, h.handoff.is_coordinator, h.sender,
                                 h.texts, h.settings)
    front, *before = routers
    h.dp = make_dispatcher(front, h.reporting.router, *before)
    yield h
    await h.db.dispose()


async def report_cmd(h, uid, text, **kw):
    await h.staff_text(uid, text, **kw)
    await h.reporting.idle()


def photos(h):
    return [m for m in h.session.requests if isinstance(m, SendPhoto)]


def documents(h):
    return [m for m in h.session.requests if isinstance(m, SendDocument)]


def size(png: bytes) -> tuple[int, int]:
    return struct.unpack(">II", png[16:24])


def no_personal_data(text: str) -> None:
    for value in PRIVATE:
        assert value not in text, value


# ----------------------------------------------------------------------------- /porocilo


async def test_porocilo_posts_the_summary_and_the_chart(r):
    await report_cmd(r, COORD_A, "/porocilo 1. 12. 2026 31. 12. 2026")
    [summary] = r.session.sent(STAFF)
    assert summary.text.split("\n") == [
        "📊 Poročilo od 1. 12. 2026 do 31. 12. 2026",
        # Radlje ob Dravi's four came from four municipalities, one each: no total of them
        "Prošnje: ≥3 (Slovenj Gradec ≥3, Radlje ob Dravi ≥3)",
        "Prevzete: 5 · kontaktirane: 3 · vključene: <3 · ni primerno: <3 · ni dosegljiv/a: <3 "
        "· še odprte: 3",
        "Do prevzema (delovne ure): mediana 2 h, 90. percentil 3 h.",
        "Do prvega stika (delovne ure): mediana 7 h, 90. percentil 8 h.",
        "Srečanja: 2 · prisotni: 3 od ≥3 · udeležba v osebnih urah: *",
        "Celotno poročilo kot datoteka: /porocilo xlsx 2026-12 (Excel) ali /porocilo csv "
        "2026-12."]
    [photo] = photos(r)
    assert photo.chat_id == STAFF
    assert photo.caption == "📊 Lijak in prošnje po mesecih, 1. 12. 2026–31. 12. 2026"
    png = photo.photo.data
    assert png.startswith(PNG) and size(png) == PAGE and 20_000 < len(png) < 1_000_000
    no_personal_data(summary.text)


async def test_porocilo_month_quarter_and_year_are_whole_and_the_running_one_live(r):
    r.now = local(28, 12)
    await report_cmd(r, COORD_B, "/porocilo")
    assert r.session.sent(STAFF)[-1].text.split("\n")[:2] == [
        "📊 Poročilo od 1. 12. 2026 do 31. 12. 2026",
        "Obdobje še teče: številke se še spreminjajo, ciljne skupine bodo v poročilu po koncu "
        "obdobja."]
    await report_cmd(r, COORD_B, "/porocilo četrtletje")
    assert r.session.sent(STAFF)[-1].text.startswith("📊 Poročilo od 1. 10. 2026 do 31. 12. 2026")
    await report_cmd(r, COORD_B, "/porocilo 2025")
    assert r.session.sent(STAFF)[-1].text.startswith("📊 Poročilo od 1. 1. 2025 do 31. 12. 2025")
    # a span that is not a whole month, quarter or year is refused in one line
    await report_cmd(r, COORD_B, "/porocilo 1. 12. 2026 15. 12. 2026")
    usage = r.session.sent(STAFF)[-1].text
    assert usage.startswith("Napišite /porocilo za ta mesec") and "\n" not in usage


async def test_an_empty_period_gets_the_text_and_no_chart(r):
    await report_cmd(r, COORD_A, "/porocilo 1. 6. 2026 30. 6. 2026")
    text = r.session.sent(STAFF)[-1].text
    assert "V tem obdobju ni novih prošenj." in text and "ni bilo srečanj" in text
    assert photos(r) == []


async def test_porocilo_is_for_coordinators_only_and_asks_again_when_unclear(r):
    await report_cmd(r, STRANGER, "/porocilo")
    assert r.session.sent(STAFF)[-1].text == "Nimate dovoljenja."
    await report_cmd(r, COORD_A, "/porocilo lani")
    assert r.session.sent(STAFF)[-1].text.startswith("Napišite /porocilo za ta mesec")
    await report_cmd(r, COORD_A, "/porocilo 31. 12. 2026 1. 12. 2026")
    assert r.session.sent(STAFF)[-1].text.startswith("Napišite /porocilo")
    assert photos(r) == [] and len(r.session.sent(STAFF)) == 3


async def test_porocilo_in_a_private_chat(r):
    await r.text(COORD_A, "/porocilo")
    assert r.session.sent(COORD_A)[-1].text.startswith("Ta ukaz deluje samo v skupini")
    await r.text(STRANGER, "/porocilo")  # a resident: the conversation answers, no report
    assert not r.session.sent(STRANGER)[-1].text.startswith("Ta ukaz deluje samo")
    assert not any("Poročilo" in m.text for m in r.session.sent(STRANGER))


async def test_a_chart_telegram_refuses_leaves_the_summary_and_the_bot_going(r):
    refused = lambda m: TelegramBadRequest(m, "Bad Request: PHOTO_INVALID_DIMENSIONS")  # noqa
    r.session.fail = [None, refused]
    await report_cmd(r, COORD_A, "/porocilo 1. 12. 2026 31. 12. 2026")
    assert r.session.sent(STAFF)[-1].text.startswith("📊 Poročilo od 1. 12. 2026")
    await report_cmd(r, COORD_A, "/porocilo 1. 12. 2026 31. 12. 2026")  # and it goes on
    assert len(photos(r)) == 1


async def test_porocilo_xlsx_sends_the_workbook_into_the_staff_chat(r):
    await report_cmd(r, COORD_A, "/porocilo xlsx 2026-12")
    [doc] = documents(r)
    assert doc.chat_id == STAFF and doc.document.filename == "porocilo-2026-12.xlsx"
    assert doc.caption == "📎 Poročilo od 1. 12. 2026 do 31. 12. 2026"
    book = load_workbook(io.BytesIO(doc.document.data))
    assert [c.value for c in book["lokacije"][4]] == ["Slovenj Gradec", "≥3"]
    first = {row[0]: row[1] for row in book["obdobje"].iter_rows(min_row=4, values_only=True)}
    assert first["Sofinanciranje"].startswith("Projektne aktivnosti sofinancirata")
    # the file alone: no summary, no photo
    assert r.session.sent(STAFF) == [] and photos(r) == []
    # csv too, with the period before or after the word; png is the page as a file
    await report_cmd(r, COORD_B, "/porocilo 2026-Q4 CSV")
    await report_cmd(r, COORD_B, "/porocilo png 2026-12")
    _, csv_doc, png_doc = documents(r)
    assert csv_doc.document.filename == "porocilo-2026-Q4.csv"
    rows = list(csv.reader(io.StringIO(csv_doc.document.data.decode("utf-8-sig")),
                           delimiter=";"))
    assert rows[0] == ["Poročilo programa Socialna aktivacija"] and ["Skupaj", "≥3"] in rows
    assert (png_doc.document.filename, size(png_doc.document.data)) == ("porocilo-2026-12.png",
                                                                        PAGE)
    no_personal_data(csv_doc.document.data.decode("utf-8-sig"))


async def test_porocilo_file_is_for_coordinators_and_a_refused_one_is_said(r):
    await report_cmd(r, STRANGER, "/porocilo xlsx 2026-12")
    assert r.session.sent(STAFF)[-1].text == "Nimate dovoljenja." and documents(r) == []
    await report_cmd(r, COORD_A, "/porocilo xlsx lani")
    assert r.session.sent(STAFF)[-1].text.startswith("Napišite /porocilo za ta mesec")
    assert "/porocilo xlsx 2027-Q1" in r.session.sent(STAFF)[-1].text
    r.session.fail = [lambda m: TelegramBadRequest(m, "Bad Request: file is too big")]
    await report_cmd(r, COORD_A, "/porocilo xlsx 2026-12")
    assert r.session.sent(STAFF)[-1].text == ("Datoteke s poročilom ni bilo mogoče poslati. "
                                              "Poskusite znova čez nekaj minut.")
    with pytest.raises(Undeliverable, match="too_large"):  # past the Bot API's 50 MB: not tried
        await r.sender.send_document(STAFF, b"x" * (50 * 1024 * 1024 + 1), "big.csv")
    assert documents(r) == []


# ----------------------------------------------------------------------------- attendance


async def lists_after_session_2(h):
    """S1 (3. 12., 9–12) and then S2 (10. 12.) have ended: each time the tick plans the list,
    once, and the outbox sends it. Returns ({session number: message id}, the messages)."""
    for day in (3, 10):
        h.now = local(day, 12, 5)
        assert await h.attendance.plan() == 1
        assert await h.attendance.plan() == 0  # once
        await h.outbox.run_once()
        assert await h.attendance.plan() == 0  # and not again once it is there
    sent = [m for m in h.session.sent(STAFF) if m.text.startswith("📋 Prisotnost")]
    assert len(sent) == 2
    return {n: h.session.message_id_of[id(m)] for n, m in zip((1, 2), sent)}, sent


def shown(h, message_id):
    """The list as it is now in the staff chat: (text, {label: callback data})."""
    msg = next(m for m in h.session.sent(STAFF) if h.session.message_id_of[id(m)] == message_id)
    text, markup = msg.text, msg.reply_markup
    for edit in h.session.edits(STAFF):
        if edit.message_id == message_id:
            text, markup = edit.text, edit.reply_markup
    return text, {b.text: b.callback_data for row in (markup.inline_keyboard if markup else [])
                  for b in row}


async def press(h, uid, message_id, label, chat_id=STAFF):
    _, buttons = shown(h, message_id)
    await h.tap(uid, buttons[label], chat_id=chat_id, message_id=message_id)
    await h.reporting.idle()


async def test_the_list_comes_after_the_session_with_three_buttons_a_person(r):
    ids, sent = await lists_after_session_2(r)
    text, buttons = shown(r, ids[2])
    req = r.made["requests"]
    assert text.split("\n") == [
        "📋 Prisotnost: »Srečanje 2«, 10. 12. 2026 ob 9.00 — SG 2026/2",
        f"1. Gregor Vidmar (prošnja št. {req[7]}) — ✅ prisoten/a · na opomnik: »Pridem«",
        f"2. Helena Kos (prošnja št. {req[10]}) — ✅ prisoten/a · na opomnik: »Pridem«",
        f"3. Jana Kovač (prošnja št. {req[12]}) — ❔ ni označeno",
        "Označite vsako osebo z gumbi pod seznamom (številka na gumbu je številka vrstice). "
        "Oznako lahko pozneje spremenite."]
    assert list(buttons) == ["1 ✅ prisoten/a", "1 ❌ odsoten/a", "1 🟡 opravičeno",
                             "2 ✅ prisoten/a", "2 ❌ odsoten/a", "2 🟡 opravičeno",
                             "3 ✅ prisoten/a", "3 ❌ odsoten/a", "3 🟡 opravičeno"]
    # S1 lists the participant who left on 6. 12. and not the one who came on 5. 12.
    assert "Igor Mlakar" in shown(r, ids[1])[0] and "Jana Kovač" not in shown(r, ids[1])[0]
    assert "+386" not in text and "Upam" not in text  # no phone, no own words


async def test_a_press_marks_edits_the_list_and_can_be_changed(r):
    ids, _ = await lists_after_session_2(r)
    await press(r, COORD_A, ids[2], "3 ❌ odsoten/a")
    assert r.session.answers()[-1].text is None  # no alert: it worked
    text, _ = shown(r, ids[2])
    assert "3. Jana Kovač" in text and text.split("\n")[3].endswith("❌ odsoten/a")
    async with r.db.transaction() as s:
        row = await s.get(Attendance, (r.made["sessions"][2], tid(12)))
        assert (row.presence, row.presence_by, row.answer) == ("absent", COORD_A, None)
    await press(r, COORD_B, ids[2], "3 🟡 opravičeno")  # changed afterwards, by another
    assert shown(r, ids[2])[0].split("\n")[3].endswith("🟡 opravičeno odsoten/a")
    async with r.db.transaction() as s:
        row = await s.get(Attendance, (r.made["sessions"][2], tid(12)))
        assert (row.presence, row.presence_by) == ("excused", COORD_B)
    # the report counts it
    r.now = local(28, 12)  # December still running: counted live, the one excused hidden
    report = await r.reports.build(DECEMBER)
    assert (report.sessions[1].excused, report.sessions[1].unmarked) == (rep.LESS, 0)


async def test_only_coordinators_in_the_staff_chat_may_mark(r):
    ids, _ = await lists_after_session_2(r)
    edits = len(r.session.edits())
    await press(r, STRANGER, ids[2], "3 ✅ prisoten/a")
    assert r.session.answers()[-1].text == "Nimate dovoljenja."
    await press(r, COORD_A, ids[2], "3 ✅ prisoten/a", chat_id=COORD_A)  # from a private chat
    assert r.session.answers()[-1].text == "Nimate dovoljenja."
    s2, e1 = r.made["sessions"][2], r.made["enrollments"][1]
    for data in (f"at|{s2}|99999|p", f"at|{s2}|{r.made['enrollments'][3]}|p"):  # not on it
        await r.tap(COORD_A, data, chat_id=STAFF, message_id=ids[2])
        assert r.session.answers()[-1].text == "Te osebe ni več na seznamu tega srečanja."
    await r.tap(COORD_A, f"at|{r.made['sessions'][4]}|{e1}|p", chat_id=STAFF, message_id=ids[2])
    assert r.session.answers()[-1].text == "Prisotnost lahko označite, ko se srečanje začne."
    await r.tap(COORD_A, f"at|{r.made['sessions'][3]}|{e1}|p", chat_id=STAFF, message_id=ids[2])
    assert "odpadlo" in r.session.answers()[-1].text
    await r.tap(COORD_A, f"at|{s2}|{e1}|z", chat_id=STAFF, message_id=ids[2])
    assert "ni več veljaven" in r.session.answers()[-1].text
    await r.reporting.idle()
    assert len(r.session.edits()) == edits
    async with r.db.transaction() as s:
        assert (await s.get(Attendance, (s2, tid(12)))) is None


async def test_erasing_a_participant_edits_every_list_without_them(r):
    ids, _ = await lists_after_session_2(r)
    async with r.db.transaction() as s:
        await erasure.erase_person(s, tid(10), r.now, STAFF)
    await r.outbox.run_once()
    for n in (1, 2):
        text, buttons = shown(r, ids[n])
        assert "Helena Kos" not in text and "Gregor Vidmar" in text
        assert len(buttons) == 6  # two people left on each
    assert len([m for m in r.session.sent(STAFF) if m.text.startswith("📋")]) == 2  # no new


async def test_no_list_for_a_cancelled_session_or_one_over_a_week_past(r):
    r.now = local(17, 12, 30)  # S3 (cancelled) ended at 12:00, S2 a week and half an hour ago
    assert await r.attendance.plan() == 0
    r.now = local(10, 12, 30)
    assert await r.attendance.plan() == 1  # S2; S1 ended a week and half an hour ago
    await r.outbox.run_once()
    assert [m.text.split("\n")[0] for m in r.session.sent(STAFF)] == [
        "📋 Prisotnost: »Srečanje 2«, 10. 12. 2026 ob 9.00 — SG 2026/2"]


# ----------------------------------------------------------------------------- files


async def test_csv_is_utf8_with_bom_and_semicolons_as_slovenian_excel_wants(r):
    report = await r.reports.build(DECEMBER)
    data = to_csv(report, r.texts)
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0] == ["Poročilo programa Socialna aktivacija"]
    assert ["Slovenj Gradec", "≥3"] in rows and ["Skupaj", "≥3"] in rows
    assert ["Skupaj", "≥3", "5", "3", "<3", "<3", "<3", "<3", "3"] in rows  # funnel
    assert ["Do prevzema", "Slovenj Gradec", "≥3", "2", "2,5"] in rows  # decimal comma
    assert ["Do prevzema", "Radlje ob Dravi", "<3", "*", "*"] in rows
    assert ["Radlje ob Dravi", "<3", "0", "3", "0", "0", "≥3"] in rows  # target groups
    assert ["SG 2026/2", "Slovenj Gradec", "3. 12. 2026 ob 9.00", "Srečanje 1", "3", "≥3", "3",
            "<3", "<3", "<3", "<3", "<3", "<3", "0", "*"] in rows
    assert ["Radlje ob Dravi", "Muta", "<3"] in rows  # by municipality
    # the note says the rule
    assert any(c.startswith("Število oseb pod 3 je prikazano kot <3") for row in rows
               for c in row)
    assert "\r\n" in text
    no_personal_data(text)


async def test_the_workbook_reads_back_with_a_sheet_per_table(r):
    report = await r.reports.build(DECEMBER)
    book = load_workbook(io.BytesIO(to_xlsx(report, r.texts)))
    assert book.sheetnames == ["obdobje", "lokacije", "obcine", "meseci", "lijak",
                               "delovne_ure", "srecanja", "skupine", "ciljne_skupine"]
    sites = book["lokacije"]
    assert [c.value for c in sites[3]] == ["Lokacija", "Prošnje"]
    assert [c.value for c in sites[4]] == ["Slovenj Gradec", "≥3"]  # hidden: a mark
    hours = [[c.value for c in row] for row in book["delovne_ure"].iter_rows(min_row=4)]
    assert ["Do prevzema", "Skupaj", 5, 2, 3] in hours  # shown: numbers, not text
    assert [c.value for c in book["ciljne_skupine"][5]] == ["Radlje ob Dravi", "<3", 0, 3,
                                                           0, 0, "≥3"]
    cells = " ".join(str(c.value) for sheet in book for row in sheet.iter_rows() for c in row)
    no_personal_data(cells)


async def test_the_chart_is_a_png_a_phone_can_read(r):
    report = await r.reports.build(Period.parse("2026"))
    png = to_png(report, r.texts)
    assert png.startswith(PNG) and size(png) == PAGE
    assert 20_000 < len(png) < 1_000_000


def page_texts(fig) -> list[str]:
    """Every text drawn on the page, each as one line (wrapped lines joined), with the cells
    of its tables."""
    found = list(fig.findobj(matplotlib.text.Text))
    found += [cell.get_text() for ax in fig.axes for table in ax.tables
              for cell in table.get_celld().values()]
    return [" ".join(t.get_text().split()) for t in found if t.get_text().strip()]


def axes(fig, label):
    found = [ax for ax in fig.axes if ax.get_label() == label]
    return found[0] if found else None


def integer_ticks(ax, axis):
    FigureCanvasAgg(ax.figure).draw()  # ticks are placed when drawn
    ticks = ax.get_xticks() if axis == "x" else ax.get_yticks()
    labels = [t.get_text().replace("−", "-") for t in (
        ax.get_xticklabels() if axis == "x" else ax.get_yticklabels())]
    low, high = ax.get_xlim() if axis == "x" else ax.get_ylim()
    shown = [(t, s) for t, s in zip(ticks, labels) if low <= t <= high]
    assert len(shown) >= 2
    for tick, label in shown:
        assert float(tick).is_integer() and label == str(int(tick)), (tick, label)


async def test_the_page_says_what_a_manager_needs_in_slovenian(r):
    report = await r.reports.build(DECEMBER)
    fig = figure(report, r.texts, r.reports.imprint(report, r.texts))
    lines = page_texts(fig)
    for line in ("Socialna aktivacija: poročilo za december 2026",
                 "Obdobje od 1. 12. 2026 do 31. 12. 2026",
                 "Od prošnje do izida, po lokacijah", "Nove prošnje po mesecih in lokacijah",
                 "Predhodna ciljna skupina po lokacijah", "Udeležba po skupinah (osebne ure)",
                 # the totals: each stage's, the month's, the attendance's
                 "Nove (skupaj ≥3)", "Prevzete (skupaj 5)", "dec. 2026 skupaj ≥3",
                 "nove prošnje", "vključeni v program", "osebne ure udeležbe", "3 / ≥3",
                 "Skupaj", "ženske iz drugih kulturnih okolij, romske ženske",
                 "Projektne aktivnosti sofinancirata Republika Slovenija in Evropska unija iz "
                 "sredstev Evropskega socialnega sklada.",
                 # made on 10. 1. 2027 from the figures December was kept with (counted now)
                 "Pripravljeno 10. 1. 2027 s programom korak iz podatkov do 10. 1. 2027 ob "
                 "13.00."):
        assert line in lines, line
    assert any(line.startswith("<3: ena ali dve osebi") for line in lines)
    assert axes(fig, "emblem") is None  # no REPORT_EMBLEM_FILE: the text alone
    for label, axis in (("funnel", "x"), ("months", "y"), ("groups", "x")):
        integer_ticks(axes(fig, label), axis)
    no_personal_data(" ".join(lines))


async def test_a_hidden_count_is_a_hatched_bar_with_its_mark_never_its_value(r):
    report = await r.reports.build(DECEMBER)
    groups = axes(figure(report, r.texts), "groups")
    # Slovenj Gradec: one each of long-term DSP, other inactive and not fit, all "<3"
    sg = groups.patches[:5]  # the first site's bars, one a group
    assert [b.get_width() for b in sg] == [3, 3, 0, 3, 0]
    assert [bool(b.get_hatch()) for b in sg] == [True, True, False, True, False]
    marks = [t.get_text() for t in groups.texts]
    assert marks[:5] == ["<3", "<3", "0", "<3", "0"]
    # Radlje ob Dravi's three of the sealed group are shown as they are: a full bar of 3
    rd = groups.patches[5:10]
    assert [(b.get_width(), bool(b.get_hatch())) for b in rd][2] == (3, False)


async def test_one_request_gets_whole_numbers_on_every_axis(r):
    # January 2027, still running: one request (R8), so everything is "<3"; the axes used
    # to read 0.0 0.2 … 1.0
    report = await r.reports.build(Period.parse("2027-01"))
    assert report.requests is rep.LESS
    fig = figure(report, r.texts)
    integer_ticks(axes(fig, "funnel"), "x")
    integer_ticks(axes(fig, "months"), "y")
    lines = page_texts(fig)
    assert "Obdobje od 1. 1. 2027 do 31. 1. 2027 · obdobje še teče, številke se še " \
        "spreminjajo" in lines
    # an open period shows no target groups, and says why
    assert axes(fig, "groups") is None
    assert "Obdobje še teče: številke se še spreminjajo. Ciljne skupine so v poročilu, ko se " \
        "obdobje konča." in lines


async def test_the_emblem_stands_beside_the_acknowledgement_when_set(r, tmp_path):
    emblem = tmp_path / "emblem.png"
    pixels = __import__("numpy").zeros((20, 30, 3), dtype="uint8")
    pixels[..., 2] = 153  # a small blue flag
    matplotlib.image.imsave(emblem, pixels)
    r.settings.report_emblem_file = emblem
    r.settings.report_acknowledgement = ("Program sofinancirata Republika Slovenija in Evropska "
                                         "unija iz Evropskega socialnega sklada plus.")
    report = await r.reports.build(DECEMBER)
    mark = r.reports.imprint(report, r.texts)
    fig = figure(report, r.texts, mark)
    logo = axes(fig, "emblem")
    [image] = logo.get_images()
    assert image.get_array().shape[:2] == (20, 30)
    assert (r.settings.report_acknowledgement in page_texts(fig)
            and "Projektne aktivnosti sofinancirata Republika Slovenija in Evropska unija iz "
                "sredstev Evropskega socialnega sklada." not in page_texts(fig))
    # the emblem's right edge is left of where the acknowledgement begins
    ack = next(t for t in fig.texts if " ".join(t.get_text().split())
               == r.settings.report_acknowledgement)
    assert logo.get_position().x1 < ack.get_position()[0]
    # the workbook says the same on its first sheet, the emblem beside it
    book = load_workbook(io.BytesIO(to_xlsx(report, r.texts, mark)))
    first = book["obdobje"]
    rows = {row[0]: row[1] for row in first.iter_rows(min_row=4, values_only=True)}
    assert rows["Sofinanciranje"] == r.settings.report_acknowledgement
    assert rows["Vir"] == ("Pripravljeno 10. 1. 2027 s programom korak iz podatkov do "
                           "10. 1. 2027 ob 13.00.")
    assert len(first._images) == 1
    # a file that cannot be read costs the page nothing but the emblem
    r.settings.report_emblem_file = tmp_path / "missing.png"
    fig = figure(report, r.texts, r.reports.imprint(report, r.texts))
    assert axes(fig, "emblem") is None
    assert r.settings.report_acknowledgement in page_texts(fig)


async def test_the_workbook_has_the_totals_and_notes_the_page_shows(r):
    report = await r.reports.build(DECEMBER)
    book = load_workbook(io.BytesIO(to_xlsx(report, r.texts, r.reports.imprint(report,
                                                                               r.texts))))
    first = [row for row in book["obdobje"].iter_rows(min_row=4, values_only=True)]
    assert [row[0] for row in first] == ["Od", "Do", "Pripravljeno", "Opomba", "Vir",
                                         "Sofinanciranje"]
    assert first[-1][1] == ("Projektne aktivnosti sofinancirata Republika Slovenija in Evropska "
                            "unija iz sredstev Evropskega socialnega sklada.")
    cohorts = [row for row in book["skupine"].iter_rows(min_row=4, values_only=True)]
    assert cohorts == [("SG 2026/2", "Slovenj Gradec", 2, "≥3", 3, "*"),
                       ("Skupaj", None, 2, "≥3", 3, "*")]
    assert ["Skupaj", "≥3", 5, 3, "<3", "<3", "<3", "<3", 3] == [
        c.value for c in book["lijak"][6]]


# ----------------------------------------------------------------------------- korak report


@pytest.fixture
def korak(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no .env from elsewhere
    monkeypatch.setattr("bot.clock.utcnow", lambda: NOW)  # January 2027, whatever this machine says
    url = f"sqlite+aiosqlite:///{tmp_path}/k.db"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DATA_KEY", KEY)

    async def made():
        db = Database(url)
        await migrate.ready(db)
        from storage.crypto import Sealer
        await build(db, Sealer(KEY))
        await db.dispose()

    asyncio.run(made())

    def run(*argv):
        code = cli.main(["report", *argv])
        out = capsys.readouterr()
        return code, out.out, out.err
    return run


def test_korak_report_writes_each_format(korak, tmp_path):
    code, out, _ = korak("--period", "2026-12")
    assert code == 0
    assert out == "Poročilo je v datoteki porocilo-2026-12.csv (prošnje: ≥3, srečanja: 2).\n"
    data = (tmp_path / "porocilo-2026-12.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and "Skupaj;≥3".encode() in data
    assert korak("--from", "2026-10-01", "--to", "2026-12-31", "--format", "xlsx", "--out",
                 "d.xlsx")[0] == 0  # --from/--to that are exactly a quarter
    period = load_workbook(tmp_path / "d.xlsx")["obdobje"]
    assert [str(period[c].value)[:10] for c in ("B4", "B5")] == ["2026-10-01", "2026-12-31"]
    assert korak("--period", "2026", "--format", "png", "--out", "d.png")[0] == 0
    assert (tmp_path / "d.png").read_bytes().startswith(PNG)


def test_korak_report_refuses_any_other_span_in_one_line(korak, tmp_path):
    for argv in (("--from", "2026-12-01", "--to", "2026-12-15"),
                 ("--from", "2026-01-01", "--to", "2026-02-01"),
                 ("--from", "2026-13-01", "--to", "2026-12-31"),
                 ("--from", "2026-12-01"), ("--period", "2026-Q5"), (),
                 ("--period", "2026-12", "--from", "2026-12-01", "--to", "2026-12-31")):
        code, out, err = korak(*argv)
        assert (code, out) == (2, ""), argv
        assert err == ("Poročilo zajema cel mesec, četrtletje ali leto: --period 2027-01, "
                       "--period 2027-Q1 ali --period 2027 (ali --from in --to, ki ga zajameta "
                       "natanko).\n"), argv
    assert list(tmp_path.glob("porocilo-*")) == []


def test_korak_report_needs_the_key(korak, monkeypatch):
    monkeypatch.delenv("DATA_KEY")
    code, _, err = korak("--period", "2026-12")
    assert code == 2 and "DATA_KEY" in err
