"""Issue 20: the number is known from the sender. Where the channel gives the person's number
(WhatsApp: Ctx.channel_phone), the phone question shows it ("may the coordinator call you on
041 123 456?"), its button carries it, a clear yes typed takes it, and another number typed
still replaces it. Where it gives none (Telegram, Viber) the question is what it was."""

from datetime import datetime, timezone

import pytest

from dialogs.intake import (MAX_PHONE_IN_LABEL, Choice, Ctx, SharedContact, Start, State, Typed,
                            ask, handle)
from dialogs.phone import display_phone

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)
OWN = "+38641123456"
WHATSAPP = Ctx(now=NOW, first_name="Ana", channel_phone=OWN)
TELEGRAM = Ctx(now=NOW, first_name="Ana")


def at_phone(lang="sl", **answers):
    return State(step="phone", lang=lang, answers={"consent": True, **answers})


def the_question(state, ctx):
    [say] = ask(state, ctx)
    return say


def stored(out):
    return out.state.answers.get("phone")


# ----------------------------------------------------------------------------- the question


def test_the_whatsapp_phone_question_shows_the_number_and_its_button_carries_it():
    say = the_question(at_phone(), WHATSAPP)
    assert say.text.msgid == "intake.ask_phone_known"
    assert say.text.params == {"phone": "041 123 456"}  # as display_phone writes it
    assert say.share_contact.msgid == "button.share_this_phone"
    assert say.share_contact.params == {"phone": "041 123 456"}
    assert [b.id for row in say.buttons for b in row] == ["write_here"]  # still there


def test_a_foreign_number_is_shown_with_its_country_code():
    say = the_question(at_phone(), Ctx(now=NOW, channel_phone="+385912345678"))
    assert say.text.params == {"phone": "+385 91 234 5678"}
    assert say.share_contact.params == {"phone": "+385 91 234 5678"}


@pytest.mark.parametrize("number", ["+5491123456789", "+497211234567890"])
def test_a_number_too_long_for_the_button_keeps_my_number_on_it(number):
    """18 characters and more would not fit WhatsApp's 20 beside 📞: the button says "📞 Moja
    številka" (a number cut short is worse than none); the text still shows the number."""
    assert len(display_phone(number)) > MAX_PHONE_IN_LABEL
    say = the_question(at_phone(), Ctx(now=NOW, channel_phone=number))
    assert say.text.msgid == "intake.ask_phone_known"
    assert say.text.params == {"phone": display_phone(number)}
    assert say.share_contact.msgid == "button.share_phone" and not say.share_contact.params


def test_telegram_and_viber_ask_as_before():
    say = the_question(at_phone(), TELEGRAM)
    assert say.text.msgid == "intake.ask_phone" and not say.text.params
    assert say.share_contact.msgid == "button.share_phone" and not say.share_contact.params
    assert [b.id for row in say.buttons for b in row] == ["write_here"]


@pytest.mark.parametrize("given", ["", "+1", "38641", "nekaj", "+3861", "+80012345678"])
def test_a_channel_number_that_is_no_callable_number_is_not_offered(given):
    assert the_question(at_phone(), Ctx(now=NOW, channel_phone=given or None)) == \
        the_question(at_phone(), TELEGRAM)


# ----------------------------------------------------------------------------- the answers


def test_a_tap_on_the_button_stores_that_number():
    out = handle(at_phone(), SharedContact(OWN, True), WHATSAPP)
    assert stored(out) == OWN and out.state.step == "call_time"


@pytest.mark.parametrize("lang,typed", [
    ("sl", "da"), ("sl", "Da."), ("sl", "ja"), ("sl", "ja, seveda"), ("sl", "ok"),
    ("sl", "ta"), ("sl", "Ta številka"), ("sl", "na to številko"), ("sl", "lahko"),
    ("sl", "Ja, lahko"), ("sl", "pokličite me"), ("sl", "👍"), ("sl", "yes"),
    ("en", "yes"), ("en", "Yes!"), ("en", "sure"), ("en", "this one"), ("en", "call me"),
    ("hbs", "da"), ("hbs", "može"), ("hbs", "ovaj broj"),
    ("sq", "po"), ("sq", "po, mundet"), ("sq", "ky numër"),
    ("uk", "так"), ("uk", "tak"), ("uk", "цей номер"), ("uk", "можна"),
])
def test_a_clear_yes_typed_takes_the_number_shown(lang, typed):
    out = handle(at_phone(lang), Typed(typed), WHATSAPP)
    assert stored(out) == OWN, (lang, typed, [s.text.msgid for s in out.says])
    assert out.state.step == "call_time"
    assert [s.text.msgid for s in out.says] == ["intake.ask_call_time"]


@pytest.mark.parametrize("typed", ["031 555 666", "moja številka je 031 555 666",
                                   "da, 031 555 666", "+386 31 555 666"])
def test_another_number_typed_replaces_the_one_shown(typed):
    out = handle(at_phone(), Typed(typed), WHATSAPP)
    assert stored(out) == "+38631555666" and out.state.step == "call_time"


