"""A resident in another language, through the real process and the Bot API emulator: the
language chosen with the welcome's button, the whole intake, /status, the coordinator's claim,
a reminder with its buttons, /moji_podatki and /izbrisi, every text in that language (read from
its catalog, so a missing or stale translation fails here), while the coordinators' card stays
Slovenian and names the language to expect."""

from pathlib import Path

import pytest

from bot.i18n import Texts

from .test_e2e import (COORD, ROOT, STAFF, Chat, buttons_of, emulator,  # noqa: F401
                       enroll_for_a_session, evening_before, pytestmark, start_bot, stop)

LOCALES = Path(ROOT) / "locales"
SL = Texts(LOCALES)


def head(texts: Texts, msgid: str, size: int = 28) -> str:
    """The start of a catalog text, up to its first placeholder: what arrives must hold it."""
    template = texts.catalog.gettext(msgid)
    part = template.split("{")[0].strip()
    assert len(part) >= 6, template
    return part[:size]


@pytest.mark.parametrize("code", ["en", "uk"])
def test_a_resident_goes_through_everything_in_their_language(emulator, tmp_path, code):  # noqa: F811
    t = SL.lang(code)
    assert t.catalog is not SL.catalog and t("intake.welcome") != SL("intake.welcome")
    shift = tmp_path / "clock-shift"
    shift.write_text("0")
    db = tmp_path / "lang.db"
    log = open(tmp_path / "bot.log", "w")
    bot = start_bot(emulator, db, log, KORAK_CLOCK_SHIFT_FILE=str(shift))
    uid = 7600 if code == "en" else 7601
    try:
        r = Chat(emulator, uid)
        r.say("/start")
        r.wait(head(SL, "intake.welcome"))  # Telegram suggests nothing here: Slovenian first
        r.press(t(f"language.name.{code}"))  # the first question offers the others, in themselves
        r.wait(head(t, "intake.welcome"))
        r.press(t("button.consent_yes"))
        r.say("Mežica")
        r.press(t("button.no"))  # no financial social assistance
        r.press(t("button.work_neither"))
        r.press(t("button.sensitive_consent_skip"))
        r.press(t("button.skip"))  # hopes
        r.press(f"Oseba{uid}")
        r.wait(head(t, "intake.ask_phone"))
        r.say(t("button.write_here"))  # the reply keyboard's button, in their language
        r.press(t("button.confirm"))
        r.wait(head(t, "intake.submitted_write"))
        r.say("/status")
        r.wait(head(t, "status.open"))

        staff = Chat(emulator, STAFF)
        card = staff.wait("Nova prošnja")  # the coordinators' side stays Slovenian
        assert t(f"language.name.{code}") in card["text"] and "Jezik pogovora" in card["text"]
        card_id = card["message_id"]
        emulator.tap(COORD, buttons_of(card)["Prevzamem"], chat_id=STAFF, message_id=card_id)
        r.wait(head(t, "handoff.resident_claimed"))

        day, _ = enroll_for_a_session(emulator, db, shift, tmp_path, card_id)
        evening_before(shift, day)
        reminder = r.wait("Uvodno srečanje", timeout=40)
        tomorrow = t.catalog.gettext("when.tomorrow").split("{")[0].strip()
        assert tomorrow and tomorrow in reminder["text"], reminder["text"]
        assert list(buttons_of(reminder)) == [t("reminder.button.yes"), t("reminder.button.no")]
        r.seen.clear()
        emulator.tap(uid, buttons_of(reminder)[t("reminder.button.yes")])
        r.wait(head(t, "reminder.answer_yes"))

        r.say("/moji_podatki")
        r.wait(head(t, "mydata.header"))
        r.say("/izbrisi")
        r.press(t("button.delete"))
        r.wait(head(t, "delete.done"))
    finally:
        stop(bot, log)
    text = (tmp_path / "bot.log").read_text()
    assert "Traceback" not in text
