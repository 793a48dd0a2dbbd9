"""Typed answers to button questions, in the resident's language: "ja", "ne delam",
"pol leta", "not in the morning", "👍", "2" …

``choose(step, text, lang)`` gives the id of the step's button the text means (the ids of
``dialogs.options.OPTIONS``), or None when the bot should ask again: a wrong choice is worse than
asking again, so anything ambiguous, contradictory or not understood is None.
``understand(step, text, lang)`` says the same and, where an answer rules some buttons out
without choosing one ("ne delam" at the work question), which buttons are left (``narrows``):
the conversation may then ask the one follow-up that settles it.

Rules that hold whatever the word lists say:
- a yes or a no typed to a question with more than two options is an answer only where the
  question is asked as yes-or-no and the step's rule says which button a yes (or a no) is
  (``Rule.particles``: consent, dsp, sensitive, work_office); to any other ("po" to "which of
  these is true for you now?") it is asked again;
- a yes or a no said of the past ("prej ja", "I used to, yes", "раніше так") is no answer,
  unless the answer also says how it is now ("prej ne, zdaj ja");
- a near miss ("otroški dodatek" at the social-assistance question: another benefit than
  the one asked about) makes the answer no answer, unless it is only named beside a clear
  answer, in a clause of its own: "ne, samo otroški dodatek" is a no, and "dobivam socialno
  in otroški dodatek" a yes, because it names the benefit asked about (``itself``);
- where a question asks about two things at once ("from another culture, or Roma?"), denying
  one of them ("nisem Rominja") is no answer;
- words that agree to a proposal ("lahko", "ni problema", "why not") are a yes where something
  is proposed and nothing at a question of fact (``Rule.factual``: DSP, the sensitive question,
  the place);
- at the summary, denying "fix" is not confirming ("ne popravi" is typed for "ne, popravi"):
  only the listed phrases ("nič ni treba popravljati") confirm; a "no need" or "I don't want"
  alone ("ni treba") is asked again there, and elsewhere it is a no;
- a clock time at the call-time question is read as morning or afternoon when it says so
  clearly ("po 15h", "do 12", "med 9 in 11", "after 3"), and as nothing otherwise ("po 9").

Serbian Cyrillic and Ukrainian in Latin letters meet their other spelling before matching
(``meta.translit`` and ``meta.respell`` of each language's file).

The words are data, one file per language in ``dialogs/data/answers/<lang>.toml`` (see the
comments at the top of ``sl.toml``); what each step's answers mean (which button "yes" is, what
denying a button leaves, …) is ``RULES`` below and the same in every language. Pure: the data
files are read once, nothing else is touched.
"""

from __future__ import annotations

import gettext
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from .languages import DEFAULT as DEFAULT_LANG, LANGUAGES as LANGS, from_telegram
from .options import OPTIONS
from .places import fold as places_fold

DATA = Path(__file__).parent / "data" / "answers"
LOCALES = Path(__file__).resolve().parent.parent / "locales"


@dataclass(frozen=True)
class Understood:
    """What a typed answer means at a step: the button, or None; and when None, the buttons an
    answer left after ruling others out ("ne delam": not employed), if it ruled any out."""

    choice: str | None
    narrows: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    """What a step's answers mean, the same in every language."""

    particles: dict[str, str] = field(default_factory=dict)  # yes/no/dont_know word → button
    negate: dict[str, str] = field(default_factory=dict)  # denying a button means this one
    when_denied: dict[str, tuple[str, ...]] = field(default_factory=dict)  # all denied → button
    covers: dict[str, tuple[str, ...]] = field(default_factory=dict)  # "any" = morning|afternoon
    durations: dict[str, str] = field(default_factory=dict)  # short/long → button
    borrow: str | None = None  # another step whose words count too (mapped by durations)
    whole_only: bool = False  # only whole answers count (hopes: anything else is the text)
    phone_veto: bool = False  # a text with a phone number in it is never a button
    unavailable: bool = False  # "dopoldne sem v službi" rules the morning out (words.unavailable)
    strict: bool = False  # an unknown word makes it no answer (a place name: the resolver's)
    questions_ok: tuple[str, ...] = ()  # buttons a question back may pick ("what data?")
    nothing_is_no: bool = True  # "nič", "nothing" alone is the no button (not at the summary:
    #                             "nothing [to fix]" or "nothing [is right]"? asked again);
    #                             so is a "no need", "I don't want" alone (words.no_verbs)
    waived: dict[str, str] = field(default_factory=dict)  # "no need to" + a button → button
    one_of_two: bool = False  # the question asks about two things at once: denying the yes
    #                           words of one of them ("nisem Rominja") is no answer
    clock: bool = False  # clock times ("po 15h", "do 12") are morning or afternoon
    factual: bool = False  # a question of fact ("do you receive DSP?"): words that agree to
    #                        a proposal ("lahko", "ni problema", "why not": words.agree) are
    #                        no answer to it


