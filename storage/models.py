"""Tables. Times are stored in UTC; Telegram ids are 64-bit.

A resident is a channel and an address on it, kept as one string, `person`:
"telegram:<user id>", "viber:<user id>", "whatsapp:<number>". A message's receiver (`chat`) is
such a person, or "group:<chat id>" for the coordinators' Telegram group: a group is a kind of
address, not a negative number. Coordinators are Telegram users (the staff side is Telegram
only): their columns stay Telegram ids."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import (JSON, BigInteger, Column, Date, DateTime, Index, String, Text,
                        UniqueConstraint, text)
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _when(**kw: Any) -> Any:
    return Field(sa_column=Column(DateTime(timezone=True), **kw))


# SQLite reuses the largest id once its row is deleted, unless the table is AUTOINCREMENT: a
# request erased while its card was on its way gave its number to the next resident, and a
# coordinator's reply to the old card reached the new person. Ids are never reused anywhere.
NEVER_REUSE = {"sqlite_autoincrement": True}

PERSON = 96  # "viber:" and a Viber user id (24 characters today), "whatsapp:" and 15 digits
CHANNELS = ("telegram", "viber", "whatsapp")
GROUP = "group"  # the coordinators' Telegram group, as a receiver


def person_key(channel: str, address: str | int) -> str:
    """A resident's key: their channel and their address on it."""
    return f"{channel}:{address}"


def group_key(chat_id: int) -> str:
    """The staff chat (a Telegram group) as a receiver."""
    return f"{GROUP}:{chat_id}"


def split_key(key: str) -> tuple[str, str]:
    """(channel or "group", address) of a key."""
    channel, _, address = key.partition(":")
    return channel, address


def telegram_chat(key: str) -> int | None:
    """The Telegram chat id behind a key (a Telegram person or the group); None for the other
    channels."""
    channel, address = split_key(key)
    return int(address) if channel in ("telegram", GROUP) else None


class Resident(SQLModel, table=True):
    """A person talking to the bot, and where their conversation stands. The sensitive answer
    of a conversation in progress is sealed inside `state` (storage/crypto.py). Its id is
    referred to nowhere, so it needs no AUTOINCREMENT (which costs every update a write)."""

    id: int | None = Field(default=None, primary_key=True)
    person: str = Field(sa_column=Column(String(PERSON), unique=True, nullable=False))
    state: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    unreachable: bool = False
    updated_at: datetime = _when(nullable=False)
    lang: str | None = Field(default=None, max_length=8)  # the language they chose


class ContactRequest(SQLModel, table=True):
    __tablename__ = "contact_request"
    __table_args__ = (Index("ix_contact_request_person_status", "person", "status"),
                      Index("ix_contact_request_activity", "activity_at"), NEVER_REUSE)

    id: int | None = Field(default=None, primary_key=True)
    person: str = Field(sa_column=Column(String(PERSON), nullable=False))  # who, on which channel
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
    # the answer to the sensitive question (ethnic origin), sealed with DATA_KEY; never shown on
    # a card, opened only for the coordinator who asks (and logged in access_log)
    sensitive: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # the last thing that happened to the request (made, changed, a message either way, a
    # reminder answered): RETENTION_MONTHS after it, the request is erased
    activity_at: datetime = _when(nullable=False)


class RequestEvent(SQLModel, table=True):
    """History of a request: who did what, when. Kept with the request, deleted with it."""

    __tablename__ = "request_event"
    # a card names a coordinator by the name she last acted under (storage/cover.py)
    __table_args__ = (Index("ix_request_event_actor", "actor_id", "id"), NEVER_REUSE)
    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(index=True)
    actor_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    actor_name: str | None = None
    action: str = Field(sa_column=Column(String(32), nullable=False))
    from_status: str = Field(sa_column=Column(String(32), nullable=False))
    to_status: str = Field(sa_column=Column(String(32), nullable=False))
    at: datetime = _when(nullable=False)
    # a handover ("handover"): the coordinator who had the request and the one who has it now
    from_owner_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    from_owner_name: str | None = None
    to_owner_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    to_owner_name: str | None = None


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


