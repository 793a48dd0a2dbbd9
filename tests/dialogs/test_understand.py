"""Typed answers to button questions, in every language: the test set of answers as people type
them (understand_cases.tsv), the contract of `korak understand`, and the rules that keep a
misread answer from choosing a button."""

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from dialogs.intake import OPTIONS, Ctx, State, Typed, handle
from dialogs.understand import LANGS, RULES, STEPS, _labels, choose, lexicon, understand

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
CASES = HERE / "understand_cases.tsv"


def cases():
    out = []
    for n, line in enumerate(CASES.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        lang, step, expected, text = line.split("\t", 3)
        out.append((n, lang, step, None if expected == "null" else expected, text))
    return out


def measure():
    right, wrong, missed = 0, [], []
    for n, lang, step, expected, text in cases():
        got = choose(step, text, lang)
        if got == expected:
            right += 1
        elif got is not None:
            wrong.append((n, lang, step, text, expected, got))
        else:
            missed.append((n, lang, step, text, expected, got))
    return right, wrong, missed


def test_the_case_file_is_big_enough_and_uses_real_steps_and_buttons():
    all_cases = cases()
    assert len(all_cases) >= 300
    per_lang = {lang: sum(1 for c in all_cases if c[1] == lang) for lang in LANGS}
    assert all(per_lang[lang] >= 40 for lang in LANGS if lang != "sl"), per_lang
    for n, lang, step, expected, _text in all_cases:
        assert lang in LANGS and step in RULES, n
        assert expected is None or expected in [o[0] for o in OPTIONS[step]], n


def test_typed_answers_in_every_language_are_understood_and_never_misread():
    right, wrong, missed = measure()
    total = right + len(wrong) + len(missed)
    for n, lang, step, text, expected, got in wrong + missed:
        print(f"line {n}: [{lang}] {step}: {text!r} → {got}, expected {expected}")
    print(f"{right}/{total} right ({100 * right / total:.1f} %), {len(wrong)} wrong")
    assert not wrong, "a wrong choice is worse than asking again"
    assert right / total >= 0.97


@pytest.mark.parametrize("step,text,lang,expected", [
    # the issue's examples
    ("work", "ne delam", "sl", None),
    ("work", "nisem zaposlena", "sl", None),
    ("work", "nisem prijavljena na zavodu", "sl", None),
    ("dsp_duration", "pol leta", "sl", "short"),
    ("call_time", "ne dopoldne", "sl", None),
    ("consent", "ne, hvala", "sl", "no"),
    ("dsp_duration", "ja, že dolgo", "sl", "long"),
    ("dsp_duration", "dve leti", "sl", "long"),
    ("dsp_duration", "3 mesece", "sl", "short"),
    ("summary", "vse je prav", "sl", "confirm"),
    ("work", "I don't work", "en", None),
    ("call_time", "not in the morning", "en", None),
    # a denied button leaves the others
    ("call_time", "ne dopoldne, popoldne", "sl", "afternoon"),
    ("work", "ne delam in nisem prijavljena", "sl", "neither"),
    ("consent", "ne strinjam se", "sl", "no"),
    # contradictions ask again
    ("consent", "ja ne", "sl", None),
    ("work", "delam in sem na zavodu", "sl", None),
])
def test_the_issues_examples(step, text, lang, expected):
    assert choose(step, text, lang) == expected


def test_the_conversation_reads_typed_answers_in_the_residents_language():
    ctx = Ctx(now=datetime(2026, 11, 26, 10, tzinfo=timezone.utc))
    asked = {"consent": True, "dsp": "no"}
    out = handle(State(step="work", answers=asked, lang="en"),
                 Typed("I don't work and I'm not registered"), ctx)
    assert out.state.answers["work"] == "neither" and out.state.step != "work"
    out = handle(State(step="work", answers=asked, lang="en"), Typed("I don't work"), ctx)
    # not a button, but it leaves three: the one follow-up that settles it
    assert out.state.step == "work_office" and "work" not in out.state.answers
    assert [s.text.msgid for s in out.says] == ["intake.ask_work_office"]
    out = handle(State(step="work", answers=asked, lang="en"), Typed("yes"), ctx)
    assert out.state.step == "work" and "work" not in out.state.answers  # asked again
    assert out.says[0].text.msgid == "intake.use_buttons"
    out = handle(State(step="dsp_duration", answers={"consent": True, "dsp": "yes"}, lang="sq"),
                 Typed("gjysmë viti"), ctx)
    assert out.state.answers["dsp_duration"] == "short"
    out = handle(State(step="call_time", answers={"consent": True, "phone": "+38641123456"},
                       lang="uk"), Typed("не вранці, після обіду"), ctx)
    assert out.state.answers["call_time"] == "afternoon"


BARE = {"sl": ["ja", "da", "ne", "mhm", "seveda", "nak"], "en": ["yes", "no", "yep", "nope"],
        "hbs": ["da", "ne", "jesam", "nisam", "да", "не"], "sq": ["po", "jo", "po po"],
        "uk": ["так", "ні", "да", "нет", "tak", "ni"]}


def test_a_yes_or_no_typed_to_a_question_of_more_than_two_options_is_never_an_answer():
    """Every yes and no word of every language, at every step with more than two options: no
    answer at all, unless the question is asked as yes-or-no and the rule says which button
    a yes (or a no) is (consent, dsp, sensitive, work_office) -- and then never the other."""
    steps = [step for step in STEPS if len(OPTIONS[step]) > 2]
    assert {"work", "call_time", "dsp_duration", "edit_choose", "consent", "dsp"} <= set(steps)
    checked = 0
    for lang in LANGS:
        lex = lexicon(lang)
        said = {"yes": set(lex.words["yes"]) | set(lex.words.get("yes_whole", ()))
                | set(lex.words.get("agree", ())) | {"👍"},
                "no": set(lex.words["no"]) | set(lex.words.get("no_whole", ()))
                | set(lex.words.get("no_verbs", ())) | {"👎"}}
        for step in steps:
            particles = {k: v for k, v in RULES[step].particles.items() if k in ("yes", "no")}
            yes_or_no = {None} | set(particles.values())
            for kind, words in said.items():
                other = {"yes": "no", "no": "yes"}[kind]
                for word in words - {"<yes>", "<no>"}:
                    got = choose(step, word, lang)
                    if not particles:  # work, call_time, dsp_duration, edit_choose
                        assert got is None, (lang, step, word)
                    else:  # a yes is never the no button; the step's own words may refine it
                        assert got is None or got != particles.get(other), (lang, step, word)
                    checked += 1
            for word in BARE[lang]:  # the words of the issue, as typed
                assert choose(step, word, lang) in yes_or_no, (lang, step, word)
                if not particles:
                    assert choose(step, word, lang) is None, (lang, step, word)
    assert checked > 3000


@pytest.mark.parametrize("lang,text", [
    ("sl", "nezaposlena"), ("sl", "ne delam"), ("hbs", "nemam posao"), ("hbs", "ne radim"),
    ("hbs", "не радим"), ("uk", "безробітна"), ("uk", "не маю роботи"), ("uk", "не працюю"),
    ("uk", "ne pratsiuiu"), ("uk", "не работаю"), ("sq", "jam e papune"), ("sq", "s'kam pune"),
    ("sq", "nuk punoj"), ("en", "I'm unemployed"), ("en", "I don't work"),
])
def test_i_dont_work_is_no_button_but_leaves_three(lang, text):
    got = understand("work", text, lang)
    assert got.choice is None and got.narrows == ("registered", "neither", "other")


def test_what_chooses_or_says_nothing_narrows_nothing():
    assert understand("work", "delam", "sl").narrows == ()  # chosen
    assert understand("work", "prej sem delala", "sl").narrows == ()  # the past: no answer
    assert understand("work", "I worked before", "en").narrows == ()
    assert understand("work", "kaj?", "sl").narrows == ()
    # "not in the morning" rules out "any time" with it
    assert understand("call_time", "ne zjutraj", "sl").narrows == ("afternoon", "write_here")


def test_a_place_named_when_asked_to_confirm_another_goes_to_the_place_resolver():
    ctx = Ctx(now=datetime(2026, 11, 26, 10, tzinfo=timezone.utc))
    state = State(step="place_confirm", answers={"consent": True},
                  pending={"municipality": "Mislinja", "place": "Mislinja"})
    out = handle(state, Typed("ne, v Kotljah"), ctx)
    assert out.state.answers["place"] == "Kotlje"
    assert handle(state, Typed("ne"), ctx).state.step == "place"


def test_a_number_picks_the_button_at_that_place_and_nothing_beyond():
    assert choose("work", "2", "sq") == "registered"
    assert choose("call_time", "4.", "uk") == "write_here"
    assert choose("work", "5", "sl") is None
    assert choose("work", "0", "sl") is None


def test_a_phone_number_is_never_read_as_a_button():
    assert choose("phone", "pišite mi na 041 123 456", "sl") is None
    assert choose("phone", "raje mi pišite tukaj", "sl") == "write_here"


def test_an_unknown_language_code_falls_back_to_slovenian_and_aliases_work():
    assert choose("consent", "ja", "xx") == "yes"
    assert choose("consent", "slažem se", "hr") == "yes"
    assert choose("consent", "так", "ru") == "yes"


def test_odd_input_gives_none_and_never_raises():
    for text in ["", "   ", "\x00\x01", "🙂" * 50, "a" * 5000, "?!?!", "ne " * 300, "12345678"]:
        for step in STEPS:
            for lang in LANGS:
                assert choose(step, text, lang) in [None] + [o[0] for o in OPTIONS[step]]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200), st.sampled_from(STEPS), st.sampled_from(LANGS + ("xx", None)))
