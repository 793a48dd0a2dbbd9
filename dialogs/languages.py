"""The residents' languages. Slovenian is the default; everything on the coordinators' side
stays Slovenian. A language is a catalog in `locales/<code>/`; see README, "Languages"."""

from __future__ import annotations

import re
import unicodedata

from .replies import N_

DEFAULT = "sl"
# in the order the buttons show them (the one Telegram suggests comes first)
LANGUAGES = ("sl", "en", "hbs", "sq", "uk")
# each language's name in that language: the button labels (the same in every catalog)
NAMES = {
    "sl": N_("language.name.sl"),
    "en": N_("language.name.en"),
    "hbs": N_("language.name.hbs"),
    "sq": N_("language.name.sq"),
    "uk": N_("language.name.uk"),
}
# the locale Babel formats dates, numbers and plurals with
FORMAT_LOCALE = {"sl": "sl", "en": "en_GB", "hbs": "bs", "sq": "sq", "uk": "uk"}
# Telegram's language_code (IETF tag, as the person's app is set) → our catalog
_FROM_TELEGRAM = {"sl": "sl", "en": "en", "bs": "hbs", "hr": "hbs", "sr": "hbs", "sh": "hbs",
                  "cnr": "hbs", "me": "hbs", "sq": "sq", "uk": "uk"}


# "Would you like to continue in <this language>?", each in its own language: the same in every
# catalog, like NAMES (offered when a person's first words are in another language, `detect`)
OFFER = {
    "sl": N_("language.offer.sl"),
    "en": N_("language.offer.en"),
    "hbs": N_("language.offer.hbs"),
    "sq": N_("language.offer.sq"),
    "uk": N_("language.offer.uk"),
}

# What says which language a message is written in. Each word or phrase belongs to one of
# korak's languages only; words two of them share ("zdravo", "hvala", "ok", "da", "ne", "ja")
# are in none, so they offer nothing. Written folded (lower case, no diacritics).
_WORDS = {
    "sl": ("zivjo", "zivijo", "dober dan", "dober vecer", "lep pozdrav", "pozdravljeni",
           "pozdravljena", "hvala lepa", "najlepsa hvala", "prosim", "pomagajte", "rada bi",
           "rad bi", "slovenscina", "slovensko", "slovenski jezik"),
    "en": ("hello", "hi", "hey there", "good morning", "good afternoon", "good evening",
           "thanks", "thank you", "please", "yes", "help", "english", "how are you",
           "i need", "i would like", "id like", "i want"),
    "hbs": ("dobar dan", "dobro vece", "dobro vecer", "laku noc", "bok", "molim", "molim vas",
            "hvala lijepa", "hvala lepo", "pomozite", "trebam", "treba mi", "zelio bih",
            "zeljela bih", "zelela bih", "htjela bih", "htela bih", "bosanski", "hrvatski",
            "srpski", "kako ste", "здраво", "добар дан", "хвала", "молим", "помозите"),
    "sq": ("pershendetje", "pershendes", "tung", "miredita", "mirdita", "mirmengjes",
           "miremengjes", "mirembrema", "mirmbrema", "faleminderit", "flm", "ju lutem",
           "te lutem", "shqip", "si jeni", "ndihme", "ndihmoni", "dua te"),
    "uk": ("привіт", "привiт", "вітаю", "добрий день", "доброго дня", "добрий вечір", "дякую",
           "будь ласка", "допоможіть", "українська", "українською", "привет", "здравствуйте",
           "здрастуйте", "добрый день", "спасибо", "пожалуйста", "помогите", "pryvit",
           "privit", "privet", "dobryi den", "dobrii den", "dyakuyu", "diakuiu", "dyakuiu"),
}
# only as the whole message: a yes or a no that is one language's alone
_WHOLE = {"yes": "en", "no thanks": "en", "po": "sq", "jo": "sq", "так": "uk", "ні": "uk",
          "нет": "uk", "ага": "uk", "tak": "uk"}
# letters only one of them writes
_LETTERS = {"ë": "sq", "ç": "sq", "ć": "hbs", "đ": "hbs", "ђ": "hbs", "ј": "hbs", "љ": "hbs",
            "њ": "hbs", "ћ": "hbs", "џ": "hbs", "і": "uk", "ї": "uk", "є": "uk", "ґ": "uk",
            "ы": "uk", "э": "uk", "ъ": "uk", "ё": "uk"}
_WORD = re.compile(r"[^\W\d_]+")


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


_PHRASES = {" ".join(_WORD.findall(_fold(w))): code for code, ws in _WORDS.items() for w in ws}
_LONGEST = max(len(p.split()) for p in _PHRASES)


def detect(text: str | None) -> str | None:
    """The language a message is clearly written in ("привіт" → uk, "përshëndetje" → sq,
    "hello" → en, "dobar dan" → hbs), or None when it could be more than one ("zdravo", "ok")
    or none of them. Pure; a guess to offer, never to decide."""
    if not isinstance(text, str) or not text.strip() or len(text) > 500:
        return None
    found = {_LETTERS[ch] for ch in unicodedata.normalize("NFC", text.lower()) if ch in _LETTERS}
    words = _WORD.findall(_fold(text))
    whole = " ".join(words)
    if whole in _WHOLE:
        found.add(_WHOLE[whole])
    for n in range(1, _LONGEST + 1):
        for i in range(len(words) - n + 1):
            code = _PHRASES.get(" ".join(words[i:i + n]))
            if code is not None:
                found.add(code)
    return found.pop() if len(found) == 1 else None


def from_telegram(code: str | None) -> str:
    """The language to suggest for a Telegram language_code ("hr", "en-GB", "sr-Latn" …)."""
    if not code:
        return DEFAULT
    return _FROM_TELEGRAM.get(code.replace("_", "-").split("-")[0].lower(), DEFAULT)


def known(code: str | None) -> str:
    return code if code in LANGUAGES else DEFAULT
