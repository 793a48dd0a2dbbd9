"""How long something has taken, said the way each language says it.

A number of minutes, hours, days or months with the unit in the right form: Babel's
format_timedelta gives the nominative ("3 tedni", "60 sekund"), which Slovenian cannot use
after "že" ("čaka že 3 ure", the accusative) or "pred" ("pred 3 urami", the instrumental). So
each case is a plural msgid of its own, and the catalogs hold the forms:

- how_long: the accusative, for "že {waited}" ("že 1 uro", "že 2 uri", "že 5 ur");
- how_long_ago: the whole "ago" phrase, preposition included ("pred 2 urama", "2 hours ago").

A bare timedelta in a text's parameters is said as how_long (bot/i18n.py). Pure: no Babel.
"""

from __future__ import annotations

from datetime import timedelta

from .replies import N_, Text

MINUTE, HOUR, DAY = 60, 3600, 86400
MONTH = 30.44 * DAY  # an average month: "2 meseca" after some 61 days

# (the largest length said in this unit, unit in seconds, how_long msgid, how_long_ago msgid)
UNITS = (
    (90 * MINUTE, MINUTE, N_("duration.minutes"), N_("duration.ago.minutes")),
    (36 * HOUR, HOUR, N_("duration.hours"), N_("duration.ago.hours")),
    (60 * DAY, DAY, N_("duration.days"), N_("duration.ago.days")),
    (None, MONTH, N_("duration.months"), N_("duration.ago.months")),
)
PLURAL = {  # the msgid_plural of each (gettext's second id)
    N_("duration.minutes"): N_("duration.minutes.plural"),
    N_("duration.hours"): N_("duration.hours.plural"),
    N_("duration.days"): N_("duration.days.plural"),
    N_("duration.months"): N_("duration.months.plural"),
    N_("duration.ago.minutes"): N_("duration.ago.minutes.plural"),
    N_("duration.ago.hours"): N_("duration.ago.hours.plural"),
    N_("duration.ago.days"): N_("duration.ago.days.plural"),
    N_("duration.ago.months"): N_("duration.ago.months.plural"),
}


def _count(delta: timedelta, ago: bool) -> Text:
    """The unit a person would use (under 90 minutes: minutes, at least 1; under 36 hours:
    hours; under 60 days: days; then months), the count rounded half up."""
    seconds = max(delta.total_seconds(), 0.0)
    for limit, unit, msgid, ago_msgid in UNITS:
        if limit is None or seconds < limit:
            n = max(1, int(seconds / unit + 0.5))
            chosen = ago_msgid if ago else msgid
            return Text(chosen, {"n": n}, plural=(PLURAL[chosen], n))
    raise AssertionError("the last unit has no limit")  # pragma: no cover


def how_long(delta: timedelta) -> Text:
    """'3 ure' as in "čaka že 3 ure" (the accusative): the form a bare timedelta takes."""
    return _count(delta, ago=False)


def how_long_ago(delta: timedelta) -> Text:
    """'pred 3 urami' / '3 hours ago': the phrase with its preposition, in its case."""
    return _count(delta, ago=True)