_YN = {"yes": "yes", "no": "no"}
RULES: dict[str, Rule] = {
    "consent": Rule(particles=_YN, negate={"yes": "no"},
                    questions_ok=("more_programme", "more_data")),
    "dsp": Rule(particles={**_YN, "dont_know": "dont_know"}, negate={"yes": "no"},
                durations={"short": "yes", "long": "yes"}, borrow="dsp_duration",
                factual=True),
    "dsp_duration": Rule(particles={"dont_know": "dont_know"},
                         negate={"long": "short", "short": "long"},
                         durations={"short": "short", "long": "long"}),
    "work": Rule(when_denied={"neither": ("employed", "registered")}),
    # the follow-up to "I don't work": registered at the employment office, or not
    "work_office": Rule(particles={"yes": "registered", "no": "neither"},
                        negate={"registered": "neither"}, factual=True),
    "sensitive_consent": Rule(particles={"yes": "yes", "no": "skip"}, negate={"yes": "skip"}),
    # "from another culture, or a Roma woman?": "nisem Rominja" answers half of it
    "sensitive": Rule(particles=_YN, one_of_two=True, factual=True),
    "hopes": Rule(whole_only=True),
    "fit": Rule(particles={"yes": "continue", "no": "stop"}, negate={"continue": "stop"}),
    "phone": Rule(phone_veto=True),
    "call_time": Rule(covers={"any": ("morning", "afternoon")}, phone_veto=True,
                      unavailable=True, clock=True),
    # denying "fix" is not confirming: "ne popravi", "no fix it", "ні виправте" are typed
    # for "no, fix it"; the phrases that confirm ("nič ni treba popravljati") are listed
    "summary": Rule(particles={"yes": "confirm", "no": "edit"}, negate={"confirm": "edit"},
                    waived={"edit": "confirm"},  # "nič ni treba popravljati", "nočem spreminjati"
                    nothing_is_no=False),
    "edit_choose": Rule(),
    "place_confirm": Rule(particles=_YN, negate={"yes": "no"}, strict=True, factual=True),
    "place_move": Rule(particles={"yes": "yes", "no": "back"}, negate={"yes": "back"},
                       strict=True, factual=True),
    "confirm_restart": Rule(particles={"yes": "restart", "no": "continue"},
                            negate={"restart": "continue"}),
    "confirm_delete": Rule(particles={"yes": "delete", "no": "keep"}, negate={"delete": "keep"}),
}
STEPS = tuple(RULES)

# Emoji stand for words; skin tones and variation selectors are dropped first.
EMOJI = {"👍": "<yes>", "👌": "<yes>", "✅": "<yes>", "✔": "<yes>", "☑": "<yes>", "🆗": "<yes>",
         "🙆": "<yes>", "👎": "<no>", "❌": "<no>", "✖": "<no>", "🚫": "<no>", "🙅": "<no>",
         "⛔": "<no>", "🤷": "<dont_know>", "❓": "<dont_know>", "✏": "<edit>", "📝": "<edit>"}
_EMOJI_WORDS = {"<yes>": "yes", "<no>": "no", "<dont_know>": "dont_know"}
_DROP = re.compile("[\U0001F3FB-\U0001F3FF\uFE0F\u200d]")
_TOKEN = re.compile(r"<\w+>|[0-9]+(?:\.[0-9]+)?|[^\W\d_]+|\|")
_PHONE = re.compile(r"[0-9][0-9\s/().-]{5,}[0-9]")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def _is_number(token: str) -> bool:
    return _NUMBER.fullmatch(token) is not None


# ----------------------------------------------------------------------------- the data


@dataclass
class Lexicon:
    lang: str
    fallback: tuple[str, ...]
    translit: dict[str, str]
    respell: list[tuple[str, str]]
    squeeze: bool
    neg_prefixes: tuple[str, ...]
    words: dict[str, list[str]]
    numbers: dict[str, float]
    units: dict[str, float]
    plural_units: dict[str, float]
    duration_words: dict[str, list[str]]  # half, and_half, more, less, almost, about
    fixed: dict[str, float]
    steps: dict[str, dict[str, Any]]
    commands: dict[str, str] = field(default_factory=dict)  # a whole message → a command
    bare: set[str] = field(default_factory=set)  # a bare yes or no (never a multi-choice answer)
    present: list[tuple[str, ...]] = field(default_factory=list)  # "zdaj": how it is now
    clock: dict[str, set[tuple[str, ...]]] = field(default_factory=dict)  # [clock] words
    known: set[str] = field(default_factory=set)
    candidates: dict[int, list[str]] = field(default_factory=dict)  # typo targets by length
    _typos: dict[str, str] = field(default_factory=dict)  # word → its correction, "" for none

    # -- normalising ----------------------------------------------------------

    def fold(self, text: str) -> str:
        text = _DROP.sub("", text)
        for emoji, word in EMOJI.items():
            text = text.replace(emoji, f" {word} ")
        text = unicodedata.normalize("NFKD", text.lower())
        text = "".join(ch for ch in text if not unicodedata.combining(ch)).replace("đ", "d")
        if self.translit:
            text = "".join(self.translit.get(ch, ch) for ch in text)
        text = re.sub(r"['’ʼ`´]", "", text)
        text = re.sub(r"([0-9])[.,]([0-9])", r"\1.\2", text)
        text = re.sub(r"([0-9])([^\W\d_])", r"\1 \2", text)  # "6mesecev", "2leti"
        text = re.sub(r"([^\W\d_])([0-9])", r"\1 \2", text)
        return re.sub(r"[,;:!?()\[\]/\\]|\.(?![0-9])|\s-\s|…", " | ", text)

    def spell(self, token: str) -> str:
        if token.startswith("<") or _is_number(token) or token == "|":
            return token
        for old, new in self.respell:
            token = token.replace(old, new)
        if self.squeeze:
            token = re.sub(r"(.)\1+", r"\1", token)
        return token

    def tokens(self, text: str) -> list[str]:
        """Words, with "|" where a clause ends."""
        stripped = text.strip()
        if stripped and all(ch in "?-.…/" for ch in stripped.replace(" ", "")):
            return [stripped[0]]  # "?", "-": only ever a whole answer
        return [self.spell(t) for t in _TOKEN.findall(self.fold(text))]

    def phrase(self, text: str) -> tuple[str, ...]:
        return tuple(t for t in self.tokens(text) if t != "|")

    # -- correcting -----------------------------------------------------------

    def correct(self, token: str) -> list[str]:
        """A typed word as one or more known words (unknown words stay as they are)."""
        if token in self.known or token.startswith("<") or _is_number(token) or token == "|":
            return [token]
        squeezed = re.sub(r"(.)\1+", r"\1", token)
        if squeezed in self.known:
            return [squeezed]
        for pre in self.neg_prefixes:
            rest = token[len(pre):]
            if token.startswith(pre) and len(rest) >= 3 and (rest in self.known):
                return [pre, rest]
        if len(token) >= 6:
            found = self._typos.get(token)
            if found is None:
                first, last = token[0], token[-1]
                best = {w for n in (len(token) - 1, len(token), len(token) + 1)
                        for w in self.candidates.get(n, ())
                        # one edit away keeps the first or the last letter
                        if (w[0] == first or w[-1] == last) and _within_one(token, w)}
                found = best.pop() if len(best) == 1 else ""
                if len(self._typos) < 20_000:
                    self._typos[token] = found
            if found:
                return [found]
        return [token]


