"""The WhatsApp Cloud API adapter: Meta's handshake and signatures, every kind of webhook post,
korak's questions drawn within WhatsApp's limits in every language, sending through a local
fake of the Cloud API, and the templates."""

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot.channels.base import Address, Refused, choice_token
from bot.channels.whatsapp import (MAX_BODY, MAX_BUTTON_TITLE, MAX_LIST_BUTTON, MAX_ROW_DESCRIPTION,
                                   MAX_ROW_TITLE, MAX_ROWS, MAX_TEXT, REMINDER, TEMPLATES,
                                   TYPE_IT, WhatsApp, error_kind, fit_labels,
                                   print_templates, shorten, size, template_body,
                                   template_message, template_requests)
from bot.i18n import Texts
from dialogs.intake import Choice, Command, Ctx, Media, SharedContact, Start, State, Typed, ask
from dialogs.languages import LANGUAGES
from dialogs.options import OPTIONS
from dialogs.places import koroska_municipalities
from dialogs.replies import Button, Say, Text
from tests.bot.whatsapp_fake import FakeCloudAPI, check_interactive

ROOT = Path(__file__).resolve().parents[2]
TEXTS = Texts(ROOT / "locales")
WA_ID = "38640123456"


def channel(api_url: str = "https://graph.example/v23.0") -> WhatsApp:
    fake = FakeCloudAPI()
    return WhatsApp(fake.token, fake.phone_number_id, fake.app_secret, "verify-me", api_url)


@pytest.fixture
async def fake():
    api = FakeCloudAPI(approved={("korak_reminder", "sl"), ("korak_reminder", "hr")})
    await api.start()
    yield api
    await api.stop()


@pytest.fixture
async def wa(fake):
    adapter = channel(fake.url)
    yield adapter
    await adapter.close()


# ----------------------------------------------------------------------------- handshake, signature


def test_handshake_answers_the_challenge_only_to_the_right_token():
    wa = channel()
    good = {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "1158201444"}
    assert wa.handshake(good) == "1158201444"
    assert wa.handshake({**good, "hub.verify_token": "verify-mE"}) is None
    assert wa.handshake({**good, "hub.mode": "unsubscribe"}) is None
    assert wa.handshake({"hub.mode": "subscribe", "hub.challenge": "1"}) is None
    assert wa.handshake({**good, "hub.verify_token": "čšž"}) is None
    assert WhatsApp("t", "1", "s", "").handshake({**good, "hub.verify_token": ""}) is None


def test_signature_good_wrong_missing_and_not_ascii():
    wa, fake = channel(), FakeCloudAPI()
    headers, body = fake.signed(fake.message_webhook(WA_ID, {"type": "text",
                                                             "text": {"body": "živjo"}}))
    assert wa.verify(headers, body)
    assert wa.verify({"x-hub-signature-256": headers["X-Hub-Signature-256"]}, body)
    assert not wa.verify(headers, body + b" ")
    assert not wa.verify({"X-Hub-Signature-256": "sha256=" + "0" * 64}, body)
    assert not wa.verify({"X-Hub-Signature-256": headers["X-Hub-Signature-256"][7:]}, body)
    assert not wa.verify({}, body)
    assert not wa.verify({"X-Hub-Signature-256": ""}, body)
    assert not wa.verify({"X-Hub-Signature-256": "sha256=ščž" + "0" * 61}, body)
    assert not WhatsApp("t", "1", "", "v").verify(headers, body)


# ----------------------------------------------------------------------------- parse


def parse_one(message, name="Ana"):
    fake = FakeCloudAPI()
    _, body = fake.signed(fake.message_webhook(WA_ID, message, name))
    [inbound] = channel().parse(body)
    assert inbound.address == Address("whatsapp", WA_ID)
    assert inbound.event_id.startswith("wamid.")
    assert inbound.name == name
    return inbound.event


def test_parse_text_and_commands():
    assert parse_one({"type": "text", "text": {"body": "Ravne"}}) == Typed("Ravne")
    assert parse_one({"type": "text", "text": {"body": "/start wa"}}) == Start("wa")
    assert parse_one({"type": "text", "text": {"body": "/help"}}) == Command("pomoc")
    assert parse_one({"type": "text", "text": {"body": "x" * 5000}}) == Typed("x" * 4096)


