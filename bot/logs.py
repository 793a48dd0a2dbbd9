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


# Libraries whose INFO lines are their own routine: the scheduler's two lines a tick (some
# 35,000 a day), every Alembic step at each start. At LOG_LEVEL=DEBUG they speak again.
QUIET_AT_INFO = ("apscheduler", "alembic")


def setup(fmt: str = "text", level: str = "INFO", secrets: Iterable[str | None] = ()) -> None:
    """An idle korak writes nothing at INFO: what a tick does that matters is korak's own line
    (a failure, a retention run, a reminder dropped), never the scheduler's."""
    redact = Redactor(secrets)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(redact) if fmt == "json" else TextFormatter(redact))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    for name in QUIET_AT_INFO:
        logging.getLogger(name).setLevel(
            logging.WARNING if root.level > logging.DEBUG else logging.NOTSET)


def version() -> str:
    from importlib.metadata import PackageNotFoundError, version as installed

    try:
        return installed("korak")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "?"


def starting(settings, mode: str) -> None:
    """The start's one line of what matters: the version, the database (its kind and which
    one, never a password), the channels and the mode."""
    from sqlalchemy.engine import make_url

    from storage.db import normalize_url

    from bot.database import database_name

    url = settings.database_url
    try:
        kind = make_url(normalize_url(url)).get_backend_name()
    except Exception:  # refused with one line when it is opened
        kind = "?"
    channels = ["telegram"] + [name for name, setting in (("viber", "viber_auth_token"),
                                                         ("whatsapp", "whatsapp_token"))
                               if getattr(settings, setting, None)]
    logging.getLogger("korak").info(
        "korak %s starting: database %s (%s), channels %s, mode %s%s", version(), kind,
        database_name(url), "+".join(channels), mode,
        ", send limits shared through Redis" if settings.redis_url else "",
        extra={"event": "start"})