def _within_one(a: str, b: str) -> bool:
    """Damerau-Levenshtein distance (adjacent swaps) of at most one."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    i = 0
    while i < min(la, lb) and a[i] == b[i]:
        i += 1
    if la == lb:
        return a[i + 1:] == b[i + 1:] or (a[i + 2:] == b[i + 2:] and a[i:i + 2] == b[i:i + 2][::-1])
    if la > lb:
        return a[i + 1:] == b[i:]
    return a[i:] == b[i + 1:]


def normalize_lang(lang: str | None) -> str:
    """One of LANGS: the code itself, or what a Telegram code ("hr", "en-GB") stands for."""
    return lang if lang in LANGS else from_telegram(lang)


@lru_cache(maxsize=None)
def lexicon(lang: str) -> Lexicon:
    with (DATA / f"{lang}.toml").open("rb") as fh:
        raw = tomllib.load(fh)
    meta = raw.get("meta", {})
    dur = raw.get("durations", {})
    lex = Lexicon(
        lang=lang,
        fallback=tuple(meta.get("fallback", ())),
        translit=dict(meta.get("translit", {})),
        respell=[tuple(pair) for pair in meta.get("respell", ())],
        squeeze=bool(meta.get("squeeze", False)),
        neg_prefixes=(),
        words={}, numbers={}, units={}, plural_units={}, duration_words={}, fixed={}, steps={},
    )
    p = lex.phrase
    lex.neg_prefixes = tuple(" ".join(p(w)) for w in meta.get("neg_prefixes", ()))
    lex.words = {k: [" ".join(p(w)) for w in v] for k, v in raw.get("words", {}).items()}
    lex.commands = {" ".join(p(w)): name for name, said in raw.get("commands", {}).items()
                    for w in said}
    for emoji_word, kind in _EMOJI_WORDS.items():
        lex.words.setdefault(kind, []).append(emoji_word)
    lex.bare = {w for kind in ("yes", "agree", "no", "no_verbs", "yes_whole", "no_whole")
                for w in lex.words.get(kind, ()) if w}
    lex.present = [tuple(w.split()) for w in lex.words.get("present", ()) if w]
    lex.clock = {k: {tuple(p(w)) for w in v} - {()} for k, v in raw.get("clock", {}).items()}
    lex.numbers = {" ".join(p(k)): float(v) for k, v in raw.get("numbers", {}).items()}
    lex.units = {" ".join(p(k)): float(v) for k, v in dur.get("units", {}).items()}
    lex.plural_units = {" ".join(p(k)): float(v) for k, v in dur.get("plural", {}).items()}
    lex.fixed = {" ".join(p(k)): float(v) for k, v in dur.get("fixed", {}).items()}
    lex.duration_words = {k: [" ".join(p(w)) for w in v] for k, v in dur.items()
                          if isinstance(v, list)}
    for step, table in raw.get("steps", {}).items():
        out: dict[str, Any] = {"say": {}, "deny": {}, "whole": {}, "itself": []}
        for key, val in table.items():
            if key in ("deny", "whole"):
                out[key] = {c: [" ".join(p(w)) for w in ws] for c, ws in val.items()}
            elif key == "itself":  # the thing asked about, by name (not a button)
                out[key] = [" ".join(p(w)) for w in val]
            else:
                out["say"][key] = [" ".join(p(w)) for w in val]
        lex.steps[step] = out
    # every word the data knows is never "corrected" into another one
    known: set[str] = set()
    for phrases in _all_phrases(lex):
        known.update(phrases.split())
    lex.known = known
    for w in known:
        if len(w) >= 5 and not w.startswith("<"):
            lex.candidates.setdefault(len(w), []).append(w)
    return lex


def _all_phrases(lex: Lexicon) -> Iterable[str]:
    for ws in lex.words.values():
        yield from ws
    yield from lex.numbers
    yield from lex.units
    yield from lex.plural_units
    yield from lex.fixed
    for ws in lex.duration_words.values():
        yield from ws
    for table in lex.steps.values():
        for key, part in table.items():
            if key == "itself":
                yield from part
                continue
            for ws in part.values():
                yield from ws
    for words in lex.clock.values():
        yield from (" ".join(w) for w in words)


@lru_cache(maxsize=None)
def _labels(lang: str, step: str) -> dict[str, str]:
    """The step's button labels in the language's catalog, folded → button id (typing a
    label, or pasting it, picks that button)."""
    try:
        cat = gettext.translation("messages", localedir=str(LOCALES), languages=[lang])
    except OSError:
        return {}
    lex = lexicon(lang)
    out: dict[str, str] = {}
    for cid, msgid in ((o[0], o[1]) for o in OPTIONS.get(step, [])):
        label = cat.gettext(msgid)
        if label != msgid and "{" not in label:
            out[" ".join(lex.phrase(label))] = cid
    return out


def _button_ids(step: str) -> list[str]:
    return [o[0] for o in OPTIONS.get(step, [])]


def _multiple_choice(step: str) -> bool:
    """A question of more than two options where a yes or a no names no button (work,
    call_time, dsp_duration, edit_choose): a bare yes or no is never its answer."""
    return len(_button_ids(step)) > 2 and not {"yes", "no"} & set(RULES[step].particles)


# ----------------------------------------------------------------------------- reading


@dataclass
class Item:
    kind: str  # say deny neutral yes no dont_know neg exc unav polite boundary past q word num
    #            unit plural fixed half and_half more less almost about atleast dur
    value: Any = None
    start: int = 0
    end: int = 0
    negated: bool = False
    locked: bool = False  # already turned round by a no before it ("ni treba popravljati")
    waived: bool = False  # turned round by a "no need", "I don't want" (words.no_verbs)


@lru_cache(maxsize=None)
def _table(lang: str, step: str) -> dict[tuple[str, ...], tuple[str, Any]]:
    """Every phrase that means something at this step → (kind, value). Later entries win, so
    a step's own words override the general ones."""
    lex = lexicon(lang)
    rule = RULES.get(step, Rule())
    table: dict[tuple[str, ...], tuple[str, Any]] = {}

    def put(phrases: Iterable[str], kind: str, value: Any = None) -> None:
        for ph in phrases:
            if ph:
                table[tuple(ph.split())] = (kind, value)

    for kind in ("known", "clause_initial"):
        put(lex.words.get(kind, ()), "word")
    for kind in ("polite", "boundary", "past", "questions"):
        put(lex.words.get(kind, ()), {"questions": "q"}.get(kind, kind))
    for kind in ("yes", "no", "dont_know"):
        put(lex.words.get(kind, ()), kind)
    # "lahko", "why not": agreeing to a proposal; to a question of fact it means nothing
    put(lex.words.get("agree", ()), "neutral" if rule.factual else "yes")
    put(lex.words.get("negators", ()), "neg")
    # "ni treba", "nočem": a no that turns the answer word after it round
    put(lex.words.get("no_verbs", ()), "no", "verb")
    put(lex.words.get("except", ()), "exc")
    if rule.clock:
        put(("<morning>",), "say", "morning")
        put(("<afternoon>",), "say", "afternoon")
        put(("<clock>",), "neutral")
    if rule.unavailable:
        put(lex.words.get("unavailable", ()), "unav")
    if rule.durations:
        for k, v in lex.numbers.items():
            table[tuple(k.split())] = ("num", v)
        for k, v in lex.units.items():
            table[tuple(k.split())] = ("unit", v)
        for k, v in lex.plural_units.items():
            table[tuple(k.split())] = ("plural", v)
        for kind in ("half", "and_half", "more", "less", "almost", "about", "atleast"):
            put(lex.duration_words.get(kind, ()), kind)
        for k, v in lex.fixed.items():
            table[tuple(k.split())] = ("fixed", v)
    steps = [rule.borrow, step] if rule.borrow else [step]
    for s in steps:
        data = lex.steps.get(s)
        if not data:
            continue
        for cid, phrases in data["say"].items():
            if cid == "neutral":
                put(phrases, "neutral")
            elif cid == "near":
                put(phrases, "near")
            elif s == step:
                put(phrases, "say", cid)
            elif cid in rule.durations:
                put(phrases, "say", rule.durations[cid])
        if s == step:
            for cid, phrases in data["deny"].items():
                put(phrases, "deny", cid)
    return table


