"""The inbox of updates from every channel, and the scheduler's leader lease: every query about them.

An update is stored before Telegram is told it arrived, handled from the store, and marked
handled in the same transaction as what it changed (repo.begin_update) or just after. A row
is claimed only when it is the oldest waiting one of its lane (a person), so one person's
updates are handled in order even by several processes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from .db import DriverSQL
from .models import Inbox, InboxBatch, Leader

_C = Inbox.__table__.c


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


_STORE_ONE = DriverSQL(
    "INSERT INTO inbox (event, person, seq, received_at, payload, attempts) "
    "VALUES ($1, $2, $3, $4, $5, 0) ON CONFLICT (event) DO NOTHING RETURNING event",
    params=[_C.event, _C.person, _C.seq, _C.received_at, _C.payload])
# PostgreSQL: a batch in one round trip
_STORE_MANY = DriverSQL(
    "INSERT INTO inbox (event, person, seq, received_at, payload, attempts) "
    "SELECT e, l, q, $4, p, 0 FROM unnest($1::text[], $2::text[], $3::bigint[], $5::text[]) "
    "AS batch(e, l, q, p) ON CONFLICT (event) DO NOTHING RETURNING event",
    params=[None, None, None, _C.received_at, None])


async def store(session: AsyncSession, updates: Iterable[tuple[str, str, int, str]],
                now: datetime) -> set[str]:
    """Store (event, lane, order, sealed update) rows; returns the events that were new (a
    platform delivers again what was not confirmed). Driver statements: every update passes
    here."""
    rows = list(updates)
    if not rows:
        return set()
    if _dialect(session) == "postgresql":
        found = await _STORE_MANY.rows(session, [r[0] for r in rows], [r[1] for r in rows],
                                       [r[2] for r in rows], now, [r[3] for r in rows])
        return {r[0] for r in found}
    fresh: set[str] = set()
    for event, lane, seq, payload in rows:
        fresh |= {r[0] for r in await _STORE_ONE.rows(session, event, lane, seq, now, payload)}
    return fresh


_WAITING_IN_LANE = DriverSQL(
    "SELECT 1 FROM inbox WHERE person = $1 AND handled_at IS NULL LIMIT 1",
    params=[_C.person])
_STORE_CLAIMED = DriverSQL(
    "INSERT INTO inbox (event, person, seq, received_at, payload, attempts, claimed_until) "
    "VALUES ($1, $2, $3, $4, $5, 1, $6) ON CONFLICT (event) DO NOTHING RETURNING event",
    params=[_C.event, _C.person, _C.seq, _C.received_at, _C.payload, _C.claimed_until])
_LANE_LOCK = DriverSQL("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                       params=[_C.person])


async def store_and_claim(session: AsyncSession, event: str, lane: str, seq: int,
                          payload: str, now: datetime, lease: timedelta) -> str:
    """Store one update, claimed at once for `lease` when nothing else of its lane waits (the
    usual case: the storing process handles it next, without a claim of its own). Returns
    "claimed", "stored" (others of the lane wait: drain the lane) or "seen" (stored before).
    PostgreSQL: the lane is locked for the transaction, so two processes storing for one
    person at the same moment never both claim."""
    if _dialect(session) == "postgresql":
        await _LANE_LOCK.rows(session, lane)
    if await _WAITING_IN_LANE.rows(session, lane):
        fresh = await _STORE_ONE.rows(session, event, lane, seq, now, payload)
        return "stored" if fresh else "seen"
    fresh = await _STORE_CLAIMED.rows(session, event, lane, seq, now, payload, now + lease)
    return "claimed" if fresh else "seen"


_B = InboxBatch.__table__.c
_NEW_BATCH = DriverSQL("INSERT INTO inbox_batch (received_at, updates) VALUES ($1, $2) "
                       "RETURNING id", params=[_B.received_at, _B.updates])


async def store_batch(session: AsyncSession, updates: str, now: datetime,
                      finished: Iterable[int] = ()) -> int:
    """Long polling: store a batch (sealed) as one row, and delete the batches whose updates
    are all handled (in the same transaction: no write more for them). Returns the batch's
    id."""
    finished = list(finished)
    if finished:
        await session.execute(delete(InboxBatch).where(InboxBatch.id.in_(finished)))
    [(batch_id,)] = await _NEW_BATCH.rows(session, now, updates)
    return batch_id


async def drop_batches(session: AsyncSession, ids: Iterable[int]) -> None:
    ids = list(ids)
    if ids:
        await session.execute(delete(InboxBatch).where(InboxBatch.id.in_(ids)))


async def batches(session: AsyncSession) -> list[tuple[int, str]]:
    """The batches left by a process that stopped before handling all of it, oldest first."""
    stmt = select(InboxBatch.id, InboxBatch.updates).order_by(InboxBatch.id)
    return [tuple(r) for r in (await session.execute(stmt)).all()]


async def handled(session: AsyncSession, events: Iterable[str]) -> set[str]:
    """Which of these updates were handled already."""
    ids = list(events)
    if not ids:
        return set()
    stmt = select(Inbox.event).where(Inbox.event.in_(ids), Inbox.handled_at.is_not(None))
    return set((await session.execute(stmt)).scalars())


_CLAIM_NEXT = DriverSQL(
    "UPDATE inbox SET claimed_until = $3, attempts = attempts + 1 WHERE event = ("
    "SELECT event FROM inbox WHERE person = $1 AND handled_at IS NULL "
    "ORDER BY seq, received_at, event LIMIT 1) AND handled_at IS NULL "
    "AND (claimed_until IS NULL OR claimed_until < $2) "
    "RETURNING event, payload, attempts",
    params=[_C.person, _C.claimed_until, _C.claimed_until],
    columns=[_C.event, _C.payload, _C.attempts])


async def claim_next(session: AsyncSession, lane: str, now: datetime,
                     lease: timedelta) -> tuple[str, str | None, int] | None:
    """The lane's oldest waiting update, claimed for `lease` — unless another process is
    handling that one (then None: that process goes on with the lane)."""
    rows = await _CLAIM_NEXT.rows(session, lane, now, now + lease)
    return rows[0] if rows else None


async def replied(session: AsyncSession, events: Iterable[str]) -> None:
    """These updates' replies went (or failed for good): nothing to say again."""
    events = list(events)
    if events:
        await session.execute(update(Inbox).where(Inbox.event.in_(events), Inbox.reply_by
                                                  .is_not(None)).values(reply_by=None))


