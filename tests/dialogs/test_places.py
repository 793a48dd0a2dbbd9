"""The place resolver against phrasings residents really use, and against anything at all."""

import json
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from dialogs.places import SITES, all_municipalities, koroska_municipalities, resolve

CASES = Path(__file__).with_name("places_cases.txt")


def load_cases():
    cases = []
    for line in CASES.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        expected, _, text = line.partition(" | ")
        cases.append((expected.strip(), text))
    return cases


def verdict(expected: str, text: str) -> str | None:
    r = resolve(text)
    status, _, what = expected.partition(":")
    got = f"{r.status} municipality={r.municipality} site={r.site}"
    if r.status != status:
        return got
    if status in ("resolved", "outside") and r.municipality != what:
        return got
    if status == "ambiguous" and (r.site or "-") != what:
        return got
    return None


def test_case_set_is_broad():
    cases = load_cases()
    assert len(cases) >= 300
    kinds = {e.partition(":")[0] for e, _ in cases}
    assert kinds == {"resolved", "ambiguous", "outside", "unknown"}
    named = {e.partition(":")[2] for e, _ in cases if e.startswith("resolved:")}
    assert set(koroska_municipalities()) <= named


def test_accuracy_at_least_99_percent():
    cases = load_cases()
    misses = [(e, t, v) for e, t in cases if (v := verdict(e, t)) is not None]
    accuracy = 1 - len(misses) / len(cases)
    report = "\n".join(f"  {t!r}: expected {e}, got {v}" for e, t, v in misses)
    assert accuracy >= 0.99, f"accuracy {accuracy:.2%}, misses:\n{report}"


def test_near_misses_never_land_in_koroska():
    for text in ["Radeče", "Prebold", "Šentilj", "Celovec", "Šmartno ob Paki", "asdf", "Graz"]:
        r = resolve(text)
        assert r.site is None and r.status in ("outside", "unknown"), (text, r)


def test_fuzzy_and_inferred_matches_ask_for_confirmation():
    assert resolve("Dravogard").confirm
    assert resolve("iz Raven").confirm
    assert resolve("2390").confirm
    assert not resolve("Ravne na Koroškem").confirm
    assert not resolve("Kotlje").confirm


def test_ambiguous_names_list_their_municipalities():
    r = resolve("Tolsti Vrh")
    assert {c.municipality for c in r.candidates} >= {"Dravograd", "Ravne na Koroškem"}
    assert r.site is None
    r = resolve("Sele")
    assert r.status == "ambiguous" and r.site == "slovenj-gradec"


def test_outside_names_region_and_centre():
    r = resolve("v Celju")
    assert r.status == "outside" and r.region == "Savinjska"
    assert r.social_work_centre == "CSD Celje"


def test_names_written_without_spaces_are_found_like_the_others():
    for glued, spaced in [
        ("ravnenakoroskem", "Ravne na Koroškem"), ("slovenjgradec", "Slovenj Gradec"),
        ("crnanakoroskem", "Črna na Koroškem"), ("radljeobdravi", "Radlje ob Dravi"),
        ("ribnicanapohorju", "Ribnica na Pohorju"), ("vslovenjgradcu", "v Slovenj Gradcu"),
        ("ravne nakoroskem", "Ravne na Koroškem"), ("na ravnahnakoroskem", "na Ravnah na Koroškem"),
        ("podgorjeprislovenjgradcu", "Podgorje pri Slovenj Gradcu"), ("tolstivrh", "Tolsti Vrh"),
        ("novomesto", "Novo mesto"),
    ]:
        assert resolve(glued).to_json() == resolve(spaced).to_json(), glued
    assert resolve("ravnenakoroskem").status == "resolved"


_SERBIAN = dict(zip("abvgdđežzijklmnoprstćufhcčš", "абвгдђежзијклмнопрстћуфхцчш"))
_SERBIAN.update({"lj": "љ", "nj": "њ", "dž": "џ"})


