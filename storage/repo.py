"""Every query korak makes. Handlers and dialogs never write SQL."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from .db import DriverSQL
from .models import (ContactRequest, Coordinator, Inbox, Outbox, RequestEvent, Resident,
                     Setting, StaffMessage, group_key)

OPEN_STATUSES = ("new", "claimed", "contacted")


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything korak stores is UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _locking(session: AsyncSession, stmt):
    if _dialect(session) == "postgresql":
        return stmt.with_for_update()
    return stmt


# The statements of every resident update, on the driver's own connection (see DriverSQL).
_RESIDENT = Resident.__table__.c
_REQUEST = ContactRequest.__table__.c
_INBOX = Inbox.__table__.c

# handled once: the update's inbox row is marked handled (and its payload dropped), or made so
# when the update never went through the inbox (korak chat, tests); nothing comes back when it
# was handled before
# was handled before; `reply_by` (the inbox's): until then the reply is not known to be sent
_RECORD_UPDATE = ("INSERT INTO inbox (event, person, seq, received_at, handled_at, attempts, "
                  "reply_by) VALUES ($1, $3, 0, $2, $2, 1, $4) ON CONFLICT (event) DO UPDATE "
                  "SET handled_at = excluded.handled_at, payload = NULL, claimed_until = NULL, "
                  "reply_by = excluded.reply_by WHERE inbox.handled_at IS NULL RETURNING event")
_SELECT_STATE = "SELECT state, updated_at FROM resident WHERE person = {}"

_FIRST_TIME = DriverSQL(_RECORD_UPDATE, params=[_INBOX.event, _INBOX.handled_at,
                                                _INBOX.person, _INBOX.reply_by])
_STATE_OF = DriverSQL(_SELECT_STATE.format("$1"), params=[_RESIDENT.person],
                      columns=[_RESIDENT.state, _RESIDENT.updated_at])
_STATE_OF_LOCKED = DriverSQL(_SELECT_STATE.format("$1") + " FOR UPDATE",
                             params=[_RESIDENT.person],
                             columns=[_RESIDENT.state, _RESIDENT.updated_at])
_REQUESTS_OF = DriverSQL(
    "SELECT id, status, created_at, site, answers, sensitive FROM contact_request "
    "WHERE person = $1 ORDER BY id",
    params=[_REQUEST.person],
    columns=[_REQUEST.id, _REQUEST.status, _REQUEST.created_at, _REQUEST.site, _REQUEST.answers,
             _REQUEST.sensitive])
_OPEN_REQUEST_OF = DriverSQL(
    "SELECT id FROM contact_request WHERE person = $1 AND status IN ({}) "
    "ORDER BY id DESC LIMIT 1".format(", ".join(f"'{s}'" for s in OPEN_STATUSES)),
    params=[_REQUEST.person])
_NEW_REQUEST = DriverSQL(
    "INSERT INTO contact_request (person, status, site, municipality, source, "
    "answers, created_at, updated_at, status_changed_at, activity_at, sensitive, version) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0) RETURNING id",
    params=[_REQUEST.person, _REQUEST.status, _REQUEST.site,
            _REQUEST.municipality, _REQUEST.source, _REQUEST.answers, _REQUEST.created_at,
            _REQUEST.updated_at, _REQUEST.status_changed_at, _REQUEST.activity_at,
            _REQUEST.sensitive])
_SAVE_STATE = DriverSQL(
    "INSERT INTO resident (person, state, updated_at, unreachable, lang) "
    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (person) DO UPDATE SET "
    "state = excluded.state, updated_at = excluded.updated_at, "
    "unreachable = excluded.unreachable, lang = COALESCE(excluded.lang, resident.lang)",
    params=[_RESIDENT.person, _RESIDENT.state, _RESIDENT.updated_at,
            _RESIDENT.unreachable, _RESIDENT.lang])


# The statements of every outbox delivery (a card per request), on the driver's connection too.
_OUTBOX = Outbox.__table__.c
_STAFF_MESSAGE = StaffMessage.__table__.c
_HOLD_CLAIM = DriverSQL(
    "UPDATE outbox SET claimed_until = $1 "
    "WHERE id = $2 AND sent_at IS NULL AND claimed_until = $3 RETURNING id",
    params=[_OUTBOX.claimed_until, _OUTBOX.id, _OUTBOX.claimed_until])
_MARK_SENDING = DriverSQL(
    "UPDATE outbox SET sending_since = $1 WHERE id = $2 AND sent_at IS NULL",
    params=[_OUTBOX.sending_since, _OUTBOX.id])
# a row done with (sent, or given up) keeps nothing personal: not the chat, not what it said
_FINISH_SENT = DriverSQL(
    "UPDATE outbox SET sending_since = NULL, sent_at = $1, last_error = $2, chat = NULL, "
    "payload = $4 WHERE id = $3",
    params=[_OUTBOX.sent_at, _OUTBOX.last_error, _OUTBOX.id, _OUTBOX.payload])
_FINISH_RETRY = DriverSQL(
    "UPDATE outbox SET sending_since = NULL, due_at = $1, claimed_until = NULL, "
    "last_error = $2 WHERE id = $3",
    params=[_OUTBOX.due_at, _OUTBOX.last_error, _OUTBOX.id])
_REMEMBER_MESSAGE = DriverSQL(
    "INSERT INTO staff_message (chat_id, message_id, request_id) VALUES ($1, $2, $3) "
    "ON CONFLICT DO NOTHING",
    params=[_STAFF_MESSAGE.chat_id, _STAFF_MESSAGE.message_id, _STAFF_MESSAGE.request_id])
_NEW_OUTBOX = DriverSQL(
    "INSERT INTO outbox (kind, chat, payload, due_at, request_id, attempts) "
    "VALUES ($1, $2, $3, $4, $5, 0)",
    params=[_OUTBOX.kind, _OUTBOX.chat, _OUTBOX.payload, _OUTBOX.due_at, _OUTBOX.request_id])
_SET_CARD = DriverSQL(
    "UPDATE contact_request SET card_chat_id = $1, card_message_id = $2 WHERE id = $3",
    params=[_REQUEST.card_chat_id, _REQUEST.card_message_id, _REQUEST.id])


# PostgreSQL: the three reads above as one round trip (SQLite takes them one by one: there a
# statement costs no round trip, and a CTE cannot insert)
_BEGIN_UPDATE_PG = DriverSQL(
    f"WITH fresh AS ({_RECORD_UPDATE}), me AS ({_SELECT_STATE.format('$3')} FOR UPDATE) "
    "SELECT (SELECT count(*) FROM fresh), (SELECT state FROM me), "
    "(SELECT updated_at FROM me), "
    "q.id, q.status, q.created_at, q.site, q.answers, q.sensitive "
    "FROM (SELECT 1) AS one LEFT JOIN contact_request q ON q.person = $3 ORDER BY q.id",
    params=[_INBOX.event, _INBOX.handled_at, _RESIDENT.person, _INBOX.reply_by],
    columns=[_INBOX.event, _RESIDENT.state, _RESIDENT.updated_at, _REQUEST.id,
             _REQUEST.status,
             _REQUEST.created_at, _REQUEST.site, _REQUEST.answers, _REQUEST.sensitive])


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


async def first_time(session: AsyncSession, event: str, now: datetime,
                     person: str | None = None, reply_by: datetime | None = None) -> bool:
    """Mark the update (its channel's event key) handled in the inbox, with whose it was, so
    erasing the person erases it; False when it was handled before (the platform delivered it
    again). `reply_by`: the inbox waits this long to hear that the reply went. One
    statement."""
    return bool(await _FIRST_TIME.rows(session, event, now, person or "", reply_by))


class RequestRow(NamedTuple):
    id: int
    status: str
    created_at: datetime
    site: str | None
    answers: dict[str, Any]
    sensitive: str | None  # sealed


@dataclass(frozen=True)
class Conversation:
    """Where a resident's conversation stands and their requests (oldest first), as read at the
    start of an update. `state` is None when nothing is stored about them."""

    state: dict[str, Any] | None
    requests: list[RequestRow]
    # when the conversation last changed (the person last wrote); None: no resident row
    updated_at: datetime | None = None

    @property
    def unknown(self) -> bool:
        """Nothing is stored about the person: no conversation, no request."""
        return self.updated_at is None and not self.requests


async def conversation(session: AsyncSession, person: str, *, lock: bool = False
                       ) -> Conversation:
    """`lock` holds the resident's row until the transaction ends (PostgreSQL; SQLite runs one
    transaction at a time anyway)."""
    locked = lock and _dialect(session) == "postgresql"
    found = await (_STATE_OF_LOCKED if locked else _STATE_OF).rows(session, person)
    reqs = await _REQUESTS_OF.rows(session, person)
    return Conversation(found[0][0] if found else None, [RequestRow(*r) for r in reqs],
                        as_utc(found[0][1]) if found else None)


async def begin_update(session: AsyncSession, event: str | None, person: str,
                       now: datetime, reply_by: datetime | None = None
                       ) -> Conversation | None:
    """The start of handling a resident's update: record its event key and read their
    conversation, their row locked. None when the update was handled before (the platform
    delivered it again)."""
    if _dialect(session) == "postgresql" and event is not None:
        rows = await _BEGIN_UPDATE_PG.rows(session, event, now, person, reply_by)
        if not rows[0][0]:
            return None
        return Conversation(rows[0][1], [RequestRow(*r[3:]) for r in rows if r[3] is not None],
                            as_utc(rows[0][2]))
    if event is not None and not await first_time(session, event, now, person, reply_by):
        return None
    return await conversation(session, person, lock=True)


async def get_resident(session: AsyncSession, person: str, *, lock: bool = False
                       ) -> Resident | None:
    stmt = select(Resident).where(Resident.person == person)
    if lock:
        stmt = _locking(session, stmt)
    return (await session.execute(stmt)).scalars().first()


async def save_state(session: AsyncSession, person: str, state: dict[str, Any],
                     now: datetime, lang: str | None = None) -> None:
    """Store the conversation state: one INSERT … ON CONFLICT DO UPDATE. Writing to us makes
    a resident reachable again. `lang`: the language they chose (None keeps the one stored),
    kept in the clear beside the sealed state so that reminders can be written in it."""
    await _SAVE_STATE.rows(session, person, state, now, False, lang)


async def resident_lang(session: AsyncSession, person: str) -> str | None:
    """The language a resident chose."""
    return (await session.execute(select(Resident.lang).where(
        Resident.person == person))).scalar_one_or_none()


async def mark_unreachable(session: AsyncSession, person: str, now: datetime,
                           staff_chat_id: int | None = None) -> bool:
    """The resident blocked the bot. The first time, their latest request's card is refreshed
    to say so and the staff chat is told. Returns whether anything changed."""
    changed = (await session.execute(
        update(Resident).where(Resident.person == person, Resident.unreachable.is_(False))
        .values(unreachable=True, updated_at=now).returning(Resident.person))).scalars().all()
    if not changed or staff_chat_id is None:
        return bool(changed)
    reqs = await requests_of(session, changed[0])  # open, or enrolled and getting reminders
    req = reqs[-1] if reqs else None
    if req is not None:
        session.add(Outbox(kind="staff_unreachable", chat=group_key(staff_chat_id),
                           payload={"request_id": req.id}, due_at=now, request_id=req.id))
    return True


# A request as the outbox reads it to render a message: every column, read-only
RequestRecord = namedtuple("RequestRecord",  # type: ignore[misc]
                           [c.name for c in ContactRequest.__table__.columns])
_REQUEST_AND_REACH = DriverSQL(
    "SELECT {}, r.unreachable FROM contact_request q LEFT JOIN resident r "
    "ON r.person = q.person WHERE q.id = $1".format(
        ", ".join(f"q.{c.name}" for c in ContactRequest.__table__.columns)),
    params=[_REQUEST.id], columns=[*ContactRequest.__table__.columns, _RESIDENT.unreachable])


async def request_and_reach(session: AsyncSession, request_id: int
                            ) -> tuple[RequestRecord, bool] | None:
    """The request (None when it is gone) and whether its resident has blocked the bot: one
    driver statement, for every card and relayed message the outbox renders."""
    rows = await _REQUEST_AND_REACH.rows(session, request_id)
    if not rows:
        return None
    return RequestRecord(*rows[0][:-1]), bool(rows[0][-1])


async def resident_unreachable(session: AsyncSession, person: str) -> bool:
    resident = await get_resident(session, person)
    return bool(resident and resident.unreachable)


async def requests_of(session: AsyncSession, person: str) -> list[ContactRequest]:
    stmt = (select(ContactRequest).where(ContactRequest.person == person)
            .order_by(ContactRequest.id))
    return list((await session.execute(stmt)).scalars().all())


async def get_request(session: AsyncSession, request_id: int, *, lock: bool = False
                      ) -> ContactRequest | None:
    stmt = select(ContactRequest).where(ContactRequest.id == request_id)
    if lock:
        stmt = _locking(session, stmt)
    return (await session.execute(stmt.execution_options(populate_existing=True))).scalars().first()


async def open_requests(session: AsyncSession) -> list[ContactRequest]:
    stmt = (select(ContactRequest).where(ContactRequest.status.in_(OPEN_STATUSES))
            .order_by(ContactRequest.created_at, ContactRequest.id))
    return list((await session.execute(stmt)).scalars().all())


async def change_request(session: AsyncSession, req: ContactRequest, *, action: str, status: str,
                         owner_id: int | None, owner_name: str | None, actor_id: int | None,
                         actor_name: str | None, now: datetime) -> None:
    """Move a request to `status`, keep who did it in the history and bump its version, so a
    card shown before the change can no longer act."""
    session.add(RequestEvent(request_id=req.id, actor_id=actor_id, actor_name=actor_name,
                             action=action, from_status=req.status, to_status=status, at=now))
    if status == "claimed" and req.status == "new":
        req.claimed_at = now
    if status == "new":
        req.claimed_at = None
    req.status, req.owner_id, req.owner_name = status, owner_id, owner_name
    req.status_changed_at = now
    req.updated_at = req.activity_at = now
    req.version += 1
    session.add(req)
    await session.flush()


async def set_site(session: AsyncSession, req: ContactRequest, *, site: str,
                   actor_id: int | None, actor_name: str | None, now: datetime) -> None:
    """A coordinator chose the site of a request made without one: kept in the history, the
    status and its time unchanged (an unclaimed request keeps its wait), the version bumped."""
    session.add(RequestEvent(request_id=req.id, actor_id=actor_id, actor_name=actor_name,
                             action="site", from_status=req.status, to_status=req.status, at=now))
    req.site = site
    req.answers = {**req.answers, "site": site}
    req.updated_at = req.activity_at = now
    req.version += 1
    session.add(req)
    await session.flush()


async def history(session: AsyncSession, request_id: int) -> list[RequestEvent]:
    stmt = (select(RequestEvent).where(RequestEvent.request_id == request_id)
            .order_by(RequestEvent.id))
    return list((await session.execute(stmt)).scalars().all())


async def remember_staff_message(session: AsyncSession, chat_id: int, message_id: int,
                                 request_id: int, *, card: bool = False) -> None:
    """A staff-chat message about a request; a card becomes the one that is edited and
    replied to."""
    await _REMEMBER_MESSAGE.rows(session, chat_id, message_id, request_id)
    if card:
        await _SET_CARD.rows(session, chat_id, message_id, request_id)


async def request_of_staff_message(session: AsyncSession, chat_id: int, message_id: int
                                   ) -> ContactRequest | None:
    row = await session.get(StaffMessage, (chat_id, message_id))
    return None if row is None else await get_request(session, row.request_id)


async def add_outbox(session: AsyncSession, *, kind: str, chat: str | None,
                     payload: dict[str, Any], due_at: datetime, key: str | None = None,
                     topic: str | None = None, request_id: int | None = None) -> bool:
    """Queue a message to `chat` (a person's key, or group_key(the staff chat)). With a key, only once ever: returns False when it was queued before
    (by this process or another one at the same moment). `request_id`: the request the message
    is about; erasing the request deletes the row, sent or not, and it is not sent once the
    request is gone."""
    row = Outbox(kind=kind, chat=chat, payload=payload, due_at=due_at, key=key,
                 topic=topic, request_id=request_id)
    if key is not None:
        seen = await session.execute(select(Outbox.id).where(Outbox.key == key))
        if seen.first() is not None:
            return False
        try:
            async with session.begin_nested():
                session.add(row)
        except IntegrityError:
            return False
        return True
    session.add(row)
    return True


_TOUCH = DriverSQL("UPDATE contact_request SET activity_at = $1 WHERE id = $2",
                   params=[_REQUEST.activity_at, _REQUEST.id])


async def touch(session: AsyncSession, request_id: int, now: datetime) -> None:
    """Something happened to the request (a message either way, a reminder answered):
    retention counts RETENTION_MONTHS from the last such moment."""
    await _TOUCH.rows(session, now, request_id)


_RELAYS_SINCE = DriverSQL(
    "SELECT count(*) FROM outbox WHERE kind = 'relay_to_staff' AND request_id = $1 "
    "AND due_at > $2", params=[_OUTBOX.request_id, _OUTBOX.due_at])


async def relays_since(session: AsyncSession, request_id: int, since: datetime) -> int:
    """How many messages a resident passed to the coordinators about a request since then
    (a sent row keeps its kind, request and time, nothing else)."""
    return int((await _RELAYS_SINCE.rows(session, request_id, since))[0][0])


_EXISTS = "SELECT id FROM contact_request WHERE id = $1"
_REQUEST_EXISTS = DriverSQL(_EXISTS, params=[_REQUEST.id])
_REQUEST_EXISTS_LOCKED = DriverSQL(_EXISTS + " FOR UPDATE", params=[_REQUEST.id])


async def request_exists(session: AsyncSession, request_id: int, *, lock: bool = False) -> bool:
    """`lock` (PostgreSQL) holds the row to the end of the transaction: an erasure of it waits,
    and then finds what this transaction wrote about it."""
    stmt = _REQUEST_EXISTS_LOCKED if lock and _dialect(session) == "postgresql" \
        else _REQUEST_EXISTS
    return bool(await stmt.rows(session, request_id))


async def coordinator_ids(session: AsyncSession) -> set[int]:
    return set((await session.execute(select(Coordinator.telegram_id))).scalars())


async def coordinators(session: AsyncSession) -> list[Coordinator]:
    stmt = select(Coordinator).order_by(Coordinator.telegram_id)
    return list((await session.execute(stmt)).scalars().all())


async def add_coordinator(session: AsyncSession, telegram_id: int, name: str | None,
                          now: datetime) -> bool:
    row = await session.get(Coordinator, telegram_id)
    if row is not None:
        if name:
            row.name = name
            session.add(row)
        return False
    session.add(Coordinator(telegram_id=telegram_id, name=name, added_at=now))
    return True


async def remove_coordinator(session: AsyncSession, telegram_id: int) -> bool:
    result = await session.execute(delete(Coordinator).where(Coordinator.telegram_id == telegram_id))
    return bool(result.rowcount)


async def create_request(session: AsyncSession, *, person: str,
                         answers: dict[str, Any], now: datetime, staff_chat_id: int | None,
                         sensitive: str | None = None) -> tuple[int, bool]:
    """One open request per resident: returns (request id, created). The staff notification is
    an outbox row in the same transaction, so it is neither lost nor sent for a request that
    was rolled back. Driver statements: through the ORM this step cost as much CPU as a dozen
    ordinary updates, and every resident makes it. `answers` holds no sensitive answer; that
    comes sealed in `sensitive`."""
    existing = await _OPEN_REQUEST_OF.rows(session, person)
    if existing:
        return existing[0][0], False
    [(request_id,)] = await _NEW_REQUEST.rows(
        session, person, "new", answers.get("site"), answers.get("municipality"),
        answers.get("source"), answers, now, now, now, now, sensitive)
    if staff_chat_id is not None:
        await _NEW_OUTBOX.rows(session, "staff_new_request", group_key(staff_chat_id),
                               {"request_id": request_id}, now, request_id)
    return request_id, True


async def claim_due(session: AsyncSession, now: datetime, *, limit: int = 50,
                    lease: timedelta = timedelta(minutes=2), skip_chat: str | None = None,
                    skip_chats: Collection[str] = ()) -> list[Outbox]:
    """Claim due, unsent rows for one dispatcher. On PostgreSQL rows locked by another
    dispatcher are skipped (FOR UPDATE SKIP LOCKED); on SQLite the claim is one UPDATE …
    RETURNING statement, which the database runs alone. The lease lets a crashed dispatcher's
    rows be retried later. Failed rows wait for a person; rows for `skip_chat` (the staff chat
    while the bot cannot post there) wait where they are."""
    due = (select(Outbox.id)
           .where(Outbox.sent_at.is_(None), Outbox.failed_at.is_(None), Outbox.due_at <= now,
                  (Outbox.claimed_until.is_(None)) | (Outbox.claimed_until < now))
           .order_by(Outbox.due_at, Outbox.id).limit(limit))
    skipped = sorted({*skip_chats, *([skip_chat] if skip_chat is not None else [])})
    if skipped:  # the staff chat while paused; chats this dispatcher is still sending to
        due = due.where((Outbox.chat.is_(None)) | (Outbox.chat.not_in(skipped)))
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        ids = list((await session.execute(due.with_for_update(skip_locked=True))).scalars())
    else:
        ids = None
    stmt = (update(Outbox)
            .where(Outbox.id.in_(ids if ids is not None else due.scalar_subquery()))
            .values(claimed_until=now + lease, attempts=Outbox.attempts + 1)
            .returning(Outbox.id))
    if ids == []:
        return []
    claimed = list((await session.execute(stmt)).scalars())
    if not claimed:
        return []
    rows = (await session.execute(
        select(Outbox).where(Outbox.id.in_(claimed)).order_by(Outbox.due_at, Outbox.id)
        .execution_options(populate_existing=True))).scalars().all()
    return list(rows)


async def hold_claim(session: AsyncSession, outbox_id: int, lease_until: datetime | None,
                     now: datetime, lease: timedelta = timedelta(minutes=2)) -> bool:
    """Just before sending: is the row still ours (our lease, unsent)? Renews the lease. A
    dispatcher that waited too long (rate limits) finds another one has taken the row over,
    and skips it rather than sending it twice."""
    if lease_until is None:
        return False
    return bool(await _HOLD_CLAIM.rows(session, now + lease, outbox_id, lease_until))


async def mark_sending(session: AsyncSession, outbox_id: int, now: datetime) -> None:
    """Set right before the request goes out: found set later, the send was interrupted."""
    await _MARK_SENDING.rows(session, now, outbox_id)


async def finish_outbox(session: AsyncSession, outbox_id: int, now: datetime,
                        error: str | None = None, retry_at: datetime | None = None) -> None:
    """The row is to be tried again at `retry_at`, or it is done with (sent, or failed for
    good): then it keeps nothing personal, neither the chat nor what it said (its kind, key and
    times stay, so a keyed message is never queued twice)."""
    if retry_at is not None:
        await _FINISH_RETRY.rows(session, retry_at, error, outbox_id)
    else:
        await _FINISH_SENT.rows(session, now, error, outbox_id, {})


async def await_receipt(session: AsyncSession, outbox_id: int, now: datetime,
                        receipt: str) -> None:
    """WhatsApp: the row's message went to Meta (`receipt`: its wamid). Sent, but its chat and
    text stay until Meta's status says it went (settle_receipt), so that a message Meta fails
    afterwards is sent again."""
    await session.execute(update(Outbox).where(Outbox.id == outbox_id).values(
        sent_at=now, sending_since=None, claimed_until=None, last_error=None,
        receipt=receipt[:128]))


async def settle_receipt(session: AsyncSession, chat: str, receipt: str, status: str,
                         error: str | None, now: datetime, retry_at: datetime,
                         max_attempts: int) -> tuple[str, str] | None:
    """What Meta's status about a message korak sent does to its row (None: no row waits for
    it, e.g. its person was erased: nothing is stored). Returns the row's kind and what
    became of it:
    "went" (sent, delivered or read: the row keeps nothing personal any more), "window" (Meta
    refused it as outside the 24-hour window: it goes again, as its template), "retry" (a
    passing refusal: again at `retry_at`), "failed" (given up, kept for `korak outbox
    retry`), "gone" (the person cannot be reached: done with, blanked)."""
    row = (await session.execute(select(Outbox).where(
        Outbox.receipt == receipt, Outbox.chat == chat))).scalars().first()
    if row is None:
        return None
    if status != "failed":
        row.chat, row.payload, row.receipt = None, {}, None
        outcome = "went"
    elif error == "window":
        # until the person writes again (then the window is open whatever korak thought)
        row.payload = {**row.payload, "window_closed": now.isoformat()}
        row.sent_at, row.receipt, row.due_at, row.last_error = None, None, now, "window"
        outcome = "window"
    elif error == "retry" and row.attempts < max_attempts:
        row.sent_at, row.receipt, row.due_at, row.last_error = None, None, retry_at, "retry"
        outcome = "retry"
    elif error in ("blocked", "gone"):
        row.chat, row.payload, row.receipt, row.last_error = None, {}, None, error
        outcome = "gone"
    else:
        row.sent_at, row.receipt, row.failed_at = None, None, now
        row.last_error = error or "failed"
        outcome = "failed"
    row.claimed_until = None
    session.add(row)
    return row.kind, outcome


async def count_pending(session: AsyncSession) -> int:
    stmt = select(func.count()).select_from(Outbox).where(Outbox.sent_at.is_(None),
                                                          Outbox.failed_at.is_(None))
    return int((await session.execute(stmt)).scalar_one())


async def oldest_due(session: AsyncSession, now: datetime) -> datetime | None:
    """When the oldest row that is due and neither sent nor failed fell due."""
    stmt = select(func.min(Outbox.due_at)).where(Outbox.sent_at.is_(None),
                                                 Outbox.failed_at.is_(None), Outbox.due_at <= now)
    return as_utc((await session.execute(stmt)).scalar_one())


async def fail_outbox(session: AsyncSession, outbox_id: int, now: datetime, error: str) -> None:
    """Given up on after bounded retries: kept, with what it says, until a person queues it
    again (`korak outbox retry`), its request is erased, or OUTBOX_FAILED_KEEP_DAYS have passed
    (then retention blanks it: erasure.blank_failed)."""
    await session.execute(update(Outbox).where(Outbox.id == outbox_id).values(
        failed_at=now, last_error=error, claimed_until=None, sending_since=None))


async def release_outbox(session: AsyncSession, outbox_id: int,
                         unless_sending: bool = False) -> None:
    """Back to waiting, its try not counted: it could not go for a reason that is not its own
    (the staff chat is paused; korak was stopped). `unless_sending`: not a row marked as being
    sent (an at-most-once send under way is never sent again)."""
    where = [Outbox.id == outbox_id, Outbox.sent_at.is_(None)]
    if unless_sending:
        where.append(Outbox.sending_since.is_(None))
    await session.execute(update(Outbox).where(*where)
                          .values(claimed_until=None, sending_since=None,
                                  attempts=func.max(Outbox.attempts - 1, 0)
                                  if _dialect(session) == "sqlite"
                                  else func.greatest(Outbox.attempts - 1, 0)))


async def move_chat(session: AsyncSession, old_chat: int, new_chat: int) -> int:
    """The group became a supergroup: what waits for the old chat goes to the new one."""
    result = await session.execute(update(Outbox).where(
        Outbox.chat == group_key(old_chat), Outbox.sent_at.is_(None))
        .values(chat=group_key(new_chat)))
    return result.rowcount or 0


async def note_template_sent(session: AsyncSession, outbox_id: int) -> None:
    """WhatsApp: the row's template went (outside the 24-hour window); its text waits for the
    person to write, and the template is not sent again."""
    row = await session.get(Outbox, outbox_id)
    if row is not None:
        row.payload = {**row.payload, "template_sent": True}
        session.add(row)


async def outbox_request(session: AsyncSession, outbox_id: int) -> int | None:
    """The request an outbox row is about."""
    return (await session.execute(select(Outbox.request_id).where(
        Outbox.id == outbox_id))).scalar_one_or_none()


async def due_now(session: AsyncSession, chat: str, now: datetime) -> int:
    """What waits for a person (WhatsApp's window closed) goes now: they just wrote."""
    result = await session.execute(update(Outbox).where(
        Outbox.chat == chat, Outbox.sent_at.is_(None), Outbox.failed_at.is_(None),
        Outbox.due_at > now).values(due_at=now, claimed_until=None))
    return result.rowcount or 0


async def failed_outbox(session: AsyncSession) -> list[Outbox]:
    stmt = select(Outbox).where(Outbox.failed_at.is_not(None), Outbox.sent_at.is_(None)) \
        .order_by(Outbox.id)
    return list((await session.execute(stmt)).scalars().all())


async def retry_failed(session: AsyncSession, now: datetime, ids: list[int] | None = None
                       ) -> int:
    """Failed rows (some, or all) queued again from the start; a blanked one cannot be."""
    stmt = update(Outbox).where(Outbox.failed_at.is_not(None), Outbox.sent_at.is_(None),
                                Outbox.blanked_at.is_(None))
    if ids is not None:
        stmt = stmt.where(Outbox.id.in_(ids))
    result = await session.execute(stmt.values(failed_at=None, attempts=0, due_at=now,
                                               claimed_until=None, last_error=None))
    return result.rowcount or 0


async def get_setting(session: AsyncSession, name: str) -> str | None:
    row = await session.get(Setting, name)
    return None if row is None else row.value


async def set_setting(session: AsyncSession, name: str, value: str | None, now: datetime
                      ) -> None:
    """Store a shared setting; None removes it."""
    row = await session.get(Setting, name)
    if value is None:
        if row is not None:
            await session.delete(row)
        return
    if row is None:
        session.add(Setting(name=name, value=value, updated_at=now))
    else:
        row.value, row.updated_at = value, now
        session.add(row)


async def pending_outbox(session: AsyncSession) -> list[Outbox]:
    stmt = select(Outbox).where(Outbox.sent_at.is_(None), Outbox.failed_at.is_(None)) \
        .order_by(Outbox.id)
    return list((await session.execute(stmt)).scalars().all())


__all__ = [name for name in dir() if not name.startswith("_")] + ["IntegrityError"]