def test_any_text_gives_none_or_a_button_of_that_step(text, step, lang):
    assert choose(step, text, lang) in [None] + [o[0] for o in OPTIONS[step]]


def test_every_button_label_typed_out_picks_its_button():
    """The catalog's labels are whole answers by themselves, in every language that has a
    catalog (a reply keyboard, or a resident copying the label)."""
    checked = 0
    for lang in LANGS:
        for step in STEPS:
            for label, cid in _labels(lang, step).items():
                assert choose(step, label, lang) == cid, (lang, step, label)
                checked += 1
    assert checked >= 30  # at least the Slovenian catalog


def test_the_word_lists_are_data_that_loads_for_every_language():
    for lang in LANGS:
        lex = lexicon(lang)
        assert lex.words["yes"] and lex.words["no"] and lex.words["negators"], lang
        for step in ("consent", "dsp", "dsp_duration", "work", "call_time", "summary"):
            assert step in lex.steps, (lang, step)
            for cid in lex.steps[step]["say"]:
                assert cid in ("neutral", "near") or cid in [o[0] for o in OPTIONS[step]], (
                    lang, step, cid)


def run_cli(*args, stdin=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "bot", "understand", *args], input=stdin,
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)


def test_cli_reads_one_answer_per_stdin_line_and_prints_one_json_object_each():
    lines = ["ne delam in nisem prijavljena", "nič od tega", "ne delam", "", "drugo"]
    out = run_cli("--json", "--step", "work", "-", stdin="\n".join(lines) + "\n")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["text"] for r in rows] == lines
    # "nič od tega" is asked again: the button is "Ne delam, ne iščem dela" (not working, not
    # looking), and "none of these" does not say whether the person is looking for work
    assert [r["choice"] for r in rows] == ["neither", None, None, None, "other"]
    assert all(r["step"] == "work" and r["lang"] == "sl" for r in rows)