def test_parse_button_and_list_replies():
    token = choice_token("dsp", "yes")
    assert parse_one({"type": "interactive", "interactive": {
        "type": "button_reply", "button_reply": {"id": token, "title": "Da"}}}
    ) == Choice("dsp", "yes")
    assert parse_one({"type": "interactive", "interactive": {
        "type": "list_reply", "list_reply": {"id": choice_token("place", "m:Muta"), "title": "Muta",
                                             "description": ""}}}) == Choice("place", "m:Muta")
    # an id korak did not make is read as the title the person saw
    assert parse_one({"type": "interactive", "interactive": {
        "type": "button_reply", "button_reply": {"id": "other", "title": "Da"}}}) == Typed("Da")
    # "this number" at the phone question: the number WhatsApp delivers from
    own = {"id": choice_token("phone", "own_number"), "title": "📞"}
    assert parse_one({"type": "interactive", "interactive": {
        "type": "button_reply", "button_reply": own}}) == SharedContact("+" + WA_ID, True)


def test_parse_template_quick_replies():
    tap = {"type": "button", "context": {"from": "38640000000", "id": "wamid.OUT"}}
    assert parse_one({**tap, "button": {"payload": choice_token("reminder", "yes"),
                                        "text": "Pridem"}}) == Choice("reminder", "yes")
    assert parse_one({**tap, "button": {"payload": "Pridem", "text": "Pridem"}}) == Typed("Pridem")


@pytest.mark.parametrize("kind,content", [
    ("image", {"mime_type": "image/jpeg", "sha256": "x", "id": "1"}),
    ("sticker", {"mime_type": "image/webp", "sha256": "x", "id": "2", "animated": False}),
    ("audio", {"mime_type": "audio/ogg; codecs=opus", "sha256": "x", "id": "3", "voice": True}),
    ("video", {"mime_type": "video/mp4", "sha256": "x", "id": "4"}),
    ("document", {"mime_type": "application/pdf", "sha256": "x", "id": "5", "filename": "a.pdf"}),
    ("location", {"latitude": 46.54, "longitude": 14.96, "name": "Ravne"}),
])
def test_parse_media(kind, content):
    assert parse_one({"type": kind, kind: content}) == Media(kind)


def test_parse_unsupported_reaction_and_welcome():
    assert parse_one({"type": "unsupported", "errors": [{"code": 131051}]}) == Media("unsupported")
    reaction = {"type": "reaction", "reaction": {"message_id": "wamid.X", "emoji": "👍"}}
    assert parse_one(reaction) is None
    fake = FakeCloudAPI()
    _, body = fake.signed(fake.message_webhook(WA_ID, {"type": "request_welcome"}))
    [opened] = channel().parse(body)
    assert (opened.kind, opened.event) == ("opened", Start())


def test_parse_contacts_own_someone_elses_and_without_a_phone():
    def card(phones):
        return {"type": "contacts", "contacts": [{"name": {"formatted_name": "Ana Novak",
                                                           "first_name": "Ana"},
                                                  "phones": phones}]}
    own = card([{"phone": "+386 40 123 456", "wa_id": WA_ID, "type": "CELL"}])
    assert parse_one(own) == SharedContact("+386 40 123 456", True)
    other = card([{"phone": "+386 41 999 999", "wa_id": "38641999999", "type": "CELL"}])
    assert parse_one(other) == SharedContact("+386 41 999 999", False)
    assert parse_one(card([])) == Media("contacts")


def test_parse_statuses():
    fake = FakeCloudAPI()
    payload = fake.webhook({"statuses": [
        fake.status("wamid.A", WA_ID, "delivered"),
        fake.status("wamid.B", WA_ID, "failed", 131047),
        fake.status("wamid.C", WA_ID, "failed", 131026),
        fake.status("wamid.D", WA_ID, "failed", 131049),
        fake.status("wamid.E", WA_ID, "failed", 132001),
    ]})
    got = channel().parse(json.dumps(payload).encode())
    assert [(i.kind, i.event, i.address.id) for i in got] == [("status", None, WA_ID)] * 5
    assert [i.event_id for i in got][:2] == ["wamid.A:delivered", "wamid.B:failed"]
    assert [(d.message_id, d.status, d.error) for d in (i.delivery for i in got)] == [
        ("wamid.A", "delivered", None), ("wamid.B", "failed", "window"),
        ("wamid.C", "failed", "gone"), ("wamid.D", "failed", "retry"),
        ("wamid.E", "failed", "template")]


