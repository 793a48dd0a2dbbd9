"""Cover for a coordinator who is away, as plain rules: reading /odsotna's date, who counts as
away, what a card adds while its owner is away (the colleagues it can be handed to, who covers)
and whom the no-outcome reminder addresses. No Telegram, no database, no clock: today's date
and the coordinators come in as arguments.

Handing over itself (deciding, the choice of colleague) is in dialogs/handoff.py beside the
other card actions; this module knows nothing of it but the button ids it draws."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from .replies import N_, Button, Text, one_line

HANDOVER = "handover"  # the card button that opens the choice of colleague
GIVE = "give"  # "give.<telegram id>:<version>": hand the request to that coordinator
FARTHEST = timedelta(days=366)  # a later date is taken for a typo in the year
EXAMPLE_AHEAD = timedelta(days=14)  # the date shown in examples: two weeks from today


@dataclass(frozen=True)
class Colleague:
    """A coordinator as cards name her: `away` is already decided for today (is_away)."""

    id: int
    name: str
    away: bool = False
    until: date | None = None  # away through this day (inclusive); None: until /nazaj


@dataclass(frozen=True)
class Cover:
    """What a card of a claimed request needs to know about absence: every coordinator, and
    whom the current owner covers for (the coordinator it was handed over from, when she is
    away)."""

    colleagues: tuple[Colleague, ...] = ()
    covering_for: Colleague | None = None

    def of(self, telegram_id: int | None) -> Colleague | None:
        return next((c for c in self.colleagues if c.id == telegram_id), None)

    def targets(self, owner_id: int | None) -> tuple[Colleague, ...]:
        """Whom a request can be handed to: every coordinator who is not away, but its owner."""
        return tuple(c for c in self.colleagues if not c.away and c.id != owner_id)


def is_away(since: datetime | None, until: date | None, today: date) -> bool:
    """Away from `since` on, through the day `until` (none: until she writes /nazaj). From the
    day after `until` she counts as back, without writing anything."""
    return since is not None and (until is None or today <= until)


@dataclass(frozen=True)
class AwayCommand:
    """/odsotna read: the last day away (None: open-ended), or why it cannot be used."""

    until: date | None = None
    error: Text | None = None


_DO = re.compile(r"^do\b\s*", re.IGNORECASE)
_SLOVENIAN = re.compile(r"(\d{1,2})\.\s*(\d{1,2})\.\s*(\d{4})\.?")
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")


def parse_day(text: str) -> date | None:
    """'15. 8. 2026' (spaces optional) or '2026-08-15' → the date; anything else → None."""
    text = text.strip()
    m = _SLOVENIAN.fullmatch(text)
    if m:
        d, mo, y = (int(g) for g in m.groups())
    else:
        m = _ISO.fullmatch(text)
        if not m:
            return None
        y, mo, d = (int(g) for g in m.groups())
    try:
        return date(y, mo, d)
    except ValueError:
        return None


def parse_away(rest: str, today: date) -> AwayCommand:
    """'' → away until /nazaj; 'do 15. 8. 2026' (or just the date) → through that day. A date
    that is not one, is past, or is more than a year ahead gets a reply naming the format."""
    text = " ".join(rest.split())
    if not text:
        return AwayCommand()
    example = today + EXAMPLE_AHEAD
    value = _DO.sub("", text)
    day = parse_day(value) if value else None
    if day is None:
        shown = one_line(value or text)[:40]
        return AwayCommand(error=Text(N_("cover.error.format"), {"value": shown,
                                                                  "example": example}))
    if day < today:
        return AwayCommand(error=Text(N_("cover.error.past"), {"date": day, "example": example}))
    if day - today > FARTHEST:
        return AwayCommand(error=Text(N_("cover.error.far"), {"date": day, "example": example}))
    return AwayCommand(until=day)


def away_reply(until: date | None, open_requests: int) -> tuple[Text, ...]:
    """What /odsotna answers: until when, and what happens to her open requests."""
    first = (Text(N_("cover.away_until"), {"until": until}) if until is not None
             else Text(N_("cover.away_open")))
    if not open_requests:
        return first, Text(N_("cover.away_no_requests"))
    return first, Text(N_("cover.away_requests"), {"n": open_requests},
                       plural=(N_("cover.away_requests.plural"), open_requests))


def back_reply(was_away: bool) -> Text:
    return Text(N_("cover.back") if was_away else N_("cover.back_not_away"))


def give_button(target: Colleague, version: int) -> Button:
    return Button(f"{GIVE}.{target.id}:{version}", Text(N_("cover.button.give"),
                                                        {"name": target.name}))


def card_extras(owner_id: int | None, owner_name: str | None, version: int, cover: Cover
                ) -> tuple[tuple[Text, ...], tuple[Button, ...], tuple[tuple[Button, ...], ...]]:
    """What a claimed request's card adds: lines (the owner is away; who covers), a button to
    put beside the others ("Predaj", which opens the choice) and, while the owner is away,
    one row per colleague it can go to straight away."""
    lines: list[Text] = []
    owner = cover.of(owner_id)
    targets = cover.targets(owner_id)
    covered = cover.covering_for
    if covered is not None and covered.away and covered.id != owner_id:
        lines.append(Text(N_("cover.card_covering_until") if covered.until
                          else N_("cover.card_covering"),
                          {"cover": owner_name or "—", "away": covered.name,
                           "until": covered.until}))
    if owner is not None and owner.away:
        lines.append(Text(N_("cover.card_away_until") if owner.until else N_("cover.card_away"),
                          {"owner": owner.name, "until": owner.until}))
        if targets:
            lines.append(Text(N_("cover.card_give_hint")))
        return tuple(lines), (), tuple((give_button(t, version),) for t in targets)
    extra = (Button(f"{HANDOVER}:{version}", Text(N_("cover.button.handover"))),) \
        if targets else ()
    return tuple(lines), extra, ()


def no_outcome_reminder(request_id: int, owner_name: str | None, since: datetime,
                        owner: Colleague | None) -> Text:
    """The reminder for a claimed request with no outcome: to its owner, or, while she is
    away, to everyone in the group."""
    params: dict[str, Any] = {"id": request_id, "owner": owner_name or "—", "since": since}
    if owner is not None and owner.away:
        return Text(N_("cover.remind_no_outcome_away"), params)
    return Text(N_("handoff.remind_no_outcome"), params)


def handed_notice(request_id: int, actor: str, from_name: str | None, to_name: str) -> Text:
    """Said in the staff chat, under the card, after a handover."""
    return Text(N_("cover.handed"), {"id": request_id, "actor": actor or "—",
                                     "from": from_name or "—", "to": to_name})
