"""The resident's conversation, driven by plain calls: every path a resident can take."""

from datetime import datetime, timezone

import pytest

from dialogs.intake import (Choice, Command, Ctx, Media, RequestInfo, SharedContact, Start, State,
                            Typed, handle, preliminary_group)
from dialogs.phone import display_phone, normalize_phone
from dialogs.replies import DeleteAll, Forget, SubmitRequest

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)
OFFICE = "Meškova ulica 21, 2380 Slovenj Gradec"
CTX = Ctx(now=NOW, first_name="Ana", office_phone="02 123 45 67", office_address=OFFICE)


def shown(says):
    """What /moji_podatki shows of the answers in progress: each line's parameters together."""
    out = {}
    for say in says:
        lines = getattr(say.text, "params", {}).get("lines")
        for item in lines.items if lines else ():
            out.update(item.params)
    return out


class Talk:
    """A resident talking to the pure dialog."""

    def __init__(self, ctx: Ctx = CTX):
        self.state = State()
        self.ctx = ctx
        self.effects = []
        self.last = []

    def send(self, event):
        out = handle(self.state, event, self.ctx)
        self.state, self.last = out.state, out.says
        self.effects += out.effects
        return out

    def tap(self, choice):
        return self.send(Choice(self.state.step, choice))

    def type(self, text):
        return self.send(Typed(text))

    def msgids(self):
        return [s.text.msgid for s in self.last]

    def buttons(self):
        return [b.id for s in self.last for row in s.buttons for b in row]


def to_summary(t: Talk, place="Kotlje"):
    t.send(Start("letak"))
    t.tap("yes")
    t.type(place)
    t.tap("yes")            # dsp
    t.tap("long")           # how long
    t.tap("neither")        # work
    t.tap("skip")           # no sensitive question
    t.tap("skip")           # hopes
    t.tap("profile")        # name from Telegram
    t.type("041 123 456")
    t.tap("morning")
    assert t.state.step == "summary"


def test_happy_path_submits_one_request_with_site():
    t = Talk()
    out = t.send(Start("letak"))
    # a short start: the welcome, and the consent question with the short notice right below
    assert [s.text.msgid for s in out.says] == ["intake.welcome", "intake.consent_short"]
    assert t.state.step == "consent" and t.state.lang == "sl"
    to_summary(Talk())
    t = Talk()
    to_summary(t)
    summary = t.last[-1].text.params
    assert summary["place"] == "Kotlje" and summary["municipality"] == "Ravne na Koroškem"
    t.tap("confirm")
    assert t.state.step == "done"
    [submit] = [e for e in t.effects if isinstance(e, SubmitRequest)]
    a = submit.answers
    assert a["site"] == "slovenj-gradec" and a["phone"] == "+38641123456"
    assert preliminary_group(a) == "long_term_dsp" and a["source"] == "letak" and a["name"] == "Ana"
    assert "group" not in a  # worked out when shown, never stored (it can give away an answer)
    assert "intake.submitted_call" in t.msgids()


def test_double_tap_on_confirm_submits_once():
    t = Talk()
    to_summary(t)
    t.tap("confirm")
    t.send(Choice("summary", "confirm"))
    assert sum(isinstance(e, SubmitRequest) for e in t.effects) == 1
    assert t.msgids() == ["intake.already_submitted"]


def test_consent_declined_forgets_and_names_entry_points():
    t = Talk()
    t.send(Start())
    t.tap("no")
    assert t.state.step == "declined" and isinstance(t.effects[-1], Forget)
    assert t.msgids() == ["intake.consent_declined"]


def test_outside_koroska_gets_region_and_no_request():
    t = Talk()
    t.send(Start())
    t.tap("yes")
    t.type("živim v Celju")
    assert t.state.step == "outside"
    [say] = t.last
    assert say.text.params["in_region"].msgid == "region.in.savinjska"  # "v savinjski regiji"
    assert say.text.params["centre"] == "CSD Celje"
    assert not any(isinstance(e, SubmitRequest) for e in t.effects)


