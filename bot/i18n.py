"""Catalog texts: msgid + parameters → a sentence in a person's language. Dates, times and
plurals through Babel, each in the language's own format (the catalog's format.date,
format.datetime and format.time); lengths of time through dialogs.durations, in the case the
sentence needs."""

from __future__ import annotations

import copy
import gettext
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_time

from dialogs.durations import how_long
from dialogs.languages import FORMAT_LOCALE, LANGUAGES
from dialogs.replies import Lines, Text


# What residents read is translated into every language; what only the coordinators read
# (cards, commands, reports, the CLI) stays Slovenian and needs no translation.
STAFF_PREFIXES = ("handoff.", "cli.", "schedule.", "cover.", "attendance.", "report.", "staff.",
                  "health.")
RESIDENT_EXCEPTIONS = {"handoff.resident_claimed"}  # a staff-named text the resident reads
STAFF_ONLY = {"reminder.staff_not_coming", "relay.from_resident"}


def for_residents(msgid: str) -> bool:
    """Does a resident read this text (so every language must have it)?"""
    if msgid in RESIDENT_EXCEPTIONS:
        return True
    return not msgid.startswith(STAFF_PREFIXES) and msgid not in STAFF_ONLY


class Texts:
    """Catalog texts in one language; `lang(code)` gives the same in a resident's language
    (what a catalog lacks falls back to Slovenian). Dates and plurals follow each language."""

    def __init__(self, locales_dir: Path, locale: str = "sl", timezone: str = "Europe/Ljubljana"):
        self.locale = locale
        self.format_locale = FORMAT_LOCALE.get(locale, locale)
        self.tz = ZoneInfo(timezone)
        self.locales_dir = Path(locales_dir)
        self.catalog = gettext.translation("messages", localedir=str(locales_dir),
                                           languages=[locale])
        self._langs: dict[str, Texts] = {locale: self}
        self._date = self.catalog.gettext("format.date")
        self._datetime = self.catalog.gettext("format.datetime")
        self._time = self.catalog.gettext("format.time")
        if self._date == "format.date":  # a catalog without formats
            self._date, self._datetime = "d. M. yyyy", "d. M. yyyy 'ob' H.mm"
        if self._time == "format.time":
            self._time = "H.mm"

    def lang(self, code: str | None) -> Texts:
        """These texts in the language `code` (unknown or None: this one)."""
        if not code or code not in LANGUAGES:
            return self
        found = self._langs.get(code)
        if found is None:
            found = copy.copy(self)
            found.locale = code
            found.format_locale = FORMAT_LOCALE.get(code, code)
            catalog = gettext.translation("messages", localedir=str(self.locales_dir),
                                          languages=[code], fallback=True)
            catalog.add_fallback(self.catalog)
            found.catalog = catalog
            found._date = catalog.gettext("format.date")
            found._datetime = catalog.gettext("format.datetime")
            found._time = catalog.gettext("format.time")
            self._langs[code] = found
        return found

    def __call__(self, msgid: str, **params: Any) -> str:
        return self.render(Text(msgid, params))

    def render(self, text: Text | Lines) -> str:
        if isinstance(text, Lines):
            return "\n".join(str(self.value(item)) for item in text.items)
        if text.plural is not None:
            template = self.catalog.ngettext(text.msgid, text.plural[0], text.plural[1])
        else:
            template = self.catalog.gettext(text.msgid)
        params = {key: self.value(val) for key, val in text.params.items()}
        return template.format(**params)

    def value(self, val: Any) -> Any:
        if isinstance(val, (Text, Lines)):
            return self.render(val)
        if isinstance(val, timedelta):  # "3 ure", "2 dni": the accusative ("že 3 ure")
            return self.render(how_long(val))
        if isinstance(val, time):  # a time of day: "9.00", "9:00", "09:00", "9:00 p.d."
            return format_time(val.replace(tzinfo=None), self._time, locale=self.format_locale)
        if isinstance(val, datetime):
            local = val.astimezone(self.tz) if val.tzinfo else val.replace(tzinfo=self.tz)
            return format_datetime(local, self._datetime, tzinfo=self.tz,
                                   locale=self.format_locale)
        if isinstance(val, date):
            return format_date(val, self._date, locale=self.format_locale)
        if isinstance(val, (list, tuple)):
            return ", ".join(str(self.value(v)) for v in val)
        return val
