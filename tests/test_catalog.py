"""Every text a person reads is in the Slovenian catalog, translated, and compiled."""

import gettext
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "locales/sl/LC_MESSAGES/messages.po"
MO = ROOT / "locales/sl/LC_MESSAGES/messages.mo"
KEYWORDS = {"N_": None, "texts": None, "Text": (1,)}


def used_msgids() -> set[str]:
    found = set()
    for package in ("dialogs", "bot"):
        for _file, _line, message, _comments, _ctx in extract_from_dir(
            ROOT / package, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            for part in message if isinstance(message, tuple) else (message,):
                if part:
                    found.add(part)
    return found


def catalog():
    with PO.open("rb") as fh:
        return read_po(fh, locale="sl")


def test_code_uses_msgids_that_exist_and_are_translated():
    cat = catalog()
    used = used_msgids()
    assert len(used) > 100
    plural_ids = {m.id[1] for m in cat if isinstance(m.id, tuple)}
    known = {m.id if isinstance(m.id, str) else m.id[0] for m in cat if m.id} | plural_ids
    missing = sorted(used - known)
    assert not missing, f"msgids used in code but missing from messages.po: {missing}"
    untranslated = [m.id for m in cat if m.id and (not m.string or (
        isinstance(m.string, tuple) and not all(m.string)))]
    assert not untranslated, f"untranslated: {untranslated}"


def test_compiled_catalog_is_fresh():
    compiled = gettext.GNUTranslations(MO.open("rb"))
    stale = []
    for m in catalog():
        if not m.id:
            continue
        if isinstance(m.id, tuple):
            for n, form in ((1, 0), (2, 1), (3, 2), (5, 3)):
                if compiled.ngettext(m.id[0], m.id[1], n) != m.string[form]:
                    stale.append(m.id[0])
        elif compiled.gettext(m.id) != m.string:
            stale.append(m.id)
    assert not stale, f"run `pybabel compile -d locales -D messages`; stale: {sorted(set(stale))}"


def test_slovenian_has_four_plural_forms():
    t = gettext.GNUTranslations(MO.open("rb"))
    forms = [t.ngettext("retention.months", "retention.months.plural", n).format(n=n)
             for n in (1, 2, 3, 5, 101, 102, 104, 111)]
    assert forms == ["1 mesec", "2 meseca", "3 mesece", "5 mesecev", "101 mesec", "102 meseca",
                     "104 mesece", "111 mesecev"]


# ----------------------------------------------------------------------------- every language

import re  # noqa: E402

import pytest  # noqa: E402

from bot.i18n import Texts, for_residents  # noqa: E402
from dialogs.languages import LANGUAGES  # noqa: E402

OTHERS = [code for code in LANGUAGES if code != "sl"]
REVIEW = "awaiting review by a native speaker"
MAX_WORDS = 25


def catalog_of(code):
    path = ROOT / f"locales/{code}/LC_MESSAGES/messages.po"
    with path.open("rb") as fh:
        return path, read_po(fh, locale={"hbs": "bs"}.get(code, code))


def resident_msgids():
    return {m.id if isinstance(m.id, str) else m.id[0]: m for m in catalog()
            if m.id and for_residents(m.id if isinstance(m.id, str) else m.id[0])}


def placeholders(text):
    return set(re.findall(r"\{([a-z_]+)\}", text))


@pytest.mark.parametrize("code", OTHERS)
def test_every_language_has_everything_a_resident_reads(code):
    path, cat = catalog_of(code)
    header = path.read_text(encoding="utf-8").split("\nmsgid \"", 2)[0]
    assert REVIEW in header, f"{path}: say in its header that it is {REVIEW}"
    theirs = {m.id if isinstance(m.id, str) else m.id[0]: m for m in cat if m.id}
    wanted = resident_msgids()
    missing = sorted(set(wanted) - set(theirs))
    assert not missing, f"{code}: not translated: {missing}"
    assert not sorted(set(theirs) - set(resident_msgids()) - {
        m.id for m in catalog() if m.id}), f"{code}: msgids Slovenian does not have"
    problems = []
    for msgid, sl in wanted.items():
        mine = theirs[msgid]
        forms = mine.string if isinstance(mine.string, tuple) else (mine.string,)
        if not all(forms):
            problems.append(f"{msgid}: empty")
            continue
        sl_forms = sl.string if isinstance(sl.string, tuple) else (sl.string,)
        if any(placeholders(f) != placeholders(sl_forms[0]) for f in forms):
            problems.append(f"{msgid}: placeholders differ from Slovenian")
        if msgid.startswith("language.name.") and mine.string != sl.string:
            problems.append(f"{msgid}: a language is named in itself, the same everywhere")
    assert not problems, f"{code}: " + "; ".join(problems)


@pytest.mark.parametrize("code", OTHERS)
def test_every_compiled_language_is_fresh(code):
    path, cat = catalog_of(code)
    compiled = gettext.GNUTranslations(path.with_suffix(".mo").open("rb"))
    stale = [m.id for m in cat if m.id and isinstance(m.id, str)
             and compiled.gettext(m.id) != m.string]
    assert not stale, f"run `pybabel compile -d locales -D messages`; stale in {code}: {stale}"


@pytest.mark.parametrize("code", ["sl", *OTHERS])
def test_what_residents_read_comes_in_short_sentences(code):
    _, cat = catalog_of(code)
    long = []
    for m in cat:
        if not m.id or not for_residents(m.id if isinstance(m.id, str) else m.id[0]):
            continue
        for form in m.string if isinstance(m.string, tuple) else (m.string,):
            text = re.sub(r"\{[a-z_]+\}", "X", form)
            for sentence in re.split(r"(?<=[.!?:;])\s+|\n+", text):
                words = [w for w in sentence.split() if re.search(r"\w", w)]
                if len(words) > MAX_WORDS:
                    long.append(f"{m.id}: {len(words)} words: {sentence[:80]}…")
    assert not long, "\n".join(long)


@pytest.mark.parametrize("code", OTHERS)
def test_dates_and_plurals_follow_each_language(code):
    from datetime import datetime, timezone

    texts = Texts(ROOT / "locales").lang(code)
    assert texts.locale == code
    when = texts.value(datetime(2026, 12, 3, 16, 0, tzinfo=timezone.utc))
    assert "2026" in when and ("17" in when or "5" in when), when  # 17.00 in Ljubljana
    one = texts("retention.months", n=1)
    assert "1" in one
    from dialogs.replies import Text

    months = [texts.render(Text("retention.months", {"n": n},
                                plural=("retention.months.plural", n))) for n in (1, 2, 5)]
    assert months[0] != months[2], months  # a plural of its own, not Slovenian's
    assert texts("language.set") != Texts(ROOT / "locales")("language.set")


# ----------------------------------------------------------------------------- issue 21: what a
# resident reads, rendered in every language: the office from the settings, regions in their
# case, answers in lower case, /moji_podatki, times, lengths of time

from datetime import datetime, time, timedelta, timezone  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402

from dialogs import handoff  # noqa: E402
from dialogs.intake import (OFFICE_TEXT, REGION_IN, Choice, Command, Ctx, Start,  # noqa: E402
                            State, Typed, handle, in_region, office_text)
from dialogs.schedule import when  # noqa: E402

ALL = ["sl", *OTHERS]
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)
LJ = ZoneInfo("Europe/Ljubljana")
OFFICE = "Meškova ulica 21, 2380 Slovenj Gradec"
PHONE = "02 885 01 24"
CALL = {"sl": "pokliče|pokliči", "en": "call", "hbs": "nazov|nazva", "sq": "telefononi",
        "uk": "зателефону"}  # the verb of calling, in the phone's variant only