def test_elsewhere_button_then_unknown_place_is_still_kind():
    t = Talk()
    t.send(Start())
    t.tap("yes")
    t.tap("elsewhere")
    t.type("xyzzy")
    # issue 22: asked again, as an unknown place typed at the first question (was: referral)
    assert t.state.step == "place" and t.msgids() == ["intake.place_unknown", "intake.ask_place"]


def test_fuzzy_place_is_confirmed_and_no_goes_back():
    t = Talk()
    t.send(Start())
    t.tap("yes")
    t.type("Dravogard")
    assert t.state.step == "place_confirm"
    assert t.last[0].text.params["municipality"] == "Dravograd"
    t.tap("no")
    assert t.state.step == "place"
    t.type("Dravogard")
    t.type("ja")
    assert t.state.step == "dsp" and t.state.answers["site"] == "radlje-ob-dravi"


def test_ambiguous_place_offers_candidates():
    t = Talk()
    t.send(Start())
    t.tap("yes")
    t.type("Tolsti Vrh")
    assert t.state.step == "place_choose"
    labels = [b.label.params for s in t.last for row in s.buttons for b in row if b.id.startswith("c:")]
    assert {p["municipality"] for p in labels} >= {"Dravograd", "Ravne na Koroškem"}
    idx = [p["municipality"] for p in labels].index("Dravograd")
    t.tap(f"c:{idx}")
    assert t.state.answers["municipality"] == "Dravograd" and t.state.step == "dsp"


def test_unknown_place_asks_again_with_municipality_buttons():
    t = Talk()
    t.send(Start())
    t.tap("yes")
    t.type("asdf qwer")
    assert t.state.step == "place" and t.msgids()[0] == "intake.place_unknown"
    assert "m:Dravograd" in t.buttons() and "elsewhere" in t.buttons()


def test_not_a_fit_is_told_gently_and_can_still_leave_contact():
    t = Talk()
    t.send(Start())
    t.tap("yes")
    t.tap("m:Muta")
    t.tap("no")
    t.tap("employed")
    t.tap("skip")
    t.tap("skip")
    assert t.state.step == "fit" and t.msgids() == ["intake.not_a_fit"]
    t.tap("continue")
    assert t.state.step == "name"
    t.type("Marko")
    t.tap("write_here")
    assert t.state.step == "summary"
    t.tap("confirm")
    [submit] = [e for e in t.effects if isinstance(e, SubmitRequest)]
    assert preliminary_group(submit.answers) == "not_fit"
    assert submit.answers["call_time"] == "write_here"
    assert submit.answers.get("phone") is None


def test_sensitive_question_only_after_its_own_consent():
    t = Talk()
    t.send(Start())
    t.tap("yes")
    t.tap("m:Prevalje")
    t.tap("no")
    t.tap("neither")
    assert t.state.step == "sensitive_consent"
    t.tap("yes")
    assert t.state.step == "sensitive" and "no_answer" in t.buttons()
    t.tap("yes")
    assert preliminary_group(t.state.answers) == "women_roma"


def test_change_one_answer_without_starting_over():
    t = Talk()
    to_summary(t)
    t.tap("edit")
    t.tap("place")
    t.type("v Vuhredu")
    assert t.state.step == "summary"
    assert t.state.answers["site"] == "radlje-ob-dravi"
    assert t.state.answers["phone"] == "+38641123456" and t.state.answers["dsp"] == "yes"
    t.tap("edit")
    t.tap("dsp")
    t.tap("no")
    assert t.state.step == "summary" and t.state.answers["dsp_duration"] is None


def test_editing_dsp_to_yes_asks_the_follow_up_then_returns():
    t = Talk()
    t.send(Start())
    t.tap("yes")
    t.tap("m:Muta")
    t.tap("no")
    for choice in ("neither", "skip", "skip", "profile"):
        t.tap(choice)
    t.type("+386 41 123 456")
    t.tap("any")
    t.tap("edit")
    t.tap("dsp")
    t.tap("yes")
    assert t.state.step == "dsp_duration"
    t.tap("long")
    assert t.state.step == "summary"


