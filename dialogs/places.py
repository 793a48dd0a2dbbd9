"""Where does a resident live? A pure resolver from free text to municipality and programme site.

The data (``dialogs/data/*.csv``, built from ``shared/reference/places``) is read once, on first
use; a call does no I/O. Matching works on folded text (lower case, č/š/ž → c/s/z; Serbian and
Ukrainian Cyrillic first written in Latin letters the Slovenian way: "Словењ Градец", "Муті",
"Равне на Корошкем") in three stages, each tried only when the one before found nothing:

1. names: official municipality and settlement names, aliases and foreign places, in any of the
   case forms Slovenian gives them ("iz Raven", "v Radljah", "na Svetem Primožu nad Muto"), and
   names with their qualifier dropped ("Ravne" for "Ravne na Koroškem", weaker);
2. a Koroška postal code (a strong hint, confirmed with the resident);
3. typos: one edit (two in long words) away from a known name form.

Before the first stage, a word that is no known name form but can be cut into them is cut where
that makes a name of several words: "ravnenakoroskem", "vslovenjgradcu", "ravne nakoroskem". A
preposition glued to a one-word name ("vdravogradu") is cut too, and then confirmed.

The answer is one of ``resolved``, ``ambiguous``, ``outside`` or ``unknown``; ``confirm`` says
when the bot should ask "Ste mislili …?" before it trusts the answer.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path

KOROSKA = "Koroška"
SITES = ("slovenj-gradec", "radlje-ob-dravi")

# Alias kinds that are guesses about what a person meant, not names of their own.
_GUESS_ALIAS_KINDS = {"colloquial", "abbreviation", "ambiguous"}
# Words between a name and its qualifier ("Ravne *na* Koroškem").
_QUALIFIER_WORDS = {"na", "ob", "pri", "nad", "pod", "v"}
# Place names that are everyday words too ("kot", "vas", "šele"): matched only when they are the
# whole answer, never inside a sentence.
_COMMON_WORDS = {
    "kot", "vas", "lom", "plat", "breg", "sele", "vrata", "topla", "vic", "brda", "gmajna",
    "paka", "vrhe", "poljana", "mlake", "velka", "legen", "javnik", "kozjak", "brezno",
}
_PREPOSITIONS = {"v", "na", "iz", "z", "s", "pri", "od", "do"}
# Words around a place that carry no place information.
_FILLER = {
    "v", "na", "iz", "z", "s", "pri", "od", "do", "blizu", "zivim", "zivimo", "sem", "smo",
    "doma", "stanujem", "stanujemo", "prihajam", "obcina", "obcini", "obcine", "mesto", "vas",
    "kraj", "je", "moj", "moja", "in", "pa", "ja", "da", "tam", "tu", "ulica", "cesta",
}
_ABBREVIATIONS = {
    "sveti": {"sv"}, "sveta": {"sv"}, "sveto": {"sv"},
    "spodnja": {"sp"}, "spodnji": {"sp"}, "zgornja": {"zg"}, "zgornji": {"zg"},
    "srednji": {"sr"}, "gornji": {"g"},
    "trije": {"treh", "trem", "tremi"},
}
_VOWELS = set("aeiou")
_POSTAL_RE = re.compile(r"(?<!\d)(?:si\s*-?\s*)?(\d{4})(?!\d)", re.IGNORECASE)
_TOKEN_RE = re.compile(r"[a-z0-9]+")
_DATA_DIR = Path(__file__).resolve().parent / "data"
MAX_INPUT = 500  # characters looked at; a place is never longer


@dataclass(frozen=True)
class Candidate:
    municipality: str | None
    site: str | None
    place: str | None = None  # the settlement or alias the resident named, for a button label

    def to_json(self) -> dict:
        return {"municipality": self.municipality, "site": self.site, "place": self.place}


@dataclass(frozen=True)
class Resolution:
    status: str  # resolved | ambiguous | outside | unknown
    municipality: str | None = None
    site: str | None = None
    region: str | None = None
    candidates: tuple[Candidate, ...] = ()
    place: str | None = None
    confirm: bool = False
    social_work_centre: str | None = None

    def to_json(self) -> dict:
        return {
            "status": self.status,
            "municipality": self.municipality,
            "site": self.site,
            "region": self.region,
            "candidates": [c.to_json() for c in self.candidates],
            "place": self.place,
            "confirm": self.confirm,
            "social_work_centre": self.social_work_centre,
        }


UNKNOWN = Resolution(status="unknown")


# --------------------------------------------------------------------------- text


# Cyrillic (Serbian, Ukrainian, and the Russian letters people type) → Latin, as Slovenian
# writes the sounds; a soft sign makes nj and lj ("Словень" → "slovenj") and is dropped
# elsewhere. Latin text is not touched, so every Latin answer stays as it was.
_CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "g", "ґ": "g", "д": "d", "ђ": "đ", "е": "e", "є": "je",
    "ж": "ž", "з": "z", "и": "i", "і": "i", "ї": "ji", "й": "j", "ј": "j", "к": "k", "л": "l",
    "љ": "lj", "м": "m", "н": "n", "њ": "nj", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "ћ": "ć", "у": "u", "ф": "f", "х": "h", "ц": "c", "ч": "č", "џ": "dž", "ш": "š", "щ": "šč",
    "ь": "", "ъ": "", "ы": "i", "э": "e", "ю": "ju", "я": "ja", "ё": "jo", "ў": "u",
}
_SOFT = re.compile("([нл])ь")
_HAS_CYRILLIC = re.compile("[\u0400-\u04ff]")


def latin(text: str) -> str:
    """Cyrillic letters in Latin ones, the Slovenian way ('Словењ Градец' → 'slovenj gradec',
    in lower case); text without Cyrillic comes back as it was."""
    if not _HAS_CYRILLIC.search(text):
        return text
    text = _SOFT.sub(lambda m: m.group(1) + "j", unicodedata.normalize("NFC", text.lower()))
    return "".join(_CYRILLIC.get(ch, ch) for ch in text)


def fold(text: str) -> str:
    """Lower case without diacritics: 'Črna na Koroškem' → 'crna na koroskem'; Cyrillic in
    Latin letters first ('Мута' → 'muta')."""
    decomposed = unicodedata.normalize("NFKD", latin(text).lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).replace("đ", "d")


def tokens(text: str) -> list[str]:
    return _TOKEN_RE.findall(fold(text))


def _units(stem: str) -> list[str]:
    """Letters, with the digraphs lj and nj as one consonant."""
    out: list[str] = []
    i = 0
    while i < len(stem):
        if stem[i : i + 2] in ("lj", "nj"):
            out.append(stem[i : i + 2])
            i += 2
        else:
            out.append(stem[i])
            i += 1
    return out


def _with_fleeting_e(stem: str) -> str:
    """Genitive plural with a fleeting e: ravn → raven, radlj → radelj, kotlj → kotelj."""
    u = _units(stem)
    if len(u) >= 3 and u[-1][0] not in _VOWELS and u[-2][0] not in _VOWELS:
        return "".join(u[:-1]) + "e" + u[-1]
    return stem


def word_forms(word: str) -> set[str]:
    """The case forms of one folded word of a place name (a generous over-approximation)."""
    forms = {word}
    forms |= _ABBREVIATIONS.get(word, set())
    if word in _QUALIFIER_WORDS or len(word) < 3 or word.isdigit():
        return forms
    if word.endswith("i"):  # adjective, masculine: Otiški, Sveti, Zgornji
        stem = word[:-1]
        forms |= {stem + s for s in ("ega", "em", "emu", "im", "ih", "ima")}
    elif word.endswith("a"):  # feminine: Muta, Mežica; plural neuter: Brda
        stem = word[:-1]
        forms |= {stem + s for s in ("e", "i", "o", "ih", "ah", "am")}
        forms.add(stem)
    elif word.endswith("e"):  # plural: Ravne, Prevalje, Kotlje, Dravče
        stem = word[:-1]
        forms |= {stem + s for s in ("ah", "am", "ami", "ih", "i")}
        forms |= {stem, _with_fleeting_e(stem)}
    elif word.endswith("o"):  # neuter: Šmartno
        stem = word[:-1]
        forms |= {stem + s for s in ("a", "u", "om", "em", "ega", "emu")}
    else:  # consonant: Dravograd, Vuhred, Gradec (fleeting e), Vas
        forms |= {word + s for s in ("a", "u", "om", "em", "i", "ju", "ja")}
        if word.endswith("ec"):
            stem = word[:-2] + "c"
            forms |= {stem + s for s in ("a", "u", "em", "om", "i")}
        if word.endswith("el") or word.endswith("en"):
            stem = word[:-2] + word[-1]
            forms |= {stem + s for s in ("a", "u", "om")}
    return forms


def _deletes(word: str, depth: int) -> set[str]:
    out = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        out |= frontier
    return out


def _distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance (Damerau–Levenshtein with adjacent swaps), capped."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def _typo_budget(word: str) -> int:
    if len(word) < 5:
        return 0
    return 1 if len(word) < 9 else 2


# --------------------------------------------------------------------------- data


@dataclass
class _Entry:
    """One name the resolver knows, and what it points to."""

    name: str
    municipalities: tuple[str, ...]
    kind: str  # municipality | settlement | alias | foreign
    strength: int  # 3: a name of its own; 2: a qualifier dropped
    guess: bool  # the resident should confirm
    slots: list[set[str]] = field(default_factory=list)


@dataclass
class _Data:
    region_of: dict[str, str]
    site_of: dict[str, str]
    postal: dict[str, str]
    centre_of_region: dict[str, list[str]]
    centre_of_seat_area: dict[str, str]
    entries: list[_Entry]
    by_first: dict[str, list[int]]
    typo_index: dict[str, set[str]]
    vocab: frozenset[str]  # every word form of every name, for cutting glued words
    longest_slots: int  # words in the longest name
    longest_form: int  # letters in the longest word form


def _read(name: str) -> list[dict[str, str]]:
    text = (_DATA_DIR / name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def _split_municipalities(value: str) -> tuple[str, ...]:
    return tuple(re.sub(r"\s*\(.*?\)\s*", "", part).strip() for part in value.split(";"))


@cache
def _data() -> _Data:
    region_of = {r["municipality"]: r["statistical_region"] for r in _read("municipalities.csv")}
    site_of = {r["municipality"]: r["site"] for r in _read("sites.csv")}
    postal = {r["postal_code"]: r["municipalities"] for r in _read("postal_codes.csv")}
    centre_of_region: dict[str, list[str]] = {}
    centre_of_seat_area: dict[str, str] = {}
    for r in _read("social_work_centres.csv"):
        centre_of_region.setdefault(r["statistical_region"], []).append(r["centre"])
        for area in r["upravne_enote"].split(";"):
            centre_of_seat_area[area.strip()] = r["centre"]

    raw: list[tuple[str, tuple[str, ...], str, bool]] = []
    for m in region_of:
        raw.append((m, (m,), "municipality", False))
        if " / " in m or "/" in m:  # bilingual names: Lendava/Lendva
            for part in m.split("/"):
                raw.append((part.strip(), (m,), "municipality", False))
    for r in _read("settlements.csv"):
        raw.append((r["settlement"], (r["municipality"],), "settlement", False))
    for r in _read("aliases.csv"):
        munis = _split_municipalities(r["municipality"])
        raw.append((r["alias"], munis, "alias", r["kind"] in _GUESS_ALIAS_KINDS))
    for r in _read("foreign.csv"):
        raw.append((r["name"], (), "foreign", False))

    entries: list[_Entry] = []
    for name, munis, kind, guess in raw:
        words = tokens(name)
        if not words:
            continue
        entries.append(_Entry(name, munis, kind, 3, guess, [word_forms(w) for w in words]))
        # "Ravne na Koroškem" is also said "Ravne": keep the head, weaker and to be confirmed.
        for i, w in enumerate(words):
            if i > 0 and w in _QUALIFIER_WORDS and kind != "foreign":
                head = words[:i]
                entries.append(_Entry(name, munis, kind, 2, True, [word_forms(x) for x in head]))
                break

    by_first: dict[str, list[int]] = {}
    typo_index: dict[str, set[str]] = {}
    for idx, e in enumerate(entries):
        for form in e.slots[0]:
            by_first.setdefault(form, []).append(idx)
        for base, slot in zip(tokens(e.name), e.slots):
            if _typo_budget(base) == 0:
                continue  # short words ("Dol", "Vič") are too easy to hit by mistake
            for form in slot:
                for d in _deletes(form, _typo_budget(form)):
                    typo_index.setdefault(d, set()).add(form)
    vocab = frozenset(form for e in entries for slot in e.slots for form in slot)
    return _Data(region_of, site_of, postal, centre_of_region, centre_of_seat_area, entries,
                 by_first, typo_index, vocab, max(len(e.slots) for e in entries),
                 max(len(form) for form in vocab))


def municipalities_of_site(site: str) -> list[str]:
    return [m for m, s in _data().site_of.items() if s == site]


def koroska_municipalities() -> list[str]:
    return list(_data().site_of)


def site_of(municipality: str) -> str | None:
    return _data().site_of.get(municipality)


def region_of(municipality: str) -> str | None:
    return _data().region_of.get(municipality)


def all_municipalities() -> list[str]:
    return list(_data().region_of)


# --------------------------------------------------------------------------- matching


@dataclass(frozen=True)
class _Match:
    start: int
    end: int
    entry: int
    typos: int


def _match_at(data: _Data, words: list[str], start: int, alternatives: list[set[str]] | None
              ) -> list[_Match]:
    """Entries whose words stand at words[start:], exactly or (with alternatives) with typos."""
    found: list[_Match] = []
    firsts = alternatives[start] if alternatives is not None else {words[start]}
    seen: set[int] = set()
    for first in firsts:
        for idx in data.by_first.get(first, ()):
            if idx in seen:
                continue
            seen.add(idx)
            entry = data.entries[idx]
            end = start + len(entry.slots)
            if end > len(words):
                continue
            typos = 0
            ok = True
            for k, slot in enumerate(entry.slots):
                w = words[start + k]
                if w in slot:
                    continue
                if alternatives is not None and alternatives[start + k] & slot:
                    typos += 1
                    continue
                ok = False
                break
            if ok and (alternatives is None or 0 < typos <= 1):
                found.append(_Match(start, end, idx, typos))
    return found


def _find(data: _Data, words: list[str], alternatives: list[set[str]] | None) -> list[_Match]:
    matches: list[_Match] = []
    for i in range(len(words)):
        matches.extend(_match_at(data, words, i, alternatives))
    if not matches:
        return []
    # A name inside a longer name does not count ("Paka" in "Šmartno ob Paki").
    kept = _find_best(matches)
    # Everyday words ("kot", "vas") count only when the answer is the name and a preposition.
    return [
        m for m in kept
        if not _is_common(data, m)
        or all(w in _PREPOSITIONS for w in words[: m.start] + words[m.end :])
    ]


def _is_common(data: _Data, m: _Match) -> bool:
    return m.end - m.start == 1 and fold(data.entries[m.entry].name).split()[0] in _COMMON_WORDS


def _find_best(matches: list[_Match]) -> list[_Match]:
    return [
        m for m in matches
        if not any(o.start <= m.start and m.end <= o.end and (o.end - o.start) > (m.end - m.start)
                   for o in matches)
    ]


def _prefer_koroska(data: _Data, matches: list[_Match]) -> list[_Match]:
    """A typo as close to a Koroška name as to one elsewhere is read as the Koroška one."""
    local = [m for m in matches
             if any(x in data.site_of for x in data.entries[m.entry].municipalities)]
    return local or matches


def _typo_alternatives(data: _Data, words: list[str], only: set[int] | None = None
                       ) -> list[set[str]]:
    """For each word (or only those at the given positions), the known name forms one typo
    away from it."""
    return [set(_typos_of(w)) if (only is None or i in only) else set()
            for i, w in enumerate(words)]


@lru_cache(maxsize=8192)
def _typos_of(word: str) -> frozenset[str]:
    data = _data()
    budget = _typo_budget(word)
    if not budget or word in _FILLER:
        return frozenset()
    candidates: set[str] = set()
    for d in _deletes(word, budget):
        candidates |= data.typo_index.get(d, set())
    return frozenset(form for form in candidates
                     if form[0] == word[0] and form != word
                     and abs(len(form) - len(word)) <= budget
                     and _distance(word, form, budget) <= budget)


# --------------------------------------------------------------------------- glued words

_GLUED_MAX = 40  # characters; the longest glued name ("vpodgorjuprislovenjgradcu") has 25
_GLUED_MIN = 5  # characters; the shortest glued names ("kozjivrh") have more
_GLUED_MIN_PIECE = 2  # a piece of one letter ("g" for Gornji) is only a leading preposition
_GLUED_MAX_CUTS = 16  # ways of cutting one word, at most
_GLUED_MIN_SINGLE = 6  # a preposition glued to a one-word name: the name has this many letters


@lru_cache(maxsize=8192)
def _cuts_of(word: str) -> tuple[tuple[str, ...], ...]:
    """The ways of cutting a word into two or more known name forms, a preposition allowed at the
    start: "radljeobdravi" → (("radlje", "ob", "dravi"),). Empty for almost every word."""
    vocab = _data().vocab
    longest = _data().longest_form
    n = len(word)
    memo: dict[int, list[tuple[str, ...]]] = {n: [()]}

    def rest(pos: int) -> list[tuple[str, ...]]:
        if pos not in memo:
            out: list[tuple[str, ...]] = []
            for end in range(pos + _GLUED_MIN_PIECE, min(n, pos + longest) + 1):
                piece = word[pos:end]
                if piece in vocab:
                    for tail in rest(end):
                        out.append((piece, *tail))
                        if len(out) >= _GLUED_MAX_CUTS:
                            break
                if len(out) >= _GLUED_MAX_CUTS:
                    break
            memo[pos] = out
        return memo[pos]

    cuts = [c for c in rest(0) if len(c) >= 2]
    for prep in _PREPOSITIONS:
        if word.startswith(prep) and len(word) > len(prep):
            cuts += [(prep, *c) for c in rest(len(prep)) if (prep, *c) not in cuts]
    return tuple(cuts[:_GLUED_MAX_CUTS])


def _unglue(data: _Data, words: list[str]) -> tuple[list[str], bool]:
    """Cut glued words where a cut makes a name of several words; True when a cut only took a
    preposition off a one-word name (then the answer is confirmed)."""
    out = list(words)
    guess = False
    reach = data.longest_slots
    i = 0
    while i < len(out):
        w = out[i]
        if (w in data.vocab or w in _FILLER or not w.isalpha()
                or not _GLUED_MIN <= len(w) <= _GLUED_MAX):
            i += 1
            continue
        best: tuple[tuple[int, ...], tuple[str, ...], bool] | None = None
        lo = max(0, i - reach)
        for pieces in _cuts_of(w):
            window = out[lo:i] + list(pieces) + out[i + 1 : i + 1 + reach]
            first, last = i - lo, i - lo + len(pieces)
            found = _find(data, window, None)
            # of two cuts that find the same name, the one that leaves no piece unused
            # ("podgorje|pri|…", not "pod|gorje|pri|…")
            unused = sum(1 for k in range(first, last)
                         if not any(m.start <= k < m.end for m in found))
            for m in found:
                e = data.entries[m.entry]
                inside = min(m.end, last) - max(m.start, first)
                if inside >= 2:  # the name runs over a cut
                    score, single = (2, m.end - m.start, e.strength, -unused, -len(pieces)), False
                elif (len(pieces) == 2 and pieces[0] in _PREPOSITIONS and m.start == first + 1
                      and m.end == last and len(pieces[1]) >= _GLUED_MIN_SINGLE
                      and e.kind != "foreign" and e.strength == 3 and not _is_common(data, m)):
                    score, single = (1, 1, e.strength, 0, 0), True
                else:
                    continue
                if best is None or score > best[0]:
                    best = (score, pieces, single)
        if best is None:
            i += 1
            continue
        out[i : i + 1] = best[1]
        guess = guess or best[2]
        i += len(best[1])
    return out, guess


# --------------------------------------------------------------------------- deciding


def _classify(data: _Data, cands: dict[str, str | None], guess: bool, place: str | None
              ) -> Resolution:
    """From {municipality: place named} to an answer."""
    munis = sorted(cands)
    candidates = tuple(Candidate(m, data.site_of.get(m), cands[m]) for m in munis)
    if len(munis) == 1:
        m = munis[0]
        region = data.region_of.get(m)
        if m in data.site_of:
            return Resolution("resolved", m, data.site_of[m], KOROSKA, candidates, place, guess)
        centre = data.centre_of_seat_area.get(m)
        if centre is None and region and len(data.centre_of_region.get(region, [])) == 1:
            centre = data.centre_of_region[region][0]
        return Resolution("outside", m, None, region, candidates, place, guess, centre)
    sites = {data.site_of.get(m) for m in munis}
    site = sites.pop() if len(sites) == 1 else None
    regions = {data.region_of.get(m) for m in munis}
    region = regions.pop() if len(regions) == 1 else None
    return Resolution("ambiguous", None, site, region, candidates, place, True)


def _postal_hint(data: _Data, text: str) -> str | None:
    for match in _POSTAL_RE.finditer(text):
        muni = data.postal.get(match.group(1))
        if muni:
            return muni
    return None


def resolve(text: str) -> Resolution:
    """Where does this person live? Never raises; any string gives an answer."""
    if not isinstance(text, str):
        return UNKNOWN
    text = text[:MAX_INPUT]
    data = _data()
    words, glued_guess = _unglue(data, tokens(text)[:60])
    postal_muni = _postal_hint(data, text)

    matches = _find(data, words, None)
    typo = glued_guess
    covered = {i for m in matches for i in range(m.start, m.end)}
    loose = [i for i, w in enumerate(words) if i not in covered and _typo_budget(w)
             and w not in _FILLER]
    if loose and (not matches or postal_muni is None):
        alternatives = _typo_alternatives(data, words, set(loose) if matches else None)
        if any(alternatives):
            fuzzy = _find(data, words, alternatives)
            if matches:
                # A typo may only lengthen a name already found: "Ribnica na Pohrju".
                fuzzy = [f for f in fuzzy if any(f.start <= m.start and m.end <= f.end
                                                 and f.end - f.start > m.end - m.start
                                                 for m in matches)]
                if fuzzy:
                    matches = _find_best(matches + fuzzy)
                    typo = True
            elif fuzzy:
                matches, typo = _prefer_koroska(data, fuzzy), True

    if matches:
        best = max(data.entries[m.entry].strength for m in matches)
        chosen = [m for m in matches if data.entries[m.entry].strength == best]
        # Several mentions of one place in one answer are one mention.
        cands: dict[str, str | None] = {}
        foreign = False
        guess = typo
        places: list[str] = []
        for m in chosen:
            e = data.entries[m.entry]
            if e.kind == "foreign":
                foreign = True
                continue
            guess = guess or e.guess or _is_common(data, m)
            label = e.name if e.kind != "municipality" else None
            if e.kind != "municipality":
                places.append(e.name)
            for muni in e.municipalities:
                if muni in data.region_of:
                    cands.setdefault(muni, label)
        if foreign and not cands:
            return UNKNOWN
        if cands:
            place = places[0] if len(set(places)) == 1 else None
            if postal_muni is not None:
                if postal_muni in cands and len(cands) > 1:
                    return _classify(data, {postal_muni: cands[postal_muni]}, True, place)
                if postal_muni not in cands:
                    koroska = [m for m in cands if m in data.site_of]
                    if len(cands) == 1 and koroska:
                        return _classify(data, cands, True, place)
                    cands = {**cands, postal_muni: None}
                    return _classify(data, cands, True, place)
            return _classify(data, cands, guess, place)

    if postal_muni is not None:
        return _classify(data, {postal_muni: None}, True, None)
    return UNKNOWN


__all__ = [
    "Candidate", "Resolution", "UNKNOWN", "resolve", "fold", "latin", "tokens", "word_forms",
    "koroska_municipalities", "municipalities_of_site", "site_of", "region_of",
    "all_municipalities", "KOROSKA", "SITES",
]