def texts_in(code):
    return Texts(ROOT / "locales").lang(code)


def talk(code, *events, ctx=None):
    """A resident's conversation in `code`, rendered: the texts of the last reply."""
    ctx = ctx or Ctx(now=NOW, first_name="Ana", office_phone=PHONE, office_address=OFFICE)
    t, state, out = texts_in(code), State(lang=code), None
    for event in events:
        out = handle(state, event, ctx)
        state = out.state
    return [t.render(say.text) for say in out.says], state


def resident_strings(code):
    _, cat = catalog_of(code)
    for m in cat:
        msgid = m.id if isinstance(m.id, str) else m.id[0]
        if msgid and for_residents(msgid):
            yield msgid, m.string if isinstance(m.string, tuple) else (m.string,)


@pytest.mark.parametrize("code", ALL)
def test_no_catalog_types_in_an_office_address_or_phone(code):
    typed = [(msgid, form) for msgid, forms in resident_strings(code) for form in forms
             if re.search(r"Ozka ulica|885 01 24|Meškov", form)]
    assert not typed, f"{code}: the office's address and phone come from the settings: {typed}"


@pytest.mark.parametrize("code", ALL)
def test_where_to_call_or_come_reads_well_with_a_phone_and_without(code):
    t = texts_in(code)
    for msgid in OFFICE_TEXT:
        with_phone = t.render(office_text(msgid, Ctx(now=NOW, office_phone=PHONE,
                                                     office_address=OFFICE)))
        assert PHONE in with_phone and OFFICE in with_phone, with_phone
        assert re.search(CALL[code], with_phone.lower()), with_phone
        without = t.render(office_text(msgid, Ctx(now=NOW, office_address=OFFICE)))
        assert OFFICE in without and not re.search(CALL[code], without.lower()), without
        assert not re.search(r"\{|\(\)|\s[,.)]|tel\.|тел\.|  ", without), without


