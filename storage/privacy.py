"""The one map of what korak stores: every column of every table, personal or not, and for the
personal ones why it is kept, on what legal basis, who sees it, how long it is kept and how it
is erased. The record of processing (docs/privacy.md, GDPR Art. 30) is printed from it
(`python -m storage.privacy --write docs/privacy.md`), and tests hold the schema, the document and the erasure code to
it: a new column cannot be added without a decision here.

`refers` names what a value points at, for the erasure tests: "person" (a resident's Telegram
id or private chat), "request" (a request's number)."""

from __future__ import annotations

import sys
from dataclasses import dataclass

# ----------------------------------------------------------------------------- shared wording

CONTACT = "arranging a contact between a resident and a coordinator of Socialna aktivacija"
REMINDERS = "reminding participants of programme sessions and hearing whether they come"
ACCOUNTABILITY = "showing who opened a resident's data, to the resident and the controller"
SAFETY = "handling each Telegram update once"
PARTICIPATION = ("recording who took part in programme sessions, for the programme's reports "
                 "to its funders (participation in person-hours, without names)")
FUNDER_DUTY = ("the implementer's legal obligation to report participation to the funders "
               "(GDPR Art. 6(1)(c))")
CONSENT = "consent (GDPR Art. 6(1)(a))"
EXPLICIT = "explicit consent (GDPR Art. 9(2)(a)), asked separately"
OBLIGATION = "the controller's accountability (GDPR Art. 5(2), 6(1)(c))"
COORDINATORS = "the coordinators in the staff chat"
ON_DEMAND = "only the coordinator who presses 🔒 on the card (logged)"
NOBODY = "nobody (used by korak itself)"
RESIDENT = "the resident (/moji_podatki)"
REQUEST_KEPT = "until RETENTION_MONTHS after the request's last activity"
WITH_REQUEST = "deleted with the request (/izbrisi, retention)"
WITH_PERSON = "deleted with the person (/izbrisi, retention of their last request)"


@dataclass(frozen=True)
class Col:
    personal: bool
    what: str
    purpose: str = ""
    basis: str = ""
    who: str = ""
    kept: str = ""
    erased: str = ""
    refers: str | None = None  # person | request
    special: bool = False  # a special category of personal data (GDPR Art. 9)


def _no(what: str) -> Col:
    return Col(False, what)


def _req(what: str, *, who: str = COORDINATORS, refers: str | None = None,
         special: bool = False, purpose: str = CONTACT, basis: str = CONSENT,
         kept: str = REQUEST_KEPT, erased: str = WITH_REQUEST) -> Col:
    return Col(True, what, purpose, basis, who, kept, erased, refers, special)


_OUTBOX_KEPT = ("until sent (WhatsApp: until Meta's status says it went, at the latest until the "
                "next daily retention); failed: OUTBOX_FAILED_KEEP_DAYS after it failed")
_OUTBOX_ERASED = ("blanked once sent, or OUTBOX_FAILED_KEEP_DAYS after it failed; deleted with "
                  "the request or person")
_CONVERSATION_KEPT = ("while the conversation goes on; unfinished: INTAKE_IDLE_DAYS, never past "
                      "the consent question or referred outside Koroška: 1 day")
_CONVERSATION_ERASED = ("deleted by /izbrisi, /preklici, a declined consent and retention; "
                        "reset to empty when the person still has requests")

_COVER = "covering a coordinator's requests while she is away"
_COVER_BASIS = "legitimate interest (Art. 6(1)(f))"
_AWAY_KEPT = "while she is away"
_AWAY_ERASED = ("deleted by /nazaj, the day after the last day she gave, or when she is no longer "
                "a coordinator")

_ADDRESS = ("the resident's channel and address on it (a Telegram user id, a Viber user id or "
            "a WhatsApp phone number)")

