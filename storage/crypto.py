"""The special-category answer (ethnic origin) is stored sealed: Fernet (AES-128-CBC with an
HMAC-SHA256), with the key in DATA_KEY. DATA_KEY may list several keys, comma separated: the
first seals, every one of them opens, so a new key can be put first and the old ones kept until
`korak reseal` has sealed everything again with the new one. Whether DATA_KEY opens what a
database holds is checked before anything reads it (storage/keys.py).

What is sealed: the answer to the sensitive question, in a request (contact_request.sensitive)
and in a conversation still in progress (resident.state, answers.sensitive_sealed). Nothing
else about it is stored in the clear, not even the preliminary group it implies."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

log = logging.getLogger("korak.crypto")

SEALED = "sensitive_sealed"  # the key in a conversation's answers that holds the sealed answer
ANSWER = "sensitive"  # the key dialogs/ uses for the answer itself


class KeyMissing(Exception):
    """DATA_KEY is not set."""


class BadKey(Exception):
    """DATA_KEY holds something that is not a Fernet key."""


def generate_key() -> str:
    return Fernet.generate_key().decode()


def parse_keys(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    parts = value.split(",") if isinstance(value, str) else list(value)
    return [p.strip() for p in parts if p and p.strip()]


class Sealer:
    def __init__(self, keys: str | Iterable[str] | None) -> None:
        parsed = parse_keys(keys)
        if not parsed:
            raise KeyMissing()
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in parsed])
        except (ValueError, TypeError) as exc:
            raise BadKey() from exc

    def seal(self, value: str) -> str:
        return self._fernet.encrypt(value.encode()).decode()

    def open(self, token: str | None) -> str | None:
        """The value, or None when there is none or it cannot be opened (no key in DATA_KEY
        opens it: the log says so, without the value)."""
        if not token:
            return None
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            log.error("a sealed answer cannot be opened with DATA_KEY")
            return None

    def opens(self, token: str) -> bool:
        """Whether a key in DATA_KEY opens the token (nothing is logged)."""
        try:
            self._fernet.decrypt(token.encode())
        except InvalidToken:
            return False
        return True

    def reseal(self, token: str) -> str:
        """Sealed again with the first key (MultiFernet.rotate)."""
        return self._fernet.rotate(token.encode()).decode()

    # ---------------------------------------------------------------- conversations

    def seal_answers(self, answers: dict[str, Any]) -> dict[str, Any]:
        """The answers as they are stored: the sensitive answer sealed."""
        if answers.get(ANSWER) is None:
            if ANSWER in answers:
                answers = {k: v for k, v in answers.items() if k != ANSWER}
            return answers
        out = {k: v for k, v in answers.items() if k != ANSWER}
        out[SEALED] = self.seal(str(answers[ANSWER]))
        return out

    def open_answers(self, answers: dict[str, Any]) -> dict[str, Any]:
        """The answers as dialogs/ reads them: the sensitive answer opened."""
        if SEALED not in answers:
            return answers
        out = {k: v for k, v in answers.items() if k != SEALED}
        value = self.open(answers[SEALED])
        if value is not None:
            out[ANSWER] = value
        return out

    def seal_state(self, state: dict[str, Any]) -> dict[str, Any]:
        answers = state.get("answers") or {}
        if ANSWER not in answers:
            return state
        return {**state, "answers": self.seal_answers(answers)}

    def open_state(self, state: dict[str, Any] | None) -> dict[str, Any] | None:
        if not state:
            return state
        answers = state.get("answers") or {}
        if SEALED not in answers:
            return state
        return {**state, "answers": self.open_answers(answers)}

    def split(self, answers: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """A request's answers without the sensitive one, and that one sealed (or None)."""
        value = answers.get(ANSWER)
        rest = {k: v for k, v in answers.items() if k not in (ANSWER, SEALED)}
        return rest, (self.seal(str(value)) if value is not None else None)
