"""The resident's conversation: welcome, consent, place, target-group questions, contact, summary.

Pure: ``handle(state, event, ctx)`` returns the next state, what to say and what to store. No
clock, database or Telegram here; time and stored facts come in through ``Ctx``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from typing import Any

from . import places
from .options import OPTIONS
from .understand import choose, choose_among, command_word, fold, understand
from .languages import (LANGUAGES, NAMES as LANGUAGE_NAMES, OFFER as LANGUAGE_OFFER, detect,
                        known as known_language)
from .phone import display_phone, normalize_phone
from .replies import (Button, DeleteAll, Effect, Forget, Lines, N_, RelayToStaff, Say,
                      SubmitRequest, Text, fence, one_line)

MAX_NAME = 64
MAX_HOPES = 500

# ----------------------------------------------------------------------------- events


@dataclass(frozen=True)
class Start:
    payload: str | None = None


@dataclass(frozen=True)
class Command:
    name: str  # pomoc, preklici, moji_podatki, izbrisi, status


@dataclass(frozen=True)
class Typed:
    text: str


@dataclass(frozen=True)
class Choice:
    step: str
    id: str


@dataclass(frozen=True)
class SharedContact:
    phone: str
    own: bool


@dataclass(frozen=True)
class Media:
    kind: str


Event = Start | Command | Typed | Choice | SharedContact | Media

# ----------------------------------------------------------------------------- state


@dataclass
class State:
    step: str = "idle"
    answers: dict[str, Any] = field(default_factory=dict)
    editing: bool = False
    pending: dict[str, Any] = field(default_factory=dict)
    resume: str | None = None  # the step to go back to after a side question (/start, /izbrisi)
    # past RELAY_PER_HOUR messages to the coordinators: told once, then quiet until this time
    relay_muted_until: str | None = None
    lang: str | None = None  # the resident's language (dialogs/languages.py); None: not chosen
    place_misses: int = 0  # places typed that korak did not know, at this intake
    # when the out-of-Koroška referral was given (ISO): a Koroška place typed soon after it is
    # a correction, not a new conversation
    outside_at: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The fields by name, for storing. The dicts are the state's own, not deep copies
        (`dataclasses.asdict` copied every nested value): the result is written out at once."""
        return {name: getattr(self, name) for name in _STATE_FIELDS}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> State:
        if not data:
            return cls()
        known = {k: data[k] for k in _STATE_FIELDS if k in data}
        state = cls(**known)
        if state.step not in STEPS and state.step not in TERMINAL and state.step not in SIDE:
            return cls()
        return state


_STATE_FIELDS = tuple(f.name for f in fields(State))  # what is stored, and read back


@dataclass(frozen=True)
class RequestInfo:
    id: int
    status: str
    created_at: datetime
    site: str | None
    answers: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Look:
    """A coordinator opened a request's data on demand (the access log)."""

    request_id: int
    actor_name: str
    at: datetime
    what: str  # sensitive | card


@dataclass(frozen=True)
class Ctx:
    now: datetime
    first_name: str | None = None
    open_request: RequestInfo | None = None
    requests: tuple[RequestInfo, ...] = ()
    contact_days: int = 3
    controller: str = ""
    controller_contact: str = ""
    retention_months: int = 12
    intake_idle_days: int = 30
    relays_last_hour: int = 0  # messages passed to the coordinators in the last hour
    relay_limit: int = 20
    looks: tuple[Look, ...] = ()  # read for /moji_podatki only
    suggested_lang: str = "sl"  # from Telegram's language_code: first among the language buttons
    # the programme's office, where texts tell a resident to call or come (OFFICE_PHONE,
    # OFFICE_ADDRESS); without a phone the texts leave the call out
    office_phone: str = ""
    office_address: str = ""
    relay_on: bool = True  # a staff chat is set: words outside the questions can be passed on
    # the number the channel knows the person by (WhatsApp: the number they write from), E.164
    # ("+38641123456"); None where the channel gives none (Telegram, Viber). The phone question
    # then offers it: "may the coordinator call you on 041 123 456?"
    channel_phone: str | None = None


@dataclass
class Outcome:
    state: State
    says: list[Say] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)


# ----------------------------------------------------------------------------- vocabulary

SITE_LABEL = {
    "slovenj-gradec": N_("site.slovenj-gradec"),
    "radlje-ob-dravi": N_("site.radlje-ob-dravi"),
}
REQUEST_STATUS = {
    "new": N_("request_status.new"),
    "claimed": N_("request_status.claimed"),
    "contacted": N_("request_status.contacted"),
    "enrolled": N_("request_status.enrolled"),
    "not_suitable": N_("request_status.not_suitable"),
    "unreachable": N_("request_status.unreachable"),
    "withdrawn": N_("request_status.withdrawn"),
}
# An answer as it reads inside a line ("Denarna socialna pomoč: da, manj kot eno leto"): the
# summary, /moji_podatki and the staff card describe answers with these, never with the
# buttons' labels (capitals mid-line). Every choice of these steps has one (a test checks).
ANSWER_TEXT: dict[str, dict[str, str]] = {
    "dsp": {"yes": N_("answer.dsp.yes"), "no": N_("answer.dsp.no"),
            "dont_know": N_("answer.dsp.dont_know")},
    "dsp_duration": {"short": N_("answer.dsp_duration.short"),
                     "long": N_("answer.dsp_duration.long"),
                     "dont_know": N_("answer.dsp_duration.dont_know")},
    "work": {"employed": N_("answer.work.employed"), "registered": N_("answer.work.registered"),
             "neither": N_("answer.work.neither"), "other": N_("answer.work.other")},
    "sensitive": {"yes": N_("answer.sensitive.yes"), "no": N_("answer.sensitive.no"),
                  "no_answer": N_("answer.sensitive.no_answer")},
    "call_time": {"morning": N_("answer.call_time.morning"),
                  "afternoon": N_("answer.call_time.afternoon"),
                  "any": N_("answer.call_time.any"),
                  "write_here": N_("answer.call_time.write_here")},
}
# "v podravski regiji": where a municipality is, said whole (the region names in
# dialogs/data/municipalities.csv are bare nominatives, which no sentence can decline). Every
# region there has one (a test checks); another would read "in another region".
REGION_IN = {
    "Gorenjska": N_("region.in.gorenjska"),
    "Goriška": N_("region.in.goriska"),
    "Jugovzhodna Slovenija": N_("region.in.jugovzhodna-slovenija"),
    "Koroška": N_("region.in.koroska"),
    "Obalno-kraška": N_("region.in.obalno-kraska"),
    "Osrednjeslovenska": N_("region.in.osrednjeslovenska"),
    "Podravska": N_("region.in.podravska"),
    "Pomurska": N_("region.in.pomurska"),
    "Posavska": N_("region.in.posavska"),
    "Primorsko-notranjska": N_("region.in.primorsko-notranjska"),
    "Savinjska": N_("region.in.savinjska"),
    "Zasavska": N_("region.in.zasavska"),
}
# Texts that tell a resident to call or come to the programme's office, with the phone → the
# same without it (OFFICE_PHONE not set)
OFFICE_TEXT = {
    N_("help.text"): N_("help.text_no_phone"),
    N_("intake.consent_declined"): N_("intake.consent_declined_no_phone"),
    N_("relay.no_staff"): N_("relay.no_staff_no_phone"),
}
GROUP_LABEL = {
    "long_term_dsp": N_("group.long_term_dsp"),
    "other_inactive": N_("group.other_inactive"),
    "women_roma": N_("group.women_roma"),
    "not_fit": N_("group.not_fit"),
    "unclear": N_("group.unclear"),
}

