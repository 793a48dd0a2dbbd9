"""The residents' languages. Slovenian is the default; everything on the coordinators' side
stays Slovenian. A language is a catalog in `locales/<code>/`; see README, "Languages"."""

from __future__ import annotations

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


def from_telegram(code: str | None) -> str:
    """The language to suggest for a Telegram language_code ("hr", "en-GB", "sr-Latn" …)."""
    if not code:
        return DEFAULT
    return _FROM_TELEGRAM.get(code.replace("_", "-").split("-")[0].lower(), DEFAULT)


def known(code: str | None) -> str:
    return code if code in LANGUAGES else DEFAULT
