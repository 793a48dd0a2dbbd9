"""The real `korak run` process against telegram-test-api on 127.0.0.1: a resident completes
intake by tapping and the staff chat is told; the process is killed mid-intake and restarted,
and the next resident carries on without repeating answers."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
TOKEN = "123456:korak-e2e"
DATA_KEY = "yNFe0wnS2sa5e7mNnUZ3W2Xk7Rrj0iEu1m2cDHhh8eU="  # for these tests only
STAFF = -100777
COORD, STRANGER = 8001, 8666

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("node") is None or not (HERE / "node_modules").exists(),
                       reason="node or tests/e2e/node_modules missing (scripts/test.sh installs it)"),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Emulator:
    def __init__(self, port):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(["node", str(HERE / "launcher.js"), str(port)],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("ready"), line

    def post(self, path, body):
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def person(self, uid, chat_id=None, chat_type="private"):
        user = {"id": uid, "is_bot": False, "first_name": f"Oseba{uid}"}
        chat = {"id": chat_id or uid, "type": chat_type, "first_name": f"Oseba{uid}"}
        return user, chat

    def say(self, uid, text, chat_id=None, chat_type="private", reply_to=None):
        user, chat = self.person(uid, chat_id, chat_type)
        body = {"botToken": TOKEN, "from": user, "chat": chat, "text": text,
                "date": int(time.time())}
        if reply_to is not None:  # a Telegram reply to one of the bot's messages
            body["reply_to_message"] = {
                "message_id": reply_to, "date": int(time.time()), "chat": chat, "text": "…",
                "from": {"id": 666, "is_bot": True, "first_name": "korak test"}}
        self.post("/sendMessage", body)

    def tap(self, uid, data, chat_id=None, message_id=1):
        user, chat = self.person(uid)
        if chat_id is not None:
            chat = {"id": chat_id, "type": "supergroup", "title": "Koordinatorke"}
        message = {"message_id": message_id, "date": int(time.time()), "chat": chat,
                   "text": "…"}
        self.post("/sendCallback", {"botToken": TOKEN, "from": user, "message": message,
                                    "data": data})

    def inbox(self, chat_id):
        """Bot messages to this chat not read yet."""
        out = self.post("/getUpdates", {"token": TOKEN, "chatId": chat_id})
        return [{**u["message"], "message_id": u["messageId"]} for u in out["result"]]

    def current(self, message_id):
        """A bot message as it stands now, edits included."""
        out = self.post("/getUpdatesHistory", {"token": TOKEN})
        for u in out["result"]:
            if u.get("messageId") == message_id and "chat_id" in u.get("message", {}):
                return u["message"]
        raise AssertionError(f"no bot message {message_id}")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Chat:
    """What one person has seen, read from the emulator as it arrives."""

    def __init__(self, emu, uid):
        self.emu, self.uid, self.seen = emu, uid, []

    def wait(self, needle, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            self.seen += self.emu.inbox(self.uid)
            for m in self.seen:
                if needle in (m.get("text") or ""):
                    return m
            time.sleep(0.05)
        raise AssertionError(f"{needle!r} never arrived; saw: {[m.get('text') for m in self.seen][-5:]}")

    def button(self, label, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            self.seen += self.emu.inbox(self.uid)
            for m in reversed(self.seen):
                markup = m.get("reply_markup") or {}
                for row in markup.get("inline_keyboard", []):
                    for b in row:
                        if b["text"] == label:
                            return b["callback_data"]
            time.sleep(0.05)
        raise AssertionError(f"no button {label!r}")

    def press(self, label):
        data = self.button(label)
        self.seen.clear()
        self.emu.tap(self.uid, data)

    def say(self, text):
        self.seen.clear()
        self.emu.say(self.uid, text)


@pytest.fixture
def emulator():
    emu = Emulator(free_port())
    yield emu
    emu.stop()


def bot_env(emu, db_path, **extra):
    """`db_path`: an SQLite file, or a database URL."""
    url = str(db_path) if "://" in str(db_path) else f"sqlite+aiosqlite:///{db_path}"
    return {**os.environ, "BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": emu.url,
            "DATABASE_URL": url, "STAFF_CHAT_ID": str(STAFF),
            "OUTBOX_TICK_SECONDS": "1", "LOG_FORMAT": "json", "COORDINATOR_IDS": str(COORD),
            "DATA_KEY": DATA_KEY, "HEALTH_PORT": "0", **extra}


def start_bot(emu, db_path, log, **extra):
    return subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=ROOT,
                            env=bot_env(emu, db_path, **extra), stdout=log,
                            stderr=subprocess.STDOUT)


def answer_the_rest(r):
    """From the money question to the summary, asking to be written to."""
    r.press("Ne")
    r.press("Ne delam, ne iščem dela")
    r.press("Ne, preskočite")
    r.press("Preskočim")
    r.press(f"Oseba{r.uid}")
    r.wait("Na katero številko")
    r.say("Raje mi pišite tukaj")
    return r.wait("Preverite svoje odgovore")


def intake(r, place):
    """A resident goes through the questions tapping, and asks to be written to."""
    r.say("/start")
    r.press("Da, strinjam se")
    r.say(place)
    r.wait("lokacija programa je")
    answer_the_rest(r)
    r.press("✅ Potrjujem")
    r.wait("Vaša prošnja je oddana")


def stop(bot, log):
    bot.send_signal(signal.SIGTERM)
    try:
        bot.wait(10)
    except subprocess.TimeoutExpired:
        bot.kill()
    log.close()


def test_intake_end_to_end_and_resume_after_kill(emulator, tmp_path):
    log = open(tmp_path / "bot.log", "w")
    bot = start_bot(emulator, tmp_path / "e2e.db", log)
    try:
        a = Chat(emulator, 7001)
        a.say("/start")
        a.wait("Pozdravljeni")
        a.press("Da, strinjam se")
        a.wait("V kateri občini živite")
        a.say("Mislinja")
        a.wait("lokacija programa je Slovenj Gradec")
        a.press("Ne")
        a.press("Ne delam, ne iščem dela")
        a.press("Ne, preskočite")
        a.press("Preskočim")
        a.press("Oseba7001")
        a.wait("Na katero številko")
        a.say("031 222 333")
        a.press("Popoldne")
        a.wait("Preverite svoje odgovore")
        a.press("✅ Potrjujem")
        a.wait("Vaša prošnja je oddana")
        staff = Chat(emulator, STAFF)
        notice = staff.wait("Nova prošnja")
        assert "Lokacija: Slovenj Gradec" in notice["text"] and "031 222 333" in notice["text"]

        # A second resident is in the middle of the questions when the process dies.
        b = Chat(emulator, 7002)
        b.say("/start")
        b.press("Da, strinjam se")
        b.say("v Vuhredu")
        b.wait("lokacija programa je Radlje ob Dravi")
        b.press("Da")
        b.wait("Koliko časa")
        bot.send_signal(signal.SIGKILL)
        bot.wait(10)
        bot = start_bot(emulator, tmp_path / "e2e.db", log)
        b.press("Eno leto ali več")  # the button of the message sent before the crash
        b.wait("Kaj od tega velja za vas")
        b.press("Ne delam, ne iščem dela")
        b.press("Ne, preskočite")
        b.press("Preskočim")
        b.press("Oseba7002")
        b.wait("Na katero številko")
        b.say("Raje mi pišite tukaj")
        summary = b.wait("Preverite svoje odgovore")["text"]
        assert "Vuhred" in summary and "da, eno leto ali več" in summary
        b.press("✅ Potrjujem")
        b.wait("Vaša prošnja je oddana")
        staff.seen.clear()
        notice = staff.wait("Nova prošnja")
        assert "Lokacija: Radlje ob Dravi" in notice["text"]
        assert "dolgotrajni prejemnik DSP" in notice["text"]
        # nobody was asked the same question twice after the restart
        asked = [m["text"] for m in b.seen]
        assert not any("Ali prejemate denarno socialno pomoč" in t for t in asked)
    finally:
        stop(bot, log)
    text = (tmp_path / "bot.log").read_text()
    assert "Traceback" not in text
    for secret in ("031 222 333", "+38631222333", "Oseba7001", "Vuhred"):
        assert secret not in text, f"personal data in the log: {secret}"


def buttons_of(message):
    markup = message.get("reply_markup") or {}
    return {b["text"]: b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row}


def test_coordinator_claims_talks_with_the_resident_and_records_the_outcome(emulator, tmp_path):
    log = open(tmp_path / "bot.log", "w")
    bot = start_bot(emulator, tmp_path / "e2e.db", log)
    try:
        r = Chat(emulator, 7101)
        intake(r, "Prevalje")

        staff = Chat(emulator, STAFF)
        card = staff.wait("Nova prošnja")
        card_id = card["message_id"]
        assert "Prevalje" in card["text"]
        assert list(buttons_of(card)) == ["Prevzamem"]

        # coordinator A claims; the card changes in place and the resident is told
        emulator.tap(COORD, buttons_of(card)["Prevzamem"], chat_id=STAFF, message_id=card_id)
        r.wait("v rokah Oseba8001")
        claimed = emulator.current(card_id)
        assert "prevzeta · Oseba8001" in claimed["text"]
        assert "Vključen/a" in buttons_of(claimed)

        # someone else in the group presses a button: nothing changes
        emulator.tap(STRANGER, buttons_of(claimed)["Vrni v vrsto"], chat_id=STAFF,
                     message_id=card_id)
        time.sleep(1.0)
        assert emulator.current(card_id)["text"] == claimed["text"]

        # A replies to the card; the resident gets it, signed
        emulator.say(COORD, "Dober dan, vas lahko pokličem jutri?", chat_id=STAFF,
                     chat_type="supergroup", reply_to=card_id)
        got = r.wait("vas lahko pokličem jutri")
        assert "Oseba8001" in got["text"]

        # the resident answers outside any question; the staff chat gets it on the card
        r.say("Ja, po 10. uri prosim.")
        r.wait("posredovali ekipi")
        relayed = staff.wait("po 10. uri prosim")
        assert str(relayed.get("reply_to_message_id")) == str(card_id)

        # A records the outcome
        emulator.tap(COORD, buttons_of(claimed)["Vključen/a"], chat_id=STAFF,
                     message_id=card_id)
        deadline = time.time() + 20
        while "vključen/a v program" not in emulator.current(card_id)["text"]:
            assert time.time() < deadline, emulator.current(card_id)["text"]
            time.sleep(0.1)
        assert list(buttons_of(emulator.current(card_id))) == ["Vrni v vrsto"]
    finally:
        stop(bot, log)
    text = (tmp_path / "bot.log").read_text()
    assert "Traceback" not in text
    for secret in ("po 10. uri", "pokličem jutri", "Oseba7101", "Prevalje"):
        assert secret not in text, f"personal data in the log: {secret}"


def enroll_for_a_session(emulator, db, shift, tmp_path, card_id):
    """A coordinator imports a schedule with one session five days from now (`korak schedule
    import`) and enrolls the card's resident in it from the card. Returns the session's day
    and what the import printed."""
    from datetime import date, timedelta

    day = date.today() + timedelta(days=5)
    (tmp_path / "urnik.csv").write_text(
        "datum;zacetek;konec;naslov;kraj\n"
        f"{day.day}. {day.month}. {day.year};10.00;12.00;Uvodno srečanje;"
        "Slovenj Gradec, Meškova ulica 21\n", encoding="utf-8")
    imported = subprocess.run(
        [sys.executable, "-m", "bot", "schedule", "import", str(tmp_path / "urnik.csv"),
         "--cohort", "SG test", "--site", "slovenj-gradec"], cwd=ROOT,
        env=bot_env(emulator, db, KORAK_CLOCK_SHIFT_FILE=str(shift)),
        capture_output=True, text=True, timeout=60)
    assert imported.returncode == 0, imported.stderr
    claimed = emulator.current(card_id)
    emulator.tap(COORD, buttons_of(claimed)["Vključen/a"], chat_id=STAFF, message_id=card_id)
    deadline = time.time() + 20
    while "📅 SG test" not in buttons_of(emulator.current(card_id)):
        assert time.time() < deadline
        time.sleep(0.1)
    emulator.tap(COORD, buttons_of(emulator.current(card_id))["📅 SG test"], chat_id=STAFF,
                 message_id=card_id)
    while "vključen/a v program" not in emulator.current(card_id)["text"]:
        assert time.time() < deadline
        time.sleep(0.1)
    return day, imported.stdout


def evening_before(shift, day):
    """Moves the bot's clock to the evening before `day`, 17:00:30 in Ljubljana."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    lj = ZoneInfo("Europe/Ljubljana")
    evening = datetime.combine(day - timedelta(days=1), datetime.min.time(), tzinfo=lj) \
        + timedelta(hours=17, seconds=30)
    shift.write_text(str((evening - datetime.now(lj)).total_seconds()))