@lru_cache(maxsize=None)
def _whole(lang: str, step: str) -> dict[str, str]:
    """Whole answers → button: the catalog's labels, the step's own list, then the general
    yes/no words that count only alone ("sem", "nič")."""
    lex = lexicon(lang)
    whole = dict(_labels(lang, step))
    for cid, phrases in lex.steps.get(step, {}).get("whole", {}).items():
        for ph in phrases:
            whole[ph] = cid
    for kind, cid in RULES[step].particles.items():
        for ph in lex.words.get(f"{kind}_whole", ()):
            whole.setdefault(ph, cid)
        if kind == "no" and RULES[step].nothing_is_no:  # "nič", "nothing": a no
            for ph in lex.words.get("nothing_whole", ()):
                whole.setdefault(ph, cid)
    return whole


def _items(tokens: list[str], table: dict[tuple[str, ...], tuple[str, Any]]) -> list[Item]:
    longest = max((len(k) for k in table), default=1)
    out: list[Item] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok == "|":
            out.append(Item("boundary", None, i, i + 1))
            i += 1
            continue
        hit = None
        for n in range(min(longest, len(tokens) - i), 0, -1):
            key = tuple(tokens[i:i + n])
            if "|" in key:
                continue
            if key in table:
                hit = (n, table[key])
                break
        if hit:
            n, (kind, value) = hit
            out.append(Item(kind, value, i, i + n))
            i += n
            continue
        if _is_number(tok):
            out.append(Item("num", float(tok), i, i + 1))
        else:
            out.append(Item("word", tok, i, i + 1))
        i += 1
    return out


