"""What the pure layer hands the catalog (issue 21): the office's phone and address from the
settings, a region said whole, answers as answers (not button labels), /moji_podatki with only
what was answered, a time of day as a time, and lengths of time in the case they need. How they
read in each language is tests/test_catalog.py."""

import csv
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from dialogs import durations
from dialogs.intake import (ANSWER_TEXT, OFFICE_TEXT, REGION_IN, Choice, Command, Ctx,
                            RequestInfo, Start, State, Typed, describe, describe_for_staff,
                            handle, in_region)
from dialogs.options import OPTIONS
from dialogs.replies import RelayToStaff, Text
from dialogs.schedule import when

ROOT = Path(__file__).resolve().parent.parent.parent
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)
OFFICE = "Meškova ulica 21, 2380 Slovenj Gradec"
WITH_PHONE = Ctx(now=NOW, first_name="Ana", office_phone="02 885 01 24", office_address=OFFICE)
NO_PHONE = Ctx(now=NOW, first_name="Ana", office_address=OFFICE)


def said(ctx, *events, state=None):
    state = state or State()
    out = None
    for event in events:
        out = handle(state, event, ctx)
        state = out.state
    return out


def tap(step, cid):
    return Choice(step, cid)


# ----------------------------------------------------------------------------- 1. the office


def test_help_gives_the_office_phone_and_address_from_the_settings():
    [say] = said(WITH_PHONE, Command("pomoc")).says
    assert say.text.msgid == "help.text"
    assert say.text.params == {"office_phone": "02 885 01 24", "office_address": OFFICE}


def test_without_a_phone_the_texts_say_only_where_to_come():
    [say] = said(NO_PHONE, Command("pomoc")).says
    assert say.text.msgid == "help.text_no_phone"
    assert say.text.params == {"office_address": OFFICE}
    out = said(NO_PHONE, Start(), tap("consent", "no"))
    assert [s.text.msgid for s in out.says] == ["intake.consent_declined_no_phone"]
    # a phone of spaces is no phone
    blank = Ctx(now=NOW, office_phone="  ", office_address=OFFICE)
    assert said(blank, Command("pomoc")).says[0].text.msgid == "help.text_no_phone"


def test_a_declined_consent_says_where_to_call_or_come():
    out = said(WITH_PHONE, Start(), tap("consent", "no"))
    [say] = out.says
    assert say.text.msgid == "intake.consent_declined"
    assert say.text.params == {"office_phone": "02 885 01 24", "office_address": OFFICE}


def test_a_message_nobody_can_receive_says_where_to_call_or_come():
    """No staff chat (`korak chat`): a message after the request is passed to nobody; the
    person is told so, with the office's phone and address, and nothing is queued."""
    req = RequestInfo(3, "new", NOW, "slovenj-gradec")
    for ctx, msgid in ((WITH_PHONE, "relay.no_staff"), (NO_PHONE, "relay.no_staff_no_phone")):
        ctx = Ctx(**{**ctx.__dict__, "open_request": req, "requests": (req,), "relay_on": False})
        out = handle(State(step="done"), Typed("Ali me lahko pokličete jutri?"), ctx)
        assert [s.text.msgid for s in out.says] == [msgid] and not out.effects
        assert out.says[0].text.params["office_address"] == OFFICE
    # with a staff chat it is passed on, as before
    ctx = Ctx(now=NOW, open_request=req, requests=(req,))
    out = handle(State(step="done"), Typed("Ali me lahko pokličete jutri?"), ctx)
    assert [type(e) for e in out.effects] == [RelayToStaff]


def test_after_the_request_the_office_address_comes_from_the_settings():
    out = said(WITH_PHONE, Start(), tap("consent", "yes"), Typed("Kotlje"), tap("dsp", "no"),
               tap("work", "neither"), tap("sensitive_consent", "skip"), tap("hopes", "skip"),
               tap("name", "profile"), Typed("041 123 456"), tap("call_time", "morning"),
               tap("summary", "confirm"))
    assert out.says[-1].text.msgid == "intake.unit_address"
    assert out.says[-1].text.params == {"office_address": OFFICE}


def test_every_office_text_has_its_variant_without_a_phone():
    assert set(OFFICE_TEXT) == {"help.text", "intake.consent_declined", "relay.no_staff"}
    assert all(v == k + "_no_phone" for k, v in OFFICE_TEXT.items())


# ----------------------------------------------------------------------------- 2. regions


def test_every_statistical_region_has_its_phrase():
    with (ROOT / "dialogs/data/municipalities.csv").open(encoding="utf-8") as fh:
        regions = {row["statistical_region"] for row in csv.DictReader(fh)}
    assert len(regions) == 12 and regions == set(REGION_IN)
    assert in_region("Podravska").msgid == "region.in.podravska"
    assert in_region("Jugovzhodna Slovenija").msgid == "region.in.jugovzhodna-slovenija"
    assert in_region("Atlantida").msgid == in_region(None).msgid == "region.in.other"


def test_the_referral_places_the_municipality_in_its_region():
    out = said(WITH_PHONE, Start(), tap("consent", "yes"), Typed("Maribor"))
    [say] = out.says
    assert say.text.msgid == "intake.outside_with_centre"
    assert say.text.params["in_region"] == Text("region.in.podravska")
    assert "region" not in say.text.params  # no bare nominative left to put in a sentence


# ----------------------------------------------------------------------------- 3. answers