@pytest.mark.parametrize("garbage", ["", "   ", "🙂", "x" * 5000, "\x00\x01", "/", "12345678"])
def test_garbage_at_every_step_repeats_the_question(garbage):
    steps = []
    t2 = Talk()
    t2.send(Start())
    for action in [("tap", "yes"), ("type", "Kotlje"), ("tap", "yes"), ("tap", "long"),
                   ("tap", "neither"), ("tap", "yes"), ("tap", "no_answer"), ("tap", "skip"),
                   ("type", "Ana"), ("type", "041 123 456"), ("tap", "afternoon")]:
        step = t2.state.step
        out = t2.send(Typed(garbage))
        steps.append(step)
        assert out.says, step
        if t2.state.step != step:
            # free-text steps accept some text; the ones with buttons must not move on
            assert step in ("hopes", "name"), (step, garbage)
            return
        getattr(t2, action[0])(action[1])
    assert t2.state.step == "summary"


def test_media_gets_a_reply_and_the_question_again():
    t = Talk()
    t.send(Start())
    t.tap("yes")
    out = t.send(Media("sticker"))
    assert out.says[0].text.msgid == "intake.media" and t.state.step == "place"
    assert out.says[-1].text.msgid == "intake.ask_place"


def test_typed_answers_are_understood():
    t = Talk()
    t.send(Start())
    t.type("ja")
    assert t.state.step == "place"
    t.type("Mežica")
    t.type("mhm")
    assert t.state.step == "dsp_duration"
    t.type("2")
    assert t.state.answers["dsp_duration"] == "long"
    t.type("ne vem")  # not an option for work: asked again
    assert t.state.step == "work"


def test_stale_button_answers_sensibly():
    t = Talk()
    t.send(Start())
    t.tap("yes")
    out = t.send(Choice("consent", "yes"))
    assert out.says[0].text.msgid == "intake.stale_button" and t.state.step == "place"
    out = t.send(Choice("place", "m:Nowhere"))
    assert out.says[0].text.msgid == "intake.stale_button"


def test_shared_contact_must_be_the_senders_own():
    t = Talk()
    to_summary(t)
    t.tap("edit")
    t.tap("phone")
    t.send(SharedContact("+38631999888", own=False))
    assert t.state.step == "phone" and t.msgids()[0] == "intake.contact_not_own"
    t.send(SharedContact("38631999888", own=True))
    assert t.state.step == "summary" and t.state.answers["phone"] == "+38631999888"


def test_restart_in_the_middle_asks_first():
    t = Talk()
    t.send(Start())
    t.tap("yes")
    t.tap("m:Muta")
    t.send(Start())
    assert t.state.step == "confirm_restart"
    t.tap("continue")
    assert t.state.step == "dsp" and t.state.answers["municipality"] == "Muta"
    t.send(Start())
    t.tap("restart")
    assert t.state.step == "consent" and "municipality" not in t.state.answers


def test_open_request_start_shows_status_instead_of_a_second_request():
    req = RequestInfo(7, "new", NOW, "slovenj-gradec")
    t = Talk(Ctx(now=NOW, open_request=req, requests=(req,)))
    out = t.send(Start())
    assert out.says[0].text.msgid == "status.open" and out.says[0].text.params["id"] == 7
    assert not t.effects


def test_cancel_my_data_and_delete():
    t = Talk()
    t.send(Start())
    t.tap("yes")
    t.tap("m:Muta")
    out = t.send(Command("moji_podatki"))
    assert shown(out.says)["place"] == "Muta"
    t.send(Command("izbrisi"))
    assert t.state.step == "confirm_delete"
    t.tap("keep")
    assert t.state.step == "dsp"
    t.send(Command("izbrisi"))
    t.tap("delete")
    assert isinstance(t.effects[-1], DeleteAll) and t.state.step == "idle"
    t = Talk()
    t.send(Start())
    t.send(Command("preklici"))
    assert isinstance(t.effects[-1], Forget) and t.state.step == "stopped"


def test_help_repeats_the_current_question():
    t = Talk()
    t.send(Start())
    t.tap("yes")
    out = t.send(Command("pomoc"))
    assert out.says[0].text.msgid == "help.text" and out.says[-1].text.msgid == "intake.ask_place"


def test_state_survives_json_round_trip():
    t = Talk()
    to_summary(t)
    again = State.from_json(t.state.to_json())
    assert again == t.state
    assert State.from_json({"step": "no-such-step"}) == State()


