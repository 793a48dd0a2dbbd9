"""Residents on Viber and WhatsApp through the real `korak run` process: the Viber and WhatsApp
fakes (tests/bot/viber_fake.py, whatsapp_fake.py: their documented requests, signatures and
answers) stand in for the platforms, telegram-test-api for the coordinators' Telegram group.
On each channel a resident completes the intake; the card reaches the staff chat naming the
channel, the phone and the site; a coordinator's reply reaches the resident on their channel
and their answer comes back under the card. Forged and unsigned callbacks change nothing."""

import asyncio
import json
import sqlite3
import threading
import time
import urllib.error
import urllib.request

import pytest

from tests.bot.viber_fake import FakeViber
from tests.bot.whatsapp_fake import FakeCloudAPI
from tests.e2e.test_e2e import (COORD, STAFF, Chat, buttons_of, emulator, free_port,  # noqa: F401
                                start_bot, stop)
from tests.e2e.test_e2e import pytestmark  # noqa: F401  (e2e; skipped without node)


class Loop:
    """An event loop in a thread, for the fakes (the tests themselves are plain code)."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout=20):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def fakes():
    loop = Loop()
    viber, whatsapp = FakeViber(), FakeCloudAPI()
    viber.require_https = False  # korak listens on plain HTTP on 127.0.0.1 here
    viber.ping_webhook = True  # and Viber checks the webhook with a signed callback at once
    loop.run(viber.start())
    loop.run(whatsapp.start())
    yield loop, viber, whatsapp
    loop.run(viber.close())
    loop.run(whatsapp.stop())
    loop.close()


def post(url, body: bytes, headers: dict) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_for(check, what, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{what} never happened")


def channel_env(listen, viber, whatsapp):
    return {"WEBHOOK_LISTEN": f"127.0.0.1:{listen}",
            "VIBER_AUTH_TOKEN": viber.token, "VIBER_API_URL": viber.url,
            "VIBER_WEBHOOK_URL": f"http://127.0.0.1:{listen}/viber", "VIBER_BOT_NAME": "korak",
            "WHATSAPP_TOKEN": whatsapp.token, "WHATSAPP_API_URL": whatsapp.url,
            "WHATSAPP_PHONE_NUMBER_ID": whatsapp.phone_number_id,
            "WHATSAPP_APP_SECRET": whatsapp.app_secret, "WHATSAPP_VERIFY_TOKEN": "verify-me"}


class ViberPerson:
    def __init__(self, viber, base, user_id):
        self.viber, self.url, self.id = viber, f"{base}/viber", user_id

    def send(self, event):
        body, headers = self.viber.callback(event)
        status, answer = post(self.url, body, headers)
        assert status == 200, (status, answer)
        return json.loads(answer or b"{}")

    def say(self, text):
        return self.send(self.viber.text(self.id, text))

    def messages(self):
        return [b for b in self.viber.sent if b["receiver"] == self.id]

    def wait(self, needle):
        return wait_for(lambda: next((b for b in reversed(self.messages())
                                      if needle in b.get("text", "")), None), repr(needle))

    def press(self, label):
        wait_for(lambda: any(b.get("Text") == label for b in self.viber.keyboard(self.id)),
                 f"button {label!r}")
        self.send(self.viber.press(self.id, label))


class WhatsAppPerson:
    def __init__(self, whatsapp, base, wa_id, name="Ana"):
        self.api, self.url, self.id, self.name = whatsapp, f"{base}/whatsapp", wa_id, name

    def send(self, message):
        headers, body = self.api.signed(self.api.message_webhook(self.id, message,
                                                                 name=self.name))
        status, answer = post(self.url, body, headers)
        assert status == 200, (status, answer)

    def say(self, text):
        self.send({"type": "text", "text": {"body": text}})

    def messages(self):
        return [b for b in self.api.accepted if b["to"] == self.id]

    @staticmethod
    def text_of(body):
        if body["type"] == "text":
            return body["text"]["body"]
        if body["type"] == "interactive":
            return body["interactive"]["body"]["text"]
        return json.dumps(body["template"], ensure_ascii=False)

    def options(self, body):
        interactive = body.get("interactive") or {}
        if interactive.get("type") == "button":
            return {b["reply"]["title"]: b["reply"]["id"]
                    for b in interactive["action"]["buttons"]}
        if interactive.get("type") == "list":
            return {r["title"]: r["id"] for s in interactive["action"]["sections"]
                    for r in s["rows"]}
        return {}

    def wait(self, needle):
        return wait_for(lambda: next((b for b in reversed(self.messages())
                                      if needle in self.text_of(b)), None), repr(needle))

    def press(self, label):
        def find():
            for body in reversed(self.messages()):
                options = self.options(body)
                if options:
                    return options.get(label)
            return None
        reply_id = wait_for(find, f"option {label!r}")
        kind = "button_reply" if reply_id and len(self.options(self.messages()[-1])) <= 3 \
            else "list_reply"
        self.send({"type": "interactive", "interactive": {
            "type": kind, kind: {"id": reply_id, "title": label}}})


def rows(db, sql):
    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_residents_on_viber_and_whatsapp_reach_the_coordinators_and_back(emulator, fakes,
                                                                         tmp_path):
    loop, viber, whatsapp = fakes
    listen = free_port()
    base = f"http://127.0.0.1:{listen}"
    log = open(tmp_path / "bot.log", "w")
    db = tmp_path / "channels.db"
    bot = start_bot(emulator, db, log, **channel_env(listen, viber, whatsapp))
    try:
        # korak set its Viber webhook at start, after its listener answered Viber's check
        wait_for(lambda: viber.webhook, "set_webhook")
        assert viber.webhook["url"] == f"{base}/viber"

        # forged and unsigned callbacks: 403, nothing stored, nothing sent
        event = viber.text("forger==", "Pozdravljeni")
        body, headers = viber.callback(event)
        assert post(f"{base}/viber", body, {**headers, "X-Viber-Content-Signature": "0" * 64}
                    )[0] == 403
        assert post(f"{base}/viber", body, {"Content-Type": "application/json"})[0] == 403
        headers, body = whatsapp.signed(whatsapp.message_webhook("38640999999", {
            "type": "text", "text": {"body": "Zdravo"}}))
        assert post(f"{base}/whatsapp", body, {**headers, "X-Hub-Signature-256": "sha256=00"}
                    )[0] == 403
        assert post(f"{base}/viber", b"{not json", viber.sign(b"{not json"))[0] == 400
        # Meta's subscription handshake
        with urllib.request.urlopen(f"{base}/whatsapp?hub.mode=subscribe&hub.verify_token="
                                    f"verify-me&hub.challenge=1158201444", timeout=10) as resp:
            assert resp.read() == b"1158201444"

        # --- Viber: the chat opened, a greeting only; the first message starts the intake
        v = ViberPerson(viber, base, "01234567890A=")
        welcome = v.send({"event": "conversation_started", "timestamp": 1457764197627,
                          "message_token": 4912661846655238145, "type": "open",
                          "user": viber.user(v.id), "subscribed": False})
        assert "Pozdravljeni" in welcome["text"] and "keyboard" not in welcome
        assert rows(db, "SELECT count(*) FROM resident") == [(0,)]  # nothing stored yet
        v.say("Pozdravljeni")
        v.press("Da, strinjam se")
        v.wait("V kateri občini živite")
        v.say("Mislinja")
        v.wait("lokacija programa je Slovenj Gradec")
        v.press("Ne")
        v.press("Ne delam, ne iščem dela")
        v.press("Ne, preskočite")
        v.press("Preskočim")
        v.press("Ana")
        v.wait("Na katero številko")
        v.say("031 222 333")
        v.press("Popoldne")
        v.wait("Preverite svoje odgovore")
        v.press("✅ Potrjujem")
        v.wait("Vaša prošnja je oddana")

        staff = Chat(emulator, STAFF)
        card = staff.wait("031 222 333")
        assert "Viber" in card["text"] and "Lokacija: Slovenj Gradec" in card["text"]
        card_id = card["message_id"]
        # a coordinator claims and writes; the resident gets it on Viber
        emulator.tap(COORD, buttons_of(card)["Prevzamem"], chat_id=STAFF, message_id=card_id)
        emulator.say(COORD, "Dober dan, vas lahko pokličem jutri?", chat_id=STAFF,
                     chat_type="supergroup", reply_to=card_id)
        v.wait("vas lahko pokličem jutri")
        v.say("Ja, po 10. uri prosim.")
        relayed = staff.wait("po 10. uri prosim")
        assert str(relayed.get("reply_to_message_id")) == str(card_id)

        # --- WhatsApp: the same conversation, drawn with buttons and lists
        w = WhatsAppPerson(whatsapp, base, "38641555666")
        w.say("Dober dan")
        w.press("Da, strinjam se")
        w.wait("V kateri občini živite")
        w.say("Prevalje")
        w.wait("lokacija programa je Slovenj Gradec")
        w.press("Ne")
        w.press("Ne delam, ne iščem dela")
        w.press("Ne, preskočite")
        w.press("Preskočim")
        w.press("Ana")
        # the number she writes from is offered (041 555 666); she gives another one
        w.wait("pokliče na številko 041 555 666")
        w.say("041 777 888")
        w.press("Popoldne")
        w.wait("Preverite svoje odgovore")
        w.press("✅ Potrjujem")
        w.wait("Vaša prošnja je oddana")
        card = staff.wait("041 777 888")
        assert "WhatsApp" in card["text"] and "Lokacija: Slovenj Gradec" in card["text"]
        emulator.tap(COORD, buttons_of(card)["Prevzamem"], chat_id=STAFF,
                     message_id=card["message_id"])
        emulator.say(COORD, "Pokličem vas v petek.", chat_id=STAFF, chat_type="supergroup",
                     reply_to=card["message_id"])
        w.wait("Pokličem vas v petek.")
        w.say("Hvala, v redu.")
        staff.wait("Hvala, v redu.")

        # a callback Viber sends again is handled once
        again = viber.text(v.id, "Še nekaj.")
        v.send(again)
        v.send(again)
        staff.wait("Še nekaj.")
        time.sleep(1.5)
        assert sum("Še nekaj." in (m.get("text") or "") for m in staff.seen) == 1
    finally:
        stop(bot, log)
    text = (tmp_path / "bot.log").read_text()
    assert "Traceback" not in text
    for secret in ("031 222 333", "041 777 888", "01234567890A=", "38641555666",
                   "po 10. uri"):
        assert secret not in text, f"personal data in the log: {secret}"


def whatsapp_intake(w, place="Prevalje"):
    w.say("Dober dan")
    w.press("Da, strinjam se")
    w.wait("V kateri občini živite")
    w.say(place)
    w.wait("lokacija programa je")
    w.press("Ne")
    w.press("Ne delam, ne iščem dela")
    w.press("Ne, preskočite")
    w.press("Preskočim")
    w.press(w.name)
    w.wait("pokliče na številko")  # the number she writes from, offered; she gives another
    w.say("041 777 888")
    w.press("Popoldne")
    w.wait("Preverite svoje odgovore")
    w.press("✅ Potrjujem")
    w.wait("Vaša prošnja je oddana")


def test_a_whatsapp_participant_gets_the_reminder_as_a_template_and_pridem_is_recorded(
        emulator, fakes, tmp_path):
    """The evening before, days after the person last wrote (the 24-hour window closed), the
    reminder goes as the approved template with its quick replies; "Pridem" is recorded."""
    from tests.e2e.test_e2e import enroll_for_a_session, evening_before

    loop, viber, whatsapp = fakes
    whatsapp.approved.add(("korak_reminder", "sl"))
    listen = free_port()
    base = f"http://127.0.0.1:{listen}"
    shift = tmp_path / "clock-shift"
    shift.write_text("0")
    db = tmp_path / "channels.db"
    log = open(tmp_path / "bot.log", "w")
    bot = start_bot(emulator, db, log, KORAK_CLOCK_SHIFT_FILE=str(shift),
                    **channel_env(listen, viber, whatsapp))
    try:
        wait_for(lambda: viber.webhook, "korak's listener")  # set once it listens
        w = WhatsAppPerson(whatsapp, base, "38641555666", "Zofija")
        whatsapp_intake(w)
        staff = Chat(emulator, STAFF)
        card = staff.wait("041 777 888")
        card_id = card["message_id"]
        emulator.tap(COORD, buttons_of(card)["Prevzamem"], chat_id=STAFF, message_id=card_id)
        w.wait("v rokah")
        day, _ = enroll_for_a_session(emulator, db, shift, tmp_path, card_id)
        whatsapp.outside_window.add(w.id)  # Meta would fail anything but a template now
        evening_before(shift, day)
        sent = wait_for(lambda: next((b for b in w.messages() if b["type"] == "template"),
                                     None), "the reminder template")
        template = sent["template"]
        assert template["name"] == "korak_reminder" and template["language"]["code"] == "sl"
        params = [p["text"] for c in template["components"] if c["type"] == "body"
                  for p in c["parameters"]]
        assert "Uvodno srečanje" in params and "Slovenj Gradec, Meškova ulica 21" in params
        payloads = [c["parameters"][0]["payload"] for c in template["components"]
                    if c["type"] == "button"]
        assert len(payloads) == 2 and payloads[0].endswith("|yes")
        # no plain message went outside the window
        assert not any(b["type"] != "template" for b in w.messages()
                       if b is not sent and w.messages().index(b) > w.messages().index(sent))
        whatsapp.outside_window.discard(w.id)  # the tap opens the window again
        w.send({"type": "button", "button": {"payload": payloads[0], "text": "Pridem"}})
        w.wait("Hvala! Se vidimo.")
        assert wait_for(lambda: rows(db, "SELECT answer FROM attendance WHERE person = "
                                         f"'whatsapp:{w.id}'"), "the answer") == [("yes",)]
    finally:
        stop(bot, log)
    assert "Traceback" not in (tmp_path / "bot.log").read_text()


def test_izbrisi_on_whatsapp_leaves_no_byte_of_the_person_and_a_kill_loses_nothing(
        emulator, fakes, tmp_path):
    """A process killed right after acknowledging a callback: the stored callback is handled
    after the restart. After "izbriši" no byte of the person's number or name is in the
    database file or its log."""
    loop, viber, whatsapp = fakes
    listen = free_port()
    base = f"http://127.0.0.1:{listen}"
    db = tmp_path / "channels.db"
    log = open(tmp_path / "bot.log", "w")
    env = channel_env(listen, viber, whatsapp)
    bot = start_bot(emulator, db, log, **env)
    try:
        wait_for(lambda: viber.webhook, "korak's listener")  # set once it listens
        w = WhatsAppPerson(whatsapp, base, "38640123987", "Kunigunda")
        whatsapp_intake(w, place="Muta")
        staff = Chat(emulator, STAFF)
        staff.wait("041 777 888")
        # acknowledged, then killed at once: nothing is lost
        w.say("Imam še vprašanje o terminu.")
        bot.send_signal(9)
        bot.wait(10)
        viber.webhook = None
        bot = start_bot(emulator, db, log, **env)
        # taken over once the dead process's claim on it runs out (bot/runtime/inbox.LEASE)
        staff.wait("Imam še vprašanje o terminu.", timeout=120)
        wait_for(lambda: viber.webhook, "korak's listener")

        w.say("izbriši")
        w.press("Da, izbrišite vse")
        w.wait("podatki so izbrisani")
        staff.wait("je umaknjena")
        time.sleep(1.5)
    finally:
        stop(bot, log)
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("channels.db*"))
    for secret in ("38640123987", "Kunigunda", "041 777 888", "+38641777888"):
        assert secret.encode() not in stored, f"{secret} left in the database"
    assert "Traceback" not in (tmp_path / "bot.log").read_text()
