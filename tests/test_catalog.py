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