def serbian_cyrillic(latin: str) -> str:
    out, i = "", 0
    while i < len(latin):
        n = 2 if latin[i:i + 2].lower() in _SERBIAN else 1
        piece = latin[i:i + n]
        letter = _SERBIAN.get(piece.lower(), piece)
        out += letter.upper() if piece[0].isupper() else letter
        i += n
    return out


def test_every_name_written_in_cyrillic_is_found_like_its_latin_name():
    """Serbian Cyrillic (and Ukrainian: "Я живу в Муті") is read in Latin letters before
    matching; Latin answers are untouched."""
    from dialogs.places import _read, latin
    names = all_municipalities() + [r["settlement"] for r in _read("settlements.csv")]
    assert serbian_cyrillic("Slovenj Gradec") == "Словењ Градец"
    for name in names:
        assert resolve(serbian_cyrillic(name)).to_json() == resolve(name).to_json(), name
        assert latin(name) == name
    assert resolve("Я живу в Муті").municipality == "Muta"
    assert resolve("Словень-Градець").municipality == "Slovenj Gradec"


def test_a_preposition_glued_to_a_one_word_name_is_confirmed():
    r = resolve("vdravogradu")
    assert (r.status, r.municipality, r.confirm) == ("resolved", "Dravograd", True)


def test_every_glued_case_is_right_and_ordinary_words_stay_unknown():
    lines = CASES.read_text(encoding="utf-8").split("# --- written as one word")[1].splitlines()[1:]
    cases = [(e.strip(), t) for e, _, t in (ln.partition(" | ") for ln in lines)
             if e.strip() and not e.startswith("#")]
    assert sum(e == "unknown" for e, _ in cases) >= 15
    misses = [(e, t, v) for e, t in cases if (v := verdict(e, t)) is not None]
    assert not misses


def test_reference_data_is_complete():
    assert len(all_municipalities()) == 212
    assert len(koroska_municipalities()) == 12


@settings(max_examples=1500, deadline=None)
@given(st.text(max_size=300))
def test_any_string_gives_a_valid_answer(text):
    r = resolve(text)
    assert r.status in ("resolved", "ambiguous", "outside", "unknown")
    assert r.site in (None, *SITES)
    if r.status == "resolved":
        assert r.municipality in koroska_municipalities() and r.region == "Koroška"
    if r.status == "ambiguous":
        assert len(r.candidates) >= 2
    json.dumps(r.to_json())


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=50), st.integers(min_value=100, max_value=2000))
def test_very_long_input_is_fine(chunk, repeat):
    text = (chunk + " Kotlje ") * repeat
    assert resolve(text).status in ("resolved", "ambiguous", "outside", "unknown")


def test_cli_json_contract_reads_stdin_line_by_line():
    proc = subprocess.run([sys.executable, "-m", "bot", "where", "--json", "-"],
                          input="Kotlje\nTolsti Vrh\nLjubljana\nqwertz\n",
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["status"] for r in rows] == ["resolved", "ambiguous", "outside", "unknown"]
    assert rows[0]["municipality"] == "Ravne na Koroškem" and rows[0]["site"] == "slovenj-gradec"
    assert rows[2]["region"] == "Osrednjeslovenska"
    for row in rows:
        assert {"status", "municipality", "site", "region", "candidates"} <= set(row)
    assert {"municipality", "site"} <= set(rows[1]["candidates"][0])


def test_cli_finds_a_place_written_in_cyrillic():
    proc = subprocess.run([sys.executable, "-m", "bot", "where", "--json", "-"],
                          input="Мута\nСловењ Градец\nЉубљана\n",
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(r["status"], r["municipality"]) for r in rows] == [
        ("resolved", "Muta"), ("resolved", "Slovenj Gradec"), ("outside", "Ljubljana")]
    proc = subprocess.run([sys.executable, "-m", "bot", "where", "Равне", "на", "Корошкем"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "Ravne na Koroškem" in proc.stdout


def test_cli_readable_answer():
    proc = subprocess.run([sys.executable, "-m", "bot", "where", "v", "Radljah"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Radlje ob Dravi" in proc.stdout and "potrditev" in proc.stdout