@pytest.mark.parametrize("code", ALL)
def test_a_municipality_outside_koroska_is_placed_in_its_region_in_its_case(code):
    expected = {"sl": "Občina Maribor ni na Koroškem, ampak v podravski regiji.",
                "en": "The municipality of Maribor is in the Podravska region, not in Koroška",
                "hbs": "Općina Maribor nije u Koroškoj, nego u Podravskoj regiji.",
                "sq": "Komuna Maribor ndodhet në rajonin Podravska,",
                "uk": "Громада Maribor розташована у регіоні Podravska,"}[code]
    [said], _ = talk(code, Start(), Choice("consent", "yes"), Typed("Maribor"))
    assert said.startswith(expected), said
    moved = {"sl": "Občina Celje je v savinjski regiji, ne na Koroškem.",
             "en": "The municipality of Celje is in the Savinjska region, outside Koroška.",
             "hbs": "Općina Celje je u Savinjskoj regiji, a ne u Koroškoj.",
             "sq": "Komuna Celje ndodhet në rajonin Savinjska, jashtë rajonit Koroška.",
             "uk": "Громада Celje розташована у регіоні Savinjska, поза регіоном Koroška."}[code]
    ctx = Ctx(now=NOW, first_name="Ana", office_address=OFFICE)
    state = State(step="edit_choose", lang=code, answers={
        "consent": True, "site": "slovenj-gradec", "municipality": "Mislinja",
        "place": "Mislinja", "dsp": "no", "work": "neither", "sensitive_consent": "skip",
        "hopes": None, "name": "Ana", "phone": "+38641123456", "call_time": "any"})
    out = handle(state, Choice("edit_choose", "place"), ctx)
    out = handle(out.state, Typed("Celje"), ctx)
    assert texts_in(code).render(out.says[0].text).startswith(moved)
    t = texts_in(code)
    for region in REGION_IN:  # every region, and one korak does not know, reads as a phrase
        phrase = t.render(in_region(region))
        assert phrase and "{" not in phrase and phrase != region
    if code == "sl":
        assert all(re.fullmatch(r"v [a-zčšž-]+ (regiji|Sloveniji)", t.render(in_region(r)))
                   for r in (*REGION_IN, None))