class CoordinatorAway(SQLModel, table=True):
    """A coordinator who wrote /odsotna: away from `since`, through the day `until` (none: until
    she writes /nazaj). Deleted when she is back. A table of its own, not columns of
    `coordinator`: a coordinator listed only in COORDINATOR_IDS is away too, and a row in
    `coordinator` would make her one for good."""

    __tablename__ = "coordinator_away"
    telegram_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    name: str | None = None  # her first name as Telegram gave it, for the cards
    since: datetime = _when(nullable=False)
    until: date | None = Field(default=None, sa_column=Column(Date, nullable=True))


class CoordinatorSeen(SQLModel, table=True):
    """The Telegram first name a coordinator was last seen under (a message or a press in the
    staff chat), or, for one never seen, the name getChatMember gave: how cards, buttons and
    notices name her when `korak coordinators add --name` did not. A table of its own, as
    `coordinator_away` is: a coordinator listed only in COORDINATOR_IDS has a name too."""

    __tablename__ = "coordinator_seen"
    telegram_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    name: str = Field(sa_column=Column(String(64), nullable=False))
    seen_at: datetime = _when(nullable=False)


class Inbox(SQLModel, table=True):
    """Every update from a channel, stored before the platform is told it arrived (polling:
    before the next getUpdates; a webhook: before the 200), so one that a killed process had
    not handled yet is handled after the restart. Once handled, only its id, owner and times
    stay, so an update delivered again is not handled twice; after a week those go too.

    `event` is the channel and the platform's id of the update ("telegram:<update id>",
    "viber:<message token>", "whatsapp:<message id>"): ids of different channels never meet.
    `person` is the lane: one person's updates are handled strictly in order (`seq`, the
    platform's order), across processes (a row is claimed only when it is the oldest waiting
    one of its lane)."""

    __tablename__ = "inbox"
    __table_args__ = (Index("ix_inbox_waiting", "person", "seq",
                            sqlite_where=text("handled_at IS NULL"),
                            postgresql_where=text("handled_at IS NULL")),
                      Index("ix_inbox_reply_by", "reply_by",
                            sqlite_where=text("reply_by IS NOT NULL"),
                            postgresql_where=text("reply_by IS NOT NULL")))
    event: str = Field(sa_column=Column(String(255), primary_key=True))
    # whose update it was ("": nobody's); erased with the person
    person: str = Field(default="", sa_column=Column(String(PERSON), nullable=False))
    # the platform's order within the lane (Telegram's update id, Viber's and WhatsApp's time)
    seq: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    received_at: datetime = _when(nullable=False)
    # the update itself, sealed with DATA_KEY (storage/crypto.py), until it is handled (then
    # blanked): nothing of it is ever written in the clear
    payload: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    handled_at: datetime | None = _when(nullable=True)
    claimed_until: datetime | None = _when(nullable=True)  # a process is handling it
    attempts: int = 0
    # handled, its reply not yet known to be sent: if this passes first (the process was
    # killed in between), the person is told again what they were last told
    reply_by: datetime | None = _when(nullable=True)


class Outbox(SQLModel, table=True):
    """Something to send later, written in the same transaction as the change that caused it."""

    __table_args__ = (Index("ix_outbox_due", "sent_at", "due_at"), NEVER_REUSE)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_column=Column(String(64), nullable=False))
    # the receiver: a person's key, or the staff group's ("group:<chat id>")
    chat: str | None = Field(default=None, sa_column=Column(String(PERSON), nullable=True))
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
    # given up on after bounded retries: kept (for `korak outbox retry`), never sent by itself
    failed_at: datetime | None = _when(nullable=True)
    # the request the row is about (for a participant's reminder: the request they were
    # enrolled through): erasing the request deletes the row, sent or not
    request_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True,
                                                                  index=True))
    # a failed row's chat and text were blanked then (OUTBOX_FAILED_KEEP_DAYS after it failed)
    blanked_at: datetime | None = _when(nullable=True)
    # WhatsApp: the platform's id of the message sent (its wamid), until Meta's status says it
    # went or failed; meanwhile the row keeps its chat and text, to send it again (as a template
    # when the 24-hour window turned out closed). Blanked with them.
    receipt: str | None = Field(default=None, sa_column=Column(String(128), index=True,
                                                               nullable=True))


class Cohort(SQLModel, table=True):
    """One run of the 6-month programme at a site."""

    __table_args__ = (NEVER_REUSE,)
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(120), unique=True, nullable=False))
    site: str = Field(sa_column=Column(String(32), nullable=False))
    created_at: datetime = _when(nullable=False)


