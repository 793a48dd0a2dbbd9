"""Phone numbers as people type them.

Slovenian numbers: +386 41 123 456, 00386 41 123456, 041/123-456, 386 41 123 456. Numbers from
abroad (the neighbours, and wherever else people come from) with their country code: +385 91 234
5678, 00387 61 123 456, or its digits alone as Telegram sends a shared contact (385912345678);
they are checked with the `phonenumbers` library. The stored form is E.164 (+38641123456).
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

_SEPARATORS = re.compile(r"[\s\-/.()]+")
_DIGITS = re.compile(r"[0-9]+")  # ASCII only: str.isdigit() also takes "³" and "٣"
# Numbers a coordinator can call back: not toll-free, premium, shared-cost, pager or voicemail.
_CALLABLE = {
    PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE,
    PhoneNumberType.VOIP, PhoneNumberType.PERSONAL_NUMBER,
}
# A number without + or 00 is read as international only when it is this long: a Slovenian
# number typed without its 0 (8 digits) must never become a foreign one.
_MIN_BARE_INTERNATIONAL = 10


def normalize_phone(text: str) -> str | None:
    """E.164 form of a Slovenian or foreign number, or None when it is not one."""
    if not isinstance(text, str) or len(text) > 40:
        return None
    raw = _SEPARATORS.sub("", text.strip())
    if raw.startswith("+386") or raw.startswith("00386"):
        return _slovenian(raw[4:] if raw.startswith("+") else raw[5:])
    if raw.startswith("+"):
        return _international(raw[1:])
    if raw.startswith("00"):
        return _international(raw[2:])
    if raw.startswith("386") and len(raw) == 11:
        return _slovenian(raw[3:])
    if raw.startswith("0"):
        return _slovenian(raw[1:])
    if len(raw) >= _MIN_BARE_INTERNATIONAL:
        return _international(raw)
    return None


def _slovenian(national: str) -> str | None:
    if national.startswith("0"):  # "+386 041 …" is a common slip
        national = national[1:]
    if not _DIGITS.fullmatch(national) or len(national) != 8 or national[0] == "0":
        return None
    return "+386" + national


def _international(digits: str) -> str | None:
    """digits: country code and number, no + (phonenumbers would read letters as digits)."""
    if not _DIGITS.fullmatch(digits) or digits.startswith("0") or len(digits) > 17:
        return None
    if digits.startswith("386"):  # Slovenian numbers go by the rules above, and failed them
        return None
    try:
        number = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    if phonenumbers.number_type(number) not in _CALLABLE:
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def display_phone(e164: str) -> str:
    """Slovenian numbers as Slovenians write them: 041 123 456 (mobile) or 02 885 01 24
    (landline); foreign ones with their country code, grouped as in their country:
    +385 91 234 5678, +43 664 1234567."""
    if not e164.startswith("+386"):
        return _display_foreign(e164)
    if len(e164) != 12:
        return e164
    n = "0" + e164[4:]
    if n[1] in "34567" and n[:3] in {"030", "031", "040", "041", "051", "064", "065", "068",
                                    "069", "070", "071"}:
        return f"{n[:3]} {n[3:6]} {n[6:]}"
    return f"{n[:2]} {n[2:5]} {n[5:7]} {n[7:]}"


def _display_foreign(e164: str) -> str:
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
