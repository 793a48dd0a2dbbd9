"""Stopping the real `korak run` process (issue 23, item 1): SIGTERM ends it within 5 seconds
after traffic and while the Bot API cannot be reached (Docker kills at 10); a second SIGTERM
ends it at once; nothing of a resident's conversation is lost by the stop."""

import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request

from tests.e2e.test_e2e import (ROOT, Chat, bot_env, emulator, free_port,  # noqa: F401
                                pytestmark, start_bot)


def stopped_within(bot, seconds):
    started = time.monotonic()
    bot.send_signal(signal.SIGTERM)
    try:
        bot.wait(seconds + 5)
    except subprocess.TimeoutExpired:
        bot.kill()
        raise AssertionError("still running after SIGTERM")
    return time.monotonic() - started


def wait_for_line(path, needle, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if needle in path.read_text():
            return
        time.sleep(0.1)
    raise AssertionError(f"{needle!r} never logged: {path.read_text()[-500:]}")


def test_sigterm_after_traffic_ends_within_5_seconds_and_keeps_the_conversation(
        emulator, tmp_path):
    log_path = tmp_path / "bot.log"
    log = open(log_path, "w")
    db = tmp_path / "stop.db"
    bot = start_bot(emulator, db, log)
    try:
        r = Chat(emulator, 7801)
        r.say("/start")
        r.press("Da, strinjam se")
        r.wait("V kateri občini živite")
        took = stopped_within(bot, 5)
    finally:
        if bot.poll() is None:
            bot.kill()
        log.close()
    assert took < 5.0, f"SIGTERM took {took:.1f} s"
    assert "Traceback" not in log_path.read_text()
    con = sqlite3.connect(db)
    [(state,)] = con.execute("SELECT state FROM resident").fetchall()
    con.close()
    assert '"place"' in state  # the answer before the stop was kept


class Nowhere:
    """A Bot API nobody listens on."""

    def __init__(self):
        self.url = f"http://127.0.0.1:{free_port()}"


def test_sigterm_while_the_bot_api_cannot_be_reached_ends_within_5_seconds(tmp_path):
    log_path = tmp_path / "bot.log"
    log = open(log_path, "w")
    bot = start_bot(Nowhere(), tmp_path / "stop.db", log)
    try:
        wait_for_line(log_path, "Bot API not reachable yet")
        took = stopped_within(bot, 5)
    finally:
        if bot.poll() is None:
            bot.kill()
        log.close()
    assert took < 5.0, f"SIGTERM took {took:.1f} s"
    assert "Traceback" not in log_path.read_text()


def test_a_second_sigterm_ends_at_once(tmp_path):
    log_path = tmp_path / "bot.log"
    log = open(log_path, "w")
    bot = start_bot(Nowhere(), tmp_path / "stop.db", log)
    try:
        wait_for_line(log_path, "Bot API not reachable yet")
        started = time.monotonic()
        bot.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        bot.send_signal(signal.SIGTERM)
        bot.wait(10)
        took = time.monotonic() - started
    finally:
        if bot.poll() is None:
            bot.kill()
        log.close()
    assert took < 1.5, f"the second SIGTERM took {took:.1f} s"


def test_sigterm_ends_webhook_mode_and_set_up_mode_within_5_seconds(emulator, tmp_path):
    """Every mode, not only long polling: `korak run --webhook` after a resident's answer, and
    set-up mode (no STAFF_CHAT_ID yet) after it answered someone."""
    log_path = tmp_path / "bot.log"
    log = open(log_path, "w")
    port, health = free_port(), free_port()
    webhook = {"WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram",
               "WEBHOOK_LISTEN": f"127.0.0.1:{port}", "WEBHOOK_SECRET": "e2e-secret-0123456789",
               "HEALTH_PORT": str(health)}
    bot = subprocess.Popen([sys.executable, "-m", "bot", "run", "--webhook"], cwd=ROOT,
                           env=bot_env(emulator, tmp_path / "hook.db", **webhook), stdout=log,
                           stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 30
        while True:  # ready once it has ticked, after setWebhook
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{health}/readyz", timeout=5):
                    break
            except OSError:
                assert time.time() < deadline, "the webhook server did not come up"
                time.sleep(0.2)
        r = Chat(emulator, 7811)
        r.say("/start")
        r.press("Da, strinjam se")
        r.wait("V kateri občini živite")
        took_webhook = stopped_within(bot, 5)
        bot = start_bot(emulator, tmp_path / "setup.db", log, STAFF_CHAT_ID="")
        wait_for_line(log_path, "set-up mode")  # the webhook deleted, polling
        someone = Chat(emulator, 7812)
        someone.say("Dober dan")
        someone.wait("Ta storitev še ni odprta")
        took_setup = stopped_within(bot, 5)
    finally:
        if bot.poll() is None:
            bot.kill()
        log.close()
    assert took_webhook < 5.0, f"SIGTERM took {took_webhook:.1f} s in webhook mode"
    assert took_setup < 5.0, f"SIGTERM took {took_setup:.1f} s in set-up mode"
    assert "Traceback" not in log_path.read_text()
