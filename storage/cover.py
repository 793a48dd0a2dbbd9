"""Cover for absence in storage: who is away, handing a request over (with its history row),
and the names the cards give the coordinators. SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from .models import ContactRequest, Coordinator, CoordinatorAway, CoordinatorSeen, RequestEvent

OWNED_STATUSES = ("claimed", "contacted")
HANDOVER = "handover"  # request_event.action of a handover


async def set_away(session: AsyncSession, telegram_id: int, name: str | None, now: datetime,
                   until: date | None) -> None:
    """She is away from now (or since she first said so) through `until` (None: until /nazaj).
    Saying it again changes the date only."""
    row = await session.get(CoordinatorAway, telegram_id)
    if row is None:
        session.add(CoordinatorAway(telegram_id=telegram_id, name=name, since=now, until=until))
    else:
        row.until = until
        row.name = name or row.name
        session.add(row)
    await session.flush()


async def clear_away(session: AsyncSession, telegram_id: int) -> bool:
    """She is back: her row goes. False when there was none."""
    result = await session.execute(delete(CoordinatorAway)
                                   .where(CoordinatorAway.telegram_id == telegram_id))
    return bool(result.rowcount)


async def absences(session: AsyncSession) -> list[CoordinatorAway]:
    stmt = select(CoordinatorAway).order_by(CoordinatorAway.telegram_id)
    return list((await session.execute(stmt)).scalars().all())


async def end_absences(session: AsyncSession, today: date, coordinators: Iterable[int]
                       ) -> list[int]:
    """Absences that are over (their last day is before `today`) or of someone who is no longer
    a coordinator: deleted. Returns whose."""
    keep = set(coordinators)
    over = [a.telegram_id for a in await absences(session)
            if (a.until is not None and a.until < today) or a.telegram_id not in keep]
    if over:
        await session.execute(delete(CoordinatorAway)
                              .where(CoordinatorAway.telegram_id.in_(over)))
    return over


async def owned_open(session: AsyncSession, telegram_id: int) -> list[ContactRequest]:
    """Her claimed requests without an outcome yet, oldest first."""
    stmt = (select(ContactRequest)
            .where(ContactRequest.owner_id == telegram_id,
                   ContactRequest.status.in_(OWNED_STATUSES))
            .order_by(ContactRequest.created_at, ContactRequest.id))
    return list((await session.execute(stmt)).scalars().all())


async def covered_open(session: AsyncSession, telegram_id: int) -> list[ContactRequest]:
    """Open requests handed over from her to someone else (their cards may say who covers)."""
    handed = (select(RequestEvent.request_id)
              .where(RequestEvent.action == HANDOVER, RequestEvent.from_owner_id == telegram_id))
    stmt = (select(ContactRequest)
            .where(ContactRequest.id.in_(handed), ContactRequest.status.in_(OWNED_STATUSES),
                   ContactRequest.owner_id != telegram_id)
            .order_by(ContactRequest.created_at, ContactRequest.id))
    return list((await session.execute(stmt)).scalars().all())


async def hand_over(session: AsyncSession, req: ContactRequest, *, to_id: int,
                    to_name: str | None, actor_id: int, actor_name: str | None,
                    now: datetime) -> RequestEvent:
    """The request goes to another coordinator, its status as it was: a history row says who
    handed it from whom to whom and when, and the version moves on so older cards go stale.
    `req` should be locked (repo.get_request(lock=True))."""
    event = RequestEvent(request_id=req.id, actor_id=actor_id, actor_name=actor_name,
                         action=HANDOVER, from_status=req.status, to_status=req.status, at=now,
                         from_owner_id=req.owner_id, from_owner_name=req.owner_name,
                         to_owner_id=to_id, to_owner_name=to_name)
    session.add(event)
    req.owner_id, req.owner_name = to_id, to_name
    req.updated_at = req.activity_at = now
    req.version += 1
    session.add(req)
    await session.flush()
    return event


async def last_handover(session: AsyncSession, request_id: int) -> RequestEvent | None:
    stmt = (select(RequestEvent)
            .where(RequestEvent.request_id == request_id, RequestEvent.action == HANDOVER)
            .order_by(RequestEvent.id.desc()).limit(1))
    return (await session.execute(stmt)).scalars().first()


async def coordinator_names(session: AsyncSession) -> dict[int, str | None]:
    """The coordinators in the table, with the names given there."""
    rows = await session.execute(select(Coordinator.telegram_id, Coordinator.name))
    return {tid: name for tid, name in rows}


async def names_seen(session: AsyncSession, ids: Iterable[int]) -> dict[int, str]:
    """The first name each of these coordinators last acted under (from the history), for
    those the coordinator table names no one. One indexed look a coordinator (a team is a
    handful), not a pass over the whole history."""
    found: dict[int, str] = {}
    for telegram_id in sorted(set(ids)):
        stmt = (select(RequestEvent.actor_name)
                .where(RequestEvent.actor_id == telegram_id, RequestEvent.actor_name.is_not(None))
                .order_by(RequestEvent.id.desc()).limit(1))
        name = (await session.execute(stmt)).scalar()
        if name:
            found[telegram_id] = name
    return found


NAME_LENGTH = 64  # coordinator_seen.name


async def seen_names(session: AsyncSession) -> dict[int, str]:
    """The first name each coordinator was last seen under (or getChatMember gave)."""
    rows = await session.execute(select(CoordinatorSeen.telegram_id, CoordinatorSeen.name))
    return {tid: name for tid, name in rows}


async def saw_name(session: AsyncSession, telegram_id: int, name: str, now: datetime, *,
                   only_new: bool = False) -> bool:
    """She was seen under `name` (a message or a press in the staff chat). With `only_new`
    (a name getChatMember gave), a name already known stays. True when something changed."""
    name = name[:NAME_LENGTH]
    row = await session.get(CoordinatorSeen, telegram_id)
    if row is None:
        session.add(CoordinatorSeen(telegram_id=telegram_id, name=name, seen_at=now))
    elif only_new or row.name == name:
        return False
    else:
        row.name, row.seen_at = name, now
        session.add(row)
    await session.flush()
    return True


async def forget_seen(session: AsyncSession, coordinators: Iterable[int]) -> int:
    """The names of people who are no longer coordinators go."""
    keep = set(coordinators)
    gone = [tid for tid in await seen_names(session) if tid not in keep]
    if gone:
        await session.execute(delete(CoordinatorSeen).where(CoordinatorSeen.telegram_id.in_(gone)))
    return len(gone)
