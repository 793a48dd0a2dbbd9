"""Schedules, enrollments and reminders as an application service. A change and the messages
it causes (reminders planned or withdrawn, participants told of a move) are written in one
transaction; the outbox dispatcher sends them."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import multiprocessing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import PurePath
from typing import Any
from zoneinfo import ZoneInfo

from dialogs import schedule as sched
from dialogs.replies import N_, Say, Text
from dialogs.workhours import parse_clock
from storage import attendance as attendance_store
from storage import repo
from storage import schedule as store
from storage.db import Database
from storage.models import Enrollment, ProgrammeSession

from bot.config import Settings

log = logging.getLogger("korak.schedule")

Progress = Callable[[int, int], None]
# a changed answer edits the staff chat's notice this long after the change, with the answer
# as it is then: the taps in between cost nothing of the group's 20 messages a minute
NOTICE_SETTLE = timedelta(minutes=1)
PLAN_BATCH = 500  # reminder rows written a query (bound parameters stay well within limits)


def session_view(row: ProgrammeSession, site: str | None = None) -> sched.Session:
    return sched.Session(row.id, row.title, row.place, repo.as_utc(row.starts_at),
                         repo.as_utc(row.ends_at), row.cancelled, site)


def existing_view(row: ProgrammeSession) -> sched.Existing:
    return sched.Existing(row.id, row.key, row.title, row.place, repo.as_utc(row.starts_at),
                          repo.as_utc(row.ends_at), row.cancelled)


def parse_file(filename: str, data: bytes, tz: ZoneInfo, *, today: date | None = None,
               default_minutes: int = 120) -> sched.Parsed:
    """By extension, or by content when the name says nothing. `today` bounds how far repeating
    calendar events are read; `default_minutes` is the length of an event without an end."""
    suffix = PurePath(filename).suffix.lower()
    if suffix in (".ics", ".ical", ".ifb") or data.lstrip()[:15].upper().startswith(
            b"BEGIN:VCALENDAR"):
        return sched.parse_ics(data, tz, today=today, default_minutes=default_minutes)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1250", errors="replace")  # Excel on Slovenian Windows
    return sched.parse_csv(text, tz)


# ----------------------------------------------------------------------------- parsing worker
# A schedule file is read in a process of its own: reading a calendar can take seconds, which
# on the event loop would stall every resident, and one that takes too long must be stoppable,
# which only a process is. Processes come from a fork server that has this module imported
# already (a fresh interpreter would need most of a second to import it); forking the bot
# itself is no option, as it runs threads (the database driver's).


@functools.cache
def _workers() -> Any:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["bot.staff.schedule", "icalendar", "recurring_ical_events"])
    return context


def _parse_worker(out: Connection, filename: str, data: bytes, tz: ZoneInfo, today: date | None,
                  default_minutes: int) -> None:
    """In the worker: parse and send back the result, or what went wrong as a listed problem."""
    try:
        parsed = parse_file(filename, data, tz, today=today, default_minutes=default_minutes)
    except BaseException as exc:  # a bug must reach the coordinator as a problem, not silence
        parsed = _failed(exc)
    try:
        out.send(parsed)
    except Exception as exc:
        out.send(_failed(exc))
    out.close()


def _failed(exc: BaseException) -> sched.Parsed:
    return sched.Parsed([], [sched.Problem(1, Text(N_("schedule.error.worker"),
                                                   {"line": 1, "error": type(exc).__name__}))])


def _receive(results: Connection, seconds: float) -> sched.Parsed | None:
    """In a thread: the worker's result, or None if there is none within `seconds`. Raises
    EOFError if the worker died without one."""
    if not results.poll(seconds):
        return None
    return results.recv()


async def parse_in_worker(filename: str, data: bytes, tz: ZoneInfo, *, today: date | None,
                          default_minutes: int, seconds: float,
                          started: Callable[[int], None] | None = None) -> sched.Parsed:
    """`parse_file` in a worker process, awaited without blocking the event loop. A worker
    still busy after `seconds` is killed (and reaped) and the file refused with a problem that
    says so; a worker that fails or dies is a listed problem too. `started` is told the
    worker's process id (for tests)."""
    context = _workers()
    results, out = context.Pipe(duplex=False)
    worker = context.Process(target=_parse_worker, name="korak-schedule-parse", daemon=True,
                             args=(out, filename, data, tz, today, default_minutes))
    received = False
    # the first start launches the fork server: a second or so, not on the loop
    starting = asyncio.ensure_future(asyncio.to_thread(worker.start))
    try:
        await asyncio.shield(starting)
        out.close()  # the worker's end: with it closed here, a dead worker reads as EOF
        if started is not None:
            started(worker.pid)
        try:
            parsed = await asyncio.to_thread(_receive, results, seconds)
            received = True
        except Exception as exc:  # EOFError: it died (killed, out of memory) without a result
            received = True
            log.warning("schedule parse worker failed", extra={"error": type(exc).__name__,
                                                               "exitcode": worker.exitcode})
            return _failed(exc)
        if parsed is None:
            log.warning("schedule parse cut off", extra={"seconds": seconds})
            return sched.Parsed([], [sched.Problem(1, Text(N_("schedule.error.timeout"), {
                "line": 1, "seconds": f"{seconds:g}"}))])
        return parsed
    finally:
        if not starting.done():  # cancelled while starting: let it start, to stop it below
            with contextlib.suppress(Exception):
                await starting
        if worker.pid is not None:  # started
            if worker.exitcode is None:
                worker.kill()
            await asyncio.to_thread(worker.join)
            worker.close()
        out.close()
        if received:  # else (cancelled) a thread may still be reading it: left to the collector
            results.close()