@pytest.mark.parametrize("code", ALL)
def test_answers_inside_a_line_start_in_lower_case(code):
    answers = [(msgid, forms[0]) for msgid, forms in resident_strings(code)
               if msgid.startswith("answer.")]
    assert len(answers) > 17
    capital = [(m, s) for m, s in answers if s[:1].isupper()
               and not (code == "en" and re.match(r"I\b|I'", s))]
    assert not capital, f"{code}: an answer inside a line starts with a capital: {capital}"
    if code == "en":  # English keeps its capital I
        assert texts_in("en")("answer.work.employed") == "I have a job"


def test_the_summary_and_the_card_show_answers_not_button_labels():
    said, state = talk("sl", Start(), Choice("consent", "yes"), Typed("Kotlje"),
                       Choice("dsp", "yes"), Choice("dsp_duration", "short"),
                       Choice("work", "neither"), Choice("sensitive_consent", "skip"),
                       Choice("hopes", "skip"), Choice("name", "profile"),
                       Typed("041 123 456"), Choice("call_time", "afternoon"))
    summary = said[-1]
    for line in ("Denarna socialna pomoč: da, manj kot eno leto",
                 "Trenutni položaj: ne delam in ne iščem dela",
                 "Občutljivo vprašanje: ni vprašano", "Kako vas dosežemo: po telefonu, popoldne"):
        assert line in summary.split("\n"), summary
    said, _ = talk("en", Start(), Choice("consent", "yes"), Typed("Kotlje"),
                   Choice("dsp", "dont_know"), Choice("work", "employed"),
                   Choice("sensitive_consent", "skip"), Choice("hopes", "skip"),
                   Choice("fit", "continue"), Choice("name", "profile"),
                   Choice("phone", "write_here"))
    assert "Denarna socialna pomoč (financial social assistance): I do not know" in said[-1]
    assert "Your situation now: I have a job" in said[-1]
    assert "How we reach you: by message" in said[-1]
    req = handoff.Request(1, "new", 0, NOW, NOW, site="slovenj-gradec",
                          answers={**state.answers, "lang": "sl"})
    card = Texts(ROOT / "locales").render(handoff.card(req, NOW + timedelta(hours=3)).text)
    assert "DSP: da, manj kot eno leto" in card and "Kontakt: po telefonu, popoldne" in card


@pytest.mark.parametrize("code", ALL)
def test_my_data_before_the_questions_shows_only_what_was_answered(code):
    t = texts_in(code)
    said, _ = talk(code, Start(), Choice("consent", "yes"), Command("moji_podatki"))
    assert said == [t("mydata.header"), t("mydata.consent_only")]
    said, _ = talk(code, Start(), Choice("consent", "yes"), Typed("Kotlje"),
                   Command("moji_podatki"))
    lines = said[1].split("\n")
    assert len(lines) == 2 and "Kotlje" in lines[1], said  # the place, and nothing else
    assert t("answer.no_phone") not in said[1] and not lines[1].endswith(": ")


@pytest.mark.parametrize("code,nine,half_past_five", [
    ("sl", "ob 9.00", "ob 17.30"), ("en", "at 9:00", "at 17:30"), ("hbs", "u 9:00", "u 17:30"),
    ("sq", "në orën 9:00", "në orën 17:30"), ("uk", "о 09:00", "о 17:30")])
def test_the_time_inside_a_date_is_written_as_each_language_writes_it(code, nine,
                                                                      half_past_five):
    t = texts_in(code)
    the_day_before = datetime(2026, 12, 2, 12, 0, tzinfo=LJ)
    for hour, minute, expected in ((9, 0, nine), (17, 30, half_past_five)):
        said = t.render(when(datetime(2026, 12, 3, hour, minute, tzinfo=LJ), the_day_before, LJ))
        assert said.endswith(expected), said
        # a date with its time (a request's date, a look at it) writes the time the same way
        stamp = t.value(datetime(2026, 12, 3, hour, minute, tzinfo=LJ))
        assert stamp.endswith(t.value(time(hour, minute))), (stamp, t.value(time(hour, minute)))
        assert expected.split()[-1] in stamp or expected.split()[-2] in stamp