class ProgrammeSession(SQLModel, table=True):
    __tablename__ = "programme_session"
    __table_args__ = (UniqueConstraint("cohort_id", "key"), NEVER_REUSE)

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
    __table_args__ = (UniqueConstraint("cohort_id", "person"), NEVER_REUSE)

    id: int | None = Field(default=None, primary_key=True)
    cohort_id: int = Field(index=True)
    person: str = Field(sa_column=Column(String(PERSON), nullable=False, index=True))
    request_id: int | None = None
    active: bool = True
    enrolled_at: datetime = _when(nullable=False)
    left_at: datetime | None = _when(nullable=True)


class Attendance(SQLModel, table=True):
    """A participant's answer to a reminder (coming or not), and after the session whether they
    were there, as a coordinator marked it on the list in the staff chat. A row may hold only
    one of the two."""

    session_id: int = Field(primary_key=True)
    person: str = Field(sa_column=Column(String(PERSON), primary_key=True))
    answer: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))
    at: datetime | None = _when(nullable=True)
    # present | absent | excused, who marked it (a coordinator's Telegram id) and when
    presence: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))
    presence_by: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    presence_at: datetime | None = _when(nullable=True)
    # the staff-chat message telling her answer (one per person and session, edited as it
    # changes, and to the removal text when she is erased)
    notice_chat_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    notice_message_id: int | None = Field(default=None,
                                          sa_column=Column(BigInteger, nullable=True))


class AttendanceSheet(SQLModel, table=True):
    """A message in the staff chat showing part of a session's attendance list (25 people a
    message): a press edits it, and erasing a person edits it without them."""

    __tablename__ = "attendance_sheet"
    chat_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    message_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    session_id: int = Field(index=True)
    part: int = 0


class AccessLog(SQLModel, table=True):
    """A coordinator opened personal data on demand: the sensitive answer (`sensitive`) or a
    request's card posted again with /prosnja (`card`). The resident sees these in
    /moji_podatki; `korak access-log` lists them. Deleted with the request."""

    __tablename__ = "access_log"
    __table_args__ = (NEVER_REUSE,)
    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    actor_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    actor_name: str | None = None
    what: str = Field(sa_column=Column(String(16), nullable=False))
    at: datetime = _when(nullable=False)


class JobRun(SQLModel, table=True):
    """A daily job that has run (retention): one row a job a day, so it runs once."""

    __tablename__ = "job_run"
    name: str = Field(sa_column=Column(String(32), primary_key=True))
    day: str = Field(sa_column=Column(String(10), primary_key=True))
    finished_at: datetime = _when(nullable=False)


class Setting(SQLModel, table=True):
    """What the running service learned and every process must share: the staff chat's new
    id after Telegram made the group a supergroup, whether staff messages are paused (the bot
    cannot post there) and why."""

    name: str = Field(sa_column=Column(String(64), primary_key=True))
    value: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = _when(nullable=False)


class InboxBatch(SQLModel, table=True):
    """Telegram's long polling: a batch of updates as getUpdates returned it, stored before the next
    getUpdates confirms it to Telegram, and deleted once every update in it is handled
    (seconds). One row a batch: storing each update as a row of its own cost every update a
    write more. After a crash the batches left are handled first (each update once)."""

    __tablename__ = "inbox_batch"
    __table_args__ = (NEVER_REUSE,)
    id: int | None = Field(default=None, primary_key=True)
    received_at: datetime = _when(nullable=False)
    # Telegram's updates as one JSON list, sealed with DATA_KEY: nothing of them in the clear
    updates: str = Field(sa_column=Column(Text, nullable=False))


class Leader(SQLModel, table=True):
    """Which process does the scheduler's work (planning reminders and the digest, retention)
    for now: one at a time, taken over when its lease runs out."""

    name: str = Field(sa_column=Column(String(32), primary_key=True))
    holder: str = Field(sa_column=Column(String(128), nullable=False))
    until: datetime = _when(nullable=False)


class ReportMonth(SQLModel, table=True):
    """A closed month's report figures (dialogs/report.py `Figures`): counted once, the first
    time a report needs the month after it ended, and kept as they were then, so that a later
    erasure or change does not move a closed period's figures. Counts, working hours without
    dates or ids, and the sessions' figures: nothing about any one person."""

    __tablename__ = "report_month"
    month: str = Field(sa_column=Column(String(7), primary_key=True))  # 2027-01
    counted_at: datetime = _when(nullable=False)
    figures: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