# The questions in order; a step missing from the path (dsp_duration after "no") is skipped.
STEPS = ["consent", "place", "place_confirm", "place_choose", "place_elsewhere", "place_move",
         "dsp",
         "dsp_duration", "work", "work_office", "sensitive_consent", "sensitive", "hopes", "fit",
         "name", "phone", "call_time", "summary", "edit_choose"]
# A typed answer that is no button but leaves these buttons of a step ("ne delam": not
# employed) is followed by the one question that settles it; its answer is the step's.
FOLLOW_UPS = {("work", ("registered", "neither", "other")): "work_office"}
LANG_OFFERED = "lang_offered"  # pending: the language offered for a person's first words (None:
# offered, and answered or passed over: never offered twice)
TERMINAL = {"idle", "declined", "outside", "done", "stopped"}
SIDE = {"confirm_restart", "confirm_delete"}

PLACE_OTHER = "elsewhere"
NO_PLACE = "no_place"  # "Ne vem, pokličite me": on without a place; the staff choose
PLACE_MISSES = 2  # unknown places typed before that way on is offered
CORRECTION = timedelta(minutes=10)  # a Koroška place typed this soon after the referral


def _buttons(step: str, per_row: int = 1) -> tuple[tuple[Button, ...], ...]:
    buttons = [Button(cid, Text(label)) for cid, label in OPTIONS.get(step, [])]
    return tuple(tuple(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row))


LANG = "lang:"  # a language button's id: "lang:en"; it works at any step


def _other_languages(current: str | None, first: str | None = None) -> list[Button]:
    codes = [code for code in LANGUAGES if code != known_language(current)]
    if first in codes:  # the one a person's own words are in comes first
        codes.remove(first)
        codes.insert(0, first)
    return [Button(LANG + code, Text(LANGUAGE_NAMES[code])) for code in codes]


def language_buttons(current: str | None, first: str | None = None
                     ) -> tuple[tuple[Button, ...], ...]:
    """The other languages, each named in itself, two a row."""
    others = _other_languages(current, first)
    return tuple(tuple(others[i:i + 2]) for i in range(0, len(others), 2))


def language_row(current: str | None) -> tuple[Button, ...]:
    """The other languages in one row: the first row under the first question, so a person
    who does not read the question's language sees their own at once."""
    return tuple(_other_languages(current))


def in_region(region: str | None) -> Text:
    """Where a municipality is: "v podravski regiji" (unknown: "v drugi regiji")."""
    return Text(REGION_IN.get(region or "", N_("region.in.other")))


def office_text(msgid: str, ctx: Ctx) -> Text:
    """A text that tells a resident to call or come: the office's phone and address from the
    settings; without a phone, its variant that says only where to come."""
    phone = ctx.office_phone.strip()
    if phone:
        return Text(msgid, {"office_phone": phone, "office_address": ctx.office_address})
    return Text(OFFICE_TEXT[msgid], {"office_address": ctx.office_address})


def _retention(ctx: Ctx) -> Text:
    return Text(N_("retention.months"), {"n": ctx.retention_months},
                plural=(N_("retention.months.plural"), ctx.retention_months))


def _privacy_notice(ctx: Ctx) -> Text:
    """The whole privacy notice, behind "Več o podatkih" at the consent question."""
    return Text(N_("intake.privacy_notice"), {
        "controller": ctx.controller, "controller_contact": ctx.controller_contact,
        "retention": _retention(ctx),
        "idle": Text(N_("retention.idle_days"), {"n": ctx.intake_idle_days},
                     plural=(N_("retention.idle_days.plural"), ctx.intake_idle_days)),
    })


def _municipality_buttons(way_on: bool = False) -> tuple[tuple[Button, ...], ...]:
    names = places.koroska_municipalities()
    buttons = [Button("m:" + m, Text(N_("button.place_name"), {"name": m})) for m in names]
    rows = [tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2)]
    rows.append((Button(PLACE_OTHER, Text(N_("button.place_elsewhere"))),))
    if way_on:  # after PLACE_MISSES tries: on without a place
        rows.append((Button(NO_PLACE, Text(N_("button.no_place"))),))
    return tuple(rows)


# ----------------------------------------------------------------------------- questions


