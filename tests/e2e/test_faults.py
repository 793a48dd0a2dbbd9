"""Proof under faults: the real bot process behind a fault-injecting proxy (429, 5xx, answers
past the timeout, dropped connections, repeated updates), and killed with SIGKILL at random
moments during intakes, coordinator actions and reminder dispatch, then restarted. Afterwards
the database must show no answered step lost, no request twice, no reminder sent twice, and
every resident must be able to go on.

KORAK_CRASH_KILLS sets how many kills the crash test makes (default 50)."""

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from .test_e2e import (COORD, HERE, ROOT, STAFF, TOKEN, Chat, Emulator, bot_env, buttons_of,
                       free_port)

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(
    not (HERE / "node_modules").exists(), reason="tests/e2e/node_modules missing")]

KILLS = int(os.environ.get("KORAK_CRASH_KILLS", "50"))
LJ = ZoneInfo("Europe/Ljubljana")

# the question a resident sees → (what they do, the intake step it belongs to)
ANSWERS = [
    ("Ali se strinjate", ("tap", "Da, strinjam se"), "consent"),
    ("V kateri občini živite", ("say", "Mislinja"), "place"),
    ("Ste mislili", ("tap", "Da"), "place_confirm"),
    ("Ali prejemate denarno socialno pomoč", ("tap", "Ne"), "dsp"),
    ("Kaj od tega velja za vas", ("tap", "Ne delam, ne iščem dela"), "work"),
    ("Naslednje vprašanje je občutljivo", ("tap", "Ne, preskočite"), "sensitive_consent"),
    ("Kaj pričakujete", ("tap", "Preskočim"), "hopes"),
    ("Kako naj vas", ("tap", "{name}"), "name"),
    ("Na katero številko", ("say", "031 222 333"), "phone"),
    ("Kdaj vas lahko pokličemo", ("tap", "Popoldne"), "call_time"),
    ("Preverite svoje odgovore", ("tap", "✅ Potrjujem"), "summary"),
]
ORDER = ["consent", "place", "place_confirm", "place_choose", "place_elsewhere", "dsp",
         "dsp_duration", "work", "sensitive_consent", "sensitive", "hopes", "fit", "name",
         "phone", "call_time", "summary", "edit_choose", "done"]
DONE = ("Vaša prošnja je oddana", "Vaša prošnja je že oddana", "Vaša prošnja št.")


class Resident:
    """Goes through the intake the way a patient person would: answers the newest question,
    and when nothing comes back for a while, asks for help (/pomoc), which repeats it."""

    def __init__(self, emu, uid):
        self.emu, self.uid = emu, uid
        self.messages = []
        self.furthest = -1  # index in ORDER of the furthest question seen
        self.done = False
        self.acted = 0.0
        self.handled = 0
        self.nudges = 0

    def poll(self):
        new = self.emu.inbox(self.uid)
        self.messages += new
        for m in new:
            text = m.get("text") or ""
            for marker, _, step in reversed(ANSWERS):
                if marker in text:
                    self.furthest = max(self.furthest, ORDER.index(step))
                    break
            if any(d in text for d in DONE):
                self.done = True
        return new

    def act(self, now):
        new = self.poll()
        if self.done:
            return
        if not self.acted:
            self.emu.say(self.uid, "/start")
            self.acted = now
            return
        question = None
        for i in range(len(self.messages) - 1, self.handled - 1, -1):
            text = self.messages[i].get("text") or ""
            # later questions first: the summary repeats earlier questions' words
            question = next((a for marker, a, _ in reversed(ANSWERS) if marker in text), None)
            if question:
                break
        if question is not None:
            kind, value = question
            value = value.replace("{name}", f"Oseba{self.uid}")
            if kind == "tap":
                # the buttons may come on the question or on a message right after it
                data = next((buttons_of(m)[value] for m in self.messages[i:]
                             if value in buttons_of(m)), None)
                if data is None and now - self.acted < 3:
                    return  # the message with the buttons is still on its way
            self.handled = len(self.messages)
            if kind == "say" or data is None:  # a reply keyboard: the label is typed
                self.emu.say(self.uid, value)
            else:
                self.emu.tap(self.uid, data)
            self.acted = now
        elif new == [] and now - self.acted > 12:
            # an update can be lost with a killed process: ask for help, which repeats the
            # current question, and after confirming, by turns for the status
            self.nudges += 1
            at_end = self.furthest >= ORDER.index("summary")
            self.emu.say(self.uid, "/status" if at_end and self.nudges % 2 else "/pomoc")
            self.acted = now


