"""The privacy notice's promises through the real `korak run` and the Bot API emulator, on
SQLite and on PostgreSQL: a resident with a distinctive name and phone answers the question on
origin and relays a message, a coordinator opens the answer and posts the card again with
/prosnja; after /izbrisi no message in the staff chat and nothing in the database holds the
name, the phone or the relayed words (on SQLite: no byte of the database file or its log). The
same after the daily retention run, with the clock moved past RETENTION_MONTHS."""

import time
import uuid

import pytest

from .test_e2e import (COORD, STAFF, Chat, Emulator, buttons_of, free_port, start_bot,  # noqa
                       stop, emulator)

PG_URL = __import__("os").environ.get("KORAK_TEST_POSTGRES_URL")


def staff_messages(emu):
    """Every bot message in the staff chat as it reads now."""
    out = emu.post("/getUpdatesHistory", {"token": "123456:korak-e2e"})["result"]
    return {u["messageId"]: u["message"].get("text") or "" for u in out
            if str(u.get("message", {}).get("chat_id")) == str(STAFF)}


def wait_until(check, what, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(what)


def needles(name, phone, said):
    digits = phone.replace(" ", "")
    return [name, name.split()[0], name.split()[1][:5], phone, digits[1:], said]


class Store:
    """The database the bot uses, and a way to look at every byte of it."""

    def __init__(self, kind, tmp_path):
        self.kind, self.tmp = kind, tmp_path
        if kind == "sqlite":
            self.path = tmp_path / "e2e.db"
            self.url = f"sqlite+aiosqlite:///{self.path}"
            return
        import asyncio
        import asyncpg

        self.name = "korak_e2e_" + uuid.uuid4().hex[:10]
        base = PG_URL.rsplit("/", 1)[0]
        self.admin = PG_URL.replace("postgresql://", "postgres://")
        self.url = f"{base}/{self.name}"

        async def make():
            conn = await asyncpg.connect(self.admin)
            await conn.execute(f'CREATE DATABASE "{self.name}"')
            await conn.close()
        asyncio.run(make())

    def contents(self):
        """Everything the database holds, as text (SQLite: the file and its write-ahead log
        byte for byte, in the encodings JSON and SQLite use)."""
        if self.kind == "sqlite":
            out = b""
            for suffix in ("", "-wal", "-journal"):
                path = self.path.with_name(self.path.name + suffix)
                if path.exists():
                    out += path.read_bytes()
            return out.decode("utf-8", "replace") + out.decode("latin-1")
        import asyncio
        import asyncpg

        async def dump():
            conn = await asyncpg.connect(self.url.replace("postgresql://", "postgres://"))
            tables = [r[0] for r in await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
            rows = []
            for t in tables:
                rows += [r[0] for r in await conn.fetch(f'SELECT row_to_json(x)::text FROM "{t}" x')]
            await conn.close()
            return "\n".join(rows)
        return asyncio.run(dump())

    def drop(self):
        if self.kind == "sqlite":
            return
        import asyncio
        import asyncpg

        async def drop():
            conn = await asyncpg.connect(self.admin)
            await conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            await conn.close()
        asyncio.run(drop())


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.skipif(
    not PG_URL, reason="KORAK_TEST_POSTGRES_URL not set: PostgreSQL tests skipped"))])
def store(request, tmp_path):
    s = Store(request.param, tmp_path)
    yield s
    s.drop()


def sensitive_intake(r, name, phone):
    r.say("/start")
    r.press("Da, strinjam se")
    r.say("Mislinja")
    r.wait("lokacija programa je")
    r.press("Ne")
    r.press("Nič od tega")
    r.press("Da, lahko vprašate")
    r.press("Da")
    r.press("Preskoči")
    r.wait("Napišite svoje ime")
    r.say(name)
    r.wait("Na katero številko")
    r.say(phone)
    r.press("Popoldne")
    r.press("✅ Potrdi")
    r.wait("Vaša prošnja je oddana")


def leave_traces(emu, r, name, phone, said):
    """The resident relays a message; a coordinator opens the answer and posts the card again.
    Returns the request's number."""
    staff = Chat(emu, STAFF)
    card = staff.wait(name)
    number = int(card["text"].split("št. ")[1].split()[0])
    assert phone in card["text"] and "Občutljiv" not in card["text"]
    r.say(said)
    r.wait("posredovali")
    staff.wait(said)
    emu.tap(COORD, buttons_of(card)["🔒 Občutljiv odgovor"], chat_id=STAFF,
            message_id=card["message_id"])
    emu.say(COORD, f"/prosnja {number}", chat_id=STAFF, chat_type="supergroup")
    wait_until(lambda: sum(name in t for t in staff_messages(emu).values()) >= 3,
               "the card was not posted again")
    r.say("/moji_podatki")
    r.wait("odgovor na občutljivo vprašanje")  # the resident sees who looked
    return number


def assert_no_trace(emu, store, words, bot, log):
    wait_until(lambda: not any(w in t for t in staff_messages(emu).values() for w in words),
               f"the staff chat still shows the person: {staff_messages(emu)}")
    stop(bot, log)  # the process is gone; what it left is what the disk keeps
    held = store.contents()
    for w in words:
        assert w not in held, f"{w!r} is still in the database"


def test_izbrisi_and_retention_leave_no_trace(emulator, store, tmp_path):
    shift = tmp_path / "clock-shift"
    shift.write_text("0")
    log_path = tmp_path / "bot.log"
    env = {"KORAK_CLOCK_SHIFT_FILE": str(shift)}

    def run():
        log = open(log_path, "a")
        return start_bot(emulator, store.url, log, **env), log

    bot, log = run()
    try:
        first = ("Zofka Zupančič", "041 987 654", "hodim v službo samo ob sredah")
        r = Chat(emulator, 7301)
        sensitive_intake(r, *first[:2])
        number = leave_traces(emulator, r, *first)
        r.say("/izbrisi")
        r.press("Da, izbriši vse")
        r.wait("Vsi vaši podatki so izbrisani")
        Chat(emulator, STAFF).wait(f"Prošnja št. {number} je umaknjena")
        assert_no_trace(emulator, store, needles(*first), bot, log)

        bot, log = run()
        second = ("Vida Vrhovnik", "041 246 813", "v ponedeljek sem pri zdravniku")
        v = Chat(emulator, 7302)
        sensitive_intake(v, *second[:2])
        leave_traces(emulator, v, *second)
        # thirteen months on: the daily run erases the idle request
        shift.write_text(str(400 * 86400))
        wait_until(lambda: sum("minil je rok hrambe" in t
                               for t in staff_messages(emulator).values()) >= 3,
                   "retention did not edit the staff chat", timeout=60)
        assert_no_trace(emulator, store, needles(*second), bot, log)
        bot = None
    finally:
        if bot is not None:
            stop(bot, log)
    text = log_path.read_text()
    assert "Traceback" not in text
    for w in needles(*first) + needles(*second):
        assert w not in text, f"personal data in the log: {w}"
