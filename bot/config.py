"""Settings from the environment and a `.env` file (every one is documented in .env.example).

The `.env` is looked for in this order, and the first found is read (the environment still
wins over it):
1. the file KORAK_ENV_FILE names;
2. `.env` in the working folder;
3. `.env` in the install's folder, the project's root beside pyproject.toml.
So a `korak` command run from cron or another folder reads the project's settings, not none.
Relative paths in the settings (the SQLite files, REPORT_EMBLEM_FILE) are taken from the
folder of the `.env` that was read (without one: from the working folder), never from wherever
the command happens to run."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, PrivateAttr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent
ENV_FILE_VARIABLE = "KORAK_ENV_FILE"


def named_env_file() -> Path | None:
    """The file KORAK_ENV_FILE names (which may not exist: `korak` refuses that in one line)."""
    named = os.environ.get(ENV_FILE_VARIABLE, "").strip()
    return Path(named).expanduser().absolute() if named else None


def find_env_file() -> Path | None:
    """The settings file to read: KORAK_ENV_FILE, `.env` in the working folder, then `.env` in
    the install's folder (only for a checkout, where pyproject.toml is beside it)."""
    named = named_env_file()
    if named is not None:
        return named
    here = Path.cwd() / ".env"
    if here.is_file():
        return here.absolute()
    if (ROOT / "pyproject.toml").is_file() and (ROOT / ".env").is_file():
        return ROOT / ".env"
    return None