def ask(state: State, ctx: Ctx) -> list[Say]:
    """The current question again, with its buttons."""
    step = state.step
    if step == "consent":  # the short notice; the whole one and the programme a tap away, and
        # the other languages first, above the answers (one message with the welcome: one
        # notification)
        yes, no, programme, data = (Button(cid, Text(label))
                                    for cid, label in OPTIONS["consent"])
        return [Say(Text(N_("intake.consent_short"), {"retention": _retention(ctx)}),
                    (language_row(state.lang), (yes,), (no,), (programme, data)))]
    if step == "place":
        return [Say(Text(N_("intake.ask_place")),
                    _municipality_buttons(state.place_misses >= PLACE_MISSES))]
    if step == "place_confirm":
        p = state.pending
        return [Say(Text(N_("intake.ask_place_confirm"), {
            "place": p.get("place") or p["municipality"], "municipality": p["municipality"]}),
            _buttons("place_confirm", 2))]
    if step == "place_choose":
        rows = [
            (Button(f"c:{i}", Text(N_("button.place_candidate"), {
                "place": c.get("place") or c["municipality"], "municipality": c["municipality"]})),)
            for i, c in enumerate(state.pending.get("candidates", []))
        ]
        rows.append((Button(PLACE_OTHER, Text(N_("button.place_none_of_these"))),))
        return [Say(Text(N_("intake.ask_place_choose")), tuple(rows))]
    if step == "place_elsewhere":
        return [Say(Text(N_("intake.ask_place_elsewhere")))]
    if step == "place_move":  # a place outside Koroška chosen at the summary: asked first
        p = state.pending
        return [Say(Text(N_("intake.ask_move_outside"), {
            "municipality": p.get("municipality") or "", "in_region": in_region(p.get("region"))}),
            _buttons("place_move"))]
    if step == "dsp":
        return [Say(Text(N_("intake.ask_dsp")), _buttons("dsp"))]
    if step == "dsp_duration":
        return [Say(Text(N_("intake.ask_dsp_duration")), _buttons("dsp_duration"))]
    if step == "work":
        return [Say(Text(N_("intake.ask_work")), _buttons("work"))]
    if step == "work_office":  # after "ne delam": registered at the employment office, or not
        return [Say(Text(N_("intake.ask_work_office")), _buttons("work_office"))]
    if step == "sensitive_consent":
        return [Say(Text(N_("intake.ask_sensitive_consent")), _buttons("sensitive_consent"))]
    if step == "sensitive":
        return [Say(Text(N_("intake.ask_sensitive")), _buttons("sensitive"))]
    if step == "hopes":
        return [Say(Text(N_("intake.ask_hopes"), {"max": MAX_HOPES}), _buttons("hopes"))]
    if step == "fit":
        return [Say(Text(N_("intake.not_a_fit")), _buttons("fit"))]
    if step == "name":
        rows: tuple[tuple[Button, ...], ...] = ()
        if ctx.first_name and _valid_name(ctx.first_name):
            rows = ((Button("profile", Text(N_("button.use_name"), {"name": ctx.first_name.strip()})),),)
        return [Say(Text(N_("intake.ask_name")), rows)]
    if step == "phone":
        return [_ask_phone(ctx)]
    if step == "call_time":
        return [Say(Text(N_("intake.ask_call_time")), _buttons("call_time", 2))]
    if step == "summary":
        return [Say(Text(N_("intake.summary"), describe(state.answers)), _buttons("summary", 2))]
    if step == "edit_choose":
        return [Say(Text(N_("intake.ask_which_field")), _buttons("edit_choose", 2))]
    if step == "confirm_restart":
        return [Say(Text(N_("intake.ask_restart")), _buttons("confirm_restart"))]
    if step == "confirm_delete":
        return [Say(Text(N_("intake.ask_delete")), _buttons("confirm_delete"))]
    if step == "done":
        return [Say(Text(N_("intake.already_submitted")))]
    return [Say(Text(N_("intake.idle")))]


# The longest number (as display_phone writes it) the "📞 {phone}" button shows: the label must
# fit a WhatsApp reply button (20 UTF-16 units; 📞 counts two, and a space) in every catalog,
# and a number cut short is worse than none. A longer one: "📞 Moja številka".
MAX_PHONE_IN_LABEL = 17


def channel_phone(ctx: Ctx) -> str | None:
    """The number the channel knows the person by, when it is one a coordinator can call."""
    return normalize_phone(ctx.channel_phone) if ctx.channel_phone else None


def _ask_phone(ctx: Ctx, msgid: str | None = None) -> Say:
    """The phone question. Where the channel knows the person's number (WhatsApp) it is shown
    and offered; elsewhere "📞 Moja številka" shares it (Telegram's contact button, Viber's).
    `msgid`: another text with the same choices (after "ne": which number, then?)."""
    own = channel_phone(ctx)
    if own is None:
        return Say(Text(msgid or N_("intake.ask_phone")), _buttons("phone"),
                   share_contact=Text(N_("button.share_phone")))
    shown = display_phone(own)
    label = (Text(N_("button.share_this_phone"), {"phone": shown})
             if len(shown) <= MAX_PHONE_IN_LABEL else Text(N_("button.share_phone")))
    text = Text(msgid) if msgid else Text(N_("intake.ask_phone_known"), {"phone": shown})
    return Say(text, _buttons("phone"), share_contact=label)


def _answer(step: str, value: Any) -> Text:
    """A choice as it reads inside a line: "da", "manj kot eno leto" (ANSWER_TEXT)."""
    msgid = ANSWER_TEXT.get(step, {}).get(value) if isinstance(value, str) else None
    return Text(msgid or N_("answer.none"))


def describe(answers: dict[str, Any]) -> dict[str, Any]:
    """The answers as readable parameters, for the resident's own summary and /moji_podatki.
    The coordinators' card uses describe_for_staff. Choices read as answers (ANSWER_TEXT),
    never as their buttons' labels."""
    place: Any = answers.get("place") or answers.get("municipality") or ""
    municipality: Any = answers.get("municipality") or ""
    site: Any = Text(SITE_LABEL.get(answers.get("site") or "", N_("answer.none")))
    if "site" in answers and not answers.get("site"):  # "Ne vem, pokličite me"
        place, municipality = Text(N_("answer.no_place")), Text(N_("answer.none"))
        site = Text(N_("answer.site_by_coordinator"))
    sensitive = answers.get("sensitive")
    if answers.get("sensitive_consent") != "yes":
        sensitive_text: Any = Text(N_("answer.not_asked"))
    else:
        sensitive_text = _answer("sensitive", sensitive)
    dsp = _answer("dsp", answers.get("dsp"))
    if answers.get("dsp") == "yes" and answers.get("dsp_duration"):
        dsp = Text(N_("answer.dsp_with_duration"), {
            "answer": dsp, "duration": _answer("dsp_duration", answers.get("dsp_duration"))})
    phone = answers.get("phone")
    return {
        "place": place,
        "municipality": municipality,
        "site": site,
        "dsp": dsp,
        "work": _answer("work", answers.get("work")),
        "sensitive": sensitive_text,
        "hopes": answers.get("hopes") or Text(N_("answer.none")),
        "name": answers.get("name") or "",
        "phone": display_phone(phone) if phone else Text(N_("answer.no_phone")),
        "call_time": _answer("call_time", answers.get("call_time")),
        "group": Text(GROUP_LABEL[preliminary_group(answers)]),
    }


