"""The privacy notice's promises through the real `korak run` and the Bot API emulator, on
SQLite and on PostgreSQL: a resident with a distinctive name and phone answers the question on
origin and relays a message, a coordinator opens the answer and posts the card again with
/prosnja; after /izbrisi no message in the staff chat and nothing in the database holds the
name, the phone or the relayed words (on SQLite: no byte of the database file or its log). The
same after the daily retention run, with the clock moved past RETENTION_MONTHS."""

import random
import time
import uuid
from pathlib import Path

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

    def on_disk(self, since):
        """The bytes the database keeps on disk, as an outsider with the server's files reads
        them, while korak runs (SQLite: the file and its write-ahead log; PostgreSQL: the files
        of every table and the write-ahead log segments written since `since`)."""
        if self.kind == "sqlite":
            return self.contents().encode("utf-8", "replace")
        import asyncio
        import asyncpg

        async def files():
            conn = await asyncpg.connect(self.url.replace("postgresql://", "postgres://"))
            home = Path(await conn.fetchval("SHOW data_directory"))
            await conn.execute("CHECKPOINT")  # what is in shared memory, onto the files
            paths = [home / r[0] for r in await conn.fetch(
                "SELECT pg_relation_filepath(c.oid) FROM pg_class c JOIN pg_namespace n "
                "ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN "
                "('r', 't') AND pg_relation_filepath(c.oid) IS NOT NULL")]
            await conn.close()
            paths += [p for p in (home / "pg_wal").iterdir()
                      if p.is_file() and p.stat().st_mtime >= since - 1]
            return paths
        out = b""
        for path in asyncio.run(files()):
            for part in [path, *path.parent.glob(path.name + ".*")]:
                if part.exists():
                    out += part.read_bytes()
        return out

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


def sensitive_intake(r, name, phone, answered=None):
    """The whole intake, the question on origin answered "Da"; `answered(data)` runs once that
    answer (its button's data) is handled."""
    r.say("/start")
    r.press("Da, strinjam se")
    r.say("Mislinja")
    r.wait("lokacija programa je")
    r.press("Ne")
    r.press("Ne delam, ne iščem dela")
    r.press("Da, lahko vprašate")
    data = r.button("Da")
    r.press("Da")
    r.wait("Preskočim")
    if answered is not None:
        answered(data)
    r.press("Preskočim")
    r.wait("Napišite svoje ime")
    r.say(name)
    r.wait("Na katero številko")
    r.say(phone)
    r.press("Popoldne")
    r.press("✅ Potrjujem")
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
        r.press("Da, izbrišite vse")
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


def test_while_it_runs_nothing_of_the_person_is_on_disk_in_the_clear(emulator, store, tmp_path):
    """The audit's items 1, 2 and 4, looked at as an outsider would while korak keeps running:
    the tap that answers the question on origin never reaches the database's files in the
    clear (nor the person's Telegram name, which only the raw update holds); a card posted
    again with /prosnja while the group's turn is still to come, and the person erases
    meanwhile, never shows them; after /izbrisi no byte of the person is left in the files
    (on SQLite; PostgreSQL keeps old row versions and WAL, docs/privacy.md)."""
    since = time.time()
    log_path = tmp_path / "bot.log"
    log = open(log_path, "a")
    other = COORD + 1
    bot = start_bot(emulator, store.url, log, COORDINATOR_IDS=f"{COORD},{other}")
    try:
        uid = 7_400_000 + random.randrange(100_000)
        telegram_name = f"Oseba{uid}"  # what the emulator calls them: only raw updates hold it
        name, phone, said = "Jerica Jamnik", "041 555 731", "ob četrtkih pazim vnuka"
        r = Chat(emulator, uid)

        def nothing_in_the_clear(answer):
            disk = store.on_disk(since)
            assert answer.encode() not in disk, "the answer on origin is on disk in the clear"
            assert telegram_name.encode() not in disk, "a raw update is on disk in the clear"
        sensitive_intake(r, name, phone, answered=nothing_in_the_clear)
        staff = Chat(emulator, STAFF)
        card = staff.wait(name)
        number = int(card["text"].split("št. ")[1].split()[0])
        r.say(said)
        staff.wait(said)
        # the group's 20 a minute used up by a colleague: the card asked for again waits
        for _ in range(24):
            emulator.say(other, "/odprte", chat_id=STAFF, chat_type="supergroup")
        time.sleep(1.0)
        emulator.say(COORD, f"/prosnja {number}", chat_id=STAFF, chat_type="supergroup")
        time.sleep(0.5)
        r.say("/izbrisi")
        r.press("Da, izbrišite vse")
        r.wait("Vsi vaši podatki so izbrisani")
        wait_until(lambda: any(f"Prošnje št. {number} ni" in t
                               for t in staff_messages(emulator).values()),
                   "/prosnja was never answered", timeout=120)
        words = needles(name, phone, said)
        wait_until(lambda: not any(w in t for t in staff_messages(emulator).values()
                                   for w in words),
                   f"the staff chat still shows the person: {staff_messages(emulator)}",
                   timeout=60)
        if store.kind == "sqlite":  # while it runs: no byte of them in the file or its log
            wait_until(lambda: not any(w.encode() in store.on_disk(since)
                                       for w in [*words, telegram_name]),
                       "the person is still in the database's files", timeout=30)
        held = store.contents()  # every row, on either database
        for w in [*words, telegram_name]:
            assert w not in held, f"{w!r} is still in the database"
    finally:
        stop(bot, log)
    text = log_path.read_text()
    assert "Traceback" not in text