@pytest.mark.parametrize("typed,expected", [
    ("041 123 456", "+38641123456"), ("+386 41 123 456", "+38641123456"),
    ("00386 41 123 456", "+38641123456"), ("041-123-456", "+38641123456"),
    ("041/123 456", "+38641123456"), ("02 885 01 24", "+38628850124"),
    ("+386 (0)41 123 456", "+38641123456"), ("386 41 123 456", "+38641123456"),
    ("(041) 123 456", "+38641123456"), ("0038641123456", "+38641123456"),
    ("123", None), ("041 123 45", None), ("telefon", None),
    # from abroad: with + or 00 and the country code, or its digits alone (a shared contact)
    ("+385 91 234 5678", "+385912345678"), ("00385 91 234 5678", "+385912345678"),
    ("385912345678", "+385912345678"), ("+387 61 123 456", "+38761123456"),
    ("+381 64 123 4567", "+381641234567"), ("+382 67 123 456", "+38267123456"),
    ("+383 44 123 456", "+38344123456"), ("+389 70 123 456", "+38970123456"),
    ("+43 664 1234567", "+436641234567"), ("+43 (0)664 1234567", "+436641234567"),
    ("0049 151 23456789", "+4915123456789"), ("+380 67 123 4567", "+380671234567"),
    ("+36 20 123 4567", "+36201234567"), ("+39 312 345 6789", "+393123456789"),
    ("+385 91 234 56", None),         # too short for Croatia
    ("+385 9l 234 5678", None),       # a letter, never read as a digit
    ("+49 900 1234567", None),        # premium rate: nobody can call it back
    ("41 123 456", None),             # Slovenian without its 0 is not a foreign number
    ("+386 41 123 4567", None), ("38641123456 7", None),
    ("041 123 45³", None), ("+385 91 234 567٨", None),  # digits only as on a keyboard
])
def test_phone_numbers(typed, expected):
    assert normalize_phone(typed) == expected


def test_phone_display():
    assert display_phone("+38641123456") == "041 123 456"
    assert display_phone("+38628850124") == "02 885 01 24"
    assert display_phone("+385912345678") == "+385 91 234 5678"
    assert display_phone("+436641234567") == "+43 664 1234567"
    assert display_phone("+38761123456") == "+387 61 123 456"


def test_a_foreign_number_is_kept_and_shown_with_its_country_code():
    t = Talk()
    to_summary(t)
    t.tap("edit")
    t.tap("phone")
    t.type("+385 91 234 56")
    assert t.state.step == "phone" and t.msgids()[0] == "intake.bad_phone"
    t.type("00385 91 234 5678")
    assert t.state.step == "summary" and t.state.answers["phone"] == "+385912345678"
    assert t.last[0].text.params["phone"] == "+385 91 234 5678"
    out = t.send(Command("moji_podatki"))
    assert shown(out.says)["phone"] == "+385 91 234 5678"
    t.tap("edit")
    t.tap("phone")
    t.send(SharedContact("4915123456789", own=True))  # Telegram sends the digits without +
    assert t.state.answers["phone"] == "+4915123456789"
    assert t.last[0].text.params["phone"] == "+49 1512 3456789"


def test_the_programme_and_the_whole_notice_are_one_tap_away_from_consent():
    t = Talk()
    t.send(Start())
    assert t.buttons()[4:] == ["yes", "no", "more_programme", "more_data"]  # under the languages
    t.tap("more_programme")
    assert t.msgids() == ["intake.about_programme", "intake.about_sites", "intake.consent_short"]
    t.tap("more_data")
    assert t.msgids() == ["intake.privacy_notice", "intake.consent_short"]
    notice = t.last[0].text.params
    assert notice["retention"].params["n"] == 12 and t.state.step == "consent"
    t.tap("yes")
    assert t.state.step == "place" and t.state.answers["consent"] is True