@pytest.mark.parametrize("body", [
    b"", b"not json", b"[]", b'{"object": "page", "entry": []}',
    b'{"object": "whatsapp_business_account"}',
    b'{"object": "whatsapp_business_account", "entry": [{"changes": [{"value": {'
    b'"messages": [{}]}}]}]}',
    b'{"object": "whatsapp_business_account", "entry": [{"changes": [{"value": {'
    b'"statuses": [{"id": 1}]}}]}]}',
])
def test_parse_refuses_what_is_not_whatsapp(body):
    with pytest.raises(ValueError):
        channel().parse(body)


@pytest.mark.parametrize("code,status,kind", [
    (131047, 400, "window"), (131026, 400, "gone"), (131049, 400, "retry"), (131048, 400, "retry"),
    (132000, 400, "template"), (132015, 400, "template"), (132016, 400, "template"),
    (190, 401, "auth"), (0, 401, "auth"), (4, 400, "retry"), (80007, 400, "retry"),
    (130429, 400, "retry"), (131056, 400, "retry"), (131009, 400, "invalid"),
    (None, 503, "retry"), (None, 429, "retry"), (None, 403, "auth"), (None, 400, "invalid"),
])
def test_error_codes(code, status, kind):
    assert error_kind(code, status) == kind


# ----------------------------------------------------------------------------- labels, render


def test_shorten_keeps_words_and_fit_labels_keeps_them_apart():
    assert shorten("Kratko", 20) == "Kratko"
    assert shorten("Raje mi pišite kar tukaj", 20) == "Raje mi pišite kar…"
    assert size(shorten("📞 Pošlji mojo številko", 20)) <= 20
    labels = ["Občina Ravne na Koroškem", "Občina Ravne na Kozjem", "Občina Ravne"]
    fitted = fit_labels(labels, 20)
    assert len(set(fitted)) == 3 and all(size(f) <= 20 for f in fitted)
    assert fitted[2] == "Občina Ravne"
    same = fit_labels(["Enako dolgo besedilo tukaj"] * 3, 20)
    assert len(set(same)) == 3 and all(size(f) <= 20 for f in same)


def test_labels_are_shortened_and_distinct():
    wa = channel()
    long = [Button(f"b{i}", Text("button.place_name", {"name": f"Zelo dolgo ime nekega kraja {i}"}))
            for i in range(5)]
    [body] = wa.render(TEXTS, [Say(Text("intake.ask_place"), (tuple(long),))], "place")
    rows = body["interactive"]["action"]["sections"][0]["rows"]
    assert len({r["title"] for r in rows}) == 5
    assert all(size(r["title"]) <= MAX_ROW_TITLE for r in rows)
    assert rows[0]["description"] == "Zelo dolgo ime nekega kraja 0"  # the whole label below


CTX = Ctx(now=datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc),
          first_name="Ana Marija Novak-Kovačič Lovrenc")
PENDING = {"place_confirm": {"municipality": "Mežica", "place": "Podkraj pri Mežici"},
           "place_choose": {"candidates": [{"municipality": m, "place": "Podkraj"} for m in
                                           ("Mežica", "Muta", "Dravograd", "Prevalje", "Mislinja",
                                            "Vuzenica", "Podvelka", "Mislinja", "Muta", "Mežica",
                                            "Dravograd")]}}


def every_question():
    """Every question korak asks (the steps of dialogs/options.py and those built at run time)."""
    steps = set(OPTIONS) | {"place", "place_choose", "place_confirm", "name", "phone", "consent"}
    for step in sorted(steps):
        yield step, ask(State(step=step, pending=PENDING.get(step, {})), CTX)


