"""Issue 20: on WhatsApp the number is known from the sender. IntakeService gives the dialog the
number of a WhatsApp person (their address), the phone question shows it and its reply button
carries it (within WhatsApp's 20 characters in every language), a tap or a typed yes stores it,
another number typed replaces it; Telegram's and Viber's phone question stay as they were."""

import re

import pytest
from aiogram.types import ReplyKeyboardMarkup

from bot.channels.base import choice_token
from bot.channels.whatsapp import MAX_BUTTON_TITLE, OWN_NUMBER, WhatsApp, message_event, size
from bot.config import Settings
from bot.i18n import Texts
from bot.residents.intake import Person, channel_phone
from dialogs.intake import MAX_PHONE_IN_LABEL, Choice, Ctx, Start, State, Typed, ask, handle
from dialogs.languages import LANGUAGES
from dialogs.phone import display_phone
from dialogs.replies import Text

from .conftest import NOW
from .test_handlers import U, to_phone_step

TEXTS = Texts(Settings(_env_file=None).locales_dir)
WA_ID = "38641123456"
PERSON = Person("whatsapp:" + WA_ID)
# the longest numbers a person plausibly writes from, as display_phone writes them: Slovenian
# mobile and landline, and the countries people in Koroška come from or work in
PLAUSIBLE = ["+38641123456", "+38628850124", "+385912345678", "+38761123456", "+381641234567",
             "+38344123456", "+355691234567", "+380671234567", "+436641234567",
             "+4366412345678", "+4915123456789", "+393123456789", "+41791234567",
             "+8613812345678", "+9647901234567"]


def adapter():
    return WhatsApp("token", "1", "secret", "verify")


async def to_the_phone_question(h, person=PERSON, lang="sl"):
    events = [Start()]
    if lang != "sl":
        events.append(Choice("consent", "lang:" + lang))
    events += [Choice("consent", "yes"), Typed("Kotlje"), Choice("dsp", "no"),
               Choice("work", "neither"), Choice("sensitive_consent", "skip"),
               Choice("hopes", "skip"), Typed("Ana")]
    done = None
    for event in events:
        done = await h.service.handle_with_step(person, event)
    assert done.step == "phone", done
    return done


def drawn(h, done):
    """The phone question as WhatsApp shows it: (body, [(title, id)])."""
    bodies = adapter().render(h.texts.lang(done.lang), done.says, done.step)
    interactive = bodies[-1]["interactive"]
    assert interactive["type"] == "button"
    return interactive["body"]["text"], [(b["reply"]["title"], b["reply"]["id"])
                                         for b in interactive["action"]["buttons"]]


async def phone_of(h, person=PERSON):
    return (await h.service.current_step(person.key)).answers.get("phone")


def test_the_number_comes_from_a_whatsapp_address_only():
    assert channel_phone("whatsapp:38641123456") == "+38641123456"
    assert channel_phone("whatsapp:385912345678") == "+385912345678"
    assert channel_phone("whatsapp:+38641123456") == "+38641123456"
    assert channel_phone("telegram:38641123456") is None
    assert channel_phone("viber:38641123456") is None
    assert channel_phone("viber:mK3o0uA1Vhz/OhkxiW4r1A==") is None
    for no_number in ("whatsapp:1", "whatsapp:", "whatsapp:abc", "whatsapp:3861234"):
        assert channel_phone(no_number) is None, no_number


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_the_whatsapp_phone_question_shows_the_number_and_a_tap_stores_it(h, lang):
    done = await to_the_phone_question(h, lang=lang)
    body, buttons = drawn(h, done)
    assert "041 123 456" in body
    assert buttons[0] == ("📞 041 123 456", choice_token("phone", OWN_NUMBER))
    assert buttons[1][1] == choice_token("phone", "write_here")
    # the tap, as WhatsApp's webhook brings it
    _, event = message_event({"type": "interactive", "interactive": {
        "type": "button_reply", "button_reply": {"id": buttons[0][1], "title": buttons[0][0]}}},
        WA_ID)
    done = await h.service.handle_with_step(PERSON, event)
    assert done.step == "call_time"
    assert await phone_of(h) == "+38641123456"