def _durations(items: list[Item]) -> list[Item]:
    """Number + unit ("3 mesece", "pol leta", "leto in pol", "več kot dve leti") → one item
    with the range of months it means."""
    out: list[Item] = []
    i = 0
    while i < len(items):
        it = items[i]
        if it.kind == "fixed":
            out.append(Item("dur", (it.value, it.value), it.start, it.end))
            i += 1
            continue
        if it.kind not in ("unit", "plural"):
            out.append(it)
            i += 1
            continue
        # look back for the amount
        amount = None
        while out and out[-1].kind in ("num", "half"):
            prev = out.pop()
            if prev.kind == "half":
                amount = 0.5 if amount is None else amount  # "pol leta"
            elif amount is None:
                amount = prev.value
            elif amount == 0.5 and prev.value >= 1:
                amount = prev.value + 0.5  # "1 pol leta" is rare; keep the larger reading
            else:
                break
        if amount is None:
            amount = 3.0 if it.kind == "plural" else 1.0  # "leta" = years, "leto" = a year
        months = amount * it.value
        end = it.end
        if i + 1 < len(items) and items[i + 1].kind == "and_half":
            months += 0.5 * it.value
            end = items[i + 1].end
            i += 1
        lo, hi = months, months
        if out and out[-1].kind in ("more", "less", "almost", "about", "atleast"):
            mod = out.pop().kind
            if mod == "more":
                lo, hi = months + 0.01, float("inf")
            elif mod == "atleast":
                lo, hi = months, float("inf")
            elif mod == "less":
                lo, hi = 0.0, months - 0.01
            elif mod == "almost":
                lo, hi = months * 0.75, months - 0.01
            else:
                lo, hi = months * 0.9, months * 1.1
        if i + 1 < len(items) and items[i + 1].kind == "about" and lo == hi:
            lo, hi = months * 0.9, months * 1.1  # "a year or so"
            end = items[i + 1].end
            i += 1
        out.append(Item("dur", (lo, hi), it.start, end))
        i += 1
    # a modifier left without a unit ("več", "manj") is just a word
    return [Item("word", None, x.start, x.end) if x.kind in ("half", "and_half", "more", "less",
                                                              "almost", "about", "atleast")
            else x for x in out]


def _length(lo: float, hi: float) -> str | None:
    if hi < 12:
        return "short"
    if lo >= 12:
        return "long"
    return None


TARGETS = ("say", "deny", "yes", "no", "dont_know", "dur")
WINDOW = 3
MAX_WORDS = 40  # a longer text is no answer to a button question


@dataclass
class Reading:
    affirmed: set[str] = field(default_factory=set)
    denied: set[str] = field(default_factory=set)
    veto: bool = False
    question: bool = False  # asked something back
    recognized: bool = False
    past_particle: bool = False  # a yes or no said of the past ("prej ja")
    past: bool = False  # some clause speaks of the past ("I used to, yes")
    yes_said: bool = False  # a yes counted
    near: bool = False  # a near miss was named ("otroški dodatek")
    names_itself: bool = False  # the thing asked about was named ("socialno")


def _read(step: str, text: str, lex: Lexicon) -> Reading:
    rule = RULES[step]
    table = _table(lex.lang, step)
    reading = Reading()
    raw = lex.tokens(text)
    if len(raw) > MAX_WORDS:
        reading.veto = reading.recognized = True  # and no other language is tried
        return reading
    tokens: list[str] = []
    for t in raw:
        tokens += lex.correct(t)
    if rule.clock and lex.clock:
        units = {u.split()[0] for u in (*lex.units, *lex.plural_units)}
        tokens = _clock(tokens, lex.clock, units)  # "po 15h" → <afternoon>
    reading.recognized = any(t in lex.known or t.startswith("<") for t in tokens)
    # a whole answer (without "hvala", "prosim"): the step's list, the catalog's labels
    items = _items(tokens, table)
    core_items = [it for it in items if it.kind not in ("polite", "boundary")]
    core = " ".join(" ".join(tokens[it.start:it.end]) for it in core_items)
    if not core_items:  # "no" alone, though in Latin letters it is also "но" (but)
        core = " ".join(t for t in tokens if t != "|")
    whole = _whole(lex.lang, step)
    if core in lex.bare and _multiple_choice(step):
        # a bare yes or no to a question of more than two options that is not asked as
        # yes-or-no ("which of these is true for you now?"): whatever the lists say
        reading.veto = reading.recognized = True
        return reading
    if core in whole:
        reading.affirmed.add(whole[core])
        reading.recognized = True
        return reading
    if rule.whole_only:
        return reading
    if rule.strict and any(t not in lex.known and t != "|" and not t.startswith("<")
                           and not _is_number(t) for t in tokens):
        reading.veto = True  # "ne, v Kotljah": the place resolver reads it
        return reading
    if rule.durations:
        items = _durations(items)
    # a question back ("kaj je to?") is no answer, unless the step has a button for it
    has_q = "?" in text
    for n, it in enumerate(items):
        if it.kind == "q" and (has_q or n == 0):
            reading.question = True
    clause_initial = set(lex.words.get("clause_initial", ()))
    negators = {w for w in lex.words.get("negators", ()) if " " not in w}
    # clause by clause
    clauses: list[list[Item]] = [[]]
    for it in items:
        if it.kind == "boundary":
            clauses.append([])
        else:
            clauses[-1].append(it)
    for clause in clauses:
        _clause(clause, tokens, rule, clause_initial, negators, reading, lex.present)
        if any(it.kind == "near" for it in clause):
            reading.near = True
            # "otroški dodatek" beside nothing else in its clause is only named beside the
            # answer; "dobivam otroški dodatek", "nimam otroškega dodatka" are about it
            if any(it.kind not in ("near", "word", "num", "polite", "neutral")
                   for it in clause):
                reading.veto = True
    if reading.near:
        reading.recognized = True
        # the benefit asked about, named outside the near misses ("socialno")
        kept = list(tokens)
        for it in items:
            if it.kind == "near":
                kept[it.start:it.end] = ["|"] * (it.end - it.start)
        reading.names_itself = any(_contains(kept, ph.split())
                                   for ph in lex.steps.get(step, {}).get("itself", ()))
    if ((reading.past_particle or (reading.past and reading.yes_said))
            and not _says_now(tokens, lex.present)):
        reading.veto = True  # "prej ja", "I used to, yes": and now?
    return reading