def test_the_language_telegram_suggests_is_used_and_the_others_are_offered():
    t = Talk(Ctx(now=NOW, first_name="Ana", suggested_lang="en"))
    out = t.send(Start())
    assert t.state.lang == "en"
    offered = [b.id for row in out.says[-1].buttons for b in row]
    # the other languages first, in one row above the answers (not buttons five to eight)
    assert [b.id for b in out.says[-1].buttons[0]] == ["lang:sl", "lang:hbs", "lang:sq", "lang:uk"]
    assert offered[4:] == ["yes", "no", "more_programme", "more_data"]
    t.send(Choice("consent", "lang:uk"))  # from the welcome: the start again, in Ukrainian
    assert t.state.lang == "uk" and t.msgids() == ["intake.welcome", "intake.consent_short"]
    t.tap("yes")
    t.type("Kotlje")
    t.send(Command("jezik"))  # at any time: the choice, and on from the same question
    assert t.msgids() == ["language.choose"] and t.state.step == "dsp"
    t.send(Choice("consent", "lang:hbs"))  # an old message's button still works
    assert t.state.lang == "hbs" and t.msgids() == ["language.set", "intake.ask_dsp"]
    to_done = t
    for choice in ("yes", "long", "neither", "skip", "skip", "profile"):
        to_done.tap(choice)
    to_done.type("041 123 456")
    to_done.tap("morning")
    to_done.tap("confirm")
    [submit] = [e for e in to_done.effects if isinstance(e, SubmitRequest)]
    assert submit.answers["lang"] == "hbs" and to_done.state.lang == "hbs"  # kept when done


def test_an_unknown_language_button_is_stale_and_changes_nothing():
    t = Talk()
    t.send(Start())
    t.send(Choice("consent", "lang:xx"))
    assert t.state.lang == "sl" and t.msgids()[0] == "intake.stale_button"


# ----------------------------------------------------------------------------- commands in words


def test_a_command_said_in_words_is_the_command_where_it_answers_nothing():
    """Viber and WhatsApp have no slash commands: "pomoč", "moji podatki", "izbriši" typed as
    the whole message work like /pomoc, /moji_podatki and /izbrisi, on every channel."""
    t = Talk()
    t.send(Start(None))
    t.tap("yes")
    t.type("Kotlje")
    t.tap("yes")  # at the question on denarna socialna pomoč
    assert t.state.step == "dsp_duration"
    t.type("Pomoč")
    assert t.msgids()[0] == "help.text" and t.state.step == "dsp_duration"  # and asked again
    t.type("moji podatki")
    assert t.msgids()[0].startswith("mydata")
    t.type("izbriši")
    assert t.state.step == "confirm_delete"
    t.type("izbriši")  # now it answers the question: delete
    assert any(isinstance(e, DeleteAll) for e in t.effects)


def test_a_word_that_answers_the_question_is_the_answer_not_a_command():
    t = Talk()
    t.state = State(step="fit", answers={"consent": True}, lang="en")
    t.type("stop")  # "stop" at "do you want to go on anyway": the choice, not /preklici
    assert t.msgids() == ["intake.fit_stopped"]
    t.state = State(step="edit_choose", answers={"consent": True}, lang="hbs")
    t.type("status")  # "status" among the fields to fix: the work situation
    assert t.state.step == "work"


def test_after_the_request_a_command_word_is_not_passed_on_to_the_coordinators():
    info = RequestInfo(id=7, status="new", created_at=NOW, site="slovenj-gradec")
    t = Talk(Ctx(now=NOW, first_name="Ana", requests=(info,), open_request=info))
    t.state = State(step="done", answers={}, lang="uk")
    t.type("Статус")
    assert t.effects == [] and t.msgids() == ["status.open"]
    t.type("Дзвоніть після обіду")  # anything else is still passed on
    assert t.effects and t.msgids() == ["relay.sent"]
    t.type("скасувати")  # "cancel" (a session?) is for the coordinators to read
    assert len(t.effects) == 2 and t.msgids() == ["relay.sent"]


# ----------------------------------------------------------------------------- issue 22: dead ends

from dataclasses import replace as dc_replace  # noqa: E402
from datetime import timedelta  # noqa: E402


def at_place(t: Talk):
    t.send(Start())
    t.tap("yes")
    assert t.state.step == "place"


