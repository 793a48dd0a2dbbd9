"""Queries for the attendance lists: which sessions have ended and need one, who is on a list,
the coordinators' marks, and the staff-chat messages that show a list."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from .repo import as_utc
from .models import (Attendance, AttendanceSheet, Cohort, ContactRequest, Enrollment, Outbox,
                     ProgrammeSession, group_key)

KIND = "staff_attendance"  # the outbox rows that post or refresh a list
NOTICE = "staff_not_coming"  # the outbox rows that post or edit a participant's answer notice


@dataclass(frozen=True)
class Member:
    """One enrollment of a cohort, with what the list shows about it for one session. `name`
    is the name from the person's request, as their card shows it: for the staff chat only."""

    enrollment_id: int
    request_id: int | None
    name: str | None
    enrolled_at: datetime
    left_at: datetime | None
    answer: str | None  # to the reminder: yes | no
    presence: str | None  # present | absent | excused


async def ended_sessions(session: AsyncSession, since: datetime, until: datetime
                         ) -> list[ProgrammeSession]:
    """Sessions not cancelled that ended in (since, until], with no list posted yet."""
    posted = select(AttendanceSheet.session_id)
    stmt = (select(ProgrammeSession)
            .where(ProgrammeSession.cancelled.is_(False), ProgrammeSession.ends_at > since,
                   ProgrammeSession.ends_at <= until, ProgrammeSession.id.not_in(posted))
            .order_by(ProgrammeSession.ends_at, ProgrammeSession.id))
    return list((await session.execute(stmt)).scalars().all())


async def session_and_cohort(session: AsyncSession, session_id: int
                             ) -> tuple[ProgrammeSession, Cohort] | None:
    row = await session.get(ProgrammeSession, session_id)
    if row is None:
        return None
    cohort = await session.get(Cohort, row.cohort_id)
    return None if cohort is None else (row, cohort)


async def members(session: AsyncSession, session_id: int, cohort_id: int) -> list[Member]:
    """Every enrollment of the cohort (oldest first), with its marks for this session; the
    caller keeps those who were in the cohort at the time (dialogs.attendance.on_list)."""
    marks = (select(Attendance.person, Attendance.answer, Attendance.presence)
             .where(Attendance.session_id == session_id).subquery())
    stmt = (select(Enrollment.id, Enrollment.request_id, ContactRequest.answers,
                   Enrollment.enrolled_at, Enrollment.left_at, marks.c.answer, marks.c.presence)
            .outerjoin(ContactRequest, ContactRequest.id == Enrollment.request_id)
            .outerjoin(marks, marks.c.person == Enrollment.person)
            .where(Enrollment.cohort_id == cohort_id).order_by(Enrollment.id))
    out = []
    for eid, rid, answers, enrolled_at, left_at, answer, presence in \
            (await session.execute(stmt)).all():
        out.append(Member(eid, rid, (answers or {}).get("name"), as_utc(enrolled_at),
                          as_utc(left_at), answer, presence))
    return out


async def mark(session: AsyncSession, session_id: int, enrollment_id: int, presence: str,
               actor_id: int, now: datetime) -> tuple[bool, str | None] | None:
    """Record a coordinator's mark for the person of an enrollment. Returns (changed, mark
    before), or None when the enrollment is not in this session's cohort."""
    row = await session.get(ProgrammeSession, session_id)
    enr = await session.get(Enrollment, enrollment_id)
    if row is None or enr is None or enr.cohort_id != row.cohort_id:
        return None
    stmt = select(Attendance).where(Attendance.session_id == session_id,
                                    Attendance.person == enr.person)
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    found = (await session.execute(stmt)).scalars().first()
    if found is None:  # the first mark, and no answer to a reminder either
        try:
            async with session.begin_nested():
                session.add(Attendance(session_id=session_id, person=enr.person,
                                       presence=presence, presence_by=actor_id,
                                       presence_at=now))
            return True, None
        except IntegrityError:  # another coordinator's press made it this very moment
            found = (await session.execute(stmt.execution_options(populate_existing=True))
                     ).scalars().one()
    before = found.presence
    if before == presence:
        return False, before
    found.presence, found.presence_by, found.presence_at = presence, actor_id, now
    session.add(found)
    await session.flush()
    return True, before


