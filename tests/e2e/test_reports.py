"""/porocilo through the real process and the Bot API emulator: after a request is made and
claimed, a coordinator asks for this month's report in the staff chat and gets the text
summary and the chart as a photo; no name or phone in either."""

import time

from .test_e2e import (COORD, STAFF, STRANGER, Chat, buttons_of, emulator, intake,  # noqa: F401
                       pytestmark, start_bot, stop)


def test_porocilo_posts_the_summary_and_the_chart(emulator, tmp_path):  # noqa: F811
    db = tmp_path / "report.db"
    log = open(tmp_path / "bot.log", "w")
    bot = start_bot(emulator, db, log)
    try:
        r = Chat(emulator, 7700)
        intake(r, "Prevalje")
        staff = Chat(emulator, STAFF)
        card = staff.wait("Nova prošnja")
        emulator.tap(COORD, buttons_of(card)["Prevzamem"], chat_id=STAFF,
                     message_id=card["message_id"])
        r.wait("v rokah Oseba8001")
        staff.seen.clear()
        emulator.say(STRANGER, "/porocilo", chat_id=STAFF, chat_type="supergroup")
        staff.wait("Nimate dovoljenja")
        emulator.say(COORD, "/porocilo", chat_id=STAFF, chat_type="supergroup")
        summary = staff.wait("📊 Poročilo od")
        # one request: shown as "<3", never as the one it is, nor by a 0 beside it
        assert "Prošnje: <3 (Slovenj Gradec <3, Radlje ob Dravi <3)" in summary["text"], \
            summary["text"]
        photo = staff.wait("📊 Lijak in prošnje po mesecih", timeout=30)
        assert photo.get("photo_bytes", 0) > 10_000  # a real PNG went out
        for m in (summary, photo):
            assert "Oseba7700" not in m["text"] and "Prevalje" not in m["text"]
    finally:
        stop(bot, log)
    text = (tmp_path / "bot.log").read_text()
    assert "Traceback" not in text and "report chart not delivered" not in text
