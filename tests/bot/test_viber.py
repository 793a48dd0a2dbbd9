"""The Viber adapter against callbacks copied from Viber's documentation and a fake Viber API
(tests/bot/viber_fake.py), with the real questions in the real catalogs."""

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot.channels.base import Address, Delivery, Refused, parse_choice_token
from bot.channels.viber import (MAX_ROWS, MAX_TEXT, SIGNATURE, ViberChannel, keyboard,
                                keyboard_rows, signature)
from bot.i18n import Texts
from dialogs.intake import (Choice, Command, Ctx, Media, SharedContact, Start, State, Typed,
                            ask)
from dialogs.languages import LANGUAGES
from dialogs.replies import Lines, Say, Text

from tests.bot.viber_fake import FakeViber

TOKEN = "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9"
ANA = "01234567890A="
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)
TEXTS = Texts(Path(__file__).resolve().parents[2] / "locales")


def channel(url="http://127.0.0.1:9/pa", **kw):
    return ViberChannel(TOKEN, "korak", "https://korak.example/avatar.jpg", api_url=url, **kw)


@pytest.fixture
async def viber():
    fake = FakeViber(TOKEN, subscribed=(ANA,))
    await fake.start()
    ch = channel(fake.url)
    yield fake, ch
    await ch.close()
    await fake.close()


def question(step, **state):
    return ask(State(step=step, **state), Ctx(now=NOW, first_name="Ana"))


def lines(buttons):
    """The keyboard's lines as Viber fills them: lists of buttons, 6 columns each."""
    out, used = [[]], 0
    for b in buttons:
        if used + b["Columns"] > 6:
            out.append([])
            used = 0
        out[-1].append(b)
        used += b["Columns"]
    return out


# ---------------------------------------------------------------------------- signature

BODY = b'{"event":"webhook","timestamp":1457764197627,"message_token":241256543215}'


def test_a_callback_signed_with_the_token_is_verified():
    ch = channel()
    good = signature(TOKEN, BODY)
    assert ch.verify({SIGNATURE: good}, BODY)
    assert ch.verify({SIGNATURE.lower(): good}, BODY)  # a plain dict, any case
    assert not ch.verify({SIGNATURE: good}, BODY + b" ")  # the body was changed
    assert not ch.verify({SIGNATURE: signature("another token", BODY)}, BODY)
    assert not ch.verify({SIGNATURE: good[:-1]}, BODY)


@pytest.mark.parametrize("headers", [{}, {SIGNATURE: ""}, {SIGNATURE: "č" * 64},
                                     {SIGNATURE: "\udcff"}, {"X-Other": "x"}])
def test_a_missing_or_garbled_signature_is_false_not_an_error(headers):
    assert channel().verify(headers, BODY) is False


def test_the_fakes_signature_is_the_adapters():
    body, headers = FakeViber(TOKEN).callback({"event": "webhook", "message_token": 1})
    assert channel().verify(headers, body)


# ---------------------------------------------------------------------------- parse
# The callbacks below are the examples in Viber's documentation (REST Bot API, "Callbacks").

SENDER = {"id": ANA, "name": "John McClane", "avatar": "http://avatar.example.com",
          "country": "UK", "language": "en", "api_version": 1}


def message(msg):
    return json.dumps({"event": "message", "timestamp": 1457764197627, "message_token":
                       4912661846655238145, "sender": SENDER, "message": msg}).encode()


def test_a_text_message():
    [got] = channel().parse(message({"type": "text", "text": "a message to the service",
                                     "tracking_data": "tracking data"}))
    assert got.address == Address("viber", ANA)
    assert got.event_id == "4912661846655238145"
    assert got.event == Typed("a message to the service")
    assert (got.kind, got.name, got.language) == ("message", "John McClane", "en")


@pytest.mark.parametrize("text,event", [
    ("/start", Start(None)), ("/start qr-ravne", Start("qr-ravne")), ("/pomoc", Command("pomoc")),
    ("/help", Command("pomoc")), ("/cancel", Command("preklici")), ("/jezik", Command("jezik")),
    ("s|dsp|yes", Choice("dsp", "yes")), ("s|place|m:Ravne na Koroškem",
                                          Choice("place", "m:Ravne na Koroškem")),
    ("s|dsp", Typed("s|dsp")), ("ja", Typed("ja"))])