def resolve_sqlite_url(url: str, base: Path) -> str:
    """A SQLite URL with a relative file made absolute against `base`; any other URL as it is."""
    if not url.lower().startswith("sqlite"):
        return url
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return url  # refused with one line where the database is opened
    name = parsed.database
    if not name or name == ":memory:" or name.startswith("file:"):
        return url
    path = Path(name).expanduser()
    if path.is_absolute():
        return url
    return parsed.set(database=str(base / path)).render_as_string(hide_password=False)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")
    # the `.env` that was read (None: the environment alone)
    _env_path: Path | None = PrivateAttr(default=None)

    def __init__(self, **values: Any) -> None:
        """`_env_file` as pydantic-settings takes it (None: no file); by default the one
        find_env_file picks. Relative paths are then made absolute (the module's doc)."""
        if "_env_file" not in values:
            values["_env_file"] = find_env_file()
        env_file = values["_env_file"]
        super().__init__(**values)
        found = (Path(env_file).absolute() if isinstance(env_file, (str, Path))
                 and Path(env_file).is_file() else None)
        self._env_path = found
        base = found.parent if found is not None else Path.cwd()
        self.database_url = resolve_sqlite_url(self.database_url, base)
        self.chat_database_url = resolve_sqlite_url(self.chat_database_url, base)
        if self.report_emblem_file is not None and not self.report_emblem_file.is_absolute():
            self.report_emblem_file = base / self.report_emblem_file.expanduser()
        if not self.locales_dir.is_absolute():
            self.locales_dir = base / self.locales_dir

    @property
    def env_path(self) -> Path | None:
        """The `.env` these settings were read from; None: none was."""
        return self._env_path

    bot_token: str | None = None
    # the key that seals the sensitive answer (`korak keygen`); older keys after it, comma
    # separated, still open what they sealed
    data_key: str | None = None
    telegram_api_url: str = "https://api.telegram.org"
    telegram_timeout: float = 30.0  # seconds a Bot API request may take before it is retried
    database_url: str = "sqlite+aiosqlite:///data/korak.db"
    database_pool_size: int = Field(default=50, ge=1)  # PostgreSQL connections this process keeps
    # `korak chat`, the try-out in a terminal, keeps its conversation here, apart from the bot's
    chat_database_url: str = "sqlite+aiosqlite:///data/chat.db"
    db_auto_upgrade: bool = False
    # webhook mode (`korak run --webhook`): the public HTTPS address Telegram posts to, the
    # secret it sends with every update, and where this process listens (behind a proxy) for
    # updates and nothing else
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_listen: str = "0.0.0.0:8080"
    # /healthz, /readyz and /metrics, in every mode and only here (0: off); several processes
    # on one host: one port each
    health_host: str = "127.0.0.1"
    health_port: int = 8081
    # Telegram's limits shared by several processes (redis://host:6379/0); unset: this process
    # keeps them itself
    redis_url: str | None = None
    # Viber (the REST Bot API; on when VIBER_AUTH_TOKEN is set): callbacks come to POST /viber on
    # WEBHOOK_LISTEN, and VIBER_WEBHOOK_URL (public https) is set with Viber at start
    viber_auth_token: str | None = None
    viber_webhook_url: str | None = None
    viber_api_url: str = "https://chatapi.viber.com/pa"
    viber_bot_name: str = Field(default="korak", min_length=1, max_length=28)
    viber_avatar_url: str | None = None
    # WhatsApp Cloud API (on when WHATSAPP_TOKEN is set): Meta posts to /whatsapp on
    # WEBHOOK_LISTEN (GET there answers its subscription check with WHATSAPP_VERIFY_TOKEN)
    whatsapp_token: str | None = None
    whatsapp_phone_number_id: str | None = None
    whatsapp_app_secret: str | None = None
    whatsapp_verify_token: str | None = None
    whatsapp_api_url: str = "https://graph.facebook.com/v23.0"
    staff_chat_id: int | None = None
    coordinator_ids: Annotated[list[int], NoDecode] = []
    timezone: str = "Europe/Ljubljana"
    locales_dir: Path = ROOT / "locales"
    locale: str = "sl"
    controller_name: str = "Slokva, zavod za razvoj neizkoriščenih potencialov, so. p."
    controller_contact: str = "Meškova ulica 21, 2380 Slovenj Gradec"
    # the programme's office: where residents are told to call or come (/pomoc, a declined
    # consent, a message nobody can receive); no phone: the texts say only where to come
    office_phone: str = ""
    office_address: str = Field(default="Meškova ulica 21, 2380 Slovenj Gradec", min_length=1)
    retention_months: int = Field(default=12, ge=1)
    # the reports' co-financing acknowledgement (empty: the programme's own wording from the
    # catalog) and the emblem drawn beside it (an image file; unset: the text alone)
    report_acknowledgement: str = ""
    report_emblem_file: Path | None = None
    # a failed outbox row keeps its chat and text this long, for `korak outbox retry`
    outbox_failed_keep_days: int = Field(default=7, ge=1, le=30)
    intake_idle_days: int = Field(default=30, ge=1)  # an unfinished conversation is deleted after
    contact_within_days: int = 3
    relay_per_hour: int = Field(default=20, ge=1)  # a resident's messages passed on per hour
    outbox_tick_seconds: float = 5.0
    log_format: str = "text"  # text | json
    log_level: str = "INFO"
    # the coordinators' queue
    working_hours: str = "08:00-15:00"
    working_days: str = "1-5"  # 1 = Monday … 7 = Sunday; Slovenian public holidays are off
    unclaimed_alert_hours: float = 8.0  # working hours before an unclaimed request is flagged
    outcome_alert_days: int = 2  # working days a claimed request may go without an outcome
    digest_time: str = "08:00"  # the daily digest on working days
    staff_topics: Annotated[dict[str, int], NoDecode] = {}  # site=topic id, for forum groups
    # reminders before programme sessions
    reminder_offsets: str = "-1d@17:00,-2h"
    # seconds a schedule file may take to read (in its own process) before it is stopped
    schedule_parse_seconds: float = Field(default=20.0, gt=0)
    # length of a calendar event that has a start but no end (no DTEND, no DURATION)
    session_default_minutes: int = Field(default=120, ge=1, le=24 * 60)
    quiet_hours: str = "21:00-07:00"
    send_rate_per_s: float = 25.0  # all messages of this process together

    @field_validator("reminder_offsets")
    @classmethod
    def _check_offsets(cls, value: str) -> str:
        from dialogs.schedule import parse_offsets
        parse_offsets(value)
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _check_quiet(cls, value: str) -> str:
        from dialogs.workhours import parse_clock
        start, sep, end = value.replace("–", "-").partition("-")
        if not sep:
            raise ValueError(f"expected START-END, got {value!r}")
        parse_clock(start), parse_clock(end)
        return value.replace("–", "-")

    @field_validator("working_hours")
    @classmethod
    def _check_span(cls, value: str) -> str:
        from dialogs.workhours import parse_span
        parse_span(value)
        return value

    @field_validator("working_days")
    @classmethod
    def _check_days(cls, value: str) -> str:
        from dialogs.workhours import parse_weekdays
        parse_weekdays(value)
        return value

    @field_validator("digest_time")
    @classmethod
    def _check_clock(cls, value: str) -> str:
        from dialogs.workhours import parse_clock
        parse_clock(value)
        return value

    @field_validator("staff_topics", mode="before")
    @classmethod
    def _split_topics(cls, value: object) -> object:
        if isinstance(value, str):
            pairs = (part.split("=", 1) for part in value.split(",") if part.strip())
            return {site.strip(): int(topic) for site, topic in pairs}
        return value

    @field_validator("coordinator_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [int(part) for part in value.replace(";", ",").split(",") if part.strip()]
        return value

    @field_validator("staff_chat_id", "bot_token", "data_key", "webhook_url", "webhook_secret",
                     "redis_url", "report_emblem_file", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value
