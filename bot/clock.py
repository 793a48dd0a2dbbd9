"""The one clock of the bot process. For end-to-end tests only, KORAK_CLOCK_SHIFT_FILE names a
file holding a number of seconds that the clock runs ahead, so a test can move time forward
(to a reminder's hour) without waiting. Production leaves it unset."""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone

_SHIFT_FILE = os.environ.get("KORAK_CLOCK_SHIFT_FILE")
_cache: tuple[float, float] = (0.0, 0.0)  # (read at, seconds)


def _shift() -> float:
    global _cache
    if not _SHIFT_FILE:
        return 0.0
    read_at, seconds = _cache
    if time.monotonic() - read_at > 0.2:
        try:
            with open(_SHIFT_FILE, encoding="utf-8") as fh:
                seconds = float(fh.read().strip() or 0)
        except (OSError, ValueError):
            seconds = 0.0
        _cache = (time.monotonic(), seconds)
    return seconds


def utcnow() -> datetime:
    return datetime.now(timezone.utc) + timedelta(seconds=_shift())