async def unreplied(session: AsyncSession, before: datetime, limit: int = 500) -> list[str]:
    """The people whose update was handled but whose reply was not known to be sent by
    `before` (the process was killed in between): taken, so each is told again once."""
    rows = (await session.execute(select(Inbox.event, Inbox.person).where(
        Inbox.reply_by.is_not(None), Inbox.reply_by < before).order_by(Inbox.reply_by)
        .limit(limit))).all()
    if not rows:
        return []
    await session.execute(update(Inbox).where(Inbox.event.in_([r[0] for r in rows]))
                          .values(reply_by=None))
    return list(dict.fromkeys(r[1] for r in rows if r[1]))


async def stranded_lanes(session: AsyncSession, now: datetime, grace: timedelta,
                         limit: int = 200) -> list[str]:
    """Lanes whose oldest waiting update nobody is handling: its claim ran out, or it was
    never claimed and has waited longer than `grace` (its process died)."""
    oldest = (select(Inbox.person, Inbox.claimed_until, Inbox.received_at)
              .where(Inbox.handled_at.is_(None))
              .order_by(Inbox.seq, Inbox.received_at, Inbox.event))
    lanes: dict[str, tuple] = {}
    for lane, claimed, received in (await session.execute(oldest)).all():
        if lane not in lanes:
            lanes[lane] = (claimed, received)
    out = []
    for lane, (claimed, received) in lanes.items():
        claimed, received = _utc(claimed), _utc(received)
        if (claimed is not None and claimed < now) or \
                (claimed is None and received < now - grace):
            out.append(lane)
    return out[:limit]


async def give_up(session: AsyncSession, event: str, now: datetime) -> None:
    """An update whose handling failed again and again: marked handled, so it cannot block its
    lane for good."""
    await session.execute(update(Inbox).where(Inbox.event == event).values(
        handled_at=now, payload=None, claimed_until=None))


def _utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything korak stores is UTC."""
    return value if value is None or value.tzinfo else value.replace(tzinfo=timezone.utc)


_LEAD = DriverSQL(
    "INSERT INTO leader (name, holder, until) VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE "
    "SET holder = excluded.holder, until = excluded.until "
    "WHERE leader.holder = excluded.holder OR leader.until < $4 RETURNING holder",
    params=[Leader.__table__.c.name, Leader.__table__.c.holder, Leader.__table__.c.until,
            Leader.__table__.c.until])


async def lead(session: AsyncSession, name: str, holder: str, now: datetime,
               lease: timedelta) -> bool:
    """Take or keep the lease on `name`: True while this holder has it."""
    return bool(await _LEAD.rows(session, name, holder, now + lease, now))