def _contains(tokens: list[str], phrase: list[str]) -> bool:
    n = len(phrase)
    return n > 0 and any(tokens[i:i + n] == phrase for i in range(len(tokens) - n + 1))


def _hour(tokens: list[str], i: int, clock: dict[str, set[tuple[str, ...]]],
          units: set[str] = frozenset()) -> tuple[int, float] | None:
    """An hour at tokens[i:] ("15", "ob 15h", "ore 3", "3 pm", "9.30"): (tokens used, hour);
    None for a number of days or weeks ("në 2 javë")."""
    j = i
    j += _match(tokens, j, clock.get("hour", ()))  # "pas ores 3"
    if j >= len(tokens) or not _is_number(tokens[j]):
        return None
    hour = float(tokens[j])
    j += 1
    for _ in range(2):  # "15 h", "3 pm", "15 ure"
        n = _match(tokens, j, clock.get("pm", ()))
        if n:
            hour = hour + 12 if hour < 12 else hour
            j += n
            continue
        n = _match(tokens, j, clock.get("am", set()) | clock.get("hour", set()))
        if not n:
            break
        j += n
    if not 0 <= hour <= 24 or (j < len(tokens) and tokens[j] in units):
        return None
    return j - i, hour


def _match(tokens: list[str], i: int, phrases: Iterable[tuple[str, ...]]) -> int:
    """The length of the longest of ``phrases`` at tokens[i:], or 0."""
    best = 0
    for ph in phrases:
        if len(ph) > best and tuple(tokens[i:i + len(ph)]) == ph:
            best = len(ph)
    return best


def _pm(hour: float) -> float:
    """An hour of 1 to 6 said of a call is in the afternoon ("po 3", "after 2")."""
    return hour + 12 if 1 <= hour < 7 else hour