@dataclass(frozen=True)
class Imported:
    ok: bool
    report: Say
    changes: sched.Changes | None = None


class ScheduleService:
    def __init__(self, db: Database, settings: Settings, clock: Callable[[], datetime],
                 on_outbox: Callable[[], None] | None = None) -> None:
        self.db, self.settings, self.clock, self.on_outbox = db, settings, clock, on_outbox
        self.tz = ZoneInfo(settings.timezone)
        self.offsets = sched.parse_offsets(settings.reminder_offsets)
        start, _, end = settings.quiet_hours.partition("-")
        self.quiet = sched.Quiet(parse_clock(start), parse_clock(end))

    def _kick(self) -> None:
        if self.on_outbox is not None:
            self.on_outbox()

    # ------------------------------------------------------------------ planning

    def _reminders(self, sessions: list[tuple[int, datetime]],
                   people: list[tuple[int, str, int | None]], now: datetime
                   ) -> list[dict[str, Any]]:
        """The reminder rows for sessions (id, start) and enrollments (id, chat, request), as
        outbox columns. Pure work, run in a thread: a cohort's whole schedule times its
        participants is thousands of rows."""
        out = []
        for session_id, starts in sessions:
            due = sched.plan_reminders(starts, self.offsets, self.quiet, self.tz, now)
            for enrollment_id, chat, request_id in people:
                for name, at in due:
                    # the key names the enrollment, not the person: a sent reminder's row keeps
                    # its key (so it is never planned twice) and nothing that points at someone
                    out.append({
                        "kind": "reminder", "chat": chat, "due_at": at,
                        "payload": {"session_id": session_id, "enrollment_id": enrollment_id},
                        "key": f"reminder:{session_id}:{enrollment_id}:{name}:"
                               f"{int(starts.timestamp())}",
                        "topic": f"session:{session_id}", "request_id": request_id})
        return out

    async def _plan(self, s, rows: list[ProgrammeSession], people: list[Enrollment],
                    now: datetime) -> int:
        """Queue the reminders of these sessions for these people, in the caller's
        transaction: planned off the event loop, written PLAN_BATCH rows a query. Returns how
        many were new."""
        sessions = [(r.id, repo.as_utc(r.starts_at)) for r in rows if not r.cancelled]
        enrolled = [(e.id, e.person, e.request_id) for e in people]
        if not sessions or not enrolled:
            return 0
        planned = await asyncio.to_thread(self._reminders, sessions, enrolled, now)
        queued = 0
        for start in range(0, len(planned), PLAN_BATCH):
            queued += await store.add_reminders(s, planned[start:start + PLAN_BATCH])
        return queued

    def _notice_due(self, now: datetime) -> datetime:
        """Change notices go at once, but not in quiet hours: then at their end."""
        local = now.astimezone(self.tz)
        if not self.quiet.contains(local.time()):
            return now
        day = local.date() if local.time() < self.quiet.end else local.date() + timedelta(days=1)
        return datetime.combine(day, self.quiet.end, tzinfo=self.tz)

    async def _tell(self, s, row: ProgrammeSession, people: list[Enrollment], now: datetime,
                    *, cancelled: bool, old_start: datetime | None) -> None:
        for enr in people:
            await repo.add_outbox(s, kind="session_changed", chat=enr.person,
                                  payload={"session_id": row.id, "cancelled": cancelled,
                                           "old_start": old_start.isoformat() if old_start
                                           else None},
                                  due_at=self._notice_due(now), topic=f"change:{row.id}",
                                  request_id=enr.request_id)

    # ------------------------------------------------------------------ imports

    async def import_file(self, cohort_name: str, filename: str, data: bytes, *,
                          site: str | None = None, progress: Progress | None = None) -> Imported:
        """All or nothing: with any problem the report lists them by line and nothing
        changes. A re-import updates, moves or cancels sessions by their key. The file is
        read in a worker process (`parse_in_worker`), cut off after SCHEDULE_PARSE_SECONDS."""
        today = self.clock().astimezone(self.tz).date()
        parsed = await parse_in_worker(filename, data, self.tz, today=today,
                                       default_minutes=self.settings.session_default_minutes,
                                       seconds=self.settings.schedule_parse_seconds)
        if parsed.problems:
            return Imported(False, sched.problems_report(parsed.problems))
        cohort_name = " ".join(cohort_name.split())[:120]
        async with self.db.transaction() as s:
            now = self.clock()
            cohort = await store.cohort_by_name(s, cohort_name)
            if cohort is None:
                if site is None:
                    return Imported(False, Say(Text(N_("schedule.error.which_site"),
                                                    {"cohort": cohort_name})))
                cohort = await store.create_cohort(s, cohort_name, site, now)
            rows = await store.sessions_of(s, cohort.id, lock=True)
            changes = sched.diff([existing_view(r) for r in rows], parsed.rows)
            by_id = {r.id: r for r in rows}
            people = await store.participants(s, cohort.id)
            total = len(changes.added) + len(changes.moved) + len(changes.renamed) + \
                len(changes.cancelled) + len(changes.restored)
            done = 0
            replan: list[ProgrammeSession] = []

            def step() -> None:
                nonlocal done
                done += 1
                if progress is not None:
                    progress(done, total)

            for new in changes.added:
                row = ProgrammeSession(cohort_id=cohort.id, key=new.key, title=new.title,
                                       place=new.place, starts_at=new.starts_at,
                                       ends_at=new.ends_at, updated_at=now)
                s.add(row)
                await s.flush()
                replan.append(row)
                step()
            for old, new in changes.moved + changes.restored:
                row = by_id[old.id]
                await store.withdraw(s, [row.id])
                row.title, row.place = new.title, new.place
                row.starts_at, row.ends_at = new.starts_at, new.ends_at
                row.cancelled, row.updated_at = False, now
                s.add(row)
                await s.flush()
                replan.append(row)
                if new.starts_at > now:
                    await self._tell(s, row, people, now, cancelled=False,
                                     old_start=old.starts_at)
                step()
            for old, new in changes.renamed:
                row = by_id[old.id]
                row.title, row.updated_at = new.title, now
                s.add(row)
                step()
            for old in changes.cancelled:
                row = by_id[old.id]
                await store.withdraw(s, [row.id])
                row.cancelled, row.updated_at = True, now
                s.add(row)
                if repo.as_utc(row.starts_at) > now:
                    await self._tell(s, row, people, now, cancelled=True, old_start=None)
                step()
            await self._plan(s, replan, people, now)
            report = sched.changes_report(changes, cohort.name, self.tz)
        log.info("schedule imported", extra={"added": len(changes.added),
                                             "moved": len(changes.moved),
                                             "cancelled": len(changes.cancelled)})
        if changes.any:
            self._kick()
        return Imported(True, report, changes)

    # ------------------------------------------------------------------ enrollments

    async def cohorts_for(self, site: str | None) -> list[tuple[int, str]]:
        async with self.db.transaction() as s:
            return [(c.id, c.name) for c in await store.cohorts(s, site)]

    async def enroll_in(self, s, cohort_id: int, person: str, request_id: int | None,
                        now: datetime) -> int:
        """Inside the caller's transaction: enroll and plan the reminders. Returns how many."""
        enr, changed = await store.enroll(s, cohort_id=cohort_id, person=person,
                                          request_id=request_id, now=now)
        if not changed:
            return 0
        return await self._plan(s, await store.sessions_of(s, cohort_id), [enr], now)

    async def enroll_request(self, request_id: int, cohort_name: str, *, leave: bool = False
                             ) -> Text:
        """`korak enroll`: enroll the resident of a request in a cohort (or take them out)."""
        async with self.db.transaction() as s:
            now = self.clock()
            req = await repo.get_request(s, request_id)
            cohort = await store.cohort_by_name(s, cohort_name)
            if req is None:
                return Text(N_("handoff.no_such_request"), {"id": request_id})
            if cohort is None:
                return Text(N_("schedule.no_such_cohort"), {"cohort": cohort_name})
            if leave:
                left = await store.leave(s, cohort.id, req.person, now)
                if left is None:
                    return Text(N_("schedule.not_enrolled"), {"id": request_id,
                                                              "cohort": cohort.name})
                ids = [r.id for r in await store.sessions_of(s, cohort.id)]
                await store.withdraw(s, ids, chat=left.person)
                return Text(N_("schedule.left"), {"id": request_id, "cohort": cohort.name})
            planned = await self.enroll_in(s, cohort.id, req.person, req.id, now)
            if req.status != "enrolled":
                await repo.change_request(s, req, action="enrolled", status="enrolled",
                                          owner_id=req.owner_id, owner_name=req.owner_name,
                                          actor_id=None, actor_name="korak enroll", now=now)
        self._kick()
        return Text(N_("schedule.enrolled"), {"id": request_id, "cohort": cohort.name,
                                              "count": planned})

    # ------------------------------------------------------------------ participants

    async def answer(self, person: str, session_id: int, answer: str) -> Text:
        """Pridem / Ne morem priti. "Ne morem priti" is told to the staff chat, on the card,
        in one message per person and session: a changed answer edits it (NOTICE_SETTLE
        later, so a person tapping back and forth costs the group one edit, not one message
        a tap)."""
        async with self.db.transaction() as s:
            now = self.clock()
            row = await store.get_session(s, session_id)
            enrolled = None if row is None else next(
                (e for e in await store.enrollments_of(s, person)
                 if e.cohort_id == row.cohort_id), None)
            if enrolled is None:
                return Text(N_("reminder.not_yours"))
            view = session_view(row)
            reply = sched.answer_reply(view, answer, now)
            if row.cancelled or view.starts_at <= now:
                return reply
            before = await store.set_attendance(s, session_id, person, answer, now)
            if enrolled.request_id is not None:
                await repo.touch(s, enrolled.request_id, now)
            staff = self.settings.staff_chat_id
            shown = await attendance_store.notice_shown(s, session_id, person)
            if answer != before and staff is not None and (answer == "no" or shown):
                await attendance_store.queue_notice(
                    s, session_id=session_id, enrollment_id=enrolled.id,
                    request_id=enrolled.request_id, chat_id=staff,
                    due_at=now if shown is None else now + NOTICE_SETTLE)
        self._kick()
        return reply

    async def upcoming(self, person: str) -> Say:
        async with self.db.transaction() as s:
            rows = [session_view(r) for r in await store.sessions_for(s, person)]
        return sched.upcoming(rows, self.clock(), self.tz)