def test_every_choice_is_described_by_an_answer_text_not_its_button():
    for step, choices in ANSWER_TEXT.items():
        assert set(choices) == {cid for cid, _ in OPTIONS[step]}, step
        assert all(msgid == f"answer.{step}.{cid}" for cid, msgid in choices.items())
    # the follow-up to "ne delam" stores the work question's ids
    assert {cid for cid, _ in OPTIONS["work_office"]} <= set(ANSWER_TEXT["work"])
    answers = {"site": "slovenj-gradec", "municipality": "Mislinja", "place": "Mislinja",
               "dsp": "yes", "dsp_duration": "short", "work": "neither",
               "sensitive_consent": "yes", "sensitive": "no_answer", "hopes": None,
               "name": "Ana", "phone": "+38641123456", "call_time": "afternoon"}
    d = describe(answers)
    assert d["dsp"] == Text("answer.dsp_with_duration", {
        "answer": Text("answer.dsp.yes"), "duration": Text("answer.dsp_duration.short")})
    assert d["work"] == Text("answer.work.neither")
    assert d["sensitive"] == Text("answer.sensitive.no_answer")
    assert d["call_time"] == Text("answer.call_time.afternoon")
    staff = describe_for_staff(answers)  # the card: the same answer texts
    assert staff["call_time"] == Text("answer.call_time.afternoon") and "sensitive" not in staff

    def msgids(value):
        if isinstance(value, Text):
            yield value.msgid
            for v in value.params.values():
                yield from msgids(v)

    assert not [m for v in d.values() for m in msgids(v) if m.startswith("button.")]


def test_yes_without_its_duration_yet_is_just_yes():
    assert describe({"dsp": "yes"})["dsp"] == Text("answer.dsp.yes")


# ----------------------------------------------------------------------------- 4. /moji_podatki


def lines_of(out):
    [_, say] = out.says
    if say.text.msgid == "mydata.consent_only":
        return []
    assert say.text.msgid == "mydata.in_progress"
    return [item.msgid for item in say.text.params["lines"].items]


def test_my_data_before_the_questions_shows_only_what_was_answered():
    out = said(WITH_PHONE, Start(), tap("consent", "yes"), Command("moji_podatki"))
    assert out.says[1].text.msgid == "mydata.consent_only"  # no empty name, no "phone: none"
    state = said(WITH_PHONE, Start(), tap("consent", "yes"), Typed("Kotlje"),
                 tap("dsp", "yes")).state
    out = said(WITH_PHONE, Command("moji_podatki"), state=state)
    assert lines_of(out) == ["mydata.line.place", "mydata.line.dsp"]
    [_, say] = out.says
    assert say.text.params["lines"].items[1].params["dsp"] == Text("answer.dsp.yes")
    # a skipped question was answered: it shows; the name not yet
    state = said(WITH_PHONE, tap("dsp_duration", "long"), tap("work", "employed"),
                 tap("sensitive_consent", "skip"), tap("hopes", "skip"),
                 tap("fit", "continue"), state=state).state
    assert state.step == "name"
    out = said(WITH_PHONE, Command("moji_podatki"), state=state)
    assert lines_of(out) == ["mydata.line.place", "mydata.line.dsp", "mydata.line.work",
                             "mydata.line.sensitive", "mydata.line.hopes"]
    # "write to me here" at the phone question: the phone was answered (none), the name too
    state = said(WITH_PHONE, tap("name", "profile"), tap("phone", "write_here"),
                 state=state).state
    out = said(WITH_PHONE, Command("moji_podatki"), state=state)
    assert lines_of(out)[-3:] == ["mydata.line.name", "mydata.line.phone",
                                  "mydata.line.call_time"]
    assert out.says[1].text.params["lines"].items[-2].params["phone"] == Text("answer.no_phone")


# ----------------------------------------------------------------------------- 5. times


def test_the_time_of_a_session_is_a_time_each_language_writes():
    lj = ZoneInfo("Europe/Ljubljana")
    w = when(datetime(2026, 12, 3, 17, 30, tzinfo=lj), datetime(2026, 12, 2, 9, 0, tzinfo=lj), lj)
    assert w.params["time"] == time(17, 30) and w.params["time"].tzinfo is None


# ----------------------------------------------------------------------------- 6. durations


def test_a_length_of_time_is_said_in_the_unit_a_person_would_use():
    def said_as(delta, ago=False):
        t = (durations.how_long_ago if ago else durations.how_long)(delta)
        assert t.plural == (durations.PLURAL[t.msgid], t.params["n"])
        return t.msgid.rsplit(".", 1)[1], t.params["n"]

    assert said_as(timedelta(seconds=5)) == ("minutes", 1)  # never "60 sekund"
    assert said_as(timedelta(seconds=60)) == ("minutes", 1)
    assert said_as(timedelta(minutes=89)) == ("minutes", 89)
    assert said_as(timedelta(minutes=90)) == ("hours", 2)
    assert said_as(timedelta(hours=35)) == ("hours", 35)
    assert said_as(timedelta(hours=36)) == ("days", 2)
    assert said_as(timedelta(days=59)) == ("days", 59)
    assert said_as(timedelta(days=61)) == ("months", 2)
    assert said_as(timedelta(days=400)) == ("months", 13)
    assert said_as(-timedelta(hours=1)) == ("minutes", 1)  # a clock a little behind
    assert said_as(timedelta(hours=3), ago=True) == ("hours", 3)
    assert durations.how_long_ago(timedelta(hours=3)).msgid == "duration.ago.hours"