def test_after_drugje_an_unknown_place_is_asked_again_and_only_a_known_outside_one_is_referred():
    for typed in ("Meškova 21", "ne vem"):
        t = Talk()
        at_place(t)
        t.tap("elsewhere")
        t.type(typed)
        assert t.state.step == "place"
        assert t.msgids() == ["intake.place_unknown", "intake.ask_place"]
        assert not any(isinstance(e, Forget) for e in t.effects)
    t = Talk()
    at_place(t)
    t.tap("elsewhere")
    t.type("Maribor")  # known, and outside Koroška: the referral
    assert t.state.step == "outside" and t.msgids() == ["intake.outside_with_centre"]
    t = Talk()
    at_place(t)
    t.tap("elsewhere")
    t.type("Muta")  # a Koroška place after "Drugje" is taken as at the first question
    assert t.state.answers["site"] == "radlje-ob-dravi" and t.state.step == "dsp"


def test_after_two_unknown_places_there_is_a_way_on_without_one():
    t = Talk()
    at_place(t)
    t.type("xyzzy")
    assert "no_place" not in t.buttons()  # one try: the usual question again
    t.tap("elsewhere")
    t.type("Meškova 21")
    assert t.msgids() == ["intake.place_unknown_way_on", "intake.ask_place"]
    assert "no_place" in t.buttons() and len(t.buttons()) == 14
    t.tap("no_place")
    assert t.state.step == "dsp" and t.msgids() == ["intake.no_place_ok", "intake.ask_dsp"]
    t.tap("no")
    t.tap("neither")
    t.tap("skip")
    t.tap("skip")
    t.tap("profile")
    t.type("041 123 456")
    t.tap("morning")
    assert t.state.step == "summary"
    summary = t.last[-1].text.params
    assert summary["place"].msgid == "answer.no_place"
    assert summary["site"].msgid == "answer.site_by_coordinator"
    t.tap("confirm")
    [submit] = [e for e in t.effects if isinstance(e, SubmitRequest)]
    assert submit.answers["site"] is None and submit.answers["municipality"] is None
    assert t.msgids()[0] == "intake.submitted_call_no_site"


def test_a_place_found_after_misses_clears_the_way_on():
    t = Talk()
    at_place(t)
    t.type("xyzzy")
    t.type("qwerty")
    assert "no_place" in t.buttons()
    t.type("Mislinja")
    assert t.state.step == "dsp" and t.state.place_misses == 0


def test_changing_the_place_to_one_outside_koroska_asks_first_and_keeps_the_answers():
    t = Talk()
    to_summary(t)
    before = dict(t.state.answers)
    t.tap("edit")
    t.tap("place")
    t.type("Maribor")  # a slip of the thumb, or a real move
    assert t.state.step == "place_move" and t.state.answers == before
    assert t.msgids() == ["intake.ask_move_outside"]
    assert t.last[0].text.params["municipality"] == "Maribor"
    assert t.last[0].text.params["in_region"].msgid == "region.in.podravska"
    assert not any(isinstance(e, Forget) for e in t.effects)
    assert t.buttons() == ["yes", "back"]
    t.tap("back")  # nothing lost: back at the summary
    assert t.state.step == "summary" and t.state.answers == before and not t.state.editing
    assert t.msgids() == ["intake.move_kept", "intake.summary"]
    t.tap("edit")
    t.tap("place")
    t.type("Ljubljana")
    t.type("ne")  # typed: the same as the button back
    assert t.state.step == "summary" and t.state.answers == before
    t.tap("edit")
    t.tap("place")
    t.type("Maribor")
    t.type("Muta")  # a place typed instead: taken, back at the summary
    assert t.state.step == "summary" and t.state.answers["municipality"] == "Muta"
    t.tap("edit")
    t.tap("place")
    t.type("Maribor")
    t.tap("yes")  # they really moved: the referral, and nothing kept
    assert t.state.step == "outside" and t.msgids() == ["intake.outside_with_centre"]
    assert any(isinstance(e, Forget) for e in t.effects) and t.state.answers == {}


