"""`korak doctor` against fakes: a small Bot API (below), Viber (tests/bot/viber_fake.py),
WhatsApp (tests/bot/whatsapp_fake.py), a SQLite database made as `korak run` makes it, and Redis
when one is at hand. A good setup passes every check with exit code 0; each kind of failure is
one ✗ line that says what to do, exit code 1, and no line ever holds a token, a secret or a
password."""

from __future__ import annotations

import asyncio
import io
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiohttp import web

from bot.config import Settings
from bot.doctor import Doctor
from bot.i18n import Texts
from storage.crypto import generate_key

from tests.bot.viber_fake import FakeViber
from tests.bot.whatsapp_fake import FakeCloudAPI

ROOT = Path(__file__).resolve().parents[2]
TEXTS = Texts(ROOT / "locales")
TOKEN = "123456:AAF-doctor_token_of_the_test"
BOT_ID = 123456
STAFF = -1001234567890
WEBHOOK_URL = "https://korak.example.si/tg"
SECRET = "doctor-secret-of-the-test_0123456789"
VIBER_TOKEN = "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9"
WA_TOKEN = "EAAG-whatsapp-token-of-the-test"
WA_SECRET = "whatsapp-app-secret-of-the-test"
WA_VERIFY = "whatsapp-verify-token-of-the-test"
REDIS_PASSWORD = "redis-password-of-the-test"
KEY = generate_key()
SECRETS = (TOKEN, SECRET, VIBER_TOKEN, WA_TOKEN, WA_SECRET, WA_VERIFY, REDIS_PASSWORD, KEY,
           TOKEN.split(":", 1)[1])


