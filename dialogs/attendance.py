"""Attendance after a programme session, as plain rules: who is on a session's list, how the
list reads in the staff chat with its buttons (25 people a message), and what a press means.
No Telegram, no database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .replies import N_, Button, Lines, Say, Text, one_line

PREFIX = "at"  # callback data: "at|session|enrollment|mark"
PER_MESSAGE = 25  # three buttons each: 75 in a message, within Telegram's 100
MAX_NAME = 40

MARKS = {"p": "present", "a": "absent", "e": "excused"}
CODE = {v: k for k, v in MARKS.items()}
MARK_LABEL = {
    "present": N_("attendance.mark.present"),
    "absent": N_("attendance.mark.absent"),
    "excused": N_("attendance.mark.excused"),
}
BUTTON = {
    "present": N_("attendance.button.present"),
    "absent": N_("attendance.button.absent"),
    "excused": N_("attendance.button.excused"),
}
SAID = {"yes": N_("attendance.said_yes"), "no": N_("attendance.said_no")}


@dataclass(frozen=True)
class Listed:
    """One person on a session's list."""

    enrollment_id: int
    request_id: int | None
    name: str | None
    answer: str | None = None  # to the reminder: yes | no
    presence: str | None = None  # present | absent | excused


@dataclass(frozen=True)
class Session:
    id: int
    title: str
    cohort: str
    starts_at: datetime
    ends_at: datetime


def answer_notice(answer: str, name: str | None, request_id: int | None, title: str,
                  when: str, owner: str | None) -> Text:
    """The staff chat's one message about a participant's answer to a session's reminder,
    edited as the answer changes: not coming ("no"), or coming after all ("yes" after a
    "no"). Her name made plain (one_line), as everything a person wrote that staff read."""
    params = {"name": one_line(name or "")[:MAX_NAME] or "—", "id": request_id or "—",
              "title": title, "when": when, "owner": one_line(owner or "") or "—"}
    return Text(N_("reminder.staff_not_coming") if answer == "no"
                else N_("attendance.coming_after_all"), params)


def on_list(enrolled_at: datetime, left_at: datetime | None, starts_at: datetime,
            ends_at: datetime) -> bool:
    """Was this enrollment in the cohort at the session? Enrolled before it ended, and not
    gone before it started. Reports count the same people."""
    return enrolled_at < ends_at and (left_at is None or left_at > starts_at)


def parts(people: list[Listed]) -> list[list[Listed]]:
    return [people[i:i + PER_MESSAGE] for i in range(0, len(people), PER_MESSAGE)]


def part_of(people: list[Listed], enrollment_id: int) -> int | None:
    for i, person in enumerate(people):
        if person.enrollment_id == enrollment_id:
            return i // PER_MESSAGE
    return None


def callback(session_id: int, enrollment_id: int, presence: str) -> str:
    return f"{PREFIX}|{session_id}|{enrollment_id}|{CODE[presence]}"


def parse_callback(data: str | None) -> tuple[int, int, str] | None:
    """"at|12|7|p" → (12, 7, "present"); None for anything else."""
    parts_ = (data or "").split("|")
    if (len(parts_) != 4 or parts_[0] != PREFIX or parts_[3] not in MARKS
            or not all(p.isdigit() and len(p) <= 18 for p in parts_[1:3])):
        return None
    return int(parts_[1]), int(parts_[2]), MARKS[parts_[3]]


def sheet(session: Session, people: list[Listed], part: int) -> Say:
    """Part `part` (from 0) of the session's list: a line per person with their mark and what
    they answered to the reminder, and a row of three buttons per person. The whole staff
    group sees it: names as on the cards, nothing else about the person."""
    chunks = parts(people)
    if part >= len(chunks):
        return Say(Text(N_("attendance.sheet_empty"), {
            "title": session.title, "cohort": session.cohort, "when": session.starts_at}))
    header = Text(N_("attendance.sheet_header"), {
        "title": session.title, "cohort": session.cohort, "when": session.starts_at})
    lines: list[Text | str] = [header]
    if len(chunks) > 1:
        lines.append(Text(N_("attendance.sheet_part"), {"part": part + 1, "parts": len(chunks)}))
    rows = []
    first = part * PER_MESSAGE
    for n, person in enumerate(chunks[part], first + 1):
        name = one_line(person.name or "")[:MAX_NAME] or "—"
        mark = Text(MARK_LABEL.get(person.presence or "", N_("attendance.mark.none")))
        said = Text(SAID[person.answer]) if person.answer in SAID else ""
        key = N_("attendance.line_with_request") if person.request_id else N_("attendance.line")
        lines.append(Text(key, {"n": n, "name": name, "id": person.request_id or "",
                                "mark": mark, "said": said}))
        rows.append(tuple(Button(callback(session.id, person.enrollment_id, presence),
                                 Text(BUTTON[presence], {"n": n}))
                          for presence in ("present", "absent", "excused")))
    lines.append(Text(N_("attendance.sheet_hint")))
    return Say(Lines(tuple(lines)), tuple(rows))
