"""Slovenian phone numbers as people type them: +386 41 123 456, 00386 41 123456, 041/123-456."""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s\-/.()]+")


def normalize_phone(text: str) -> str | None:
    """E.164 form (+38641123456) of a Slovenian number, or None when it is not one."""
    if not isinstance(text, str) or len(text) > 40:
        return None
    raw = _SEPARATORS.sub("", text.strip())
    if raw.startswith("+386"):
        national = raw[4:]
    elif raw.startswith("00386"):
        national = raw[5:]
    elif raw.startswith("386") and len(raw) == 11:
        national = raw[3:]
    elif raw.startswith("0"):
        national = raw[1:]
    else:
        return None
    if national.startswith("0"):  # "+386 041 …" is a common slip
        national = national[1:]
    if not national.isdigit() or len(national) != 8 or national[0] == "0":
        return None
    return "+386" + national


def display_phone(e164: str) -> str:
    """As Slovenians write it: 041 123 456 (mobile) or 02 885 01 24 (landline)."""
    if not e164.startswith("+386") or len(e164) != 12:
        return e164
    n = "0" + e164[4:]
    if n[1] in "34567" and n[:3] in {"030", "031", "040", "041", "051", "064", "065", "068",
                                    "069", "070", "071"}:
        return f"{n[:3]} {n[3:6]} {n[6:]}"
    return f"{n[:2]} {n[2:5]} {n[5:7]} {n[7:]}"