def test_cli_prints_what_an_answer_that_chooses_nothing_leaves():
    out = run_cli("--json", "--step", "work", "--lang", "uk", "не", "працюю")
    assert json.loads(out.stdout) == {"text": "не працюю", "step": "work", "lang": "uk",
                                      "choice": None,
                                      "narrows": ["registered", "neither", "other"]}
    out = run_cli("--json", "--step", "work_office", "--lang", "sq", "po")
    assert json.loads(out.stdout)["choice"] == "registered"  # the follow-up is a step of its own
    out = run_cli("--step", "work", "ne", "delam")
    assert out.returncode == 0 and "registered, neither, other" in out.stdout
    out = run_cli("--json", "--step", "work", "po")  # a bare yes: no narrows key at all
    assert json.loads(out.stdout) == {"text": "po", "step": "work", "lang": "sl", "choice": None}


def test_cli_one_text_with_a_language_and_a_human_line_without_json():
    out = run_cli("--json", "--step", "call_time", "--lang", "en", "not", "in", "the",
                  "morning,", "afternoon")
    assert json.loads(out.stdout) == {"text": "not in the morning, afternoon",
                                      "step": "call_time", "lang": "en", "choice": "afternoon"}
    out = run_cli("--step", "dsp_duration", "pol leta")
    assert out.returncode == 0 and "short" in out.stdout
    out = run_cli("--step", "nope", "ja")
    assert out.returncode != 0  # an unknown step is refused with argparse's own line