def test_commands_and_button_taps_in_text(text, event):
    [got] = channel().parse(message({"type": "text", "text": text}))
    assert got.event == event


def test_a_shared_contact_is_the_persons_own_number():
    [got] = channel().parse(message({"type": "contact", "contact": {
        "name": "Itamar", "phone_number": "+972511123123", "avatar": "http://avatar_url"}}))
    assert got.event == SharedContact("+972511123123", True)


@pytest.mark.parametrize("msg", [
    {"type": "picture", "text": "a", "media": "http://www.images.com/img.jpg",
     "thumbnail": "http://www.images.com/thumb.jpg"},
    {"type": "sticker", "sticker_id": 46105},
    {"type": "file", "media": "http://www.images.com/file.doc", "size": 10000,
     "file_name": "name_of_file.doc"},
    {"type": "video", "media": "http://www.images.com/video.mp4", "size": 10000, "duration": 10},
    {"type": "location", "location": {"lat": "37.7898", "lon": "-122.3942"}},
    {"type": "url", "media": "http://www.website.com/go_here"}])
def test_media_messages(msg):
    [got] = channel().parse(message(msg))
    assert got.event == Media(msg["type"])


def test_conversation_started_opens_the_chat():
    body = json.dumps({"event": "conversation_started", "timestamp": 1457764197627,
                       "message_token": 4912661846655238145, "type": "open",
                       "context": "context information", "user": SENDER,
                       "subscribed": False}).encode()
    [got] = channel().parse(body)
    assert (got.kind, got.event, got.event_id) == ("opened", None, "4912661846655238145")
    assert (got.address.id, got.name, got.language) == (ANA, "John McClane", "en")


def test_subscribed_and_unsubscribed():
    sub = {"event": "subscribed", "timestamp": 1457764197627, "user": SENDER,
           "message_token": 4912661846655238145}
    unsub = {"event": "unsubscribed", "timestamp": 1457764197627, "user_id": ANA,
             "message_token": 4912661846655238146}
    [opened] = channel().parse(json.dumps(sub).encode())
    [blocked] = channel().parse(json.dumps(unsub).encode())
    assert (opened.kind, opened.address.id, opened.event) == ("opened", ANA, None)
    assert (blocked.kind, blocked.address.id, blocked.event_id) == (
        "blocked", ANA, "4912661846655238146")


@pytest.mark.parametrize("event,status,error", [
    ("delivered", "delivered", None), ("seen", "read", None), ("failed", "failed", "invalid")])
def test_receipts_are_statuses(event, status, error):
    data = {"event": event, "timestamp": 1457764197627, "message_token": 4912661846655238145,
            "user_id": ANA}
    if event == "failed":
        data["desc"] = "failure description"
    [got] = channel().parse(json.dumps(data).encode())
    assert (got.kind, got.event, got.address.id) == ("status", None, ANA)
    assert got.delivery == Delivery("4912661846655238145", status, error)


def test_viber_s_own_callbacks_are_nothing_for_korak():
    webhook = {"event": "webhook", "timestamp": 1457764197627, "chat_hostname": "SN-CHAT-05_",
               "message_token": 241256543215}
    assert channel().parse(json.dumps(webhook).encode()) == []
    assert channel().parse(b'{"event": "client_status", "message_token": 1}') == []


@pytest.mark.parametrize("body", [
    b"", b"{", b"\xff\xfe", b"[]", b'"message"', b'{"update_id": 1}', b'{"event": 5}',
    b'{"event": "message", "message_token": 1, "message": {"type": "text", "text": "x"}}',
    b'{"event": "message", "message_token": 1, "sender": {"id": "a"}}',
    b'{"event": "message", "sender": {"id": "a"}, "message": {"type": "text"}}',
    b'{"event": "seen", "message_token": 1}',
    b'{"event": "subscribed", "message_token": 1, "user": {"name": "x"}}'])
def test_what_is_not_a_viber_callback_is_a_value_error(body):
    with pytest.raises(ValueError):
        channel().parse(body)


# ---------------------------------------------------------------------------- render