def test_a_no_asks_for_the_other_number_with_the_same_buttons():
    out = handle(at_phone(), Typed("ne"), WHATSAPP)
    assert stored(out) is None and out.state.step == "phone"
    [say] = out.says
    assert say.text.msgid == "intake.ask_other_phone"
    assert say.share_contact == the_question(at_phone(), WHATSAPP).share_contact
    assert say.buttons == the_question(at_phone(), WHATSAPP).buttons
    out = handle(out.state, Typed("031 555 666"), WHATSAPP)
    assert stored(out) == "+38631555666"
    for lang, no in (("en", "no"), ("hbs", "ne"), ("sq", "jo"), ("uk", "ні")):
        out = handle(at_phone(lang), Typed(no), WHATSAPP)
        assert [s.text.msgid for s in out.says] == ["intake.ask_other_phone"], lang


@pytest.mark.parametrize("typed", ["hm", "ne vem", "da 041", "041", "2", "lahko hvala", "kdo?",
                                   "da ne", "po"])
def test_anything_unclear_is_asked_again_and_nothing_is_stored(typed):
    out = handle(at_phone(), Typed(typed), WHATSAPP)
    assert stored(out) is None and out.state.step == "phone"
    assert [s.text.msgid for s in out.says] == ["intake.bad_phone", "intake.ask_phone_known"]


@pytest.mark.parametrize("typed", ["raje mi pišite", "ne kličite me", "raje ne"])
def test_writing_here_is_still_chosen_in_words(typed):
    out = handle(at_phone(), Typed(typed), WHATSAPP)
    assert stored(out) is None and out.state.answers["call_time"] == "write_here"


def test_the_button_to_write_here_still_works():
    out = handle(at_phone(), Choice("phone", "write_here"), WHATSAPP)
    assert out.state.answers["call_time"] == "write_here" and stored(out) is None


def test_on_telegram_a_yes_is_no_number_as_before():
    out = handle(at_phone(), Typed("da"), TELEGRAM)
    assert stored(out) is None
    assert [s.text.msgid for s in out.says] == ["intake.bad_phone", "intake.ask_phone"]
    out = handle(at_phone(), Typed("ne"), TELEGRAM)
    assert [s.text.msgid for s in out.says] == ["intake.bad_phone", "intake.ask_phone"]
    out = handle(at_phone(), SharedContact("+38631000111", True), TELEGRAM)
    assert stored(out) == "+38631000111"


# ----------------------------------------------------------------------------- in the whole talk


def test_the_whole_intake_on_whatsapp_with_a_yes_at_the_phone_question():
    state, out = State(), None
    for event in (Start("letak"), Choice("consent", "yes"), Typed("Kotlje"), Choice("dsp", "no"),
                  Choice("work", "neither"), Choice("sensitive_consent", "skip"),
                  Choice("hopes", "skip"), Choice("name", "profile")):
        out = handle(state, event, WHATSAPP)
        state = out.state
    assert state.step == "phone" and out.says[-1].text.params == {"phone": "041 123 456"}
    out = handle(state, Typed("da"), WHATSAPP)
    out = handle(out.state, Choice("call_time", "morning"), WHATSAPP)
    assert out.state.step == "summary"
    assert out.says[-1].text.params["phone"] == "041 123 456"
    assert out.state.answers["phone"] == OWN


def test_a_call_time_chosen_first_then_yes_goes_back_to_the_summary():
    state = State(step="call_time", lang="sl", editing=False, answers={
        "consent": True, "site": "slovenj-gradec", "municipality": "Mislinja",
        "place": "Mislinja", "dsp": "no", "work": "neither", "sensitive_consent": "skip",
        "hopes": None, "name": "Ana", "phone": None, "call_time": "write_here"})
    out = handle(state, Choice("call_time", "afternoon"), WHATSAPP)
    assert out.state.step == "phone"
    assert [s.text.msgid for s in out.says] == ["intake.need_phone_for_call",
                                                "intake.ask_phone_known"]
    out = handle(out.state, Typed("ja"), WHATSAPP)
    assert out.state.step == "summary" and out.state.answers["phone"] == OWN
    assert out.state.answers["call_time"] == "afternoon"


def test_changing_the_phone_at_the_summary_offers_the_number_and_takes_another():
    answers = {"consent": True, "site": "slovenj-gradec", "municipality": "Mislinja",
               "place": "Mislinja", "dsp": "no", "work": "neither", "sensitive_consent": "skip",
               "hopes": None, "name": "Ana", "phone": OWN, "call_time": "any"}
    out = handle(State(step="edit_choose", lang="sl", answers=answers),
                 Choice("edit_choose", "phone"), WHATSAPP)
    assert out.says[-1].text.msgid == "intake.ask_phone_known"
    out = handle(out.state, Typed("031 555 666"), WHATSAPP)
    assert out.state.step == "summary" and out.state.answers["phone"] == "+38631555666"
    out = handle(State(step="edit_choose", lang="sl", answers=out.state.answers),
                 Choice("edit_choose", "phone"), WHATSAPP)
    out = handle(out.state, Typed("da"), WHATSAPP)
    assert out.state.step == "summary" and out.state.answers["phone"] == OWN