def describe_for_staff(answers: dict[str, Any]) -> dict[str, Any]:
    """describe() without the sensitive answer, and with a preliminary group worked out without
    it: the card is seen by the whole staff group, and a group label can give the answer away.
    A coordinator who needs the answer opens it on its own (storage seals it)."""
    blind = {k: v for k, v in answers.items() if k != "sensitive"}
    out = describe(blind)
    del out["sensitive"]
    out["name"] = one_line(answers.get("name") or "")
    if answers.get("hopes"):  # the person's own words, fenced
        out["hopes"] = fence(str(answers["hopes"]))
    return out


def preliminary_group(answers: dict[str, Any]) -> str:
    """A first guess at the target group; the coordinator decides."""
    work = answers.get("work")
    if answers.get("dsp") == "yes" and answers.get("dsp_duration") == "long" and work != "employed":
        return "long_term_dsp"
    if answers.get("sensitive") == "yes" and work != "employed":
        return "women_roma"
    if answers.get("dsp") in ("no", "dont_know") and work == "neither":
        return "other_inactive"
    if work == "employed":
        return "not_fit"
    return "unclear"


# ----------------------------------------------------------------------------- moving on


def _next_step(step: str, answers: dict[str, Any]) -> str:
    order = ["consent", "place", "dsp", "dsp_duration", "work", "sensitive_consent", "sensitive",
             "hopes", "fit", "name", "phone", "call_time", "summary"]
    i = order.index(step) + 1 if step in order else order.index("dsp")
    while i < len(order):
        nxt = order[i]
        if nxt == "dsp_duration" and answers.get("dsp") != "yes":
            i += 1
            continue
        if nxt == "sensitive" and answers.get("sensitive_consent") != "yes":
            i += 1
            continue
        if nxt == "fit" and preliminary_group(answers) != "not_fit":
            i += 1
            continue
        if nxt == "call_time" and answers.get("call_time") == "write_here" and not answers.get("phone"):
            i += 1
            continue
        return nxt
    return "summary"


def _advance(state: State, ctx: Ctx, answered: str, says: list[Say] | None = None) -> Outcome:
    """After ``answered`` is stored: the next question, or back to the summary when editing."""
    nxt = _next_step(answered, state.answers)
    if state.editing and nxt not in ("dsp_duration", "sensitive"):
        # A changed answer may open a follow-up question; otherwise straight back.
        nxt = "summary"
    if nxt == "summary":
        state = replace(state, editing=False)
    state = replace(state, step=nxt, pending={})
    return Outcome(state, (says or []) + ask(state, ctx))


def _again(state: State, ctx: Ctx, msgid: str, params: dict[str, Any] | None = None) -> Outcome:
    return Outcome(state, [Say(Text(msgid, params or {}))] + ask(state, ctx))


def _valid_name(text: str) -> bool:
    text = text.strip()
    return 0 < len(text) <= MAX_NAME and any(ch.isalpha() for ch in text) and "\n" not in text


# ----------------------------------------------------------------------------- steps


def _set(state: State, **answers: Any) -> State:
    return replace(state, answers={**state.answers, **answers})


def _on_place_resolution(state: State, ctx: Ctx, res: places.Resolution) -> Outcome:
    if res.status == "resolved" and not res.confirm:
        return _accept_place(state, ctx, res.municipality, res.place)
    if res.status == "resolved":
        pending = {"municipality": res.municipality, "place": res.place}
        return Outcome(replace(state, step="place_confirm", pending=pending),
                       ask(replace(state, step="place_confirm", pending=pending), ctx))
    if res.status == "ambiguous":
        cands = [{"municipality": c.municipality, "place": c.place} for c in res.candidates]
        s = replace(state, step="place_choose", pending={"candidates": cands})
        return Outcome(s, ask(s, ctx))
    if res.status == "outside":
        return _leaving(state, ctx, res)
    return _unknown_place(state, ctx)


def _unknown_place(state: State, ctx: Ctx) -> Outcome:
    """A place korak does not know: asked again; after PLACE_MISSES tries with a way on."""
    s = replace(state, step="place", pending={}, place_misses=state.place_misses + 1)
    if s.place_misses >= PLACE_MISSES:
        return _again(s, ctx, N_("intake.place_unknown_way_on"))
    return _again(s, ctx, N_("intake.place_unknown"))


def _leaving(state: State, ctx: Ctx, res: places.Resolution) -> Outcome:
    """A place outside Koroška. At the first question: the referral. Changed at the summary (a
    slip of the thumb, or a real move): asked first, and nothing is lost until confirmed."""
    if state.editing and res.municipality:
        s = replace(state, step="place_move", pending={
            "municipality": res.municipality, "region": res.region or ""})
        return Outcome(s, ask(s, ctx))
    return _outside(state, ctx, res)


def _accept_place(state: State, ctx: Ctx, municipality: str | None, place: str | None
                  ) -> Outcome:
    if municipality is None:
        return _unknown_place(state, ctx)
    site = places.site_of(municipality)
    if site is None:
        return _leaving(state, ctx, places.resolve(municipality))
    state = _set(replace(state, place_misses=0), municipality=municipality,
                 place=place or municipality, site=site)
    msgid = N_("intake.place_ok") if place and place != municipality else N_("intake.place_ok_municipality")
    ack = Say(Text(msgid, {"place": place or municipality, "municipality": municipality,
                           "site": Text(SITE_LABEL[site])}))
    return _advance(state, ctx, "place", [ack])


def _outside(state: State, ctx: Ctx, res: places.Resolution) -> Outcome:
    if res.municipality and res.region:
        msgid = N_("intake.outside_with_centre") if res.social_work_centre else N_("intake.outside")
        params: dict[str, Any] = {"municipality": res.municipality,
                                  "in_region": in_region(res.region)}
        if res.social_work_centre:
            params["centre"] = res.social_work_centre
        text = Text(msgid, params)
    else:
        text = Text(N_("intake.outside_unknown_region"))
    # Nothing is queued and nothing personal kept; only when, so a correction is understood.
    return Outcome(State(step="outside", outside_at=ctx.now.isoformat()), [Say(text)], [Forget()])


def _correction(state: State, ctx: Ctx, text: str) -> Outcome | None:
    """A Koroška place typed soon after the referral ("oprostite, mislila sem Muta"): the intake
    starts again there. Nothing was kept, so the consent is asked again, one tap."""
    try:
        at = datetime.fromisoformat(state.outside_at or "")
    except ValueError:
        return None
    if at.tzinfo is None or not timedelta(0) <= ctx.now - at <= CORRECTION:
        return None
    res = places.resolve(text)
    if res.status != "resolved" or not res.municipality or places.site_of(res.municipality) is None:
        return None
    s = State(step="consent", lang=state.lang, pending={
        "municipality": res.municipality, "place": res.place, "confirm": res.confirm})
    return Outcome(s, [Say(Text(N_("intake.correction"), {
        "place": res.place or res.municipality}))] + ask(s, ctx))