def test_a_question_is_a_text_with_a_keyboard():
    [body] = channel().render(TEXTS, question("dsp"), "dsp")
    assert body["type"] == "text" and body["text"] == TEXTS.render(Text("intake.ask_dsp"))
    assert body["sender"] == {"name": "korak", "avatar": "https://korak.example/avatar.jpg"}
    assert "receiver" not in body and "min_api_version" not in body
    kb = body["keyboard"]
    assert (kb["Type"], kb["DefaultHeight"]) == ("keyboard", False)
    assert [b["Text"] for b in kb["Buttons"]] == [TEXTS("button.yes"), TEXTS("button.no"),
                                                  TEXTS("button.dont_know")]
    assert [parse_choice_token(b["ActionBody"]) for b in kb["Buttons"]] == [
        ("dsp", "yes"), ("dsp", "no"), ("dsp", "dont_know")]
    assert all(b["ActionType"] == "reply" and b["TextSize"] == "regular" and b["Silent"]
               for b in kb["Buttons"])


def test_a_text_without_buttons_goes_on_top_of_the_next_question():
    says = [Say(Text("intake.ask_place_elsewhere")), *question("dsp")]
    [body] = channel().render(TEXTS, says, "dsp")
    assert body["text"] == (TEXTS("intake.ask_place_elsewhere") + "\n\n"
                            + TEXTS("intake.ask_dsp"))
    assert "keyboard" in body


def check_keyboard(kb, step):
    """Viber's rules: 6 columns a line, each button 1-6 columns and 1-2 rows, at most 24 rows,
    Text and ActionBody at most 250 characters; every line filled, so the conversation's rows
    never run into each other."""
    buttons = kb["Buttons"]
    assert keyboard_rows(buttons) <= MAX_ROWS
    for line in lines(buttons):
        assert sum(b["Columns"] for b in line) == 6
    for b in buttons:
        assert 1 <= b["Columns"] <= 6 and b["Rows"] in (1, 2)
        assert 0 < len(b["Text"]) <= 250 and 0 < len(b["ActionBody"]) <= 250
        if b["ActionType"] == "reply":
            assert parse_choice_token(b["ActionBody"])[0] == step


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_the_thirteen_places_fit_a_phone(viber, lang):
    fake, ch = viber
    texts = TEXTS.lang(lang)
    [body] = ch.render(texts, question("place"), "place")
    buttons = body["keyboard"]["Buttons"]
    assert len(buttons) == 13
    check_keyboard(body["keyboard"], "place")
    assert {parse_choice_token(b["ActionBody"])[1] for b in buttons} >= {
        "m:Ravne na Koroškem", "m:Črna na Koroškem", "elsewhere"}
    assert await ch.send(Address("viber", ANA), body)  # and Viber takes it
    assert fake.sent[-1]["keyboard"] == body["keyboard"]


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("step", ["consent", "dsp", "work", "sensitive", "hopes", "fit",
                                  "name", "phone", "call_time", "summary", "edit_choose"])
def test_every_question_keeps_viber_s_rules(lang, step):
    extra = {"answers": {"name": "Ana", "phone": "+38640111222"}} if step == "summary" else {}
    for body in channel().render(TEXTS.lang(lang), question(step, **extra), step):
        assert len(body["text"]) <= MAX_TEXT
        if "keyboard" in body:
            check_keyboard(body["keyboard"], step)


def test_short_labels_share_a_line_and_long_ones_take_the_width():
    def reply(label, cid):
        return (label, "reply", f"s|x|{cid}")

    kb = keyboard([[reply("Da", "a"), reply("Ne", "b"), reply("Morda", "c")],
                   [reply("Dopoldne", "d"), reply("Ravne na Koroškem", "e")],
                   [reply("kratko", "f"), reply("x" * 40, "g")],
                   [reply("y" * 20, "h")]])
    assert [[(b["Columns"], b["Rows"]) for b in line] for line in lines(kb["Buttons"])] == [
        [(2, 1), (2, 1), (2, 1)],  # three short ones
        [(3, 2), (3, 2)],  # two lines each at half width; a line's buttons equally high
        [(6, 1)], [(6, 2)],  # too long for half the width
        [(6, 1)]]