def interactive_labels(body):
    interactive = body["interactive"]
    action = interactive["action"]
    if interactive["type"] == "button":
        return [(b["reply"]["title"], MAX_BUTTON_TITLE) for b in action["buttons"]]
    rows = [r for s in action["sections"] for r in s["rows"]]
    return ([(r["title"], MAX_ROW_TITLE) for r in rows] + [(action["button"], MAX_LIST_BUTTON)]
            + [(r["description"], MAX_ROW_DESCRIPTION) for r in rows if "description" in r])


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_question_fits_in_every_catalog(lang):
    wa, texts = channel(), TEXTS.lang(lang)
    for step, says in every_question():
        bodies = wa.render(texts, says, step)
        choices = sum(len(row) for say in says for row in say.buttons) + sum(
            say.share_contact is not None for say in says)
        interactive = [b for b in bodies if b["type"] == "interactive"]
        assert len(interactive) == (1 if choices else 0), step
        for body in bodies:
            if body["type"] == "text":
                assert 1 <= len(body["text"]["body"]) <= MAX_TEXT
                continue
            check_interactive(body["interactive"])  # the fake's limits: Meta's
            assert len(body["interactive"]["body"]["text"]) <= MAX_BODY
            labels = interactive_labels(body)
            assert all(1 <= size(label) <= limit for label, limit in labels), (lang, step, labels)
            titles = [label for label, limit in labels
                      if limit in (MAX_BUTTON_TITLE, MAX_ROW_TITLE)]
            assert len(set(titles)) == len(titles), (lang, step, titles)


def test_the_place_question_keeps_every_choice_reachable():
    [body] = channel().render(TEXTS, ask(State(step="place"), CTX), "place")
    rows = body["interactive"]["action"]["sections"][0]["rows"]
    assert len(rows) == MAX_ROWS
    assert rows[-1]["id"] == choice_token("place", "elsewhere")
    assert rows[-1]["title"] == TYPE_IT + "Drugje"
    shown = {r["id"].split("|")[2][2:] for r in rows[:-1]}
    named = set(rows[-1]["description"].split(", "))
    assert shown | named == set(koroska_municipalities())


def test_after_two_unknown_places_the_way_on_is_a_row_of_its_own():
    """The place question then has fourteen choices: "Drugje" still names the places left out,
    and "Ne vem, pokličite me" is the last row, not hidden among them."""
    [body] = channel().render(TEXTS, ask(State(step="place", place_misses=2), CTX), "place")
    rows = body["interactive"]["action"]["sections"][0]["rows"]
    assert len(rows) == MAX_ROWS
    assert [r["id"] for r in rows[-2:]] == [choice_token("place", "elsewhere"),
                                            choice_token("place", "no_place")]
    assert rows[-2]["title"] == TYPE_IT + "Drugje" and rows[-1]["title"] == "Ne vem, pokličite me"
    shown = {r["id"].split("|")[2][2:] for r in rows[:-2]}
    assert shown | set(rows[-2]["description"].split(", ")) == set(koroska_municipalities())


def test_the_phone_question_offers_this_number():
    [body] = channel().render(TEXTS, ask(State(step="phone"), CTX), "phone")
    buttons = body["interactive"]["action"]["buttons"]
    assert body["interactive"]["type"] == "button"
    assert [b["reply"]["id"] for b in buttons] == [choice_token("phone", "own_number"),
                                                   choice_token("phone", "write_here")]


def test_texts_join_the_question_and_long_texts_go_first():
    wa = channel()
    says = [Say(Text("intake.consent_thanks")), Say(Text("intake.ask_dsp"),
                                                    ((Button("yes", Text("button.yes")),),))]
    [one] = wa.render(TEXTS, says, "dsp")
    assert TEXTS("intake.consent_thanks") in one["interactive"]["body"]["text"]
    long = "Prvi odstavek. " * 100 + "\n\n" + "Drugi. " * 200 + "\n\nAli pridete?"
    bodies = wa.render(_Fixed(long), [Say(Text("x"), ((Button("yes", Text("y")),),))], "fit")
    assert [b["type"] for b in bodies] == ["text", "interactive"]
    assert bodies[1]["interactive"]["body"]["text"] == "Ali pridete?"
    assert bodies[0]["text"]["body"].endswith("Drugi.")
    huge = wa.render(_Fixed("beseda " * 1500), [Say(Text("x"))], "fit")
    assert len(huge) == 3 and all(len(b["text"]["body"]) <= MAX_TEXT for b in huge)