class FakeTelegram:
    """The Bot API methods doctor asks, answered as Telegram does (errors included)."""

    def __init__(self) -> None:
        self.token = TOKEN
        self.me = {"id": BOT_ID, "is_bot": True, "first_name": "korak",
                   "username": "korak_doctor_bot", "can_join_groups": True,
                   "can_read_all_group_messages": False, "supports_inline_queries": False}
        self.chats = {STAFF: {  # getChat's ChatFullInfo, with the fields Bot API 9 always sends
            "id": STAFF, "type": "supergroup", "title": "Koordinatorke", "accent_color_id": 0,
            "max_reaction_count": 11, "accepted_gift_types": {
                "unlimited_gifts": False, "limited_gifts": False, "unique_gifts": False,
                "premium_subscription": False, "gifts_from_channels": False}}}
        self.status = "administrator"  # the bot's standing in the staff chat
        self.can_send = True  # for a "restricted" bot
        self.migrated: dict[int, int] = {}
        self.webhook = {"url": WEBHOOK_URL, "has_custom_certificate": False,
                        "pending_update_count": 0, "max_connections": 40}
        self.delay = 0.0
        self.calls: list[str] = []
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self.url

    async def close(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()

    @staticmethod
    def error(code: int, description: str, **parameters) -> web.Response:
        body = {"ok": False, "error_code": code, "description": description}
        if parameters:
            body["parameters"] = parameters
        return web.json_response(body, status=code)

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.calls.append(method)
        params = await request.json() if request.can_read_body else {}
        if self.delay:  # cut short when the fake closes
            try:
                await asyncio.wait_for(self._closing.wait(), self.delay)
            except asyncio.TimeoutError:
                pass
        if request.match_info["token"] != self.token:
            return self.error(401, "Unauthorized")
        if method == "getMe":
            return web.json_response({"ok": True, "result": self.me})
        if method == "getWebhookInfo":
            return web.json_response({"ok": True, "result": self.webhook})
        if method in ("getChat", "getChatMember"):
            chat_id = int(params["chat_id"])
            if chat_id in self.migrated:
                return self.error(400, "Bad Request: group chat was upgraded to a supergroup "
                                       "chat", migrate_to_chat_id=self.migrated[chat_id])
            chat = self.chats.get(chat_id)
            if chat is None:
                return self.error(400, "Bad Request: chat not found")
            if method == "getChat":
                return web.json_response({"ok": True, "result": chat})
            member = {"status": self.status, "user": self.me}
            if self.status == "restricted":
                member.update(is_member=True, can_send_messages=self.can_send)
            return web.json_response({"ok": True, "result": member})
        return self.error(404, "Not Found")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def fakes():
    tg, viber, wa = FakeTelegram(), FakeViber(VIBER_TOKEN), FakeCloudAPI(
        token=WA_TOKEN, app_secret=WA_SECRET)
    await tg.start()
    await viber.start()
    await wa.start()
    yield tg, viber, wa
    await wa.stop()
    await viber.close()
    await tg.close()


@pytest.fixture
async def good(tmp_path, fakes, monkeypatch):
    """The settings of a good setup (webhook mode, both channels on), as the environment; the
    database made as `korak run` makes it (DATA_KEY's canary written)."""
    from bot.database import open_database

    tg, viber, wa = fakes
    for name in Settings.model_fields:  # nothing of this machine's settings leaks in
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.delenv("KORAK_ENV_FILE", raising=False)
    env = {"BOT_TOKEN": TOKEN, "DATA_KEY": KEY, "TELEGRAM_API_URL": tg.url,
           "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/korak.db",
           "STAFF_CHAT_ID": str(STAFF), "WEBHOOK_URL": WEBHOOK_URL, "WEBHOOK_SECRET": SECRET,
           "VIBER_AUTH_TOKEN": VIBER_TOKEN, "VIBER_WEBHOOK_URL": "https://korak.example.si/viber",
           "VIBER_API_URL": viber.url, "WHATSAPP_TOKEN": WA_TOKEN,
           "WHATSAPP_PHONE_NUMBER_ID": wa.phone_number_id, "WHATSAPP_APP_SECRET": WA_SECRET,
           "WHATSAPP_VERIFY_TOKEN": WA_VERIFY, "WHATSAPP_API_URL": wa.url}
    db = await open_database(Settings(_env_file=None, **{k.lower(): v for k, v in env.items()}))
    await db.dispose()
    return env


async def doctor(monkeypatch, env, *, webhook=False, timeout=2.0, **changes):
    """Run the checks in this process with `env` changed by `changes` (None: unset). Returns
    (passed, lines) and checks that no line holds a secret."""
    env = {**env, **changes}
    for name, value in env.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    out = io.StringIO()
    passed = await Doctor(Settings(_env_file=None), TEXTS, webhook=webhook, timeout=timeout,
                          out=out).run()
    text = out.getvalue()
    clean(text)
    lines = text.splitlines()
    assert lines and all(line[:2] in ("✓ ", "✗ ") for line in lines), text
    assert passed == all(line.startswith("✓") for line in lines)
    return passed, lines


def clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, "a secret was printed"


def failed(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("✗")]


def only_failure(lines: list[str]) -> str:
    [line] = failed(lines)
    return line


# ------------------------------------------------------------------------------ a good setup


async def test_a_good_setup_passes_every_check_through_the_command(good, redis_or_none):
    """`korak doctor` as an operator runs it: one ✓ line per check, exit code 0."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
    env.update(good, KORAK_ENV_FILE="/dev/null")
    if redis_or_none:
        env["REDIS_URL"] = redis_or_none
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "doctor", "--timeout", "3", env=env, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    text = out.decode()
    clean(text + err.decode())
    lines = text.splitlines()
    assert proc.returncode == 0, text + err.decode()
    assert err.decode() == ""
    assert all(line.startswith("✓ ") for line in lines), text
    joined = "\n".join(lines)
    for expected in ("Nastavitve se naložijo (nastavitve: okolje, brez datoteke .env).",
                     "BOT_TOKEN je oblike žetona.", "DATA_KEY je veljaven (ključev: 1).",
                     "DATA_KEY odpre kontrolni zapis v bazi.", "bot @korak_doctor_bot",
                     "»Koordinatorke« (STAFF_CHAT_ID=-1001234567890): bot lahko piše vanjo "
                     "(administrator)", "Bot vidi vsa sporočila v skupini koordinatork",
                     "račun »korak«", "številka +386 40 000 000",
                     "Način webhook: WEBHOOK_URL je naslov https",
                     f"Telegram pošilja posodobitve na WEBHOOK_URL ({WEBHOOK_URL})."):
        assert expected in joined, joined
    assert ("Redis 127.0.0.1:6379" in joined) if redis_or_none else "REDIS_URL ni" in joined
    assert len(lines) == 13


@pytest.fixture
def redis_or_none():
    from tests.conftest import REDIS_URL

    return REDIS_URL


async def test_polling_without_channels_passes_and_says_they_are_off(good, fakes, monkeypatch):
    tg = fakes[0]
    tg.webhook["url"] = ""
    tg.status, tg.me["can_read_all_group_messages"] = "member", True  # privacy turned off
    passed, lines = await doctor(monkeypatch, good, WEBHOOK_URL=None, WEBHOOK_SECRET=None,
                                 VIBER_AUTH_TOKEN=None, VIBER_WEBHOOK_URL=None,
                                 WHATSAPP_TOKEN=None, WHATSAPP_PHONE_NUMBER_ID=None,
                                 WHATSAPP_APP_SECRET=None, WHATSAPP_VERIFY_TOKEN=None)
    assert passed, lines
    text = "\n".join(lines)
    assert "Viber ni vklopljen" in text and "WhatsApp ni vklopljen" in text
    assert "zasebnost pri @BotFather je izklopljena" in text
    assert "Način polling (getUpdates): Telegram nima nastavljenega webhooka." in text


# ------------------------------------------------------------------------------ the settings


def test_settings_that_do_not_load_are_one_line_and_exit_code_1(tmp_path):
    env = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
    env.update(KORAK_ENV_FILE="/dev/null", WORKING_DAYS="ponedeljek", BOT_TOKEN=TOKEN)
    proc = subprocess.run([sys.executable, "-m", "bot", "doctor"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    [line] = proc.stdout.splitlines()
    assert line.startswith("✗ Nastavitve se ne naložijo (WORKING_DAYS: ")
    assert line.endswith(": popravite navedene vrednosti (glejte .env.example).")
    clean(proc.stdout + proc.stderr)
    assert not (tmp_path / "data").exists()  # nothing made


@pytest.mark.parametrize("token, expected", [
    (None, "✗ Manjka BOT_TOKEN: vpišite žeton, ki ga da @BotFather"),
    ("123456 AAF-with a space", "✗ BOT_TOKEN ni oblike žetona"),
])
async def test_a_missing_or_malformed_token(good, monkeypatch, token, expected):
    passed, lines = await doctor(monkeypatch, good, BOT_TOKEN=token)
    assert not passed
    bad = failed(lines)
    assert bad[0].startswith(expected)
    # the checks that need the token say they could not run
    assert bad[1:] == ["✗ Bot API ni preverjen: najprej popravite BOT_TOKEN.",
                       f"✗ Skupina koordinatork (STAFF_CHAT_ID={STAFF}) ni preverjena: najprej "
                       "mora Bot API sprejeti BOT_TOKEN.",
                       "✗ Webhook pri Telegramu ni preverjen: najprej mora Bot API sprejeti "
                       "BOT_TOKEN."]
    assert "123456 AAF" not in "\n".join(lines)


async def test_a_token_telegram_refuses(good, fakes, monkeypatch):
    passed, lines = await doctor(monkeypatch, good, BOT_TOKEN="654321:AAF-revoked-token")
    assert not passed
    assert failed(lines)[0] == (
        "✗ Telegram ne sprejme BOT_TOKEN (Unauthorized): žeton je preklican ali napačen; novega "
        "dobite pri @BotFather (/token) (nastavitve: okolje, brez datoteke .env).")
    assert "AAF-revoked-token" not in "\n".join(lines)


@pytest.mark.parametrize("key, expected", [
    (None, "✗ Manjka DATA_KEY: ustvarite ga z `korak keygen`"),
    ("not-a-key", "✗ DATA_KEY ni veljaven ključ"),
])
async def test_a_missing_or_malformed_data_key(good, monkeypatch, key, expected):
    passed, lines = await doctor(monkeypatch, good, DATA_KEY=key)
    assert not passed
    assert failed(lines) == [
        failed(lines)[0],
        "✗ Ali DATA_KEY odpre šifrirane odgovore v bazi, ni preverjeno: najprej popravite "
        "DATA_KEY in bazo (vrstice zgoraj)."]
    assert failed(lines)[0].startswith(expected)


async def test_a_data_key_that_does_not_open_the_database(good, monkeypatch):
    other = generate_key()
    passed, lines = await doctor(monkeypatch, good, DATA_KEY=other)
    assert not passed
    assert only_failure(lines).startswith("✗ DATA_KEY ne odpre šifriranih odgovorov v bazi ")
    assert other not in "\n".join(lines)
    # the new key before the old one (a key change in progress) opens it
    passed, lines = await doctor(monkeypatch, good, DATA_KEY=f"{other},{KEY}")
    assert passed, lines
    assert "✓ DATA_KEY je veljaven (ključev: 2)." in lines


# ------------------------------------------------------------------------------ the database


async def test_a_database_that_is_not_there_is_named_and_not_made(good, tmp_path, monkeypatch):
    missing = tmp_path / "elsewhere" / "korak.db"
    passed, lines = await doctor(monkeypatch, good, DATABASE_URL=f"sqlite:///{missing}")
    assert not passed
    first, skipped = failed(lines)
    assert first.startswith(f"✗ Baze {missing} ni; ta ukaz je ne naredi.")
    assert "ni preverjeno" in skipped
    assert not missing.parent.exists()


async def test_a_database_behind_the_code_names_the_upgrade(good, tmp_path, monkeypatch):
    from alembic import command

    from storage import migrate
    from storage.db import Database

    url = f"sqlite+aiosqlite:///{tmp_path}/old.db"
    db = Database(url)
    await migrate._run(db, lambda conn: command.upgrade(
        migrate._config({"connection": conn}), "0003"))
    await db.dispose()
    passed, lines = await doctor(monkeypatch, good, DATABASE_URL=url)
    assert not passed
    assert failed(lines) == [
        f"✗ Baza {tmp_path}/old.db je dosegljiva, a shema je na različici 0003, korak potrebuje "
        f"{migrate.head()}: zaženite `korak db upgrade`.",
        "✗ Ali DATA_KEY odpre šifrirane odgovore v bazi, bo mogoče preveriti šele po `korak db "
        "upgrade` (baza še nima kontrolnega zapisa)."]


async def test_a_database_a_newer_korak_upgraded_is_named_as_such(good, tmp_path, monkeypatch):
    import sqlite3

    from storage import migrate
    from storage.db import Database

    url = f"sqlite+aiosqlite:///{tmp_path}/newer.db"
    db = Database(url)
    await migrate.ready(db)
    await db.dispose()
    with sqlite3.connect(tmp_path / "newer.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099_newer'")
    passed, lines = await doctor(monkeypatch, good, DATABASE_URL=url)
    assert not passed
    first = failed(lines)[0]
    assert first.startswith(f"✗ Baza {tmp_path}/newer.db je dosegljiva, a shema je na različici "
                            f"0099_newer,"), first
    assert "ne pozna" in first and migrate.head() in first, first


async def test_a_database_server_that_does_not_answer(good, monkeypatch):
    port = closed_port()
    url = f"postgresql://korak:db-password-of-the-test@127.0.0.1:{port}/korak"
    started = time.monotonic()
    passed, lines = await doctor(monkeypatch, good, DATABASE_URL=url, timeout=1.0)
    assert time.monotonic() - started < 15
    assert not passed
    first, skipped = failed(lines)
    assert first.startswith(f"✗ Baza postgresql://korak:***@127.0.0.1:{port}/korak ni "
                            "dosegljiva")
    assert "db-password-of-the-test" not in "\n".join(lines)


# ------------------------------------------------------------------------------ Redis


async def test_redis_that_does_not_answer(good, monkeypatch):
    port = closed_port()
    passed, lines = await doctor(monkeypatch, good,
                                 REDIS_URL=f"redis://:{REDIS_PASSWORD}@127.0.0.1:{port}/2")
    assert not passed
    assert only_failure(lines).startswith(f"✗ Redis 127.0.0.1:{port}/2 ne odgovarja (")
    assert only_failure(lines).endswith(": zaženite ga ali popravite REDIS_URL (nastavitve: "
                                        "okolje, brez datoteke .env).")


async def test_redis_that_answers(good, monkeypatch, redis_url):
    passed, lines = await doctor(monkeypatch, good, REDIS_URL=redis_url)
    assert passed, lines
    assert any(line.startswith("✓ Redis ") and line.endswith(" odgovarja.") for line in lines)


# ------------------------------------------------------------------------------ the staff chat


def _staff_no_group(tg):
    del tg.chats[STAFF]


def _staff_left(tg):
    tg.status = "left"


def _staff_restricted(tg):
    tg.status, tg.can_send = "restricted", False


def _staff_privacy(tg):
    tg.status = "member"


def _staff_migrated(tg):
    tg.migrated[STAFF] = -1009876543210


def _staff_private(tg):
    tg.chats[STAFF] = {"id": STAFF, "type": "private", "first_name": "Mojca"}


@pytest.mark.parametrize("change, expected", [
    (_staff_no_group, f"✗ Telegram ne najde skupine STAFF_CHAT_ID={STAFF} (Bad Request: chat "
                      "not found): bot ni v njej"),
    (_staff_left, f"✗ Bot ne more pisati v skupino koordinatork (STAFF_CHAT_ID={STAFF}, "
                  "Telegram: left): dodajte ga v skupino"),
    (_staff_restricted, f"✗ Bot ne more pisati v skupino koordinatork (STAFF_CHAT_ID={STAFF}, "
                        "Telegram: restricted)"),
    (_staff_privacy, "✗ Bot ne vidi navadnih sporočil v skupini koordinatork"),
    (_staff_migrated, f"✗ Skupina STAFF_CHAT_ID={STAFF} je postala supergroup s številko "
                      "-1009876543210: vpišite STAFF_CHAT_ID=-1009876543210."),
    (_staff_private, f"✗ STAFF_CHAT_ID={STAFF} ni skupina (private)"),
], ids=["not-found", "left", "restricted", "privacy-mode", "migrated", "not-a-group"])
async def test_a_staff_chat_the_bot_cannot_work_in(good, fakes, monkeypatch, change, expected):
    change(fakes[0])
    passed, lines = await doctor(monkeypatch, good)
    assert not passed
    assert only_failure(lines).startswith(expected), lines


async def test_no_staff_chat_yet_is_set_up_mode(good, monkeypatch):
    passed, lines = await doctor(monkeypatch, good, STAFF_CHAT_ID=None)
    assert not passed
    assert only_failure(lines).startswith(
        "✗ STAFF_CHAT_ID ni nastavljen, zato korak run teče v načinu za nastavitev: dodajte bota "
        "v skupino koordinatork, tam napišite /id")


# ------------------------------------------------------------------------------ unreachable


async def test_a_bot_api_that_does_not_answer_says_what_could_not_be_checked(good, fakes,
                                                                             monkeypatch):
    fakes[0].delay = 10.0
    started = time.monotonic()
    passed, lines = await doctor(monkeypatch, good, timeout=0.5)
    assert time.monotonic() - started < 5
    assert not passed
    api = fakes[0].url
    assert failed(lines) == [
        f"✗ Bot API ({api}) ni odgovoril (TimeoutError, 0.5 s), zato to ni preverjeno: "
        "preverite omrežno povezavo in TELEGRAM_API_URL.",
        f"✗ Skupina koordinatork (STAFF_CHAT_ID={STAFF}) ni preverjena: najprej mora Bot API "
        "sprejeti BOT_TOKEN.",
        "✗ Webhook pri Telegramu ni preverjen: najprej mora Bot API sprejeti BOT_TOKEN."]


async def test_a_bot_api_with_nothing_listening(good, monkeypatch):
    port = closed_port()
    passed, lines = await doctor(monkeypatch, good, TELEGRAM_API_URL=f"http://127.0.0.1:{port}")
    assert not passed
    assert failed(lines)[0].startswith(f"✗ Bot API (http://127.0.0.1:{port}) ni odgovoril "
                                       "(ClientConnectorError")


# ------------------------------------------------------------------------------ the channels


async def test_viber_refuses_the_token(good, fakes, monkeypatch):
    fakes[1].token = "another-token"
    passed, lines = await doctor(monkeypatch, good)
    assert not passed
    assert only_failure(lines) == (
        f"✗ Viber ({fakes[1].url}) je zavrnil get_account_info (2 invalidAuthToken): preverite "
        "VIBER_AUTH_TOKEN (Viber Admin Panel) in VIBER_API_URL.")


@pytest.mark.parametrize("changes, expected", [
    ({"VIBER_WEBHOOK_URL": None}, "✗ Za Viber manjka VIBER_WEBHOOK_URL (nastavitve: okolje, "
                                  "brez datoteke .env)"),
    ({"VIBER_AUTH_TOKEN": None}, "✗ Za Viber manjka VIBER_AUTH_TOKEN"),
    ({"VIBER_WEBHOOK_URL": "http://korak.example.si/viber"},
     "✗ VIBER_WEBHOOK_URL mora biti javni naslov https (zdaj: http://korak.example.si/viber)"),
], ids=["no-webhook-url", "no-token", "not-https"])
async def test_viber_settings_that_cannot_work(good, fakes, monkeypatch, changes, expected):
    passed, lines = await doctor(monkeypatch, good, **changes)
    assert not passed
    assert only_failure(lines).startswith(expected)
    assert not any(m == "get_account_info" for m, _ in fakes[1].requests)


async def test_viber_that_does_not_answer(good, monkeypatch):
    port = closed_port()
    passed, lines = await doctor(monkeypatch, good, VIBER_API_URL=f"http://127.0.0.1:{port}/pa")
    assert not passed
    assert only_failure(lines).startswith(f"✗ Viber (http://127.0.0.1:{port}/pa) ni odgovoril")


@pytest.mark.parametrize("changes, expected", [
    ({"WHATSAPP_TOKEN": "EAAG-revoked"}, "✗ WhatsApp ({api}) ne sprejme WHATSAPP_TOKEN (HTTP "
                                         "401, 190)"),
    ({"WHATSAPP_PHONE_NUMBER_ID": "38640000000"},
     "✗ WhatsApp ({api}) ne najde WHATSAPP_PHONE_NUMBER_ID=38640000000 (HTTP 400, 100)"),
    ({"WHATSAPP_APP_SECRET": None, "WHATSAPP_VERIFY_TOKEN": None},
     "✗ Za WhatsApp manjka WHATSAPP_APP_SECRET, WHATSAPP_VERIFY_TOKEN"),
], ids=["token-refused", "unknown-number", "settings-missing"])
async def test_whatsapp_that_cannot_work(good, fakes, monkeypatch, changes, expected):
    passed, lines = await doctor(monkeypatch, good, **changes)
    assert not passed
    assert only_failure(lines).startswith(expected.format(api=fakes[2].url)), lines
    assert "EAAG-revoked" not in "\n".join(lines)


# ------------------------------------------------------------------------------ the webhook


def _elsewhere(tg):
    tg.webhook["url"] = "https://old.example.si/tg"


def _failing(tg):
    tg.webhook.update(last_error_date=int(time.time()) - 60, pending_update_count=12,
                      last_error_message="Wrong response from the webhook: 502 Bad Gateway")


@pytest.mark.parametrize("change, env, expected", [
    (None, {"WEBHOOK_SECRET": "short"}, "✗ WEBHOOK_SECRET mora imeti od 16 do 256 znakov"),
    (None, {"WEBHOOK_SECRET": None}, "✗ Za način webhook manjka WEBHOOK_SECRET"),
    (None, {"WEBHOOK_URL": "http://korak.example.si/tg"},
     "✗ WEBHOOK_URL mora biti javni naslov https (zdaj: http://korak.example.si/tg)"),
    (_elsewhere, {}, f"✗ Telegram pošilja posodobitve na https://old.example.si/tg, ne na "
                     f"WEBHOOK_URL ({WEBHOOK_URL})"),
    (_failing, {}, f"✗ Telegram ne more dostaviti posodobitev na {WEBHOOK_URL} (zadnja napaka "),
], ids=["secret-shape", "no-secret", "not-https", "elsewhere", "failing"])
async def test_a_webhook_that_cannot_work(good, fakes, monkeypatch, change, env, expected):
    if change is not None:
        change(fakes[0])
    passed, lines = await doctor(monkeypatch, good, **env)
    assert not passed
    line = only_failure(lines) if not env.get("WEBHOOK_URL") else failed(lines)[0]
    assert line.startswith(expected), lines


async def test_webhook_mode_before_the_first_start(good, fakes, monkeypatch):
    fakes[0].webhook["url"] = ""
    passed, lines = await doctor(monkeypatch, good)
    assert passed, lines
    assert lines[-1] == ("✓ Telegram še nima nastavljenega webhooka: korak run --webhook ga ob "
                         f"zagonu nastavi na {WEBHOOK_URL}.")


async def test_polling_with_a_webhook_left_at_telegram(good, monkeypatch):
    passed, lines = await doctor(monkeypatch, good, WEBHOOK_URL=None)
    assert not passed
    assert only_failure(lines).startswith(
        f"✗ Telegram pošilja posodobitve na webhook {WEBHOOK_URL}, korak pa je nastavljen za "
        "polling")
    # asked for webhook mode without WEBHOOK_URL: the missing setting is the line
    passed, lines = await doctor(monkeypatch, good, webhook=True, WEBHOOK_URL=None)
    assert failed(lines)[0].startswith("✗ Za način webhook manjka WEBHOOK_URL")


PG_URL = os.environ.get("KORAK_TEST_POSTGRES_URL")


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="KORAK_TEST_POSTGRES_URL not set: the PostgreSQL check "
                                       "of korak doctor skipped")
async def test_a_postgresql_database_made_by_korak_and_one_that_is_not_there(good, monkeypatch):
    import secrets

    import asyncpg
    from sqlalchemy.engine import make_url

    from bot.database import open_database

    name = f"korak_doctor_{secrets.token_hex(4)}"
    base = make_url(PG_URL)
    admin = await asyncpg.connect(base.set(drivername="postgresql").render_as_string(
        hide_password=False))
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = base.set(database=name).render_as_string(hide_password=False)
        db = await open_database(Settings(_env_file=None, database_url=url, data_key=KEY))
        await db.dispose()
        passed, lines = await doctor(monkeypatch, good, DATABASE_URL=url)
        assert passed, lines
        assert any(line.startswith("✓ Baza postgresql") and "/" + name in line
                   for line in lines)
        missing = base.set(database=name + "_x").render_as_string(hide_password=False)
        passed, lines = await doctor(monkeypatch, good, DATABASE_URL=missing)
        assert failed(lines)[0].startswith(f"✗ Baze {name}_x na strežniku ")
        assert "createdb" in failed(lines)[0]
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
