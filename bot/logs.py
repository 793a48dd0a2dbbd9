"""Logging: plain text for people, one JSON object a line in production (LOG_FORMAT=json).

Neither format carries personal data or secrets:
- only whitelisted fields go out, and messages are fixed strings with ids and kinds;
- an exception is logged by its type and where it happened, never by its message: a database
  error's message can hold the values of the statement (a relayed text, a phone number), and an
  HTTP error's the request URL with the bot token in it (the engines also hide statement
  parameters, storage/db.py);
- the bot token, and anything shaped like one, is blanked from every line."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import traceback
from collections.abc import Iterable

SAFE_FIELDS = ("update_id", "step", "event", "error", "outbox_id", "kind", "retry_after",
               "chat", "count", "site", "request_id", "session_id", "job")

# a Telegram bot token (digits, a colon, 35 characters), also inside a Bot API URL
_TOKEN_SHAPE = re.compile(r"\d{3,}:[A-Za-z0-9_-]{20,}")
REDACTED = "[redacted]"


class Redactor:
    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return _TOKEN_SHAPE.sub(REDACTED, text)


def describe_exception(exc_info) -> str:
    """The exception chain by type, with the frames it passed through (file, line, function,
    the code line): enough to find the fault, and nothing of the data it was handling."""
    _, exc, tb = exc_info
    lines: list[str] = []
    seen: set[int] = set()
    chain = []
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    for i, err in enumerate(reversed(chain)):
        if i:
            lines.append("  which led to:")
        lines.append("Traceback (values left out):")
        for frame in traceback.extract_tb(err.__traceback__):
            lines.append(f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}')
            if frame.line:
                lines.append(f"    {frame.line.strip()}")
        lines.append(f"{type(err).__module__}.{type(err).__qualname__}")
    del tb
    return "\n".join(lines)


class TextFormatter(logging.Formatter):
    def __init__(self, redact: Redactor) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.redact = redact

    def formatException(self, ei) -> str:  # noqa: N802 (logging's name)
        return describe_exception(ei)

    def formatStack(self, stack_info: str) -> str:  # noqa: N802
        return stack_info

    def format(self, record: logging.LogRecord) -> str:
        record.exc_text = None  # never a cached text made by another formatter
        return self.redact(super().format(record))


class JsonFormatter(logging.Formatter):
    def __init__(self, redact: Redactor | None = None) -> None:
        super().__init__()
        self.redact = redact or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + "Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in SAFE_FIELDS:
            if key in record.__dict__:
                out[key] = record.__dict__[key]
        if record.exc_info and record.exc_info[0] is not None:
            out["exc_type"] = record.exc_info[0].__name__
        return self.redact(json.dumps(out, ensure_ascii=False, default=str))


def setup(fmt: str = "text", level: str = "INFO", secrets: Iterable[str | None] = ()) -> None:
    redact = Redactor(secrets)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(redact) if fmt == "json" else TextFormatter(redact))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
