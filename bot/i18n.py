"""Catalog texts: msgid + parameters → Slovenian sentence. Dates and plurals through Babel."""

from __future__ import annotations

import gettext
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_timedelta

from dialogs.replies import Lines, Text


class Texts:
    def __init__(self, locales_dir: Path, locale: str = "sl", timezone: str = "Europe/Ljubljana"):
        self.locale = locale
        self.tz = ZoneInfo(timezone)
        self.catalog = gettext.translation("messages", localedir=str(locales_dir),
                                           languages=[locale])

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
        if isinstance(val, timedelta):  # "3 ure", "2 dni"
            return format_timedelta(max(val, timedelta(minutes=1)), threshold=1.5,
                                    locale=self.locale)
        if isinstance(val, datetime):
            local = val.astimezone(self.tz) if val.tzinfo else val.replace(tzinfo=self.tz)
            return format_datetime(local, "d. M. yyyy 'ob' H.mm", tzinfo=self.tz, locale=self.locale)
        if isinstance(val, date):
            return format_date(val, "d. M. yyyy", locale=self.locale)
        if isinstance(val, (list, tuple)):
            return ", ".join(str(self.value(v)) for v in val)
        return val