def _step_choice(state: State, ctx: Ctx, cid: str) -> Outcome:
    step = state.step
    if step == "consent":
        if cid == "more_programme":
            return Outcome(state, [Say(Text(N_("intake.about_programme"))),
                                   Say(Text(N_("intake.about_sites")))] + ask(state, ctx))
        if cid == "more_data":
            return Outcome(state, [Say(_privacy_notice(ctx))] + ask(state, ctx))
        if cid == "yes":
            picked = state.pending  # a place typed as a correction after the referral
            state = _set(replace(state, step="place", pending={}), consent=True)
            thanks = [Say(Text(N_("intake.consent_thanks")))]
            if picked.get("municipality"):
                if picked.get("confirm"):
                    s = replace(state, step="place_confirm", pending={
                        "municipality": picked["municipality"], "place": picked.get("place")})
                    return Outcome(s, thanks + ask(s, ctx))
                out = _accept_place(state, ctx, picked["municipality"], picked.get("place"))
                return Outcome(out.state, thanks + out.says, out.effects)
            return Outcome(state, thanks + ask(state, ctx))
        return Outcome(State(step="declined"),
                       [Say(office_text(N_("intake.consent_declined"), ctx))], [Forget()])
    if step == "place":
        if cid == PLACE_OTHER:
            s = replace(state, step="place_elsewhere")
            return Outcome(s, ask(s, ctx))
        if cid.startswith("m:"):
            return _accept_place(state, ctx, cid[2:], None)
        if cid == NO_PLACE:  # on without a place: the coordinators choose the site
            state = _set(replace(state, place_misses=0), municipality=None, place=None,
                         site=None)
            return _advance(state, ctx, "place", [Say(Text(N_("intake.no_place_ok")))])
    if step == "place_move":
        if cid == "yes":
            return _outside(state, ctx, places.resolve(state.pending.get("municipality") or ""))
        s = replace(state, step="summary", editing=False, pending={})
        return Outcome(s, [Say(Text(N_("intake.move_kept")))] + ask(s, ctx))
    if step == "place_confirm":
        if cid == "yes":
            return _accept_place(state, ctx, state.pending.get("municipality"),
                                 state.pending.get("place"))
        s = replace(state, step="place", pending={})
        return Outcome(s, ask(s, ctx))
    if step == "place_choose":
        if cid == PLACE_OTHER:
            s = replace(state, step="place", pending={})
            return Outcome(s, ask(s, ctx))
        if cid.startswith("c:") and cid[2:].isdigit():
            cands = state.pending.get("candidates", [])
            i = int(cid[2:])
            if i < len(cands):
                muni = cands[i]["municipality"]
                if places.site_of(muni) is None:
                    return _leaving(state, ctx, places.resolve(muni))
                return _accept_place(state, ctx, muni, cands[i].get("place"))
    if step == "work_office":  # the follow-up's answer is the work question's
        return _advance(_set(state, work=cid), ctx, "work")
    if step in ("dsp", "dsp_duration", "work", "sensitive"):
        state = _set(state, **{step: cid})
        if step == "dsp" and cid != "yes":
            state = _set(state, dsp_duration=None)
        return _advance(state, ctx, step)
    if step == "sensitive_consent":
        state = _set(state, sensitive_consent=cid)
        if cid != "yes":
            state = _set(state, sensitive=None)
        return _advance(state, ctx, step)
    if step == "hopes" and cid == "skip":
        return _advance(_set(state, hopes=None), ctx, step)
    if step == "fit":
        if cid == "continue":
            return _advance(state, ctx, step)
        return Outcome(State(step="stopped"), [Say(Text(N_("intake.fit_stopped")))], [Forget()])
    if step == "name" and cid == "profile" and ctx.first_name and _valid_name(ctx.first_name):
        return _advance(_set(state, name=ctx.first_name.strip()), ctx, step)
    if step == "phone" and cid == "write_here":
        return _advance(_set(state, phone=None, call_time="write_here"), ctx, "call_time")
    if step == "call_time":
        if cid == "write_here":
            return _advance(_set(state, call_time=cid), ctx, step)
        if not state.answers.get("phone"):
            # A call needs a number: ask for it, then come back to the summary.
            s = _set(replace(state, step="phone"), call_time=cid)
            return _again(s, ctx, N_("intake.need_phone_for_call"))
        return _advance(_set(state, call_time=cid), ctx, step)
    if step == "summary":
        if cid == "confirm":
            return _submit(state, ctx)
        s = replace(state, step="edit_choose")
        return Outcome(s, ask(s, ctx))
    if step == "edit_choose":
        if cid == "back":
            s = replace(state, step="summary", editing=False)
            return Outcome(s, ask(s, ctx))
        s = replace(state, step=cid, editing=True, pending={})
        return Outcome(s, ask(s, ctx))
    return _again(state, ctx, N_("intake.not_understood"))


def say_again(state: State, ctx: Ctx) -> list[Say]:
    """What the person was last told, when the reply to their last message may have been lost
    (korak was stopped between the two): the open question; once their request is in, that it
    is in and where the coordinators are. Nothing changes."""
    if state.step in STEPS or state.step in SIDE:
        return ask(state, ctx)
    if state.step == "done" and ctx.open_request is not None:
        answers = {**ctx.open_request.answers, "site": ctx.open_request.site or ""}
        return _submit(State(step="summary", answers=answers, lang=state.lang), ctx).says
    return []


def _submit(state: State, ctx: Ctx) -> Outcome:
    answers = dict(state.answers)  # the group is worked out when shown, never stored
    answers["lang"] = known_language(state.lang)  # the card says which language to expect
    site = answers.get("site") or ""
    when = Text(N_("intake.within_days"), {"n": ctx.contact_days},
                plural=(N_("intake.within_days.plural"), ctx.contact_days))
    if answers.get("call_time") == "write_here":
        msgid = N_("intake.submitted_write")
    else:
        msgid = N_("intake.submitted_call")
    if not site:  # "Ne vem, pokličite me": the coordinators choose the site
        msgid = (N_("intake.submitted_write_no_site") if msgid == "intake.submitted_write"
                 else N_("intake.submitted_call_no_site"))
    text = Text(msgid, {"site": Text(SITE_LABEL.get(site, N_("answer.none"))), "when": when})
    address = Text(N_("intake.unit_address"), {"office_address": ctx.office_address})
    return Outcome(State(step="done"), [Say(text), Say(address)], [SubmitRequest(answers)])


