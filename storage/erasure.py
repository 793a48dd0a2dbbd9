"""Erasure and retention: every query that forgets someone. /izbrisi erases a person; the daily
retention run erases requests idle for RETENTION_MONTHS the same way, drops conversations that
were left unfinished, and prunes what korak keeps only for a while. What each column holds and
how it is erased is listed in storage/privacy.py; a test holds this module to that list.

Every staff-chat message that ever showed an erased request (its card and every copy of it,
relayed messages, notices) is edited to a removal text: the edits are an outbox row written in
the same transaction as the deletion, so they happen once, even across a crash."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import delete, exists, func, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from . import attendance, repo
from .models import (AccessLog, Attendance, ContactRequest, Enrollment, Inbox, JobRun,
                     Outbox, ProgrammeSession, RequestEvent, Resident, StaffMessage, group_key)


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


@dataclass(frozen=True)
class Target:
    """A request to erase: its id and whose it is."""

    id: int
    person: str


async def _lock_requests(session: AsyncSession, where: Any) -> list[Target]:
    """The requests, locked first (PostgreSQL): whatever writes about a request while holding
    its row (the outbox remembering a message it just sent) is then either seen here or finds
    the request gone."""
    stmt = select(ContactRequest.id, ContactRequest.person) \
        .where(where).order_by(ContactRequest.id)
    if _dialect(session) == "postgresql":
        stmt = stmt.with_for_update()
    return [Target(*row) for row in (await session.execute(stmt)).all()]


async def erase_requests(session: AsyncSession, targets: list[Target], now: datetime, *,
                         staff_chat_id: int | None, reason: str) -> int:
    """Delete the requests and everything about them: history, staff messages (each edited to
    the removal text by an outbox row), outbox rows sent or not, the access log, enrollments
    through them with their reminders and attendance. `reason`: "person" (/izbrisi: the staff
    chat is also told) or "retention" (the messages are only edited). Returns how many
    requests went."""
    notice = reason == "person"
    if not targets:
        return 0
    ids = [t.id for t in targets]
    shown = (await session.execute(
        select(StaffMessage.request_id, StaffMessage.chat_id, StaffMessage.message_id)
        .where(StaffMessage.request_id.in_(ids))
        .order_by(StaffMessage.request_id, StaffMessage.message_id))).all()
    cards = (await session.execute(
        select(ContactRequest.id, ContactRequest.card_chat_id, ContactRequest.card_message_id)
        .where(ContactRequest.id.in_(ids), ContactRequest.card_message_id.is_not(None)))).all()
    notices = await attendance.notices_of(session, ids)
    messages: dict[int, list[list[int]]] = {rid: [] for rid in ids}
    for rid, chat, mid in [*shown, *cards, *notices]:
        if [chat, mid] not in messages[rid]:
            messages[rid].append([chat, mid])

    enrolled = (await session.execute(
        select(Enrollment.id, Enrollment.cohort_id, Enrollment.person)
        .where(Enrollment.request_id.in_(ids)))).all()
    await _drop_enrollments(session, enrolled, now)
    await session.execute(delete(Outbox).where(Outbox.request_id.in_(ids)))
    await session.execute(delete(RequestEvent).where(RequestEvent.request_id.in_(ids)))
    await session.execute(delete(StaffMessage).where(StaffMessage.request_id.in_(ids)))
    await session.execute(delete(AccessLog).where(AccessLog.request_id.in_(ids)))
    await session.execute(delete(ContactRequest).where(ContactRequest.id.in_(ids)))
    for rid in ids:
        chat = staff_chat_id if staff_chat_id is not None else (
            messages[rid][0][0] if messages[rid] else None)
        if chat is None or not (messages[rid] or notice):
            continue
        # about no request any more (request_id stays empty): it goes out although the request
        # is gone, and keeps only message numbers
        session.add(Outbox(kind="staff_request_deleted", chat=group_key(chat), due_at=now,
                           payload={"id": rid, "messages": messages[rid], "notice": notice,
                                    "reason": reason}))
    return len(ids)


async def _drop_enrollments(session: AsyncSession, enrolled: Iterable[tuple[int, int, str]],
                            now: datetime) -> None:
    """Enrollments (id, cohort, person) with their attendance answers and marks and
    unsent reminders; every attendance list of their cohorts in the staff chat is edited to
    show them no more (an outbox row, as the removal texts are)."""
    enrolled = list(enrolled)
    if not enrolled:
        return
    await attendance.refresh_lists(session, {cohort_id for _e, cohort_id, _t in enrolled}, now)
    for _eid, cohort_id, person in enrolled:
        sessions = select(ProgrammeSession.id).where(ProgrammeSession.cohort_id == cohort_id)
        await session.execute(delete(Attendance).where(Attendance.person == person,
                                                       Attendance.session_id.in_(sessions)))
    await session.execute(delete(Enrollment).where(Enrollment.id.in_([e[0] for e in enrolled])))


async def erase_person(session: AsyncSession, person: str, now: datetime,
                       staff_chat_id: int | None) -> int:
    """/izbrisi: every request of the person as erase_requests does (the staff chat told),
    then what is theirs beyond requests: enrollments, attendance, messages waiting for them,
    the ids of their updates, their conversation. Returns how many requests went."""
    targets = await _lock_requests(session, ContactRequest.person == person)
    erased = await erase_requests(session, targets, now, staff_chat_id=staff_chat_id,
                                  reason="person")
    await _forget_person(session, person, now)
    return erased


async def _forget_person(session: AsyncSession, person: str, now: datetime) -> None:
    enrolled = (await session.execute(
        select(Enrollment.id, Enrollment.cohort_id, Enrollment.person)
        .where(Enrollment.person == person))).all()
    await _drop_enrollments(session, enrolled, now)
    await session.execute(delete(Attendance).where(Attendance.person == person))
    # anything still on its way to them (their chat is their key, on every channel)
    await session.execute(delete(Outbox).where(Outbox.chat == person))
    await session.execute(delete(Inbox).where(Inbox.person == person,
                                              Inbox.handled_at.is_not(None)))
    await session.execute(delete(Resident).where(Resident.person == person))


async def forget_conversation(session: AsyncSession, person: str) -> None:
    """Consent declined, questions cancelled, a place outside Koroška: the conversation and the
    ids of its updates go (the person's requests, if any, stay)."""
    await session.execute(delete(Inbox).where(Inbox.person == person,
                                              Inbox.handled_at.is_not(None)))
    await session.execute(delete(Resident).where(Resident.person == person))


@dataclass(frozen=True)
class Shown:
    """A message just sent or edited in a chat, showing (or speaking for) a request."""

    chat_id: int
    message_id: int
    request_id: int
    remember: bool = False  # a reply to it reaches the request; an erasure edits it
    card: bool = False  # it becomes the request's card


async def settle_shown(session: AsyncSession, shown: Iterable[Shown], now: datetime) -> int:
    """The check after a send, for every message that shows a person: a message whose request
    is still there is remembered (when it is to be), so an erasure will edit it; one whose
    request was erased while the message was on its way is edited to the removal text by an
    outbox row (written here, so it happens even after a crash) and nothing points at it. The
    request is locked first (PostgreSQL): an erasure running at this moment either waits and
    then finds what is remembered here, or has gone before and is seen gone. Returns how many
    were about an erased request."""
    vanished: dict[tuple[int, int], list[list[int]]] = {}
    for m in shown:
        if not await repo.request_exists(session, m.request_id, lock=True):
            vanished.setdefault((m.chat_id, m.request_id), []).append([m.chat_id, m.message_id])
        elif m.remember:
            await repo.remember_staff_message(session, m.chat_id, m.message_id, m.request_id,
                                              card=m.card)
    for (chat_id, request_id), messages in vanished.items():
        await repo.add_outbox(session, kind="staff_request_deleted", chat=group_key(chat_id),
                              due_at=now, payload={"id": request_id, "messages": messages,
                                                   "reason": "person"})
    return sum(len(m) for m in vanished.values())


# ----------------------------------------------------------------------------- retention


def _idle_since(cutoff: datetime) -> Any:
    """A request with no activity since `cutoff`, and nobody enrolled through it in a cohort
    with a session since then (a participant is in the programme even when silent)."""
    active_cohort = exists().where(
        Enrollment.request_id == ContactRequest.id, Enrollment.active,
        ProgrammeSession.cohort_id == Enrollment.cohort_id, ProgrammeSession.ends_at >= cutoff)
    return (ContactRequest.activity_at < cutoff) & ~active_cohort


async def idle_requests(session: AsyncSession, cutoff: datetime) -> list[Target]:
    stmt = select(ContactRequest.id, ContactRequest.person) \
        .where(_idle_since(cutoff)).order_by(ContactRequest.id)
    return [Target(*row) for row in (await session.execute(stmt)).all()]


async def erase_if_idle(session: AsyncSession, request_id: int, cutoff: datetime,
                        now: datetime, staff_chat_id: int | None,
                        in_progress: Iterable[str]) -> bool:
    """Retention for one request: erased as /izbrisi erases it (the staff chat's messages
    edited, no notice), if it is still idle now that it is locked. When it was the person's
    last request and no conversation of theirs is under way (its step is not one of
    `in_progress`), the person is forgotten too. Returns whether it was erased (two replicas erase it once)."""
    targets = await _lock_requests(session, (ContactRequest.id == request_id)
                                   & _idle_since(cutoff))
    if not targets:
        return False
    await erase_requests(session, targets, now, staff_chat_id=staff_chat_id, reason="retention")
    target = targets[0]
    left = (await session.execute(select(ContactRequest.id).where(
        ContactRequest.person == target.person).limit(1))).first()
    if left is None:
        state = (await session.execute(select(Resident.state).where(
            Resident.person == target.person))).first()
        if state is None or (state[0] or {}).get("step") not in set(in_progress):
            await _forget_person(session, target.person, now)
    return True


@dataclass(frozen=True)
class StoredConversation:
    person: str
    state: dict[str, Any]
    updated_at: datetime
    has_requests: bool


async def conversations_before(session: AsyncSession, cutoff: datetime
                               ) -> list[StoredConversation]:
    """Stored conversations not touched since `cutoff`, and whether the person has requests."""
    has = exists().where(ContactRequest.person == Resident.person)
    rows = (await session.execute(
        select(Resident.person, Resident.state, Resident.updated_at, has)
        .where(Resident.updated_at < cutoff).order_by(Resident.id))).all()
    out = []
    for person, state, updated_at, has_requests in rows:
        if updated_at.tzinfo is None:  # SQLite: stored as UTC, read back naive
            updated_at = updated_at.replace(tzinfo=timezone.utc)
        out.append(StoredConversation(person, state or {}, updated_at, bool(has_requests)))
    return out


async def drop_conversation(session: AsyncSession, person: str, touched_before: datetime,
                            action: str) -> bool:
    """Delete (or reset to finished) a stored conversation, if it was still not touched since
    `touched_before` (the person may have written meanwhile). Returns whether it changed."""
    if action == "delete":
        result = await session.execute(delete(Resident).where(
            Resident.person == person, Resident.updated_at < touched_before))
        if result.rowcount:
            await session.execute(delete(Inbox).where(
                Inbox.person == person, Inbox.handled_at.is_not(None)))
        return bool(result.rowcount)
    result = await session.execute(update(Resident).where(
        Resident.person == person, Resident.updated_at < touched_before).values(
        state={"step": "done", "answers": {}, "editing": False, "pending": {}, "resume": None}))
    return bool(result.rowcount)


async def prune_processed(session: AsyncSession, before: datetime, *, dry_run: bool = False
                          ) -> int:
    where = Inbox.handled_at.is_not(None) & (Inbox.handled_at < before)
    if dry_run:
        return await _count(session, Inbox, where)
    return (await session.execute(delete(Inbox).where(where))).rowcount or 0


async def prune_sent(session: AsyncSession, before: datetime, *, dry_run: bool = False) -> int:
    """Sent rows about no request (the digest, erasure notices) once a week has passed; a row
    about a request goes with the request."""
    where = Outbox.sent_at.is_not(None) & (Outbox.sent_at < before) & Outbox.request_id.is_(None)
    if dry_run:
        return await _count(session, Outbox, where)
    return (await session.execute(delete(Outbox).where(where))).rowcount or 0


async def blank_sent(session: AsyncSession, *, dry_run: bool = False) -> int:
    """Sent rows that still hold a chat or a payload keep neither: a WhatsApp message whose
    status never came (korak keeps it until Meta says it went, to send it again if Meta fails
    it), a send finished by an older korak, or by hand. Otherwise korak blanks a row as it
    finishes it."""
    rows = [r.id for r in (await session.execute(
        select(Outbox.id, Outbox.chat, Outbox.payload, Outbox.receipt)
        .where(Outbox.sent_at.is_not(None)).order_by(Outbox.id))).all()
        if r.chat is not None or r.payload or r.receipt is not None]
    if dry_run or not rows:
        return len(rows)
    await session.execute(update(Outbox).where(Outbox.id.in_(rows))
                          .values(chat=None, payload={}, receipt=None))
    return len(rows)


async def blank_failed(session: AsyncSession, before: datetime, now: datetime, *,
                       dry_run: bool = False) -> int:
    """Rows korak gave up on before `before` keep neither their chat nor what they said
    (`korak outbox retry` can no longer send them; it says since when). An erasure's edits
    are kept: they hold message numbers only."""
    where = (Outbox.failed_at.is_not(None) & (Outbox.failed_at < before)
             & Outbox.sent_at.is_(None) & Outbox.blanked_at.is_(None)
             # the message numbers an erasure still has to edit: nothing personal, and the
             # only record of which staff messages still show the person
             & (Outbox.kind != "staff_request_deleted"))
    if dry_run:
        return await _count(session, Outbox, where)
    result = await session.execute(update(Outbox).where(where).values(
        chat=None, payload={}, blanked_at=now))
    return result.rowcount or 0


async def _count(session: AsyncSession, model: Any, where: Any) -> int:
    return int((await session.execute(select(func.count()).select_from(model).where(where)))
               .scalar_one())


async def job_ran(session: AsyncSession, name: str, day: str) -> bool:
    return (await session.get(JobRun, (name, day))) is not None


async def job_finished(session: AsyncSession, name: str, day: str, now: datetime) -> None:
    if await session.get(JobRun, (name, day)) is None:
        session.add(JobRun(name=name, day=day, finished_at=now))


# ----------------------------------------------------------------------------- access log


async def log_access(session: AsyncSession, request_id: int, actor_id: int,
                     actor_name: str | None, what: str, now: datetime) -> None:
    session.add(AccessLog(request_id=request_id, actor_id=actor_id, actor_name=actor_name,
                          what=what, at=now))


async def access_log(session: AsyncSession, request_ids: Iterable[int] | None = None
                     ) -> list[AccessLog]:
    """Who opened what, oldest first: for some requests, or all."""
    stmt = select(AccessLog).order_by(AccessLog.at, AccessLog.id)
    if request_ids is not None:
        stmt = stmt.where(AccessLog.request_id.in_(list(request_ids)))
    return list((await session.execute(stmt)).scalars().all())