def test_schedule_import_enrollment_reminder_and_not_coming(emulator, tmp_path):
    """A coordinator imports a schedule and enrolls a resident from the card; the clock is
    moved to the evening before; the reminder arrives; "Ne morem priti" reaches the staff."""
    shift = tmp_path / "clock-shift"
    shift.write_text("0")
    db = tmp_path / "e2e.db"
    log = open(tmp_path / "bot.log", "w")
    bot = start_bot(emulator, db, log, KORAK_CLOCK_SHIFT_FILE=str(shift))
    try:
        r = Chat(emulator, 7201)
        intake(r, "Mežica")
        staff = Chat(emulator, STAFF)
        card = staff.wait("Nova prošnja")
        card_id = card["message_id"]
        emulator.tap(COORD, buttons_of(card)["Prevzamem"], chat_id=STAFF, message_id=card_id)
        r.wait("v rokah Oseba8001")

        day, imported = enroll_for_a_session(emulator, db, shift, tmp_path, card_id)
        assert "➕ novo: Uvodno srečanje" in imported
        evening_before(shift, day)
        reminder = r.wait("⏰ Opomnik: Jutri")
        assert "ob 10.00 — Slovenj Gradec, Meškova ulica 21: Uvodno srečanje" in reminder["text"]
        assert list(buttons_of(reminder)) == ["✅ Pridem", "❌ Ne morem priti"]
        r.seen.clear()
        emulator.tap(r.uid, buttons_of(reminder)["❌ Ne morem priti"])
        r.wait("Hvala, da ste nam sporočili")
        told = staff.wait("ne more priti")
        assert "Uvodno srečanje" in told["text"] and "Oseba8001" in told["text"]
    finally:
        stop(bot, log)
    text = (tmp_path / "bot.log").read_text()
    assert "Traceback" not in text
    assert "Oseba7201" not in text and "Mežica" not in text