class Bot:
    def __init__(self, emu, db, log, api=None, **env):
        self.emu, self.db, self.log, self.api, self.env = emu, db, log, api, env
        self.log_path = Path(log.name)
        self.proc = None
        self.kills = 0

    def ready(self):
        """The bot has started taking updates since the last start (the log says so)."""
        return self.log_path.read_text().count('"korak started"') > self.polls_before

    def start(self):
        self.polls_before = self.log_path.read_text().count('"korak started"')
        env = bot_env(self.emu, self.db, **self.env)
        if self.api:
            env["TELEGRAM_API_URL"] = self.api
        self.proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=ROOT, env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.started = time.time()

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.kills += 1

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def db_rows(path, sql, *args):
    if not os.path.exists(path):
        return []
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def check_no_answer_lost(db, residents):
    """Every question a resident has seen was asked after the answer before it was stored:
    the stored step is never behind the furthest question seen."""
    if not db_rows(db, "SELECT name FROM sqlite_master WHERE name='resident'"):
        assert all(r.furthest < 0 for r in residents)  # killed before it set anything up
        return
    stored = {uid: json.loads(state).get("step", "idle")
              for uid, state in db_rows(db, "SELECT CAST(substr(person, 10) AS INTEGER), state FROM resident")}
    requests = {uid for (uid,) in db_rows(db, "SELECT CAST(substr(person, 10) AS INTEGER) FROM contact_request")}
    for r in residents:
        if r.furthest < 0 or r.uid in requests:
            continue
        step = stored.get(r.uid)
        assert step in ORDER, f"resident {r.uid}: saw {ORDER[r.furthest]}, stored {step}"
        assert ORDER.index(step) >= r.furthest, (
            f"resident {r.uid} saw the question {ORDER[r.furthest]!r} but the database is at "
            f"{step!r}: an answered step was lost")


def no_pii_in(log_path, secrets):
    text = log_path.read_text()
    assert "Traceback" not in text
    for s in secrets:
        assert s not in text, f"personal data in the log: {s}"


@pytest.fixture
def emulator():
    emu = Emulator(free_port())
    yield emu
    emu.stop()


def start_proxy(upstream, rates):
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(HERE / "fault_proxy.py"), upstream, str(port),
                             json.dumps(rates)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().startswith("ready")
    return proc, f"http://127.0.0.1:{port}"


