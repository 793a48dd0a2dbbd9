"""Setting up needs no guessing (issue 22, points 6 and 12), through the real `korak run` and the
Bot API emulator: without STAFF_CHAT_ID korak starts in set-up mode and answers /id and /pomoc to
anyone, in a group and in private, and residents read one line that the service is not open
yet; with a staff chat whose bot cannot read ordinary messages (privacy mode), korak says in
the staff chat what to do."""

import subprocess
import sys

import pytest

from .test_e2e import (ROOT, STAFF, Chat, Emulator, bot_env, free_port,  # noqa: F401
                       emulator, pytestmark, start_bot, stop)

GROUP = -100888


def test_without_staff_chat_id_korak_runs_in_set_up_mode(emulator, tmp_path):  # noqa: F811
    env = bot_env(emulator, tmp_path / "setup.db")
    env.pop("STAFF_CHAT_ID")
    log = open(tmp_path / "bot.log", "w")
    bot = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=ROOT, env=env, stdout=log,
                           stderr=subprocess.STDOUT)
    try:
        group = Chat(emulator, GROUP)
        emulator.say(5001, "/id", chat_id=GROUP, chat_type="group")
        answer = group.wait("Ta skupina")["text"]
        assert "STAFF_CHAT_ID=-100888" in answer and "COORDINATOR_IDS=5001" in answer
        group.seen.clear()
        emulator.say(5001, "/pomoc", chat_id=GROUP, chat_type="group")
        assert "/setprivacy" in group.wait("korak se nastavlja")["text"]

        me = Chat(emulator, 5001)
        me.say("/id")
        assert "Vaš ID: 5001" in me.wait("Naslednji korak")["text"]

        resident = Chat(emulator, 7001)
        resident.say("/start")
        resident.wait("Ta storitev še ni odprta")
        resident.say("Dober dan")
        resident.wait("Ta storitev še ni odprta")
        assert not any("Pozdravljeni" in (m.get("text") or "") for m in resident.seen)
        assert bot.poll() is None  # still running, not refused
    finally:
        stop(bot, log)
    text = (tmp_path / "bot.log").read_text()
    assert "Traceback" not in text and "načinu za nastavitev" in text
    assert not (tmp_path / "setup.db").exists()  # set-up mode stores nothing


@pytest.fixture
def private_emulator(monkeypatch):
    monkeypatch.setenv("KORAK_E2E_PRIVACY", "on")  # getMe: privacy mode on
    emu = Emulator(free_port())
    yield emu
    emu.stop()


def test_privacy_mode_is_named_in_the_staff_chat_at_start(private_emulator, tmp_path):
    log = open(tmp_path / "bot.log", "w")
    bot = start_bot(private_emulator, tmp_path / "e2e.db", log)
    try:
        staff = Chat(private_emulator, STAFF)
        warning = staff.wait("način zasebnosti")["text"]
        assert "skrbnika" in warning and "odstranite iz skupine" in warning
    finally:
        stop(bot, log)
    assert "Traceback" not in (tmp_path / "bot.log").read_text()