def test_a_koroska_place_soon_after_the_referral_starts_the_intake_again_there():
    t = Talk()
    at_place(t)
    t.type("Maribor")
    assert t.state.step == "outside"
    t.ctx = dc_replace(CTX, now=NOW + timedelta(minutes=4))
    t.type("oprostite, mislila sem Muta")
    assert t.state.step == "consent" and t.state.answers == {}  # nothing was kept
    assert t.msgids() == ["intake.correction", "intake.consent_short"]
    assert t.last[0].text.params == {"place": "Muta"}
    t.tap("yes")  # one tap: the consent, and the place
    assert t.state.step == "dsp" and t.state.answers["site"] == "radlje-ob-dravi"
    assert t.msgids() == ["intake.consent_thanks", "intake.place_ok_municipality", "intake.ask_dsp"]
    # later than ten minutes: a new start is needed, as before
    t = Talk()
    at_place(t)
    t.type("Maribor")
    t.ctx = dc_replace(CTX, now=NOW + timedelta(minutes=11))
    t.type("Muta")
    assert t.state.step == "outside" and t.msgids() == ["intake.idle"]
    # a place outside Koroška after the referral: no restart
    t = Talk()
    at_place(t)
    t.type("Maribor")
    t.type("Celje")
    assert t.state.step == "outside" and t.msgids() == ["intake.idle"]


def test_status_and_help_in_the_middle_of_the_intake_say_where_one_is():
    t = Talk()
    at_place(t)
    t.type("Kotlje")
    assert t.state.step == "dsp"
    before = t.state
    t.send(Command("status"))
    assert t.msgids() == ["status.in_progress", "intake.ask_dsp"] and t.state == before
    t.send(Command("pomoc"))
    assert t.msgids() == ["help.text", "status.in_progress", "intake.ask_dsp"]
    t.type("status")  # said in words, the same
    assert t.msgids() == ["status.in_progress", "intake.ask_dsp"]
    t = Talk()
    to_summary(t)
    t.send(Command("status"))
    assert t.msgids() == ["status.at_summary", "intake.summary"]
    # with nothing begun, as before
    t = Talk()
    t.send(Command("status"))
    assert t.msgids() == ["status.none"]


def test_new_state_fields_survive_storing():
    s = State(step="place", answers={"consent": True}, place_misses=2,
              outside_at=NOW.isoformat())
    assert State.from_json(s.to_json()) == s
    assert State.from_json({"step": "dsp"}).place_misses == 0  # a state stored before


# ----------------------------------------------------------------------------- issue 21


def at_work(lang="sl") -> Talk:
    t = Talk()
    t.send(Start())
    t.state.lang = lang
    t.tap("yes")
    t.type("Kotlje")
    t.tap("no")  # no DSP
    assert t.state.step == "work"
    return t


@pytest.mark.parametrize("lang,text,yes,no", [
    ("sl", "ne delam", "da", "ne"), ("sl", "nezaposlena", "ja", "nisem"),
    ("hbs", "nemam posao", "da", "ne"), ("hbs", "не радим", "да", "не"),
    ("uk", "не працюю", "так", "ні"), ("uk", "ne pratsiuiu", "tak", "ni"),
    ("sq", "s'kam punë", "po", "jo"), ("en", "I'm unemployed", "yes", "no"),
])
def test_i_dont_work_asks_the_one_follow_up_that_settles_it(lang, text, yes, no):
    t = at_work(lang)
    t.type(text)
    assert t.state.step == "work_office" and "work" not in t.state.answers
    assert t.msgids() == ["intake.ask_work_office"]
    assert t.buttons() == ["registered", "neither", "other"]
    t.type(yes)
    assert t.state.answers["work"] == "registered" and t.state.step == "sensitive_consent"
    t = at_work(lang)
    t.type(text)
    t.type(no)
    assert t.state.answers["work"] == "neither" and t.state.step == "sensitive_consent"
    assert preliminary_group(t.state.answers) == "other_inactive"
    t = at_work(lang)
    t.type(text)
    t.tap("other")
    assert t.state.answers["work"] == "other"


def test_the_follow_up_asks_again_what_it_cannot_read_and_returns_to_the_summary_when_editing():
    t = at_work()
    t.type("ne delam")
    t.type("hm, kaj?")
    assert t.state.step == "work_office" and t.msgids()[-1] == "intake.ask_work_office"
    t.type("upokojena sem")
    assert t.state.answers["work"] == "other"
    t = Talk()
    to_summary(t)
    t.tap("edit")
    t.tap("work")
    t.type("ne delam")
    t.tap("registered")
    assert t.state.step == "summary" and t.state.answers["work"] == "registered"


