"""Typed answers to button questions: "ja", "mhm", "ne vem", "2" …"""

from __future__ import annotations

from .places import fold

YES = {"da", "ja", "ok", "okej", "okay", "mhm", "aha", "seveda", "jap", "ja ja", "itak", "yes",
       "lahko", "vredu", "v redu", "drzi", "tako je", "sem", "ze", "res", "y", "d", "j"}
NO = {"ne", "no", "nak", "nope", "nikakor", "sploh ne", "n", "ni", "nisem", "nimam"}
DONT_KNOW = {"ne vem", "nevem", "nisem preprican", "nisem prepricana", "ne vem tocno", "?",
             "ne znam", "ne bi vedel", "ne bi vedela", "mogoce", "morda"}


def _clean(text: str) -> str:
    return " ".join(fold(text).replace("!", " ").replace(".", " ").replace(",", " ").split())


def understand(text: str, options: list[tuple[str, list[str]]]) -> str | None:
    """Which option a typed answer means, or None.

    ``options`` is a list of (choice id, words that mean it: the folded button label and its
    synonyms). A number picks the button by position.
    """
    cleaned = _clean(text)
    if not cleaned:
        return None
    if cleaned.isdigit():
        pos = int(cleaned) - 1
        return options[pos][0] if 0 <= pos < len(options) else None
    for choice, words in options:
        if cleaned in words:
            return choice
    hits = {choice for choice, words in options for w in words if len(w) >= 4 and w in cleaned}
    return hits.pop() if len(hits) == 1 else None