def _clock(tokens: list[str], clock: dict[str, set[tuple[str, ...]]],
           units: set[str] = frozenset()) -> list[str]:
    """Clock times at the call-time question: "do 12", "pred 11h" → <morning>; "po 15h",
    "after 3", "pas ores 3" → <afternoon>; "med 9 in 11", "od 13 do 15" → the part of the
    day both ends are in; "ob 10" → the part of the day it is in. A time that is not clearly
    one or the other ("po 9", "ob 12", "do 16") is <clock>: it means nothing here."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        found = None
        for kind in ("between", "after", "until", "at"):
            n = _match(tokens, i, clock.get(kind, ()))
            if not n:
                continue
            first = _hour(tokens, i + n, clock, units)
            if first is None:
                continue
            used, h1 = first
            end = i + n + used
            h2 = None
            m = _match(tokens, end, clock.get("to", ()))
            if kind in ("between", "after") and (m or end < len(tokens)):
                # "med 9 in 11", "od 9 do 11", "od 9-11" (the dash is not a word)
                second = _hour(tokens, end + m, clock, units)
                if second is not None:
                    h2 = second[1]
                    end += m + second[0]
            if kind == "between" and h2 is None:
                continue
            found = (end, _part_of_day(kind, h1, h2))
            break
        if found:
            end, part = found
            out.append(part)
            i = end
        else:
            out.append(tokens[i])
            i += 1
    return out


def _part_of_day(kind: str, h1: float, h2: float | None) -> str:
    if h2 is not None:
        lo, hi = _pm(h1), _pm(h2)  # "od 10 do 2" is 10 to 14
        if 7 <= lo < hi <= 12:
            return "<morning>"
        if 12 <= lo < hi <= 20:
            return "<afternoon>"
        return "<clock>"
    hour = _pm(h1)
    if kind == "until":
        return "<morning>" if 9 <= hour <= 13 else "<clock>"  # "do 12", "pred 11"
    if kind == "after":  # "po 15h", "after 2"; "po 9" or "po 18h" (the evening) are neither
        return "<afternoon>" if 12 <= hour <= 16 else "<clock>"
    if 8 <= hour < 12:  # "ob 10"; "ob 7" may be the evening
        return "<morning>"
    if 13 <= hour <= 16:
        return "<afternoon>"
    return "<clock>"


def _now_next_to(tokens: list[str], it: Item, present: list[tuple[str, ...]]) -> bool:
    """A yes or no said with "now" right next to it ("not now", "zdaj ne")."""
    return any(tuple(tokens[it.end:it.end + len(p)]) == p
               or tuple(tokens[max(0, it.start - len(p)):it.start]) == p for p in present)


def _says_now(tokens: list[str], present: list[tuple[str, ...]]) -> bool:
    return any(tuple(tokens[i:i + len(p)]) == p for p in present
               for i in range(len(tokens) - len(p) + 1))


def _clause(clause: list[Item], tokens: list[str], rule: Rule, clause_initial: set[str],
            negators: set[str], reading: Reading,
            present: list[tuple[str, ...]] = ()) -> None:
    # a word said of the past ("bila sem zaposlena") is no answer about now
    past = any(it.kind == "past" for it in clause)
    reading.past = reading.past or past
    # particles that are conjunctions too ("mislim, da …") count only first in a clause
    for n, it in enumerate(clause):
        if it.kind == "yes" and n > 0 and " ".join(tokens[it.start:it.end]) in clause_initial:
            it.kind = "word"
    # a no that takes a verb, followed by an answer word, turns that word round ("ni treba
    # popravljati", "nočem spreminjati"); a plain no before one ("ні виправте", "nope change
    # it") is typed for "no, fix it" and stays a no
    for n, it in enumerate(clause):
        if it.kind != "no" or it.value != "verb":
            continue
        for m in range(n + 1, min(n + 1 + WINDOW, len(clause))):
            cand = clause[m]
            if cand.kind in ("say", "deny") and not cand.locked:
                cand.negated, cand.locked, cand.waived = True, True, True
                it.kind = "word"
                break
            if cand.kind not in ("word", "num", "neutral"):
                break
    for n, it in enumerate(clause):
        if it.kind == "unav":
            _unavailable(clause, n)
        elif it.kind == "exc":
            if _except(clause, n):
                continue
            if set(tokens[it.start:it.end]) & negators:
                it.kind = "neg"  # "used to, but not now": nothing to except, a plain not
                _negator(clause, n, tokens, negators, reading)
            else:
                it.kind = "word"
        elif it.kind == "neg":
            _negator(clause, n, tokens, negators, reading)
    for it in clause:
        if it.kind in ("say", "deny", "yes", "no", "dont_know", "dur", "neutral"):
            reading.recognized = True
        if it.kind == "say":
            if past:
                continue
            if it.negated and it.waived and it.value in rule.waived:
                reading.affirmed.add(rule.waived[it.value])  # "ni treba popravljati"
                continue
            (reading.denied if it.negated else reading.affirmed).add(it.value)
        elif it.kind == "deny":
            if past or it.negated:
                continue  # "nisem brezposelna": a double negative is no clear answer
            reading.denied.add(it.value)
        elif it.kind in ("yes", "no", "dont_know"):
            kind = it.kind
            if past and kind in ("yes", "no") and not _now_next_to(tokens, it, present):
                reading.past_particle = True  # "prej ja"; but "used to, not now" is now
                continue
            if it.negated:
                if kind == "yes" and "yes" in rule.particles:
                    reading.denied.add(rule.particles["yes"])
                continue
            if kind == "no" and it.value == "verb" and not rule.nothing_is_no:
                reading.veto = True  # "ni treba" at the summary: no need to fix, or a no?
                continue
            if kind in rule.particles:
                reading.affirmed.add(rule.particles[kind])
                reading.yes_said = reading.yes_said or kind == "yes"
            elif kind == "dont_know":
                reading.veto = True  # "ja, ampak ne vem …" where "ne vem" is no button
        elif it.kind == "dur":
            lo, hi = it.value
            if it.negated:
                # "ni še leto": less than that
                length = _length(0.0, lo - 0.01) if lo > 0 else None
                if length and length in rule.durations:
                    reading.affirmed.add(rule.durations[length])
                continue
            length = _length(lo, hi)
            if length is None:
                reading.veto = True  # "približno leto", "več kot pol leta"
            elif length in rule.durations:
                reading.affirmed.add(rule.durations[length])


def _negator(clause: list[Item], n: int, tokens: list[str], negators: set[str],
             reading: Reading) -> None:
    """A negator turns round the answer word after it ("ne dopoldne"), or failing that the
    one just before it ("dopoldne ne (morem)"); alone it is a plain no ("ne, hvala")."""
    it = clause[n]
    nxt = clause[n + 1] if n + 1 < len(clause) else None
    prev = clause[n - 1] if n > 0 else None
    if nxt is not None and (nxt.kind in ("neg", "no") or (
            nxt.kind in ("say", "deny") and tokens[nxt.start] in negators)):
        it.kind = "no"  # "ne ne", "ne, nak", "no, don't delete": a plain no
        return
    if nxt is not None and nxt.kind == "dont_know":
        it.kind = "word"
        return
    target = None
    skipped = []
    for m in range(n + 1, min(n + 1 + WINDOW, len(clause))):
        cand = clause[m]
        if cand.locked:
            break
        if cand.kind in ("say", "deny", "dur"):
            target = m
            break
        if cand.kind == "yes":
            skipped.append(m)
            continue
        if cand.kind in ("neg", "polite", "no", "dont_know", "unav"):
            break
    if target is None and skipped:
        target = skipped.pop(0)
    if target is not None:
        if prev is not None and prev.kind in ("say", "dur") and clause[target].kind != "yes":
            # "dopoldne ne popoldne": "morning, not afternoon" or "morning no, afternoon"?
            reading.veto = True
        for m in skipped:
            clause[m].kind = "word"
        clause[target].negated = not clause[target].negated
        it.kind = "word"
        return
    if prev is not None and prev.kind in ("say", "dur") and not prev.negated and not prev.locked:
        prev.negated = True  # "dopoldne ne (morem)"
        it.kind = "word"
        return
    if nxt is None or nxt.kind == "polite":
        it.kind = "no"  # "ne", "ne hvala"
        return
    if nxt.kind in ("word", "num", "q", "neutral", "past"):
        reading.veto = True  # denies something we do not know: ask again
        it.kind = "word"
        return
    it.kind = "no"


def _except(clause: list[Item], n: int) -> bool:
    """"Kadarkoli razen dopoldne": the answer word after it is ruled out (False: there was
    none)."""
    for m in range(n + 1, min(len(clause), n + 1 + WINDOW)):
        if clause[m].kind in ("say", "dur"):
            clause[n].kind = "word"
            clause[m].negated = True
            return True
    return False


def _unavailable(clause: list[Item], n: int) -> None:
    """"Dopoldne sem v službi", "mornings are bad": the time said next to it is ruled out."""
    clause[n].kind = "word"
    order = list(range(n - 1, max(-1, n - 1 - WINDOW), -1)) + list(
        range(n + 1, min(len(clause), n + 1 + WINDOW)))
    for m in order:
        if clause[m].kind == "say":
            clause[m].negated = True
            return


def _decide(reading: Reading, rule: Rule) -> str | None:
    if reading.veto:
        return None
    if rule.one_of_two and "yes" in reading.denied:
        return None  # "nisem Rominja": and from another culture?
    picked = _pick(reading, rule)
    if reading.question and picked not in rule.questions_ok:
        return None
    if reading.near and picked is not None:
        # a near miss named beside the answer: a clear no stands ("ne, samo otroški
        # dodatek"); a yes only if it names the benefit asked about as well
        if picked == rule.particles.get("no"):
            return picked
        if picked == rule.particles.get("yes") and reading.names_itself:
            return picked
        return None
    return picked


def _pick(reading: Reading, rule: Rule) -> str | None:
    affirmed, denied = set(reading.affirmed), set(reading.denied)
    if affirmed & denied:
        return None
    for cid in list(denied):
        if cid in rule.negate:
            affirmed.add(rule.negate[cid])
    for wide, narrow in rule.covers.items():
        if wide in affirmed and denied & set(narrow):
            left = [c for c in narrow if c not in denied]
            affirmed.discard(wide)
            if len(left) == 1:
                affirmed.add(left[0])
            else:
                return None
        if set(narrow) <= affirmed:
            affirmed -= set(narrow)
            affirmed.add(wide)
    if not affirmed:
        for cid, needed in rule.when_denied.items():
            if set(needed) <= denied:
                affirmed.add(cid)
    if affirmed & denied:
        return None
    return affirmed.pop() if len(affirmed) == 1 else None


def _narrows(reading: Reading, rule: Rule, ids: list[str]) -> tuple[str, ...]:
    """The buttons an answer that chose none left, when it ruled some out and nothing else
    (no veto, no question, nothing affirmed): "ne delam" leaves registered, neither, other."""
    if (reading.veto or reading.question or reading.affirmed or not reading.denied
            or rule.one_of_two):
        return ()
    out = set(reading.denied)
    for wide, narrow in rule.covers.items():  # "not in the morning" rules out "any time" too
        if out & set(narrow):
            out.add(wide)
    left = tuple(c for c in ids if c not in out)
    return left if 1 < len(left) < len(ids) else ()


def _choose_in(step: str, text: str, lex: Lexicon) -> tuple[str | None, bool, tuple[str, ...]]:
    reading = _read(step, text, lex)
    picked = _decide(reading, RULES[step])
    narrows = () if picked is not None else _narrows(reading, RULES[step], _button_ids(step))
    return picked, reading.recognized, narrows


def command_word(text: str, lang: str | None = DEFAULT_LANG) -> str | None:
    """The command a message is when it is nothing but a command's words ("pomoč", "moji
    podatki", "izbriši"), in the person's language, Slovenian or English: pomoc, status,
    izbrisi, jezik, moji_podatki, preklici. Where people cannot tap a slash command (Viber,
    WhatsApp) these are the commands; on Telegram they work as well."""
    if len(text) > 60:
        return None
    for code in dict.fromkeys((normalize_lang(lang), DEFAULT_LANG, "en")):
        lex = lexicon(code)
        found = lex.commands.get(" ".join(lex.phrase(text)))
        if found is not None:
            return found
    return None


def choose(step: str, text: str, lang: str | None = DEFAULT_LANG) -> str | None:
    """The id of the button of ``step`` that ``text`` means, or None (ask again)."""
    return understand(step, text, lang).choice


def understand(step: str, text: str, lang: str | None = DEFAULT_LANG) -> Understood:
    """The button of ``step`` that ``text`` means (or None: ask again) and, when it means
    none but rules some out, the buttons left."""
    rule = RULES.get(step)
    if rule is None or not isinstance(text, str) or not text.strip() or len(text) > 1000:
        return Understood(None)
    ids = _button_ids(step)
    stripped = text.strip().rstrip(".)").strip()
    if stripped.isascii() and stripped.isdigit():  # a button by its position
        pos = int(stripped) - 1
        return Understood(ids[pos] if 0 <= pos < len(ids) else None)
    if rule.phone_veto and _PHONE.search(text):
        return Understood(None)
    lang = normalize_lang(lang)
    picked, recognized, narrows = _choose_in(step, text, lexicon(lang))
    if picked is None and not recognized and len(text.split()) <= 12:
        # nothing in the resident's language: maybe they wrote in Slovenian or English
        for other in lexicon(lang).fallback:
            picked, recognized, narrows = _choose_in(step, text, lexicon(other))
            if recognized:
                break
    if picked in ids:
        return Understood(picked)
    return Understood(None, narrows)


def choose_among(text: str, options: list[tuple[str, list[str]]]) -> str | None:
    """For questions whose buttons are made on the spot (which of these places): the option
    whose words match the typed text exactly or, for words of four letters or more, as part
    of it; a number picks by position."""
    cleaned = " ".join(fold(text).replace("!", " ").replace(".", " ").replace(",", " ").split())
    if not cleaned:
        return None
    if cleaned.isascii() and cleaned.isdigit():
        pos = int(cleaned) - 1
        return options[pos][0] if 0 <= pos < len(options) else None
    for choice, words in options:
        if cleaned in words:
            return choice
    hits = {choice for choice, words in options for w in words if len(w) >= 4 and w in cleaned}
    return hits.pop() if len(hits) == 1 else None


def fold(text: str) -> str:
    """Lower case without diacritics, Cyrillic in Latin letters (dialogs.places.fold: a place
    typed in Cyrillic, "Муті", meets the Latin names of the buttons)."""
    return places_fold(text)
