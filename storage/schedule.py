"""Queries for cohorts, sessions, enrollments, attendance and the reminder rows of the outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from . import repo
from .models import Attendance, Cohort, Enrollment, Outbox, ProgrammeSession


async def cohort_by_name(session: AsyncSession, name: str) -> Cohort | None:
    stmt = select(Cohort).where(Cohort.name == name)
    return (await session.execute(stmt)).scalars().first()


async def get_cohort(session: AsyncSession, cohort_id: int) -> Cohort | None:
    return await session.get(Cohort, cohort_id)


async def create_cohort(session: AsyncSession, name: str, site: str, now: datetime) -> Cohort:
    cohort = Cohort(name=name, site=site, created_at=now)
    session.add(cohort)
    await session.flush()
    return cohort


async def cohorts(session: AsyncSession, site: str | None = None) -> list[Cohort]:
    stmt = select(Cohort).order_by(Cohort.id)
    if site is not None:
        stmt = stmt.where(Cohort.site == site)
    return list((await session.execute(stmt)).scalars().all())


async def sessions_of(session: AsyncSession, cohort_id: int, *, lock: bool = False
                      ) -> list[ProgrammeSession]:
    stmt = (select(ProgrammeSession).where(ProgrammeSession.cohort_id == cohort_id)
            .order_by(ProgrammeSession.starts_at, ProgrammeSession.id))
    if lock and session.bind is not None and session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return list((await session.execute(stmt)).scalars().all())


async def get_session(session: AsyncSession, session_id: int) -> ProgrammeSession | None:
    return await session.get(ProgrammeSession, session_id)


async def enrollment(session: AsyncSession, cohort_id: int, person: str
                     ) -> Enrollment | None:
    stmt = select(Enrollment).where(Enrollment.cohort_id == cohort_id,
                                    Enrollment.person == person)
    return (await session.execute(stmt)).scalars().first()


async def enroll(session: AsyncSession, *, cohort_id: int, person: str,
                 request_id: int | None, now: datetime) -> tuple[Enrollment, bool]:
    """Returns (enrollment, changed): enrolling twice changes nothing."""
    row = await enrollment(session, cohort_id, person)
    if row is not None and row.active:
        return row, False
    if row is None:
        row = Enrollment(cohort_id=cohort_id, person=person, request_id=request_id,
                         enrolled_at=now)
    row.active, row.left_at = True, None
    session.add(row)
    await session.flush()
    return row, True


async def leave(session: AsyncSession, cohort_id: int, person: str, now: datetime
                ) -> Enrollment | None:
    row = await enrollment(session, cohort_id, person)
    if row is None or not row.active:
        return None
    row.active, row.left_at = False, now
    session.add(row)
    return row


async def get_enrollment(session: AsyncSession, enrollment_id: int) -> Enrollment | None:
    return await session.get(Enrollment, enrollment_id)


async def participants(session: AsyncSession, cohort_id: int) -> list[Enrollment]:
    stmt = (select(Enrollment).where(Enrollment.cohort_id == cohort_id, Enrollment.active)
            .order_by(Enrollment.id))
    return list((await session.execute(stmt)).scalars().all())


async def enrollments_of(session: AsyncSession, person: str) -> list[Enrollment]:
    stmt = select(Enrollment).where(Enrollment.person == person, Enrollment.active)
    return list((await session.execute(stmt)).scalars().all())


async def sessions_for(session: AsyncSession, person: str) -> list[ProgrammeSession]:
    stmt = (select(ProgrammeSession)
            .join(Enrollment, Enrollment.cohort_id == ProgrammeSession.cohort_id)
            .where(Enrollment.person == person, Enrollment.active)
            .order_by(ProgrammeSession.starts_at))
    return list((await session.execute(stmt)).scalars().all())


async def add_reminders(session: AsyncSession, rows: list[dict[str, Any]]) -> int:
    """Queue outbox rows given as columns (repo.add_outbox's arguments, each with a key) whose
    key was never queued: one query for the keys already there and one insert, however many
    rows. Should another process queue some of them at the same moment, they are taken one by
    one. Returns how many were queued."""
    if not rows:
        return 0
    seen = set((await session.execute(
        select(Outbox.key).where(Outbox.key.in_([r["key"] for r in rows])))).scalars())
    new = [r for r in rows if r["key"] not in seen]
    if not new:
        return 0
    try:
        async with session.begin_nested():
            await session.execute(insert(Outbox), new)
    except IntegrityError:
        return sum([await repo.add_outbox(session, **r) for r in new])
    return len(new)


async def withdraw(session: AsyncSession, session_ids: list[int], chat: str | None = None
                   ) -> int:
    """Delete unsent reminders about these sessions (for one chat, or for everyone)."""
    if not session_ids:
        return 0
    stmt = delete(Outbox).where(Outbox.sent_at.is_(None), Outbox.kind == "reminder",
                                Outbox.topic.in_([f"session:{i}" for i in session_ids]))
    if chat is not None:
        stmt = stmt.where(Outbox.chat == chat)
    return (await session.execute(stmt)).rowcount or 0


async def set_attendance(session: AsyncSession, session_id: int, person: str, answer: str,
                         now: datetime) -> str | None:
    """Record the answer; returns the previous one."""
    row = await session.get(Attendance, (session_id, person))
    before = row.answer if row else None
    if row is None:
        row = Attendance(session_id=session_id, person=person, answer=answer, at=now)
    row.answer, row.at = answer, now
    session.add(row)
    return before


async def attendance(session: AsyncSession, session_id: int) -> dict[str, str]:
    stmt = select(Attendance).where(Attendance.session_id == session_id)
    return {a.person: a.answer for a in (await session.execute(stmt)).scalars()}