def _step_text(state: State, ctx: Ctx, text: str) -> Outcome:
    step = state.step
    if step in ("place", "place_elsewhere", "place_choose", "place_confirm", "place_move"):
        if step in ("place_choose", "place_confirm", "place_move"):
            picked = _typed_choice(state, text)
            if picked is not None:
                return _step_choice(state, ctx, picked)
        # after "Drugje" as at the first question: an unknown place is asked again; only a
        # place known to be outside Koroška gets the referral
        return _on_place_resolution(replace(state, step="place"), ctx, places.resolve(text))
    if step == "hopes":
        cleaned = text.strip()
        if _typed_choice(state, cleaned) == "skip":
            return _step_choice(state, ctx, "skip")
        if len(cleaned) > MAX_HOPES:
            return _again(state, ctx, N_("intake.too_long"), {"max": MAX_HOPES})
        if not any(ch.isalnum() for ch in cleaned):
            return _again(state, ctx, N_("intake.not_understood"))
        return _advance(_set(state, hopes=cleaned), ctx, step)
    if step == "name":
        if not _valid_name(text):
            return _again(state, ctx, N_("intake.bad_name"), {"max": MAX_NAME})
        return _advance(_set(state, name=" ".join(text.split())), ctx, step)
    if step == "phone":
        if _typed_choice(state, text) == "write_here":
            return _step_choice(state, ctx, "write_here")
        phone = normalize_phone(text) or _phone_in(text)
        if phone is not None:  # a number typed, whatever else was offered
            return _after_phone(state, ctx, phone)
        own = channel_phone(ctx)
        if own is not None:  # "may she call you on 041 123 456?"
            reply = _this_number(text, state.lang)
            if reply == "yes":
                return _after_phone(state, ctx, own)
            if reply == "no":  # not on that one: which, then?
                return Outcome(state, [_ask_phone(ctx, N_("intake.ask_other_phone"))])
        return _again(state, ctx, N_("intake.bad_phone"))
    if step == "consent":
        offered, state = _language_offer(state, ctx, text)
        if offered is not None:
            return offered
    understood = understand(step, text, state.lang)
    if understood.choice is not None:
        return _step_choice(state, ctx, understood.choice)
    follow_up = FOLLOW_UPS.get((step, understood.narrows))
    if follow_up is not None:  # "ne delam": one question settles it
        s = replace(state, step=follow_up)
        return Outcome(s, ask(s, ctx))
    return _again(state, ctx, N_("intake.use_buttons"))


# a phone number inside a sentence: "moj telefon je 031 555 666"
_NUMBER_IN_TEXT = re.compile(r"(?<![\w+])(?:\+|00)?\d[\d /().-]{5,}\d(?!\w)")
_DIGIT = re.compile(r"\d")

# Whole answers that take the number shown, besides a plain yes (dialogs/understand.py reads
# that): "ta", "this one", and "lahko" (the question asks "may she call you?", so "she may" is a
# yes; understand.py counts agreeing words as nothing at the place question it borrows).
# Folded as dialogs.understand.fold folds, in any of korak's languages.
_TAKE_SHOWN = frozenset(fold(phrase) for phrase in (
    # sl
    "ta", "ta številka", "to številko", "na to številko", "na to", "lahko", "ja lahko",
    "lahko ja", "da lahko", "seveda lahko", "pokličite me", "kar pokličite",
    # en
    "this one", "this number", "that one", "that number", "on this number", "on this one",
    "she can", "yes she can", "call me", "yes call me", "please call me",
    # hbs
    "taj", "ovaj", "taj broj", "ovaj broj", "na taj broj", "na ovaj broj", "na taj", "na ovaj",
    "može", "da može", "zovite me", "nazovite me",
    # sq
    "ky", "ky numër", "këtë numër", "në këtë numër", "po mundet", "më telefononi",
    "më merrni në telefon",  # not "mundet" alone: also "maybe"
    # uk
    "цей", "цей номер", "на цей номер", "на цей", "так цей", "так цей номер",
    "так на цей номер", "так на цей", "так може", "можна", "так можна",
    "телефонуйте", "зателефонуйте", "подзвоніть", "дзвоніть",
    # not "може" alone ("maybe" as well as "she can"); but it folds as the hbs "može" does,
    # which this one list still takes; nor "може да" ("maybe yes"), hence no hbs "može da"
))
_PUNCTUATION = re.compile(r"[,.;:!?…\s]+")


def _this_number(text: str, lang: str | None) -> str | None:
    """The answer to "may the coordinator call you on this number?": "yes" for a clear yes
    ("da", "ja, seveda", "yes", "так", "ta", "lahko"), "no" for a clear no, else None. A text
    with a digit in it is a number being typed (or a button's position), never a yes or a no."""
    if _DIGIT.search(text):
        return None
    if _PUNCTUATION.sub(" ", fold(text)).strip() in _TAKE_SHOWN:
        return "yes"
    # a yes or a no as the place-confirming question reads it (also the yes to a language
    # offered): strict, a word it does not know makes it no answer; "lahko" is no yes there
    return choose("place_confirm", text, lang)


def _phone_in(text: str) -> str | None:
    """The one phone number a sentence holds, or None (none, or more than one)."""
    found = {normalize_phone(m.group()) for m in _NUMBER_IN_TEXT.finditer(text[:200])}
    found.discard(None)
    return found.pop() if len(found) == 1 else None


def _language_offer(state: State, ctx: Ctx, text: str) -> tuple[Outcome | None, State]:
    """A person's first words in another of korak's languages ("привіт", "hello", "dobar
    dan"): that language is offered at once, in that language, once; a yes to the offer
    takes it, a no stays, anything else is read as it would be (the state without the offer
    is returned with None)."""
    current = known_language(state.lang or ctx.suggested_lang)
    if LANG_OFFERED in state.pending:
        offered = state.pending[LANG_OFFERED]
        if offered is None:  # offered once already
            return None, state
        state = replace(state, pending={**state.pending, LANG_OFFERED: None})
        reply = choose("place_confirm", text, offered) if offered in LANGUAGES else None
        if reply == "yes" and detect(text) in (None, offered):
            return _switch_language(state, ctx, offered), state
        if reply == "no":
            return Outcome(state, ask(state, ctx)), state
        return None, state  # offered once: now read as an answer
    code = detect(text)
    if code is None or code == current:
        return None, state
    s = replace(state, pending={**state.pending, LANG_OFFERED: code})
    return Outcome(s, [Say(Text(LANGUAGE_OFFER[code]),
                           language_buttons(current, first=code))]), s