def test_run_stops_when_it_cannot_post_in_the_staff_chat(emulator, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "bot", "run"], cwd=ROOT, timeout=60,
                          env=bot_env(emulator, tmp_path / "e2e.db", STAFF_CHAT_ID="-1000"),
                          capture_output=True, text=True)
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert "ne more pisati v skupino koordinatork" in last and "-1000" in last


def test_webhook_mode_with_health_and_redelivery_after_a_kill(emulator, tmp_path):
    """`korak run --webhook`: setWebhook with the secret at start, updates by webhook, health
    on HEALTH_PORT and not on the public listener; while the process is dead Telegram (the
    emulator) keeps delivering again, and the update is handled once it is back."""
    port, health_port = free_port(), free_port()
    env = {"WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram", "WEBHOOK_LISTEN":
           f"127.0.0.1:{port}", "WEBHOOK_SECRET": "e2e-secret-0123456789",
           "HEALTH_PORT": str(health_port)}
    log = open(tmp_path / "bot.log", "w")

    def start():
        return subprocess.Popen([sys.executable, "-m", "bot", "run", "--webhook"], cwd=ROOT,
                                env=bot_env(emulator, tmp_path / "e2e.db", **env), stdout=log,
                                stderr=subprocess.STDOUT)

    def get(path, on=health_port):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{on}{path}", timeout=5) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    bot = start()
    try:
        deadline = time.time() + 30
        while True:  # ready once it has ticked, after setWebhook
            try:
                if get("/readyz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.time() < deadline, "the webhook server did not come up"
            time.sleep(0.2)
        assert get("/healthz")[0] == 200
        r = Chat(emulator, 7401)
        r.say("/start")
        r.wait("Pozdravljeni")
        status, page = get("/metrics")
        assert status == 200 and "korak_updates_total" in page
        for path in ("/healthz", "/readyz", "/metrics"):  # the public listener: updates only
            assert get(path, on=port)[0] == 404
        # a request without the secret is refused
        req = urllib.request.Request(f"http://127.0.0.1:{port}/telegram", data=b"{}",
                                     headers={"Content-Type": "application/json"})
        try:
            urllib.request.urlopen(req, timeout=5)
            raise AssertionError("accepted without the secret")
        except urllib.error.HTTPError as exc:
            assert exc.code == 401
        bot.send_signal(signal.SIGKILL)
        bot.wait(10)
        r.press("Da, strinjam se")  # the bot is down: delivered again until it is back
        time.sleep(1.5)
        bot = start()
        r.wait("V kateri občini živite")
    finally:
        stop(bot, log)
    assert "Traceback" not in (tmp_path / "bot.log").read_text()
