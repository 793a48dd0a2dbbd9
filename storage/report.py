"""Queries for the programme's report. They hand back what the report counts and nothing more:
no name, phone number, free text or Telegram id leaves this module (the request's answers are
read for the three answers the target group needs, and the sealed answer stays sealed). A
closed month's figures are kept here once counted (`keep_month`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from .models import (Attendance, Cohort, ContactRequest, Enrollment, Outbox, ProgrammeSession,
                     ReportMonth, RequestEvent)
from .repo import as_utc

# the answers the preliminary target group is worked out from (dialogs.intake.preliminary_group)
GROUP_ANSWERS = ("dsp", "dsp_duration", "work")


@dataclass(frozen=True)
class RequestRow:
    id: int
    site: str | None
    municipality: str | None
    status: str
    created_at: datetime
    answers: dict[str, str | None]  # GROUP_ANSWERS only
    sensitive: str | None  # sealed


@dataclass(frozen=True)
class EventRow:
    request_id: int
    action: str
    to_status: str
    at: datetime


@dataclass(frozen=True)
class SessionRow:
    id: int
    cohort_id: int
    cohort: str
    site: str
    title: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class MemberRow:
    """An enrollment, for who was on a session's list (dialogs.attendance.on_list)."""

    cohort_id: int
    enrollment_id: int
    enrolled_at: datetime
    left_at: datetime | None


@dataclass(frozen=True)
class MarkRow:
    """A reminder answer and a coordinator's mark, by enrollment."""

    session_id: int
    enrollment_id: int
    answer: str | None
    presence: str | None


def _made_in(start: datetime, end: datetime):
    return (ContactRequest.created_at >= start) & (ContactRequest.created_at < end)


async def requests_between(session: AsyncSession, start: datetime, end: datetime
                           ) -> list[RequestRow]:
    """Requests made in [start, end), oldest first."""
    stmt = (select(ContactRequest.id, ContactRequest.site, ContactRequest.municipality,
                   ContactRequest.status, ContactRequest.created_at, ContactRequest.answers,
                   ContactRequest.sensitive)
            .where(_made_in(start, end)).order_by(ContactRequest.created_at, ContactRequest.id))
    out = []
    for rid, site, municipality, status, created_at, answers, sensitive in \
            (await session.execute(stmt)).all():
        answers = answers or {}
        out.append(RequestRow(rid, site, municipality, status, as_utc(created_at),
                              {k: answers.get(k) for k in GROUP_ANSWERS}, sensitive))
    return out


async def events_between(session: AsyncSession, start: datetime, end: datetime
                         ) -> list[EventRow]:
    """The history of the requests made in [start, end), whenever it happened."""
    stmt = (select(RequestEvent.request_id, RequestEvent.action, RequestEvent.to_status,
                   RequestEvent.at)
            .join(ContactRequest, ContactRequest.id == RequestEvent.request_id)
            .where(_made_in(start, end)).order_by(RequestEvent.id))
    return [EventRow(rid, action, to_status, as_utc(at))
            for rid, action, to_status, at in (await session.execute(stmt)).all()]


async def sessions_between(session: AsyncSession, start: datetime, end: datetime
                           ) -> list[SessionRow]:
    """Sessions not cancelled that started in [start, end)."""
    stmt = (select(ProgrammeSession.id, ProgrammeSession.cohort_id, Cohort.name, Cohort.site,
                   ProgrammeSession.title, ProgrammeSession.starts_at, ProgrammeSession.ends_at)
            .join(Cohort, Cohort.id == ProgrammeSession.cohort_id)
            .where(ProgrammeSession.cancelled.is_(False), ProgrammeSession.starts_at >= start,
                   ProgrammeSession.starts_at < end)
            .order_by(ProgrammeSession.starts_at, ProgrammeSession.id))
    return [SessionRow(sid, cid, name, site, title, as_utc(a), as_utc(b))
            for sid, cid, name, site, title, a, b in (await session.execute(stmt)).all()]


async def members_of(session: AsyncSession, cohort_ids: Iterable[int]) -> list[MemberRow]:
    ids = sorted(set(cohort_ids))
    if not ids:
        return []
    stmt = (select(Enrollment.cohort_id, Enrollment.id, Enrollment.enrolled_at,
                   Enrollment.left_at)
            .where(Enrollment.cohort_id.in_(ids)).order_by(Enrollment.id))
    return [MemberRow(cid, eid, as_utc(a), as_utc(b))
            for cid, eid, a, b in (await session.execute(stmt)).all()]


async def marks_of(session: AsyncSession, session_ids: Iterable[int]) -> list[MarkRow]:
    """The answers and marks of these sessions, each on the enrollment of its person in the
    session's cohort."""
    ids = sorted(set(session_ids))
    if not ids:
        return []
    stmt = (select(Attendance.session_id, Enrollment.id, Attendance.answer, Attendance.presence)
            .join(ProgrammeSession, ProgrammeSession.id == Attendance.session_id)
            .join(Enrollment, (Enrollment.person == Attendance.person)
                  & (Enrollment.cohort_id == ProgrammeSession.cohort_id))
            .where(Attendance.session_id.in_(ids)))
    return [MarkRow(*row) for row in (await session.execute(stmt)).all()]


async def reminders_sent(session: AsyncSession, session_ids: Iterable[int]) -> dict[int, int]:
    """Reminders that reached Telegram, by session: sent rows without an error (one dropped
    because its session had begun, or refused by Telegram, has one)."""
    topics = {f"session:{i}": i for i in set(session_ids)}
    if not topics:
        return {}
    stmt = (select(Outbox.topic, func.count())
            .where(Outbox.kind == "reminder", Outbox.sent_at.is_not(None),
                   Outbox.last_error.is_(None), Outbox.topic.in_(sorted(topics)))
            .group_by(Outbox.topic))
    return {topics[topic]: int(n) for topic, n in (await session.execute(stmt)).all()}


async def kept_month(session: AsyncSession, month: str) -> tuple[dict, datetime] | None:
    """A closed month's kept report figures and when they were counted, if they were."""
    row = await session.get(ReportMonth, month)
    return None if row is None else (row.figures, as_utc(row.counted_at))


async def keep_month(session: AsyncSession, month: str, figures: dict, at: datetime
                     ) -> tuple[dict, datetime]:
    """Keep a closed month's figures; when another process kept them this very moment, theirs
    stay and are given back."""
    try:
        async with session.begin_nested():
            session.add(ReportMonth(month=month, figures=figures, counted_at=at))
        return figures, at
    except IntegrityError:
        return await kept_month(session, month)
