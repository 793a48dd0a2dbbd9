"""Settings from the environment and `.env` (every one is documented in .env.example)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: str | None = None
    telegram_api_url: str = "https://api.telegram.org"
    database_url: str = "sqlite+aiosqlite:///data/korak.db"
    staff_chat_id: int | None = None
    coordinator_ids: Annotated[list[int], NoDecode] = []
    timezone: str = "Europe/Ljubljana"
    locales_dir: Path = ROOT / "locales"
    locale: str = "sl"
    controller_name: str = "Slokva, zavod za razvoj neizkoriščenih potencialov, so. p."
    controller_contact: str = "Meškova ulica 21, 2380 Slovenj Gradec"
    retention_months: int = 12
    contact_within_days: int = 3
    outbox_tick_seconds: float = 5.0
    log_format: str = "text"  # text | json
    log_level: str = "INFO"

    @field_validator("coordinator_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [int(part) for part in value.replace(";", ",").split(",") if part.strip()]
        return value

    @field_validator("staff_chat_id", "bot_token", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value
