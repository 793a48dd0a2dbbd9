"""Tables. Times are stored in UTC; Telegram ids are 64-bit."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, String, UniqueConstraint
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
    # the coordinators' side: who has it, since when, and which version of the card is current
    owner_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    owner_name: str | None = None
    claimed_at: datetime | None = _when(nullable=True)
    status_changed_at: datetime | None = _when(nullable=True)
    version: int = 0
    card_chat_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    card_message_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class RequestEvent(SQLModel, table=True):
    """History of a request: who did what, when. Kept with the request, deleted with it."""

    __tablename__ = "request_event"
    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(index=True)
    actor_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    actor_name: str | None = None
    action: str = Field(sa_column=Column(String(32), nullable=False))
    from_status: str = Field(sa_column=Column(String(32), nullable=False))
    to_status: str = Field(sa_column=Column(String(32), nullable=False))
    at: datetime = _when(nullable=False)


class StaffMessage(SQLModel, table=True):
    """A message in the staff chat that belongs to a request (its card, a relayed message), so
    that a coordinator's reply to it reaches the right resident."""

    __tablename__ = "staff_message"
    chat_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    message_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    request_id: int = Field(index=True)


class Coordinator(SQLModel, table=True):
    """Coordinators added with `korak coordinators add` (COORDINATOR_IDS adds more)."""

    telegram_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    name: str | None = None
    added_at: datetime = _when(nullable=False)


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
    # names a message that must exist once (a reminder, a digest): a second insert is refused
    key: str | None = Field(default=None, sa_column=Column(String(255), unique=True, nullable=True))
    # set just before the send: a row found with it set was interrupted mid-send (a crash)
    sending_since: datetime | None = _when(nullable=True)
    # what the row is about, so a change can withdraw it: "session:12"
    topic: str | None = Field(default=None, sa_column=Column(String(64), index=True, nullable=True))


class Cohort(SQLModel, table=True):
    """One run of the 6-month programme at a site."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(120), unique=True, nullable=False))
    site: str = Field(sa_column=Column(String(32), nullable=False))
    created_at: datetime = _when(nullable=False)


class ProgrammeSession(SQLModel, table=True):
    __tablename__ = "programme_session"
    __table_args__ = (UniqueConstraint("cohort_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    cohort_id: int = Field(index=True)
    key: str = Field(sa_column=Column(String(255), nullable=False))
    title: str
    place: str
    starts_at: datetime = _when(nullable=False)
    ends_at: datetime = _when(nullable=False)
    cancelled: bool = False
    updated_at: datetime = _when(nullable=False)


class Enrollment(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("cohort_id", "telegram_id"),)

    id: int | None = Field(default=None, primary_key=True)
    cohort_id: int = Field(index=True)
    telegram_id: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    request_id: int | None = None
    active: bool = True
    enrolled_at: datetime = _when(nullable=False)
    left_at: datetime | None = _when(nullable=True)


class Attendance(SQLModel, table=True):
    """A participant's answer to a reminder: coming or not."""

    session_id: int = Field(primary_key=True)
    telegram_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    answer: str = Field(sa_column=Column(String(16), nullable=False))
    at: datetime = _when(nullable=False)