class _Fixed:
    """Renders every text as one fixed string."""

    def __init__(self, text):
        self.text = text

    def render(self, text):
        return self.text


# ----------------------------------------------------------------------------- through the fake


async def round_trip(fake, wa, says, step, pick):
    bodies = wa.render(TEXTS, says, step)
    for body in bodies:
        assert (await wa.send(Address("whatsapp", WA_ID), body)).startswith("wamid.")
    sent = fake.accepted[-1]
    assert sent["messaging_product"] == "whatsapp" and sent["to"] == WA_ID
    assert sent["recipient_type"] == "individual"
    interactive = sent["interactive"]
    if interactive["type"] == "button":
        reply = interactive["action"]["buttons"][pick]["reply"]
        message = {"type": "interactive", "interactive": {"type": "button_reply",
                                                          "button_reply": reply}}
    else:
        row = interactive["action"]["sections"][0]["rows"][pick]
        message = {"type": "interactive", "interactive": {
            "type": "list_reply", "list_reply": {"id": row["id"], "title": row["title"]}}}
    headers, body = fake.signed(fake.message_webhook(WA_ID, message))
    assert wa.verify(headers, body)
    [inbound] = wa.parse(body)
    return inbound.event


async def test_a_button_round_trip(fake, wa):
    event = await round_trip(fake, wa, ask(State(step="dsp"), CTX), "dsp", 2)
    assert event == Choice("dsp", "dont_know")


async def test_a_list_round_trip(fake, wa):
    event = await round_trip(fake, wa, ask(State(step="place"), CTX), "place", 4)
    assert event == Choice("place", "m:Mežica")
    event = await round_trip(fake, wa, ask(State(step="place"), CTX), "place", 9)
    assert event == Choice("place", "elsewhere")


async def test_the_fake_refuses_what_meta_refuses(fake, wa):
    too_many = {"type": "interactive", "interactive": {"type": "button", "body": {"text": "?"},
                "action": {"buttons": [{"type": "reply", "reply": {"id": str(i), "title": str(i)}}
                                       for i in range(4)]}}}
    with pytest.raises(Refused) as refused:
        await wa.send(Address("whatsapp", WA_ID), too_many)
    assert (refused.value.kind, refused.value.code) == ("invalid", 131009)
    rows = [{"id": str(i), "title": str(i)} for i in range(11)]
    too_long = {"type": "interactive", "interactive": {"type": "list", "body": {"text": "?"},
                "action": {"button": "☰", "sections": [{"rows": rows}]}}}
    with pytest.raises(Refused) as refused:
        await wa.send(Address("whatsapp", WA_ID), too_long)
    assert refused.value.code == 131009 and "10" in refused.value.detail


@pytest.mark.parametrize("code,kind", [(130429, "retry"), (131056, "retry"), (131000, "retry"),
                                       (132001, "template"), (100, "invalid")])
async def test_graph_errors_become_refusals(fake, wa, code, kind):
    fake.fail_next.append(code)
    with pytest.raises(Refused) as refused:
        await wa.send(Address("whatsapp", WA_ID), {"type": "text", "text": {"body": "Živjo"}})
    assert (refused.value.kind, refused.value.code) == (kind, code)


async def test_a_wrong_token_is_auth(fake):
    wa = WhatsApp("expired", fake.phone_number_id, fake.app_secret, "v", fake.url)
    with pytest.raises(Refused) as refused:
        await wa.send(Address("whatsapp", WA_ID), {"type": "text", "text": {"body": "Živjo"}})
    await wa.close()
    assert (refused.value.kind, refused.value.code) == ("auth", 190)


async def test_no_connection_is_retry(fake):
    wa = WhatsApp(fake.token, fake.phone_number_id, fake.app_secret, "v", fake.url)
    await fake.stop()
    with pytest.raises(Refused) as refused:
        await wa.send(Address("whatsapp", WA_ID), {"type": "text", "text": {"body": "Živjo"}})
    await wa.close()
    assert refused.value.kind == "retry"


