"""Tables. Times are stored in UTC; Telegram ids are 64-bit."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, String
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _when(**kw: Any) -> Any:
    return Field(sa_column=Column(DateTime(timezone=True), **kw))


class Resident(SQLModel, table=True):
    """A person talking to the bot, and where their conversation stands."""

    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = Field(sa_column=Column(BigInteger, unique=True, nullable=False))
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    state: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    unreachable: bool = False
    updated_at: datetime = _when(nullable=False)


class ContactRequest(SQLModel, table=True):
    __tablename__ = "contact_request"
    __table_args__ = (Index("ix_contact_request_telegram_status", "telegram_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    status: str = Field(default="new", sa_column=Column(String(32), nullable=False))
    site: str | None = None
    municipality: str | None = None
    source: str | None = None
    answers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _when(nullable=False)
    updated_at: datetime = _when(nullable=False)


class ProcessedUpdate(SQLModel, table=True):
    """Telegram delivers at least once: an update id seen here is not handled again."""

    __tablename__ = "processed_update"
    update_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    processed_at: datetime = _when(nullable=False)


class Outbox(SQLModel, table=True):
    """Something to send later, written in the same transaction as the change that caused it."""

    __table_args__ = (Index("ix_outbox_due", "sent_at", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_column=Column(String(64), nullable=False))
    chat_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    due_at: datetime = _when(nullable=False)
    claimed_until: datetime | None = _when(nullable=True)
    sent_at: datetime | None = _when(nullable=True)
    attempts: int = 0
    last_error: str | None = None