def _after_phone(state: State, ctx: Ctx, phone: str) -> Outcome:
    state = _set(state, phone=phone)
    if state.answers.get("call_time") == "write_here":
        state = _set(state, call_time=None)
    if state.answers.get("call_time") and not state.editing:
        # The number was asked for because a call time was chosen first.
        s = replace(state, step="summary", editing=False)
        return Outcome(s, ask(s, ctx))
    return _advance(state, ctx, "phone")


def _typed_choice(state: State, text: str) -> str | None:
    if state.step == "place_choose":
        cands = state.pending.get("candidates", [])
        opts = [(f"c:{i}", {places.fold(c.get("place") or ""), places.fold(c["municipality"])})
                for i, c in enumerate(cands)]
        return choose_among(text, [(cid, sorted(w)) for cid, w in opts])
    return choose(state.step, text, getattr(state, "lang", None))


# ----------------------------------------------------------------------------- the entry point


def _welcome(ctx: Ctx, payload: str | None, lang: str | None) -> Outcome:
    """A short start: who we are, what happens next, one line on data, and the first question
    right below it, with the other languages offered under it; the first time, the one
    Telegram's app is set to is used."""
    lang = known_language(lang or ctx.suggested_lang)
    state = State(step="consent", answers={"source": payload} if payload else {}, lang=lang)
    return Outcome(state, [Say(Text(N_("intake.welcome")))] + ask(state, ctx))


def _switch_language(state: State, ctx: Ctx, code: str) -> Outcome:
    """A language button (the welcome's, or /jezik's), pressed at any step."""
    if code not in LANGUAGES:
        return _again(state, ctx, N_("intake.stale_button"))
    if state.step == "consent":  # still at the start: the start again, in that language
        return _welcome(ctx, state.answers.get("source"), code)
    if state.step == "idle" and ctx.open_request is None and not ctx.requests:
        return _welcome(ctx, None, code)  # nothing begun yet: begin, in that language
    s = replace(state, lang=code)
    return Outcome(s, [Say(Text(N_("language.set")))]
                   + (ask(s, ctx) if s.step in STEPS or s.step in SIDE else []))


def _status(ctx: Ctx) -> Say:
    # the open request, or else the latest one (an enrolled participant asks too)
    req = ctx.open_request or (ctx.requests[-1] if ctx.requests else None)
    if req is None:
        return Say(Text(N_("status.none")))
    return Say(Text(N_("status.open"), {
        "id": req.id, "status": Text(REQUEST_STATUS.get(req.status, N_("answer.none"))), "date": req.created_at,
        "site": Text(SITE_LABEL.get(req.site or "", N_("answer.none")))}))


def _command(state: State, ctx: Ctx, name: str) -> Outcome:
    if name == "pomoc":
        says = [Say(office_text(N_("help.text"), ctx))]
        if state.step in STEPS or state.step in SIDE:
            says += _where(state, ctx)
        return Outcome(state, says)
    if name == "preklici":
        if state.step in STEPS or state.step in SIDE:
            return Outcome(State(step="stopped"), [Say(Text(N_("intake.cancelled")))], [Forget()])
        return Outcome(state, [Say(Text(N_("intake.nothing_to_cancel")))])
    if name == "status":
        if state.step in STEPS or state.step in SIDE:  # in the middle of the questions
            return Outcome(state, _where(state, ctx))
        return Outcome(state, [_status(ctx)])
    if name == "moji_podatki":
        return Outcome(state, my_data(state, ctx))
    if name == "jezik":
        return Outcome(state, [Say(Text(N_("language.choose")),
                                   language_buttons(state.lang or ctx.suggested_lang))])
    if name == "izbrisi":
        if not state.answers and not ctx.requests and ctx.open_request is None:
            return Outcome(state, [Say(Text(N_("delete.nothing")))])
        resume = state.resume if state.step in SIDE else state.step
        s = replace(state, step="confirm_delete", resume=resume)
        return Outcome(s, ask(s, ctx))
    return Outcome(state, [Say(Text(N_("intake.unknown_command")))] + ask(state, ctx))


def _where(state: State, ctx: Ctx) -> list[Say]:
    """Where a person in the middle of the intake is: not sent yet, and the open question."""
    msgid = N_("status.at_summary") if state.step == "summary" else N_("status.in_progress")
    return [Say(Text(msgid))] + ask(state, ctx)


def my_data(state: State, ctx: Ctx) -> list[Say]:
    """Everything stored about the resident: answers in progress and requests."""
    in_progress = {k: v for k, v in state.answers.items() if k != "source"}
    if not in_progress and not ctx.requests:
        return [Say(Text(N_("mydata.nothing")))]
    says = [Say(Text(N_("mydata.header")))]
    if in_progress and state.step != "done":
        lines = answered_lines(state.answers)
        says.append(Say(Text(N_("mydata.in_progress"), {"lines": Lines(lines)}) if lines
                        else Text(N_("mydata.consent_only"))))
    for req in ctx.requests:
        says.append(Say(Text(N_("mydata.request"), {
            "id": req.id, "date": req.created_at, **describe(req.answers),
            "status": Text(REQUEST_STATUS.get(req.status, N_("answer.none")))})))
    if ctx.requests:
        looks = tuple(Text(LOOK_LINE[look.what], {"id": look.request_id, "name": look.actor_name,
                                                  "at": look.at})
                      for look in ctx.looks if look.what in LOOK_LINE)
        says.append(Say(Text(N_("mydata.looks"), {"lines": Lines(looks)}) if looks
                        else Text(N_("mydata.no_looks"))))
    return says


LOOK_LINE = {"sensitive": N_("mydata.look_sensitive"), "card": N_("mydata.look_card")}

# /moji_podatki before the request is sent: one line per question answered so far
MYDATA_LINE = {
    "place": N_("mydata.line.place"), "dsp": N_("mydata.line.dsp"),
    "work": N_("mydata.line.work"), "sensitive": N_("mydata.line.sensitive"),
    "hopes": N_("mydata.line.hopes"), "name": N_("mydata.line.name"),
    "phone": N_("mydata.line.phone"), "call_time": N_("mydata.line.call_time"),
}