async def test_window_and_unknown_numbers_fail_later_as_statuses(fake, wa):
    fake.outside_window.add(WA_ID)
    fake.unknown.add("38649000000")
    text = {"type": "text", "text": {"body": "Živjo"}}
    late = await wa.send(Address("whatsapp", WA_ID), text)
    nowhere = await wa.send(Address("whatsapp", "38649000000"), text)
    reminder = await wa.send(Address("whatsapp", WA_ID), template_message(
        REMINDER, "sl", {"when": "jutri ob 10.00", "place": "Ravne", "title": "Delavnica\nA"},
        [choice_token("reminder", "yes"), choice_token("reminder", "no")]))
    headers, body = fake.signed(fake.status_webhook())
    assert wa.verify(headers, body)
    got = {i.delivery.message_id: i.delivery for i in wa.parse(body)}
    assert (got[late].status, got[late].error) == ("failed", "window")
    assert (got[nowhere].status, got[nowhere].error) == ("failed", "gone")
    assert (got[reminder].status, got[reminder].error) == ("sent", None)
    # the reminder's quick reply comes back as the Choice its payload names
    payload = fake.accepted[-1]["template"]["components"][1]["parameters"][0]["payload"]
    _, body = fake.signed(fake.message_webhook(WA_ID, {"type": "button", "button": {
        "payload": payload, "text": "Pridem"}}))
    assert wa.parse(body)[0].event == Choice("reminder", "yes")


# ----------------------------------------------------------------------------- templates


def test_template_bodies():
    assert template_body(REMINDER, TEXTS) == "⏰ Opomnik: {{1}} — {{2}}: {{3}}.\nAli pridete?"
    message = template_message(REMINDER, "hbs", {"when": "sutra", "place": "Ravne",
                                                 "title": "Radionica\n\nnova"}, ["a", "b"])
    template = message["template"]
    assert (message["type"], template["name"], template["language"]) == (
        "template", "korak_reminder", {"code": "hr"})
    assert template["components"][0]["parameters"][2] == {"type": "text", "text": "Radionica nova"}
    assert [c["index"] for c in template["components"][1:]] == ["0", "1"]


def test_template_requests_for_meta(capsys):
    requests = template_requests(TEXTS)
    assert len(requests) == len(TEMPLATES) * len(LANGUAGES)
    assert {r["language"] for r in requests} == {"sl", "en", "hr", "sq", "uk"}
    reminder_sl = next(r for r in requests
                       if r["name"] == "korak_reminder" and r["language"] == "sl")
    assert reminder_sl["category"] == "UTILITY"
    body, buttons = reminder_sl["components"]
    assert body["text"].count("{{") == 3 and len(body["example"]["body_text"][0]) == 3
    assert buttons["buttons"] == [{"type": "QUICK_REPLY", "text": "Pridem"},
                                  {"type": "QUICK_REPLY", "text": "Ne morem priti"}]
    for request in requests:
        for component in request["components"]:
            for button in component.get("buttons", []):
                assert 1 <= len(button["text"]) <= 25
        assert len(request["components"][0]["text"]) <= 1024
    # a coordinator wrote: her name is {{1}}, inside the text (Meta refuses a body that begins
    # or ends with a variable), in every language
    for wrote in (r for r in requests if r["name"] == "korak_coordinator_wrote"):
        text = wrote["components"][0]["text"]
        assert text.count("{{1}}") == 1 and not text.startswith("{{") \
            and not text.rstrip(".").endswith("}}"), text
        assert wrote["components"][0]["example"]["body_text"] == [["Maja"]]
    print_templates(TEXTS)
    assert json.loads(capsys.readouterr().out) == requests


def test_korak_whatsapp_templates_prints_what_meta_asks_for(capsys):
    from bot.cli import main

    assert main(["whatsapp", "templates"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert {(t["name"], t["language"]) for t in printed} == {
        (name, code) for name in ("korak_reminder", "korak_coordinator_wrote")
        for code in ("sl", "en", "hr", "sq", "uk")}
    wrote_uk = next(t for t in printed if t["name"] == "korak_coordinator_wrote"
                    and t["language"] == "uk")
    assert wrote_uk["components"][0]["text"].startswith("Координаторка {{1}}")
