"""How long korak keeps what, as plain rules (the queries are in storage/erasure.py, the daily
run in bot/runtime/retention.py). Time comes in as an argument."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta

from .intake import STEPS

UNCONSENTED_AFTER = timedelta(days=1)  # /start, then nothing: the row goes after a day
PROCESSED_KEEP = timedelta(days=7)  # update ids kept against Telegram's repeated deliveries
SENT_KEEP = timedelta(days=7)  # sent rows that are about no request (the digest)
FAILED_KEEP_DAYS = 7  # a failed row's chat and text, for `korak outbox retry` (a setting)


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time `months` calendar months earlier (the 31st becomes the month's
    last day)."""
    total = moment.year * 12 + (moment.month - 1) - months
    year, month = divmod(total, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


@dataclass(frozen=True)
class Cutoffs:
    """Anything last touched before these moments is due for erasure."""

    requests: datetime  # a request with no activity since (RETENTION_MONTHS)
    intake: datetime  # an unfinished conversation idle since (INTAKE_IDLE_DAYS)
    unconsented: datetime  # a conversation that never got past the consent question
    processed: datetime  # ids of handled updates
    sent: datetime  # sent outbox rows about no request
    failed: datetime  # the chat and text of outbox rows that failed before this


def cutoffs(now: datetime, retention_months: int, intake_idle_days: int,
            failed_keep_days: int = FAILED_KEEP_DAYS) -> Cutoffs:
    return Cutoffs(requests=months_before(now, retention_months),
                   intake=now - timedelta(days=intake_idle_days),
                   unconsented=now - UNCONSENTED_AFTER,
                   processed=now - PROCESSED_KEEP,
                   sent=now - SENT_KEEP,
                   failed=now - timedelta(days=failed_keep_days))


def resident_fate(state: dict | None, updated_at: datetime, has_requests: bool,
                  limits: Cutoffs) -> tuple[str, str] | None:
    """What becomes of a stored conversation: None (kept), or (action, kind) with action
    "delete" (the row goes) or "reset" (the answers go; the row stays for the person's
    requests) and kind "unconsented" or "idle_intake"."""
    step = (state or {}).get("step") or "idle"
    answers = (state or {}).get("answers") or {}
    # referred outside Koroška: kept (no answers) only so that a correction within minutes is
    # understood; a day later it goes like a conversation that never got past the consent
    if step == "consent" or step == "outside" or (step in STEPS and not answers.get("consent")):
        if updated_at < limits.unconsented:
            return ("reset" if has_requests else "delete"), "unconsented"
        return None
    if step in STEPS or step in ("confirm_restart", "confirm_delete"):
        if updated_at < limits.intake:
            return ("reset" if has_requests else "delete"), "idle_intake"
        return None
    # finished, declined, stopped: nothing in progress. Without requests the row only says the
    # person once wrote to the bot: it goes as an idle intake would.
    if not has_requests and updated_at < limits.intake:
        return "delete", "idle_intake"
    return None