def test_a_length_of_time_in_slovenian_takes_the_case_its_sentence_needs():
    t = Texts(ROOT / "locales")
    waited = {timedelta(seconds=30): "že 1 minuto", timedelta(minutes=2): "že 2 minuti",
              timedelta(hours=2): "že 2 uri", timedelta(hours=3): "že 3 ure",
              timedelta(hours=5): "že 5 ur", timedelta(days=2): "že 2 dneva",
              timedelta(days=3): "že 3 dni", timedelta(days=101): "že 3 mesece"}
    for delta, expected in waited.items():
        req = handoff.Request(7, "new", 0, NOW - delta, NOW - delta, site="slovenj-gradec",
                              answers={"name": "Ana", "phone": "+38641123456"})
        card = t.render(handoff.card(req, NOW).text)
        assert f"⏳ Čaka na prevzem {expected}." in card, card
        # the reminder of an unclaimed request passes the bare timedelta: the same case
        assert t("handoff.remind_unclaimed", id=7, waited=delta).endswith(
            f"čaka {expected}. Jo lahko kdo prevzame?")
    ago = {timedelta(seconds=60): "oddana pred 1 minuto", timedelta(hours=2): "oddana pred 2 urama",
           timedelta(hours=4): "oddana pred 4 urami", timedelta(days=5): "oddana pred 5 dnevi",
           timedelta(days=2): "oddana pred 2 dnevoma", timedelta(days=75): "oddana pred 2 mesecema"}
    for delta, expected in ago.items():
        req = handoff.Request(7, "new", 0, NOW - delta, NOW - delta, site="slovenj-gradec")
        assert t.render(handoff.queue_line(req, NOW)).endswith(expected)


def test_no_text_puts_a_length_of_time_after_a_preposition_it_cannot_follow():
    """"pred {x}" would need the instrumental, which a bare value never has: the "ago" phrase
    brings its own preposition (duration.ago.*). "že {waited}" is the accusative a bare
    timedelta is said in; no other placeholder follows "pred" or "že"."""
    _, cat = catalog_of("sl")
    found = set()
    for m in cat:
        msgid = m.id if isinstance(m.id, str) else m.id[0]
        if not msgid or msgid.startswith("duration."):  # these bring their own case forms
            continue
        for form in m.string if isinstance(m.string, tuple) else (m.string,):
            found |= set(re.findall(r"\b(pred|že) \{([a-z_]+)\}", form))
    assert found <= {("že", "waited")}, found


async def test_korak_chat_gives_the_office_from_the_settings(tmp_path):
    """`korak chat` has no staff chat: a message after the request reaches nobody, and the
    person is told where to call or come, from OFFICE_PHONE and OFFICE_ADDRESS."""
    import io

    from bot.channels.terminal import chat
    from bot.config import Settings

    assert Settings(_env_file=None).office_phone == ""
    assert Settings(_env_file=None).office_address == OFFICE
    with pytest.raises(ValueError):
        Settings(_env_file=None, office_address="")
    settings = Settings(_env_file=None, database_url=f"sqlite:///{tmp_path}/bot.db",
                        chat_database_url=f"sqlite+aiosqlite:///{tmp_path}/chat.db",
                        office_phone="02 620 00 00",
                        office_address="Trg svobode 1, 2380 Slovenj Gradec")
    lines = iter(["5", "v Radljah", "1", "2", "2", "2", "1", "Marta", "041 555 666", "3", "1",
                  "Ali me lahko pokličete jutri?", "/pomoc"])
    out = io.StringIO()
    await chat(settings, lines=lines, out=out)
    text = out.getvalue()
    assert ("Vašega sporočila zdaj ne moremo posredovati koordinatorkam. Če želite govoriti z "
            "osebo, pokličite pisarno programa na 02 620 00 00 ali pridite osebno. Naslov: Trg "
            "svobode 1, 2380 Slovenj Gradec.") in text
    assert "Pisarna programa za Koroško je na naslovu Trg svobode 1, 2380 Slovenj Gradec." in text
    assert text.count("02 620 00 00") == 2  # the message nobody receives, and /pomoc
