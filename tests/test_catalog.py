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