async def queue_notice(session: AsyncSession, *, session_id: int, enrollment_id: int,
                       request_id: int | None, chat_id: int, due_at: datetime) -> bool:
    """Queue the staff chat's notice of a participant's answer (sent, or the one shown
    edited), unless one for the same person and session is still waiting: that one shows
    the answer as it is when it goes. Returns whether a row was queued."""
    topic = f"notice:{session_id}:{enrollment_id}"
    waiting = await session.execute(select(Outbox.id).where(
        Outbox.topic == topic, Outbox.sent_at.is_(None), Outbox.failed_at.is_(None)))
    if waiting.first() is not None:
        return False
    session.add(Outbox(kind=NOTICE, chat=group_key(chat_id), due_at=due_at, topic=topic,
                       request_id=request_id,
                       payload={"session_id": session_id, "enrollment_id": enrollment_id}))
    return True


async def notice_shown(session: AsyncSession, session_id: int, person: str
                       ) -> tuple[int, int] | None:
    """The staff-chat message (chat, message) that shows this person's answer, if sent."""
    row = await session.get(Attendance, (session_id, person))
    if row is None or row.notice_message_id is None:
        return None
    return row.notice_chat_id, row.notice_message_id


async def remember_notice(session: AsyncSession, chat_id: int, message_id: int,
                          session_id: int, person: str) -> None:
    row = await session.get(Attendance, (session_id, person))
    if row is not None:  # else erased while it was being sent: the outbox edits it away
        row.notice_chat_id, row.notice_message_id = chat_id, message_id
        session.add(row)


async def notices_of(session: AsyncSession, request_ids: list[int]
                     ) -> list[tuple[int, int, int]]:
    """(request, chat, message) of every answer notice about the participants enrolled
    through these requests: erasure edits them with the request's other messages."""
    stmt = (select(Enrollment.request_id, Attendance.notice_chat_id,
                   Attendance.notice_message_id)
            .join(ProgrammeSession, ProgrammeSession.cohort_id == Enrollment.cohort_id)
            .join(Attendance, (Attendance.session_id == ProgrammeSession.id)
                  & (Attendance.person == Enrollment.person))
            .where(Enrollment.request_id.in_(request_ids),
                   Attendance.notice_message_id.is_not(None)))
    return [tuple(r) for r in (await session.execute(stmt)).all()]


async def remember_sheet(session: AsyncSession, chat_id: int, message_id: int, session_id: int,
                         part: int) -> None:
    if await session.get(AttendanceSheet, (chat_id, message_id)) is None:
        session.add(AttendanceSheet(chat_id=chat_id, message_id=message_id,
                                    session_id=session_id, part=part))


async def sheet_messages(session: AsyncSession, session_id: int) -> list[AttendanceSheet]:
    stmt = (select(AttendanceSheet).where(AttendanceSheet.session_id == session_id)
            .order_by(AttendanceSheet.part, AttendanceSheet.message_id))
    return list((await session.execute(stmt)).scalars().all())


async def refresh_lists(session: AsyncSession, cohort_ids: Iterable[int], now: datetime) -> int:
    """Queue an edit of every list posted for a session of these cohorts (someone on them was
    erased: the lists are shown again without them). Returns how many rows were queued."""
    cohort_ids = list(set(cohort_ids))
    if not cohort_ids:
        return 0
    stmt = (select(AttendanceSheet.session_id, AttendanceSheet.chat_id).distinct()
            .join(ProgrammeSession, ProgrammeSession.id == AttendanceSheet.session_id)
            .where(ProgrammeSession.cohort_id.in_(cohort_ids))
            .order_by(AttendanceSheet.session_id))
    rows = (await session.execute(stmt)).all()
    for session_id, chat_id in rows:
        session.add(Outbox(kind=KIND, chat=group_key(chat_id), due_at=now,
                           payload={"session_id": session_id, "refresh": True}))
    return len(rows)