@pytest.mark.parametrize("typed", ["da", "Ja, lahko.", "ta"])
async def test_a_typed_yes_takes_the_number_shown(h, typed):
    await to_the_phone_question(h)
    _, event = message_event({"type": "text", "text": {"body": typed}}, WA_ID)
    done = await h.service.handle_with_step(PERSON, event)
    assert done.step == "call_time" and await phone_of(h) == "+38641123456"


async def test_another_typed_number_replaces_the_one_shown(h):
    await to_the_phone_question(h)
    _, event = message_event({"type": "text", "text": {"body": "031 555 666"}}, WA_ID)
    await h.service.handle_with_step(PERSON, event)
    assert await phone_of(h) == "+38631555666"


async def test_a_no_asks_which_number_with_the_buttons_still_there(h):
    await to_the_phone_question(h)
    done = await h.service.handle_with_step(PERSON, Typed("ne"))
    body, buttons = drawn(h, done)
    assert body == h.texts("intake.ask_other_phone")  # not the question with the number again
    assert [title for title, _ in buttons] == ["📞 041 123 456", "Raje mi pišite tukaj"]
    assert await phone_of(h) is None
    await h.service.handle_with_step(PERSON, Typed("031 555 666"))
    assert await phone_of(h) == "+38631555666"


async def test_telegrams_phone_question_is_unchanged(h):
    await to_phone_step(h)
    sent = h.session.sent(U)[-1]
    assert sent.text == h.texts("intake.ask_phone")
    markup = sent.reply_markup
    assert isinstance(markup, ReplyKeyboardMarkup)
    assert markup.keyboard[0][0].text == "📞 Moja številka" and markup.keyboard[0][0].request_contact
    n = len(h.session.sent(U))
    await h.text(U, "da")  # no number is known on Telegram: a yes is no number
    assert "Te številke ne prepoznam" in h.session.sent(U)[n].text


async def test_vibers_phone_question_is_unchanged(h):
    viber = Person("viber:mK3o0uA1Vhz/OhkxiW4r1A==")
    done = await to_the_phone_question(h, viber)
    [say] = done.says[-1:]
    assert say.text == Text("intake.ask_phone") and say.share_contact == Text("button.share_phone")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_number_button_fits_whatsapp_in_every_language(lang):
    texts = TEXTS.lang(lang)
    # the longest number the button may show, whatever its digits
    longest = texts.render(Text("button.share_this_phone", {"phone": "+" + "9" * (
        MAX_PHONE_IN_LABEL - 1)}))
    assert size(longest) <= MAX_BUTTON_TITLE, (lang, longest, size(longest))
    for number in PLAUSIBLE:
        shown = display_phone(number)
        assert len(shown) <= MAX_PHONE_IN_LABEL, shown  # none falls back
        says = ask(State(step="phone", lang=lang), Ctx(now=NOW, channel_phone=number))
        [body] = adapter().render(texts, says, "phone")
        title = body["interactive"]["action"]["buttons"][0]["reply"]["title"]
        assert title == "📞 " + shown and size(title) <= MAX_BUTTON_TITLE, (lang, title)
        assert shown in body["interactive"]["body"]["text"]
    # longer: "📞 Moja številka" in the language, uncut
    says = ask(State(step="phone", lang=lang), Ctx(now=NOW, channel_phone="+5491123456789"))
    [body] = adapter().render(texts, says, "phone")
    title = body["interactive"]["action"]["buttons"][0]["reply"]["title"]
    assert title == texts.render(Text("button.share_phone")) and "…" not in title


QUOTED = re.compile(r"[»“„«]([^«»“”„]+)[«“”»]")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_yes_the_question_asks_for_is_read_as_a_yes_in_its_language(lang):
    """Each catalog tells the person to write a word ("da", "yes", "po", "так"): that word,
    in that language, takes the number."""
    texts = TEXTS.lang(lang)
    ctx = Ctx(now=NOW, channel_phone="+38641123456")
    state = State(step="phone", lang=lang, answers={"consent": True})
    [say] = ask(state, ctx)
    text = texts.render(say.text)
    assert "041 123 456" in text and "📞" in text
    [word] = QUOTED.findall(text)
    out = handle(state, Typed(word), ctx)
    assert out.state.answers.get("phone") == "+38641123456", (lang, word)