COLUMNS: dict[str, Col] = {
    # -- a resident's conversation
    "resident.id": _no("row number"),
    "resident.person": Col(True, _ADDRESS, CONTACT, CONSENT, NOBODY, _CONVERSATION_KEPT,
                           _CONVERSATION_ERASED, "person"),
    "resident.state": Col(True, "where the conversation stands and the answers given so far "
                                "(the sensitive answer sealed with DATA_KEY)", CONTACT, EXPLICIT,
                          RESIDENT, _CONVERSATION_KEPT, _CONVERSATION_ERASED, special=True),
    "resident.unreachable": Col(True, "the resident blocked the bot", CONTACT, CONSENT,
                                COORDINATORS, _CONVERSATION_KEPT, _CONVERSATION_ERASED),
    "resident.updated_at": _no("when the conversation last moved (retention counts from it)"),
    "resident.lang": Col(True, "the language the resident chose for the conversation (it can "
                               "hint at their origin, so it is kept no longer than the rest)",
                         CONTACT, CONSENT, COORDINATORS, _CONVERSATION_KEPT,
                         _CONVERSATION_ERASED),
    # -- contact requests
    "contact_request.id": _no("the request's number (never given out twice)"),
    "contact_request.person": _req(_ADDRESS + ", for messages to them; the staff card names "
                                   "the channel", who=NOBODY, refers="person"),
    "contact_request.status": _req("where the request stands (new, claimed, …)"),
    "contact_request.site": _req("the programme site serving the resident"),
    "contact_request.municipality": _req("the resident's municipality"),
    "contact_request.source": _req("where the resident came from (a /start link's code)"),
    "contact_request.answers": _req("place, social assistance, work situation, hopes, name, "
                                    "phone number, when to call (never the sensitive answer)"),
    "contact_request.sensitive": _req("the answer to the question on origin (woman from another "
                                      "cultural environment or Roma woman), sealed with "
                                      "DATA_KEY", who=ON_DEMAND, special=True, basis=EXPLICIT),
    "contact_request.created_at": _no("when the request was made"),
    "contact_request.updated_at": _no("when the request last changed"),
    "contact_request.activity_at": _no("the request's last activity (retention counts from it)"),
    "contact_request.owner_id": _req("the coordinator who has the request (Telegram id)",
                                     purpose=CONTACT),
    "contact_request.owner_name": _req("the coordinator's first name"),
    "contact_request.claimed_at": _no("when the request was claimed"),
    "contact_request.status_changed_at": _no("when the status last changed"),
    "contact_request.version": _no("a counter that makes old card buttons stale"),
    "contact_request.card_chat_id": _no("the staff chat holding the request's card"),
    "contact_request.card_message_id": _no("the card's message number in the staff chat"),
    # -- history, staff messages, access log
    "request_event.id": _no("row number"),
    "request_event.request_id": _req("the request", refers="request"),
    "request_event.actor_id": _req("the coordinator who acted (Telegram id)"),
    "request_event.actor_name": _req("the coordinator's first name"),
    "request_event.action": _no("what was done (claim, contacted, …)"),
    "request_event.from_status": _no("status before"),
    "request_event.to_status": _no("status after"),
    "request_event.at": _no("when"),
    "request_event.from_owner_id": _req("a handover: the coordinator who had the request "
                                        "(Telegram id)"),
    "request_event.from_owner_name": _req("a handover: her first name"),
    "request_event.to_owner_id": _req("a handover: the coordinator who has it since "
                                      "(Telegram id)"),
    "request_event.to_owner_name": _req("a handover: her first name"),
    "staff_message.chat_id": _no("the staff chat"),
    "staff_message.message_id": _no("a message in the staff chat that showed the request"),
    "staff_message.request_id": _req("the request that message showed (so erasure edits "
                                     "it)", refers="request"),
    "access_log.id": _no("row number"),
    "access_log.request_id": _req("the request whose data was opened", refers="request",
                                  purpose=ACCOUNTABILITY, basis=OBLIGATION,
                                  who="the resident (/moji_podatki), the controller "
                                      "(korak access-log)"),
    "access_log.actor_id": _req("the coordinator who opened it (Telegram id)",
                                purpose=ACCOUNTABILITY, basis=OBLIGATION,
                                who="the controller (korak access-log)"),
    "access_log.actor_name": _req("the coordinator's first name", purpose=ACCOUNTABILITY,
                                  basis=OBLIGATION, who=RESIDENT),
    "access_log.what": _no("what was opened (sensitive answer, card)"),
    "access_log.at": _no("when"),
    # -- the outbox
    "outbox.id": _no("row number"),
    "outbox.kind": _no("what sort of message"),
    "outbox.chat": _req("where the message goes (a resident's channel and address, or the "
                        "staff chat)",
                           who=NOBODY, kept=_OUTBOX_KEPT, refers="person",
                           erased=_OUTBOX_ERASED),
    "outbox.payload": _req("what the message needs (a relayed text, a coordinator's name, ids)",
                           who=NOBODY, kept=_OUTBOX_KEPT, erased=_OUTBOX_ERASED),
    "outbox.due_at": _no("when it is due"),
    "outbox.claimed_until": _no("a sending process's lease"),
    "outbox.sent_at": _no("when it was sent"),
    "outbox.attempts": _no("tries"),
    "outbox.last_error": _no("the last error's kind (never a text)"),
    "outbox.key": _no("names a message that must exist once (ids only: a reminder names the "
                      "enrollment, never the person)"),
    "outbox.sending_since": _no("set while a send is under way"),
    "outbox.topic": _no("the session a reminder is about"),
    "outbox.failed_at": _no("when korak gave up sending it (retried by hand)"),
    "outbox.blanked_at": _no("when a failed row's chat and text were blanked"),
    "outbox.receipt": _req("WhatsApp's id of the message sent, until Meta's status says it "
                           "went or failed (seconds; the row's chat and text are kept that "
                           "long, to send it again)", who=NOBODY, kept=_OUTBOX_KEPT,
                           erased=_OUTBOX_ERASED),
    "outbox.request_id": _req("the request the message is about", who=NOBODY,
                              refers="request"),
    # -- the inbox of updates from every channel
    "inbox.event": _no("the channel and the platform's number of an update (a Telegram update "
                       "id, a Viber message token, a WhatsApp message id)"),
    "inbox.seq": _no("the platform's order of the update (number or time)"),
    "inbox.person": Col(True, "whose update it was (the order of one person's updates): "
                              + _ADDRESS,
                             SAFETY, CONSENT, NOBODY, "7 days after it was handled",
                             "pruned after 7 days; " + WITH_PERSON, "person"),
    "inbox.received_at": _no("when it arrived"),
    "inbox.payload": Col(True, "the update as the platform sent it (what the person wrote or "
                               "tapped, their name there), sealed with DATA_KEY", SAFETY,
                         CONSENT, NOBODY, "until it is handled (seconds)",
                         "blanked once handled; " + WITH_PERSON),
    "inbox.handled_at": _no("when it was handled"),
    "inbox_batch.id": _no("row number"),
    "inbox_batch.received_at": _no("when the batch arrived"),
    "inbox_batch.updates": Col(True, "a batch of updates as Telegram sent them (long polling), "
                                     "sealed with DATA_KEY", SAFETY, CONSENT, NOBODY,
                               "until every update in it is handled (seconds)",
                               "deleted once handled (at once when an update in it erased "
                               "someone or answered the question on origin)"),
    "inbox.claimed_until": _no("a process is handling it"),
    "inbox.attempts": _no("how often handling it was begun"),
    "inbox.reply_by": _no("handled, its reply not yet known to be sent: by then, or the person "
                          "is told the open question again"),
    # -- coordinators
    "coordinator.telegram_id": Col(True, "a coordinator's Telegram user id", "letting "
                                   "coordinators work the queue", "the controller's legitimate "
                                   "interest in running the service (Art. 6(1)(f))",
                                   "the operator", "while she is a coordinator",
                                   "`korak coordinators remove`"),
    "coordinator.name": Col(True, "a coordinator's name", "letting coordinators work the queue",
                            "legitimate interest (Art. 6(1)(f))", "the operator",
                            "while she is a coordinator", "`korak coordinators remove`"),
    "coordinator.added_at": _no("when she was added"),
    # -- a coordinator away (/odsotna)
    "coordinator_away.telegram_id": Col(True, "a coordinator who is away (Telegram id)",
                                        _COVER, _COVER_BASIS, COORDINATORS, _AWAY_KEPT,
                                        _AWAY_ERASED),
    "coordinator_away.name": Col(True, "her first name, for the cards", _COVER, _COVER_BASIS,
                                 COORDINATORS, _AWAY_KEPT, _AWAY_ERASED),
    "coordinator_away.since": Col(True, "since when she is away", _COVER, _COVER_BASIS,
                                  COORDINATORS, _AWAY_KEPT, _AWAY_ERASED),
    "coordinator_away.until": Col(True, "the last day she is away (none: until /nazaj)",
                                  _COVER, _COVER_BASIS, COORDINATORS, _AWAY_KEPT, _AWAY_ERASED),
    # -- how a coordinator is named (cards, buttons, notices)
    "coordinator_seen.telegram_id": Col(True, "a coordinator's Telegram user id",
                                        "naming coordinators on cards and buttons",
                                        "legitimate interest (Art. 6(1)(f))", COORDINATORS,
                                        "while she is a coordinator",
                                        "deleted when she is no longer a coordinator (at start "
                                        "and daily)"),
    "coordinator_seen.name": Col(True, "her Telegram first name as last seen (or as "
                                       "getChatMember gave it)",
                                 "naming coordinators on cards and buttons",
                                 "legitimate interest (Art. 6(1)(f))", COORDINATORS,
                                 "while she is a coordinator",
                                 "deleted when she is no longer a coordinator (at start and "
                                 "daily)"),
    "coordinator_seen.seen_at": _no("when the name was last seen"),
    # -- programme
    "cohort.id": _no("row number"),
    "cohort.name": _no("a programme run's name"),
    "cohort.site": _no("its site"),
    "cohort.created_at": _no("when it was made"),
    "programme_session.id": _no("row number"),
    "programme_session.cohort_id": _no("its programme run"),
    "programme_session.key": _no("its key in the schedule file"),
    "programme_session.title": _no("title"),
    "programme_session.place": _no("where"),
    "programme_session.starts_at": _no("start"),
    "programme_session.ends_at": _no("end"),
    "programme_session.cancelled": _no("cancelled"),
    "programme_session.updated_at": _no("last change"),
    "enrollment.id": _no("row number"),
    "enrollment.cohort_id": _no("the programme run"),
    "enrollment.person": _req(_ADDRESS + ", for reminders", who=NOBODY,
                              purpose=REMINDERS, refers="person",
                              erased=WITH_REQUEST + "; " + WITH_PERSON),
    "enrollment.request_id": _req("the request they were enrolled through", purpose=REMINDERS,
                                  refers="request"),
    "enrollment.active": _req("still taking part", purpose=REMINDERS),
    "enrollment.enrolled_at": _no("when enrolled"),
    "enrollment.left_at": _no("when they left"),
    "attendance.session_id": _no("the session"),
    "attendance.person": _req(_ADDRESS, who=NOBODY,
                                   purpose=REMINDERS, refers="person",
                                   erased=WITH_REQUEST + "; " + WITH_PERSON),
    "attendance.answer": _req("coming or not", purpose=REMINDERS,
                              erased=WITH_REQUEST + "; " + WITH_PERSON),
    "attendance.at": _no("when they answered"),
    "attendance.presence": _req("present, absent or excused, as a coordinator marked it after "
                                "the session", purpose=PARTICIPATION, basis=FUNDER_DUTY,
                                erased=WITH_REQUEST + "; " + WITH_PERSON),
    "attendance.presence_by": _req("the coordinator who marked it (Telegram id)",
                                   purpose=PARTICIPATION, basis=FUNDER_DUTY, who=NOBODY,
                                   erased=WITH_REQUEST + "; " + WITH_PERSON),
    "attendance.presence_at": _no("when it was marked"),
    "attendance.notice_chat_id": _no("the staff chat holding the notice of the answer"),
    "attendance.notice_message_id": _no("the message telling the answer (edited when it "
                                        "changes, and to the removal text on erasure)"),
    "attendance_sheet.chat_id": _no("the staff chat holding a session's attendance list"),
    "attendance_sheet.message_id": _no("a message showing the list (edited on a press, and "
                                       "when a person on it is erased)"),
    "attendance_sheet.session_id": _no("the session"),
    "attendance_sheet.part": _no("which part of the list (25 people a message)"),
    # -- shared service settings
    "setting.name": _no("a setting's name"),
    "setting.value": _no("its value (the staff chat's id, a pause and its reason)"),
    "setting.updated_at": _no("when it changed"),
    # -- which process does the scheduled work
    "leader.name": _no("the work"),
    "leader.holder": _no("the process doing it (host and process number)"),
    "leader.until": _no("until when, unless renewed"),
    # -- jobs
    "job_run.name": _no("a daily job"),
    "job_run.day": _no("the day it ran"),
    "job_run.finished_at": _no("when it finished"),
    # -- closed months of the programme's report
    "report_month.month": _no("a month that has ended"),
    "report_month.counted_at": _no("when its report figures were counted"),
    "report_month.figures": _no("its report figures: counts of requests and people by site, "
                                "municipality, stage and target group, working hours without "
                                "dates or ids, sessions' counts (nothing about any one person)"),
}


def personal() -> dict[str, Col]:
    return {name: col for name, col in COLUMNS.items() if col.personal}


def record() -> str:
    """The record of processing's table, in Markdown (docs/privacy.md embeds it)."""
    lines = ["| column | what | purpose | legal basis | who sees it | kept | erased |",
             "|---|---|---|---|---|---|---|"]
    for name, c in personal().items():
        what = c.what + (" — **special category**" if c.special else "")
        lines.append(f"| `{name}` | {what} | {c.purpose} | {c.basis} | {c.who} | {c.kept} | "
                     f"{c.erased} |")
    return "\n".join(lines) + "\n"


def write_into(path: str) -> None:
    """Put the record between the markers of a document (docs/privacy.md)."""
    with open(path, encoding="utf-8") as fh:
        doc = fh.read()
    start = doc.index("-->\n", doc.index("<!-- record:start")) + len("-->\n")
    end = doc.index("<!-- record:end -->")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(doc[:start] + record() + doc[end:])


if __name__ == "__main__":  # pragma: no cover
    if sys.argv[1:2] == ["--write"]:
        write_into(sys.argv[2])
    else:
        sys.stdout.write(record())