def answered_lines(answers: dict[str, Any]) -> tuple[Text, ...]:
    """The answers given so far, one line each, in the questions' order: a question not yet
    asked shows no line (no empty name, no "phone: none" before the phone was asked). A
    skipped question was answered: it shows what was chosen ("—", "brez telefona")."""
    described = describe(answers)
    asked = {
        "place": "site" in answers,
        "dsp": answers.get("dsp") is not None,
        "work": answers.get("work") is not None,
        "sensitive": answers.get("sensitive_consent") is not None and (
            answers.get("sensitive_consent") != "yes" or answers.get("sensitive") is not None),
        "hopes": "hopes" in answers,
        "name": bool(answers.get("name")),
        "phone": "phone" in answers,
        "call_time": answers.get("call_time") is not None,
    }
    return tuple(Text(msgid, {key: described[key]}) for key, msgid in MYDATA_LINE.items()
                 if asked[key])


def _side_choice(state: State, ctx: Ctx, cid: str) -> Outcome:
    back = replace(state, step=state.resume or "idle", resume=None)
    if state.step == "confirm_restart":
        if cid == "restart":
            return _welcome(ctx, state.answers.get("source"), state.lang or ctx.suggested_lang)
        return Outcome(back, ask(back, ctx) if back.step in STEPS else [])
    if state.step == "confirm_delete":
        if cid == "delete":
            return Outcome(State(step="idle"), [Say(Text(N_("delete.done")))], [DeleteAll()])
        says = [Say(Text(N_("delete.kept")))]
        return Outcome(back, says + (ask(back, ctx) if back.step in STEPS else []))
    return Outcome(back, ask(back, ctx))


def handle(state: State, event: Event, ctx: Ctx) -> Outcome:
    """One event in, the next state and what to say out. Never raises on odd input. The
    language chosen stays with the conversation whatever state comes next."""
    out = _handle(state, event, ctx)
    if out.state.lang is None and state.lang is not None:
        out.state = replace(out.state, lang=state.lang)
    return out


def _handle(state: State, event: Event, ctx: Ctx) -> Outcome:
    if isinstance(event, Start):
        if ctx.open_request is not None:
            return Outcome(state if state.step != "idle" else State(step="done"), [_status(ctx)])
        if state.step in STEPS and state.step != "consent":
            s = replace(state, step="confirm_restart", resume=state.step)
            return Outcome(s, ask(s, ctx))
        if state.step in SIDE:
            return Outcome(state, ask(state, ctx))
        return _welcome(ctx, event.payload, state.lang)
    if isinstance(event, Command):
        return _command(state, ctx, event.name)
    if isinstance(event, Typed):  # a command said in words, unless it answers the question
        word = command_word(event.text, state.lang or ctx.suggested_lang)
        if word == "preklici" and state.step in TERMINAL:
            word = None  # nothing to cancel: "cancel" after a request is for the coordinators
        if word is not None and (state.step not in OPTIONS
                                 or _typed_choice(state, event.text) is None):
            return _command(state, ctx, word)
    if isinstance(event, Choice) and event.id.startswith(LANG):
        return _switch_language(state, ctx, event.id[len(LANG):])
    if state.step == "outside" and isinstance(event, Typed):
        fixed = _correction(state, ctx, event.text or "")
        if fixed is not None:
            return fixed
    if state.step in TERMINAL:
        latest = ctx.open_request or (ctx.requests[-1] if ctx.requests else None)
        if state.step == "idle" and latest is None and isinstance(event, Typed):
            # the first words, before /start, in another language
            offered, state = _language_offer(state, ctx, event.text or "")
            if offered is not None:
                return offered
        if isinstance(event, Typed) and latest is not None and event.text.strip():
            # outside any question: a message for the coordinators, up to a limit an hour
            if not ctx.relay_on:  # no staff chat (korak chat): where to call or come instead
                return Outcome(state, [Say(office_text(N_("relay.no_staff"), ctx))])
            if ctx.relays_last_hour >= ctx.relay_limit:
                return _relay_limited(state, ctx)
            return Outcome(replace(state, relay_muted_until=None), [Say(Text(N_("relay.sent")))],
                           [RelayToStaff(latest.id, event.text.strip())])
        if state.step == "done" or ctx.open_request is not None:
            return Outcome(state, [Say(Text(N_("intake.already_submitted")))])
        return Outcome(state, [Say(Text(N_("intake.idle")))])
    if isinstance(event, Choice):
        if event.step != state.step:
            return _again(state, ctx, N_("intake.stale_button"))
        valid = _valid_choices(state, ctx)
        if event.id not in valid:
            return _again(state, ctx, N_("intake.stale_button"))
        if state.step in SIDE:
            return _side_choice(state, ctx, event.id)
        return _step_choice(state, ctx, event.id)
    if isinstance(event, Typed):
        text = event.text or ""
        if state.step in SIDE:
            picked = _typed_choice(state, text)
            if picked is not None:
                return _side_choice(state, ctx, picked)
            return _again(state, ctx, N_("intake.use_buttons"))
        return _step_text(state, ctx, text)
    if isinstance(event, SharedContact):
        if state.step != "phone":
            return _again(state, ctx, N_("intake.contact_not_now"))
        if not event.own:
            return _again(state, ctx, N_("intake.contact_not_own"))
        phone = normalize_phone(event.phone)
        if phone is None:
            return _again(state, ctx, N_("intake.bad_phone"))
        return _after_phone(state, ctx, phone)
    if isinstance(event, Media):
        return _again(state, ctx, N_("intake.media"))
    return _again(state, ctx, N_("intake.not_understood"))


def _relay_limited(state: State, ctx: Ctx) -> Outcome:
    """Over the hourly limit: one kind reply, then quiet for an hour (a flood of messages must
    not bury the cards of new requests, and must not be answered message by message)."""
    now = ctx.now.isoformat()
    if state.relay_muted_until is not None and state.relay_muted_until > now:
        return Outcome(state)
    until = (ctx.now + timedelta(hours=1)).isoformat()
    return Outcome(replace(state, relay_muted_until=until),
                   [Say(Text(N_("relay.limit"), {"n": ctx.relay_limit},
                             plural=(N_("relay.limit.plural"), ctx.relay_limit)))])


def _valid_choices(state: State, ctx: Ctx) -> set[str]:
    out: set[str] = set()
    for say in ask(state, ctx):
        for row in say.buttons:
            out |= {b.id for b in row}
    return out