def test_a_bare_yes_at_the_work_question_is_asked_again():
    for lang, word in [("sq", "po"), ("uk", "так"), ("en", "yes"), ("hbs", "da"), ("sl", "ja"),
                       ("sq", "jo"), ("uk", "ні"), ("en", "no"), ("sl", "ne")]:
        t = at_work(lang)
        t.type(word)
        assert t.state.step == "work" and "work" not in t.state.answers, (lang, word)
        assert t.msgids()[0] == "intake.use_buttons"


def test_a_phone_number_inside_a_sentence_is_the_phone_number():
    t = Talk()
    to_summary(t)
    t.tap("edit")
    t.tap("phone")
    t.type("moj telefon je 031 555 666")
    assert t.state.answers["phone"] == "+38631555666" and t.state.step == "summary"
    t.tap("edit")
    t.tap("phone")
    t.type("031 555 666 ali 041 123 456")  # two numbers: which one?
    assert t.state.step == "phone" and t.msgids()[0] == "intake.bad_phone"


@pytest.mark.parametrize("text,lang", [("привіт", "uk"), ("përshëndetje", "sq"),
                                       ("hello", "en"), ("dobar dan", "hbs")])
def test_first_words_in_another_language_offer_it_at_once_in_that_language(text, lang):
    t = Talk()
    t.send(Start())
    assert t.state.lang == "sl"
    t.type(text)
    [say] = t.last
    assert say.text.msgid == f"language.offer.{lang}" and t.state.step == "consent"
    assert t.buttons()[0] == f"lang:{lang}" and "lang:sl" not in t.buttons()
    t.tap(f"lang:{lang}")
    assert t.state.lang == lang and t.msgids() == ["intake.welcome", "intake.consent_short"]


def test_a_yes_to_the_offer_takes_the_language_a_no_stays_and_it_is_offered_once():
    t = Talk()
    t.send(Start())
    t.type("привіт")
    t.type("так")  # yes, in Ukrainian
    assert t.state.lang == "uk" and t.msgids() == ["intake.welcome", "intake.consent_short"]
    t = Talk()
    t.send(Start())
    t.type("dobar dan")
    t.type("ne")
    assert t.state.lang == "sl" and t.msgids() == ["intake.consent_short"]
    t.type("dobar dan")  # offered once
    assert t.msgids()[0] == "intake.use_buttons" and t.state.step == "consent"
    t.type("ja")
    assert t.state.step == "place" and t.state.answers["consent"] is True


def test_words_two_languages_share_offer_nothing():
    for text in ("zdravo", "ok", "Zdravo!", "hvala", "ja"):
        t = Talk()
        t.send(Start())
        t.type(text)
        assert not any(m.startswith("language.offer") for m in t.msgids()), text
    t = Talk(Ctx(now=NOW, suggested_lang="uk"))
    t.send(Start())
    t.type("привіт")  # the language it is already in
    assert t.msgids()[0] == "intake.use_buttons"


def test_first_words_before_start_offer_the_language_and_a_tap_begins_in_it():
    t = Talk()
    t.type("hello")
    assert t.msgids() == ["language.offer.en"] and t.state.step == "idle"
    t.tap("lang:en")
    assert t.state.step == "consent" and t.state.lang == "en"
    assert t.msgids() == ["intake.welcome", "intake.consent_short"]
    t = Talk()
    t.type("zdravo")
    assert t.msgids() == ["intake.idle"]


def test_a_place_written_in_cyrillic_is_found_in_the_conversation():
    for text, municipality in [("Я живу в Муті", "Muta"), ("Словењ Градец", "Slovenj Gradec"),
                               ("Дравоград", "Dravograd")]:
        t = Talk()
        t.send(Start())
        t.tap("yes")
        t.type(text)
        assert t.state.answers["municipality"] == municipality, text
    t = Talk()
    t.send(Start())
    t.tap("yes")
    t.type("Љубљана")
    assert t.state.step == "outside"