def test_intake_and_handoff_through_a_faulty_bot_api(emulator, tmp_path):
    rates = {"r429": 0.08, "r5xx": 0.08, "slow": 0.04, "drop": 0.05, "repeat": 0.25,
             "slow_seconds": 3.0, "seed": 7}
    proxy, url = start_proxy(emulator.url, rates)
    db = tmp_path / "faults.db"
    log = open(tmp_path / "bot.log", "w")
    bot = Bot(emulator, db, log, api=url, TELEGRAM_TIMEOUT="1.5")
    bot.start()
    try:
        residents = [Resident(emulator, 7300 + i) for i in range(4)]
        deadline = time.time() + 150
        while not all(r.done for r in residents):
            assert time.time() < deadline, [(r.uid, r.furthest) for r in residents]
            for r in residents:
                r.act(time.time())
            time.sleep(0.1)
        # the coordinator claims every card, despite the faults
        cards = {}
        deadline = time.time() + 90
        while len(cards) < 4:
            assert time.time() < deadline, cards
            for m in emulator.inbox(STAFF):
                found = re.search(r"Nova prošnja št\. (\d+)", m.get("text") or "")
                if found:
                    cards[int(found.group(1))] = m
            time.sleep(0.1)
        for rid, card in cards.items():
            deadline = time.time() + 60
            while "prevzeta" not in emulator.current(card["message_id"])["text"]:
                assert time.time() < deadline, rid
                current = emulator.current(card["message_id"])
                if "Prevzamem" in buttons_of(current):
                    emulator.tap(COORD, buttons_of(current)["Prevzamem"], chat_id=STAFF,
                                 message_id=card["message_id"])
                time.sleep(2.0)
        stats = json.loads(__import__("urllib.request").request.urlopen(url + "/stats").read())
    finally:
        bot.stop()
        proxy.terminate()
        log.close()
    # every kind of fault happened, and nothing was doubled or lost
    assert all(stats[k] > 0 for k in ("429", "5xx", "slow", "drop", "repeat")), stats
    rows = db_rows(db, "SELECT CAST(substr(person, 10) AS INTEGER), status, owner_id FROM contact_request")
    assert sorted(uid for uid, _, _ in rows) == [7300, 7301, 7302, 7303]
    assert {(status, owner) for _, status, owner in rows} == {("claimed", COORD)}
    events = db_rows(db, "SELECT request_id, action FROM request_event")
    assert sorted(events) == [(i, "claim") for i in sorted(cards)]
    no_pii_in(tmp_path / "bot.log", ["031 222 333", "+38631222333", "Oseba7300", "Mislinja"])


