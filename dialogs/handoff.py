"""The coordinators' queue as plain rules: who may do what to a contact request, what its card
says and which buttons it has, and which reminders are due. No Telegram, no database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo
from typing import Any

from .cover import GIVE, HANDOVER, Cover, card_extras, give_button
from .durations import how_long_ago
from .intake import SITE_LABEL, describe_for_staff
from .languages import NAMES as LANGUAGE_NAMES
from .places import SITES
from .replies import N_, Button, Lines, Say, Text
from .workhours import WorkingHours, digest_key, greeting

OPEN = ("new", "claimed", "contacted")
OWNED = ("claimed", "contacted")
FINAL = ("enrolled", "not_suitable", "unreachable")

ACTION_LABEL = {
    "claim": N_("handoff.button.claim"),
    "contacted": N_("handoff.button.contacted"),
    "enrolled": N_("handoff.button.enrolled"),
    "not_suitable": N_("handoff.button.not_suitable"),
    "unreachable": N_("handoff.button.unreachable"),
    "release": N_("handoff.button.release"),
}
# statuses as coordinators speak of them (residents see intake.REQUEST_STATUS)
STAFF_STATUS = {
    "new": N_("handoff.status.new"),
    "claimed": N_("handoff.status.claimed"),
    "contacted": N_("handoff.status.contacted"),
    "enrolled": N_("handoff.status.enrolled"),
    "not_suitable": N_("handoff.status.not_suitable"),
    "unreachable": N_("handoff.status.unreachable"),
}
# the status an action leads to
TARGET = {"claim": "claimed", "contacted": "contacted", "enrolled": "enrolled",
          "not_suitable": "not_suitable", "unreachable": "unreachable", "release": "new"}


def actions_for(status: str) -> tuple[str, ...]:
    """The buttons a card in this status offers."""
    if status == "new":
        return ("claim",)
    if status == "claimed":
        return ("contacted", "enrolled", "not_suitable", "unreachable", "release")
    if status == "contacted":
        return ("enrolled", "not_suitable", "unreachable", "release")
    if status in FINAL:
        return ("release",)  # a mistaken outcome can be undone: back into the queue
    return ()


# the platforms, as people name them (not translated)
CHANNEL_NAMES = {"telegram": "Telegram", "viber": "Viber", "whatsapp": "WhatsApp"}

@dataclass(frozen=True)
class Request:
    """What the rules need to know about one request."""

    id: int
    status: str
    version: int
    created_at: datetime
    changed_at: datetime
    owner_id: int | None = None
    owner_name: str | None = None
    claimed_at: datetime | None = None
    site: str | None = None
    answers: dict[str, Any] = field(default_factory=dict)
    resident_unreachable: bool = False
    has_sensitive: bool = False  # a sealed answer to the sensitive question is stored
    channel: str = "telegram"  # where the person writes: telegram | viber | whatsapp


@dataclass(frozen=True)
class Decision:
    ok: bool
    status: str = ""
    owner_id: int | None = None
    owner_name: str | None = None
    refusal: Text | None = None
    tell_resident: bool = False
    site: str | None = None  # a site chosen for a request that had none


def parse_button(button_id: str) -> tuple[str, int, int | None] | None:
    """'claim:3' → ('claim', 3, None); 'enroll.5:3' (enrolled in cohort 5) → ('enrolled', 3, 5);
    'back:3' → ('back', 3, None); 'handover:3' → ('handover', 3, None) (the choice of
    colleague); 'give.9002:3' (hand it to coordinator 9002) → ('give', 3, 9002)."""
    action, _, version = button_id.partition(":")
    if not version.isdigit() or len(version) > 9:
        return None
    cohort = None
    if action.startswith("enroll."):
        number = action[len("enroll."):]
        if not number.isdigit() or len(number) > 12:
            return None
        action, cohort = "enrolled", int(number)
    elif action.startswith(GIVE + "."):
        number = action[len(GIVE) + 1:]
        if not number.isdigit() or len(number) > 15:
            return None
        action, cohort = GIVE, int(number)
    elif action.startswith(SITE + "."):  # 'site.0:3': put it at SITES[0]
        number = action[len(SITE) + 1:]
        if not number.isdigit() or len(number) > 2:
            return None
        action, cohort = SITE, int(number)
    elif action not in TARGET and action not in ("back", REVEAL, HANDOVER):
        return None
    return action, int(version), cohort


def cohort_choice(req: Request, now: datetime, cohorts: list[tuple[int, str]]) -> Say:
    """Vključen/a pressed: the card asks which cohort, with a way back."""
    base = card(req, now)
    rows = tuple((Button(f"enroll.{cid}:{req.version}", Text(N_("handoff.cohort_button"),
                                                              {"cohort": name})),)
                 for cid, name in cohorts)
    rows += ((Button(f"back:{req.version}", Text(N_("handoff.button.back"))),),)
    text = base.text
    items = tuple(text.items) if isinstance(text, Lines) else (text,)
    return Say(Lines(items + (Text(N_("handoff.choose_cohort")),)), rows)


def handover_choice(req: Request, now: datetime, cover: Cover) -> Say:
    """Predaj pressed: the card asks to whom, one coordinator a row, with a way back."""
    text = card(req, now, cover).text
    items = tuple(text.items) if isinstance(text, Lines) else (text,)
    rows = tuple((give_button(t, req.version),) for t in cover.targets(req.owner_id))
    rows += ((Button(f"back:{req.version}", Text(N_("handoff.button.back"))),),)
    return Say(Lines(items + (Text(N_("cover.choose")),)), rows)


def decide_handover(req: Request, version: int, target_id: int | None, cover: Cover,
                    is_coordinator: bool) -> Decision:
    """May a coordinator hand this request (as she saw it) to `target_id`? Any coordinator may,
    for a claimed request, to any coordinator who is not away and does not have it already
    (herself included: that is how she takes over for an absent colleague)."""
    if not is_coordinator:
        return Decision(False, refusal=Text(N_("handoff.not_allowed")))
    if version != req.version or req.status not in OWNED:
        return Decision(False, refusal=Text(N_("handoff.stale")))
    target = next((t for t in cover.targets(req.owner_id) if t.id == target_id), None)
    if target is None:
        return Decision(False, refusal=Text(N_("cover.target_unavailable")))
    return Decision(True, req.status, target.id, target.name)


SITE = "site"  # a request without a site ("Ne vem, pokličite me"): a coordinator picks


def site_buttons(req: Request) -> tuple[tuple[Button, ...], ...]:
    """A card without a site offers one, one button each, side by side."""
    if req.site is not None or req.status not in OPEN:
        return ()
    return (tuple(Button(f"{SITE}.{i}:{req.version}", Text(N_("handoff.button.site"), {
        "site": Text(SITE_LABEL[site])})) for i, site in enumerate(SITES)),)


def decide_site(req: Request, version: int, index: int | None, is_coordinator: bool
                ) -> Decision:
    """May a coordinator put this request (as she saw it) at SITES[index]? Only once, while it
    has none; the status and owner stay."""
    if not is_coordinator:
        return Decision(False, refusal=Text(N_("handoff.not_allowed")))
    if (version != req.version or req.site is not None or index is None
            or not 0 <= index < len(SITES)):
        return Decision(False, refusal=Text(N_("handoff.stale")))
    return Decision(True, req.status, req.owner_id, req.owner_name, site=SITES[index])


def decide(req: Request, action: str, version: int, actor_id: int, actor_name: str,
           is_coordinator: bool) -> Decision:
    """May this person do this to the request as they saw it (version)? Refusals say why."""
    if not is_coordinator:
        return Decision(False, refusal=Text(N_("handoff.not_allowed")))
    if action not in TARGET:
        return Decision(False, refusal=Text(N_("handoff.stale")))
    if version != req.version or action not in actions_for(req.status):
        return Decision(False, refusal=Text(N_("handoff.stale")))
    if action == "claim":
        return Decision(True, "claimed", actor_id, actor_name, tell_resident=True)
    if action == "release":
        return Decision(True, "new", None, None)
    if req.owner_id is not None and req.owner_id != actor_id:
        return Decision(False, refusal=Text(N_("handoff.owned_by_other"),
                                            {"owner": req.owner_name or "?"}))
    return Decision(True, TARGET[action], req.owner_id, req.owner_name)


REVEAL = "reveal"  # the button that opens the sensitive answer for the one who presses it
SENSITIVE_ANSWER = {
    "yes": N_("handoff.sensitive.yes"),
    "no": N_("handoff.sensitive.no"),
    "no_answer": N_("handoff.sensitive.no_answer"),
}


def revealed(request_id: int, answer: str | None) -> Text:
    """The alert a coordinator alone sees after pressing 🔒: the answer, and the target group
    it points to. None: the sealed answer could not be opened (a key is missing)."""
    if answer is None:
        return Text(N_("handoff.sensitive.unreadable"), {"id": request_id})
    return Text(N_("handoff.sensitive.alert"), {
        "id": request_id, "answer": Text(SENSITIVE_ANSWER.get(answer, N_("answer.none")))})


def card(req: Request, now: datetime, cover: Cover | None = None) -> Say:
    """The request's card in the staff chat: everything a coordinator needs to call, its status,
    owner and last change, and the buttons that fit its status (ids are "action:version"). The
    whole group sees it, so it shows neither the sensitive answer nor a group that reveals it;
    a 🔒 button opens the answer for the coordinator who presses it. With `cover`, a claimed
    request's card offers Predaj (hand it to a colleague), and says when its owner is away
    (then with a button for each colleague) and who covers for whom."""
    params = {**describe_for_staff(req.answers), "id": req.id, "date": req.created_at,
              "waited": now - req.created_at}
    header = N_("handoff.card_new") if req.status == "new" else N_("handoff.card_header")
    status = _status(req.status)
    if req.status == "new":
        footer = Text(N_("handoff.card_waiting"), {"waited": now - req.created_at})
    else:
        footer = Text(N_("handoff.card_owner"), {
            "status": status, "owner": req.owner_name or Text(N_("answer.none")),
            "changed": req.changed_at})
    lines: list[Any] = [Text(header, {"id": req.id, "status": status}),
                        Text(N_("handoff.card_body"), params)]
    # where the person writes (a coordinator's reply goes back there)
    lines.append(Text(N_("handoff.card_channel"), {"channel": CHANNEL_NAMES.get(
        req.channel, req.channel)}))
    lang = req.answers.get("lang")
    if lang in LANGUAGE_NAMES:  # which language to expect: the person's messages come in it
        lines.append(Text(N_("handoff.card_language"), {"language": Text(LANGUAGE_NAMES[lang])}))
    lines.append(footer)
    extra: tuple[Button, ...] = ()
    rows: tuple[tuple[Button, ...], ...] = ()
    if cover is not None and req.status in OWNED:
        more, extra, rows = card_extras(req.owner_id, req.owner_name, req.version, cover)
        lines.extend(more)
    if req.resident_unreachable:
        lines.append(Text(N_("handoff.card_unreachable")))
    if req.site is None and req.status in OPEN:  # "Ne vem, pokličite me": a site to pick
        lines.append(Text(N_("handoff.card_no_site")))
    # a button names the action and the version it was shown at: pressed after a change, it is
    # stale and does nothing
    buttons = tuple((Button(f"{a}:{req.version}", Text(ACTION_LABEL[a])),)
                    for a in actions_for(req.status)) + tuple((b,) for b in extra)
    if len(buttons) > 2:  # two a row keeps the card short on a phone
        flat = [b for row in buttons for b in row]
        buttons = tuple(tuple(flat[i:i + 2]) for i in range(0, len(flat), 2))
    buttons += rows + site_buttons(req)
    if req.has_sensitive:
        buttons += ((Button(f"{REVEAL}:{req.version}", Text(N_("handoff.button.reveal"))),),)
    return Say(Lines(tuple(lines)), buttons)


def queue_line(req: Request, now: datetime) -> Text:
    """One line of /odprte and of the digest: "… · oddana pred 3 urami"."""
    return Text(N_("handoff.queue_line"), {
        "id": req.id, "site": Text(_site(req.site)),
        "status": _status(req.status),
        "owner": req.owner_name or "—", "ago": how_long_ago(now - req.created_at)})


def _status(status: str) -> Text:
    return Text(STAFF_STATUS.get(status, N_("answer.none")))


def _site(site: str | None) -> str:
    return SITE_LABEL.get(site or "", N_("answer.none"))


def open_list(reqs: list[Request], now: datetime) -> Say:
    """/odprte: open requests, the oldest first."""
    live = sorted((r for r in reqs if r.status in OPEN), key=lambda r: (r.created_at, r.id))
    if not live:
        return Say(Text(N_("handoff.none_open")))
    return Say(Text(N_("handoff.open_list"), {
        "count": len(live), "lines": Lines(tuple(queue_line(r, now) for r in live))}))


GREETING = {"morning": N_("handoff.greeting.morning"), "day": N_("handoff.greeting.day"),
            "evening": N_("handoff.greeting.evening")}


def digest(reqs: list[Request], now: datetime, tz: ZoneInfo) -> Say:
    """The daily digest, with a greeting that fits the hour it is read: open requests per
    site and status, then the oldest ones."""
    hello = Text(GREETING[greeting(now, tz)])
    live = sorted((r for r in reqs if r.status in OPEN), key=lambda r: (r.created_at, r.id))
    if not live:
        return Say(Text(N_("handoff.digest_empty"), {"greeting": hello}))
    counts: dict[tuple[str, str], int] = {}
    for r in live:
        counts[(r.site or "", r.status)] = counts.get((r.site or "", r.status), 0) + 1
    rows = tuple(Text(N_("handoff.digest_count"), {
        "site": Text(_site(site)), "status": _status(status),
        "count": n}) for (site, status), n in sorted(counts.items()))
    oldest = tuple(queue_line(r, now) for r in live[:5])
    return Say(Text(N_("handoff.digest"), {"greeting": hello, "counts": Lines(rows),
                                           "oldest": Lines(oldest)}))


@dataclass(frozen=True)
class Due:
    """A reminder to write to the outbox, once: `key` names it for good."""

    kind: str  # unclaimed | no_outcome | digest
    key: str
    request_id: int | None = None


def due_reminders(reqs: list[Request], now: datetime, hours: WorkingHours, *,
                  unclaimed_hours: float, outcome_days: int, digest_at: time) -> list[Due]:
    """Reminders due now. A request waiting unclaimed longer than `unclaimed_hours` working
    hours gets one reminder per wait (a request put back into the queue waits anew); a claimed
    one with no outcome after `outcome_days` working days, one per claim. The digest is due
    once a working day from `digest_at` on."""
    out: list[Due] = []
    for r in reqs:
        stamp = int(r.changed_at.timestamp())
        if r.status == "new" and hours.add(r.changed_at, unclaimed_hours) <= now:
            out.append(Due("unclaimed", f"unclaimed:{r.id}:{stamp}", r.id))
        claimed = r.claimed_at or r.changed_at
        if r.status in OWNED and hours.add_days(claimed, outcome_days) <= now:
            out.append(Due("no_outcome", f"no_outcome:{r.id}:{int(claimed.timestamp())}", r.id))
    day = digest_key(now, hours, digest_at)
    if day is not None:
        out.append(Due("digest", f"digest:{day}"))
    return out
