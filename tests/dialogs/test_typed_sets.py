"""The independent typed-answer sets (tests/dialogs/typed/, written by a session that did not
write the word lists, from how people type: negations, the past, near-miss benefits, typos,
Cyrillic and Latin): in every language at least 97 % are understood as a careful coordinator
would read them, and not one answer is taken as a wrong button."""

from pathlib import Path

import pytest

from dialogs.intake import OPTIONS
from dialogs.understand import choose

SETS = Path(__file__).parent / "typed"
LEAST = {"hbs": 150, "sq": 150, "uk": 150, "sl": 100, "en": 100}


def cases(lang: str) -> list[tuple[int, str, str | None, str]]:
    out = []
    for n, line in enumerate((SETS / f"{lang}.tsv").read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        got_lang, step, expected, text = line.split("\t", 3)
        assert got_lang == lang, n
        out.append((n, step, None if expected == "null" else expected, text))
    return out


@pytest.mark.parametrize("lang", sorted(LEAST))
def test_an_independent_set_is_understood_and_never_misread(lang):
    found = cases(lang)
    assert len(found) >= LEAST[lang]
    right, wrong, missed = 0, [], []
    for n, step, expected, text in found:
        assert expected is None or expected in [o[0] for o in OPTIONS[step]], n
        got = choose(step, text, lang)
        if got == expected:
            right += 1
        else:
            (wrong if got is not None else missed).append((n, step, text, expected, got))
    for n, step, text, expected, got in wrong + missed:
        print(f"{lang}.tsv line {n}: {step}: {text!r} → {got}, expected {expected}")
    print(f"{lang}: {right}/{len(found)} right ({100 * right / len(found):.1f} %), "
          f"{len(wrong)} wrong")
    assert not wrong, "a wrong choice is worse than asking again"
    assert right / len(found) >= 0.97