def test_sigkill_at_random_moments(emulator, tmp_path):
    rng = random.Random(2026)
    shift = tmp_path / "clock-shift"
    shift.write_text("0")
    db = tmp_path / "crash.db"
    log = open(tmp_path / "bot.log", "w")
    env = {"KORAK_CLOCK_SHIFT_FILE": str(shift), "REMINDER_OFFSETS": "-1d@17:00"}
    bot = Bot(emulator, db, log, **env)
    bot.start()
    plan = {"at": None, "early": False}

    def maybe_kill(check):
        """Kill at a random moment once the restarted bot is polling; one start in ten is
        killed while it is still starting up."""
        if plan["at"] is None:
            if plan["early"]:
                plan["at"] = time.time() + rng.uniform(0.0, 0.5)
            elif bot.ready():
                plan["at"] = time.time() + rng.uniform(0.1, 2.0)
            return
        if time.time() < plan["at"]:
            return
        bot.kill()
        check()
        bot.start()
        plan["at"], plan["early"] = None, rng.random() < 0.1

    try:
        # 1. intakes; more residents join until enough kills have hit them
        residents = [Resident(emulator, 7400 + i) for i in range(4)]
        target = max(1, int(KILLS * 0.4))
        deadline = time.time() + 600
        while not all(r.done for r in residents) or bot.kills < target:
            assert time.time() < deadline, [(r.uid, r.furthest) for r in residents]
            if all(r.done for r in residents):
                residents.append(Resident(emulator, 7400 + len(residents)))
            for r in residents:
                r.act(time.time())
            if os.environ.get("KORAK_CRASH_DEBUG") and int(time.time() * 10) % 50 == 0:
                print("intake", bot.kills, [(r.uid, r.furthest, r.done) for r in residents],
                      flush=True)
            maybe_kill(lambda: check_no_answer_lost(db, residents))
            time.sleep(0.05)
        intake_kills = bot.kills
        uids = sorted(r.uid for r in residents)
        rows = db_rows(db, "SELECT id, CAST(substr(person, 10) AS INTEGER) FROM contact_request ORDER BY id")
        assert sorted(uid for _, uid in rows) == uids, "a request is missing or doubled"
        for (answers,) in db_rows(db, "SELECT answers FROM contact_request"):
            a = json.loads(answers)
            assert (a["municipality"], a["phone"], a["call_time"]) == (
                "Mislinja", "+38631222333", "afternoon")

        # 2. the coordinator claims and records contact on every card while kills go on
        request_ids = [rid for rid, _ in rows]
        target = bot.kills + max(1, int(KILLS * 0.3))
        done: set[int] = set()
        last_tap: dict[int, float] = {}
        deadline = time.time() + 600
        while len(done) < len(request_ids) or bot.kills < target:
            assert time.time() < deadline, (done, bot.kills)
            status = dict(db_rows(db, "SELECT id, status FROM contact_request"))
            cards = dict(db_rows(db, "SELECT id, card_message_id FROM contact_request"))
            for rid in request_ids:
                if status.get(rid) == "contacted":
                    done.add(rid)
                    continue
                if cards.get(rid) is None or time.time() - last_tap.get(rid, 0) < 2.5:
                    continue
                current = emulator.current(cards[rid])
                buttons = buttons_of(current)
                if os.environ.get("KORAK_CRASH_DEBUG"):
                    print("card", rid, cards[rid], list(buttons), flush=True)
                label = "Prevzamem" if "Prevzamem" in buttons else "Kontaktirano"
                if label in buttons:
                    emulator.tap(COORD, buttons[label], chat_id=STAFF, message_id=cards[rid])
                    last_tap[rid] = time.time()
            if len(done) == len(request_ids) and bot.kills < target:
                # keep the bot busy while the kills go on: residents ask for their status
                emulator.say(rng.choice(uids), "/status")
            maybe_kill(lambda: None)
            time.sleep(0.1)
        handoff_kills = bot.kills - intake_kills
        events = db_rows(db, "SELECT request_id, action FROM request_event ORDER BY id")
        assert Counter(events) == Counter({(rid, a): 1 for rid in request_ids
                                           for a in ("claim", "contacted")}), events

        # 3. reminders: a day of 10 sessions for everyone, then the clock moves to the evening
        day = date.today() + timedelta(days=6)
        lines = ["datum;zacetek;konec;naslov;kraj"]
        for n in range(10):
            start = datetime(day.year, day.month, day.day, 8, 0) + timedelta(minutes=30 * n)
            lines.append(f"{day.day}. {day.month}. {day.year};{start:%H.%M};"
                         f"{start + timedelta(minutes=15):%H.%M};Srečanje {n + 1};Slovenj Gradec")
        (tmp_path / "dan.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        cli_env = bot_env(emulator, db, **env)
        subprocess.run([sys.executable, "-m", "bot", "schedule", "import",
                        str(tmp_path / "dan.csv"), "--cohort", "SG crash", "--site",
                        "slovenj-gradec"], cwd=ROOT, env=cli_env, check=True,
                       capture_output=True, timeout=120)
        for rid in request_ids:
            subprocess.run([sys.executable, "-m", "bot", "enroll", str(rid), "--cohort",
                            "SG crash"], cwd=ROOT, env=cli_env, check=True,
                           capture_output=True, timeout=120)
        evening = datetime.combine(day - timedelta(days=1), datetime.min.time(), tzinfo=LJ) \
            + timedelta(hours=17, seconds=30)
        shift.write_text(str((evening - datetime.now(LJ)).total_seconds()))
        expected = len(request_ids) * 10
        target = bot.kills + max(1, KILLS - bot.kills)
        deadline = time.time() + 900
        while True:
            assert time.time() < deadline, bot.kills
            (left,) = db_rows(db, "SELECT COUNT(*) FROM outbox WHERE kind='reminder' AND "
                                  "sent_at IS NULL")[0]
            if left == 0 and bot.kills >= target:
                break
            if left == 0:  # all out before enough kills: another day of sessions
                day += timedelta(days=1)
                lines = [lines[0]] + [re.sub(r"^\d+\. \d+\. \d+", f"{day.day}. {day.month}. "
                                             f"{day.year}", ln) for ln in lines[1:]]
                (tmp_path / "dan.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
                subprocess.run([sys.executable, "-m", "bot", "schedule", "import",
                                str(tmp_path / "dan.csv"), "--cohort", f"SG crash {day}",
                                "--site", "slovenj-gradec"], cwd=ROOT, env=cli_env, check=True,
                               capture_output=True, timeout=120)
                for rid in request_ids:
                    subprocess.run([sys.executable, "-m", "bot", "enroll", str(rid),
                                    "--cohort", f"SG crash {day}"], cwd=ROOT, env=cli_env,
                                   check=True, capture_output=True, timeout=120)
                expected += len(request_ids) * 10
                evening = datetime.combine(day - timedelta(days=1), datetime.min.time(),
                                           tzinfo=LJ) + timedelta(hours=17, seconds=30)
                shift.write_text(str((evening - datetime.now(LJ)).total_seconds()))
            maybe_kill(lambda: None)
            time.sleep(0.1)
        reminder_kills = bot.kills - intake_kills - handoff_kills
        time.sleep(1.0)
        # every resident can go on: they ask for their status and get it
        for uid in uids:
            emulator.say(uid, "/status")
        for uid in uids:
            deadline = time.time() + 60
            got = []
            while not any("Vaša prošnja št." in (m.get("text") or "") for m in got):
                assert time.time() < deadline, (uid, [(m.get("text") or "")[:60] for m in got])
                got += emulator.inbox(uid)
                time.sleep(0.1)
    finally:
        bot.stop()
        log.close()
    history = emulator.post("/getUpdatesHistory", {"token": TOKEN})["result"]
    reminders = Counter((u["message"].get("chat_id"), u["message"].get("text"))
                        for u in history if "chat_id" in u.get("message", {})
                        and "⏰ Opomnik" in (u["message"].get("text") or ""))
    assert reminders and max(reminders.values()) == 1, "a reminder was sent twice"
    (interrupted,) = db_rows(db, "SELECT COUNT(*) FROM outbox WHERE kind='reminder' AND "
                                 "last_error LIKE 'interrupted%'")[0]
    # every reminder was delivered or recorded as interrupted (an interrupted one may still
    # have arrived: the kill can fall after Telegram took it), and none came twice
    assert len(reminders) <= expected <= len(reminders) + interrupted
    # at most the one in flight per chat at each kill
    assert interrupted <= reminder_kills * len(uids)
    assert bot.kills >= KILLS
    print(f"kills: {intake_kills} during intakes, {handoff_kills} during coordinator actions, "
          f"{reminder_kills} during reminders; {len(reminders)} reminders delivered, "
          f"{interrupted} interrupted and not repeated")
    no_pii_in(tmp_path / "bot.log", ["031 222 333", "+38631222333", "Oseba7400", "Mislinja"])


def test_a_reply_lost_with_a_killed_process_is_said_after_the_restart(emulator, tmp_path):
    """Issue 23, item 6: korak is killed after a resident's answer was committed and before
    its reply reached Telegram (the send hangs). After the restart the resident gets the open
    question again, without writing anything: nobody waits for an answer that never comes."""
    proxy, url = start_proxy(emulator.url, {"hold": "V kateri ob"})
    db = tmp_path / "lost.db"
    log = open(tmp_path / "bot.log", "w")
    bot = Bot(emulator, db, log, api=url)
    try:
        bot.start()
        r = Chat(emulator, 7931)
        r.say("/start")
        r.press("Da, strinjam se")  # committed: the next step is the place question ...
        deadline = time.time() + 30
        while time.time() < deadline:  # ... whose send now hangs at the proxy
            con = sqlite3.connect(db)
            rows = con.execute("SELECT state FROM resident").fetchall()
            con.close()
            if rows and '"place"' in rows[0][0]:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("the answer was never committed")
        time.sleep(0.5)
        r.seen += emulator.inbox(r.uid)
        assert not any("V kateri" in (m.get("text") or "") for m in r.seen)  # not arrived
        bot.kill()
        bot.api = None  # restarted, with Telegram reachable again
        bot.start()
        r.wait("V kateri občini živite")  # said again, the person wrote nothing
    finally:
        bot.stop()
        proxy.kill()
        log.close()