def test_a_persons_name_on_a_button_is_text_not_markup():
    says = ask(State(step="name"), Ctx(now=NOW, first_name="Ana <b>&</b>"))
    [body] = channel().render(TEXTS, says, "name")
    [button] = body["keyboard"]["Buttons"]
    assert button["Text"] == "Ana &lt;b&gt;&amp;&lt;/b&gt;"


def test_a_long_text_goes_in_pieces_with_the_buttons_under_the_last():
    long = Lines((Text("intake.ask_dsp"),) * 120)
    says = [Say(long, question("dsp")[0].buttons)]
    bodies = channel().render(TEXTS, says, "dsp")
    whole = TEXTS.render(long)
    assert len(whole) > 2 * MAX_TEXT and len(bodies) >= 3
    assert all(len(b["text"]) <= MAX_TEXT for b in bodies)
    assert ["keyboard" in b for b in bodies] == [False] * (len(bodies) - 1) + [True]
    assert " ".join(b["text"] for b in bodies).split() == whole.split()


async def test_the_phone_question_offers_viber_s_share_phone_button(viber):
    fake, ch = viber
    [body] = ch.render(TEXTS, question("phone"), "phone")
    share, write = body["keyboard"]["Buttons"]
    assert share["ActionType"] == "share-phone" and share["ActionBody"]
    assert share["Text"] == TEXTS("button.share_phone") and share["Columns"] == 6
    assert parse_choice_token(write["ActionBody"]) == ("phone", "write_here")
    assert body["min_api_version"] == 3  # share-phone is api level 3
    await ch.send(Address("viber", ANA), body)
    payload, headers = fake.callback(fake.share_phone(ANA, "+38640111222"))
    assert ch.verify(headers, payload)
    [got] = ch.parse(payload)
    assert got.event == SharedContact("+38640111222", True)
    # without min_api_version Viber refuses the share-phone button; an old Viber refuses it too
    with pytest.raises(Refused) as old_body:
        await ch.send(Address("viber", ANA), {k: v for k, v in body.items()
                                               if k != "min_api_version"})
    assert (old_body.value.kind, old_body.value.code) == ("invalid", 14)
    fake.api_version[ANA] = 2
    with pytest.raises(Refused) as old_viber:
        await ch.send(Address("viber", ANA), body)
    assert (old_viber.value.kind, old_viber.value.code) == ("invalid", 13)


async def test_a_button_round_trip(viber):
    """render → Viber's keyboard → a tap (its ActionBody as a text message) → Choice."""
    fake, ch = viber
    for body in ch.render(TEXTS, question("work"), "work"):
        token = await ch.send(Address("viber", ANA), body)
        assert token.isdigit()
    assert fake.sent[-1]["receiver"] == ANA
    payload, headers = fake.callback(fake.press(ANA, TEXTS("button.work_registered")))
    assert ch.verify(headers, payload)
    [got] = ch.parse(payload)
    assert got.event == Choice("work", "registered")
    assert got.address == Address("viber", ANA)


def test_the_welcome_message_answers_conversation_started():
    body = channel().welcome_body(TEXTS.lang("en"), "intake.idle")
    assert body == {"type": "text", "text": TEXTS.lang("en").render(Text("intake.idle")),
                    "sender": {"name": "korak", "avatar": "https://korak.example/avatar.jpg"}}
    with_buttons = channel().welcome_body(TEXTS, Text("intake.ask_dsp"),
                                          question("dsp")[0].buttons, "dsp")
    check_keyboard(with_buttons["keyboard"], "dsp")


def test_a_bot_name_is_what_viber_takes():
    with pytest.raises(ValueError):
        ViberChannel(TOKEN, "k" * 29)
    assert "avatar" not in ViberChannel(TOKEN, "korak").render(TEXTS, question("dsp"),
                                                               "dsp")[0]["sender"]


# ---------------------------------------------------------------------------- send


async def refused(ch, body, receiver=ANA):
    with pytest.raises(Refused) as exc:
        await ch.send(Address("viber", receiver), body)
    return exc.value.kind, exc.value.code


async def test_send_posts_the_body_to_the_receiver_with_the_token(viber):
    fake, ch = viber
    [body] = ch.render(TEXTS, question("dsp"), "dsp")
    token = await ch.send(Address("viber", ANA), body)
    assert token == "4912661846655238145"
    assert fake.sent == [{**body, "receiver": ANA}]


async def test_how_sending_fails(viber):
    fake, ch = viber
    [body] = ch.render(TEXTS, question("dsp"), "dsp")
    fake.registered.add("not-subscribed")
    wrong = ViberChannel("wrong", "korak", api_url=fake.url)
    assert await refused(wrong, body) == ("auth", 2)
    await wrong.close()
    assert await refused(ch, body, "nobody") == ("gone", 5)
    assert await refused(ch, body, "not-subscribed") == ("blocked", 6)
    assert await refused(ch, {**body, "text": None}) == ("invalid", 4)
    assert await refused(ch, {**body, "text": "x" * (MAX_TEXT + 1)}) == ("invalid", 3)
    fake.limit = 2
    await ch.send(Address("viber", ANA), body)
    await ch.send(Address("viber", ANA), body)
    assert await refused(ch, body) == ("retry", 12)  # 100 an hour without a reply, here 2
    fake.text(ANA, "ja")  # they write: the count starts again
    await ch.send(Address("viber", ANA), body)
    for status, kind in ((7, "auth"), (11, "gone"), (23, "window"), (99, "retry"),
                         (-1, "retry")):
        fake.force.append(status)
        assert await refused(ch, body) == (kind, status)
    fake.http_errors += [500, 503, 429, 404]
    assert await refused(ch, body) == ("retry", 500)
    assert await refused(ch, body) == ("retry", 503)
    assert await refused(ch, body) == ("retry", 429)
    assert await refused(ch, body) == ("invalid", 404)
    await ch.send(Address("viber", ANA), body)  # and then it works again


async def test_a_timeout_or_no_connection_is_retry(viber):
    fake, _ = viber
    slow = ViberChannel(TOKEN, "korak", api_url=fake.url, timeout=0.05)
    fake.delay = 0.5
    [body] = slow.render(TEXTS, question("dsp"), "dsp")
    assert (await refused(slow, body))[0] == "retry"
    await slow.close()
    fake.delay = 0
    gone = ViberChannel(TOKEN, "korak", api_url="http://127.0.0.1:9/pa")
    assert (await refused(gone, body))[0] == "retry"
    await gone.close()


async def test_a_session_factory_is_used_and_left_open(viber):
    fake, _ = viber
    import aiohttp
    made = []

    def factory():
        made.append(aiohttp.ClientSession())
        return made[-1]

    ch = ViberChannel(TOKEN, "korak", api_url=fake.url, session=factory)
    [body] = ch.render(TEXTS, question("dsp"), "dsp")
    await ch.send(Address("viber", ANA), body)
    await ch.send(Address("viber", ANA), body)
    await ch.close()
    assert len(made) == 1 and not made[0].closed
    await made[0].close()


# ---------------------------------------------------------------------------- set_webhook


async def test_set_webhook(viber):
    fake, ch = viber
    types = await ch.set_webhook("https://korak.example/viber")
    assert types == ["delivered", "seen", "failed", "subscribed", "unsubscribed",
                     "conversation_started"]
    assert fake.webhook == {"url": "https://korak.example/viber", "event_types": types,
                            "send_name": True, "send_photo": False}
    with pytest.raises(Refused) as exc:
        await ch.set_webhook("http://korak.example/viber")
    assert (exc.value.kind, exc.value.code) == ("invalid", 1)
    assert await ch.set_webhook("") == [] and fake.webhook is None


async def test_viber_checks_the_webhook_with_a_signed_callback(viber):
    """set_webhook makes Viber post a signed "webhook" callback, which must get HTTP 200."""
    from aiohttp import web
    fake, ch = viber
    seen = []

    async def hook(request):
        body = await request.read()
        if not ch.verify(request.headers, body):
            return web.Response(status=403)
        seen.append(ch.parse(body))
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/viber", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/viber"
    fake.require_https, fake.ping_webhook = False, True
    try:
        assert await ch.set_webhook(url)
        assert seen == [[]]  # the check is nothing for the conversation
        fake.token = "another"  # callbacks korak cannot verify: the check fails
        other = ViberChannel("another", "korak", api_url=fake.url)
        with pytest.raises(Refused) as exc:
            await other.set_webhook(url)
        assert (exc.value.kind, exc.value.code) == ("invalid", 1)
        await other.close()
    finally:
        await runner.cleanup()
