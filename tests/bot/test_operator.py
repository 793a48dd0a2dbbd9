"""What an operator sees of korak on a server (issue 23, items 2-4), through the real `korak`
process where it is the exit code, the lines on stderr and the files made that matter:

- a bot token or a database that cannot work is one line in Slovenian, exit 2, never a
  traceback; a database that is not up yet is waited for, one log line a try, and SIGTERM
  still ends the wait;
- the settings come from a documented `.env` (KORAK_ENV_FILE, the working folder, the
  install's folder) and its relative paths from its folder; only `korak run`, `korak db
  upgrade` and `korak chat` make a database, every other command refuses a missing one and
  names it;
- an idle korak writes nothing, and its start a few lines that say what matters.

Nothing here needs the network: the Bot API is a fake on 127.0.0.1, a database server that is
down is a closed port there, and the refusals of a real server use PostgreSQL
(KORAK_TEST_POSTGRES_URL), skipped without it."""

from __future__ import annotations

import asyncio
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bot import cli
from bot.config import Settings

PG_URL = os.environ.get("KORAK_TEST_POSTGRES_URL")
needs_pg = pytest.mark.skipif(not PG_URL, reason="KORAK_TEST_POSTGRES_URL not set: PostgreSQL "
                                                 "refusal tests skipped")
TOKEN = "123456:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
PASSWORD = "s3cret-Pw-korak"


def clean_env(env_file: Path, **extra: str) -> dict[str, str]:
    """The environment without any korak setting of this machine's, reading `env_file`."""
    settings = {name.upper() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.upper() not in settings}
    env.update(KORAK_ENV_FILE=str(env_file), HEALTH_PORT="0", LOG_FORMAT="text", **extra)
    return env


def korak(*args: str, cwd: Path, env: dict[str, str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, **kw)


def one_line(proc: subprocess.CompletedProcess) -> str:
    """The refusal: exit 2, no traceback, and one line on stderr (after the start's few log
    lines, for `korak run`)."""
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 3, lines
    return lines[-1]


@pytest.fixture
def project(tmp_path):
    """An install's folder with its .env (relative SQLite paths, as .env.example has them),
    and another folder the commands are run from."""
    from storage.crypto import generate_key

    home = tmp_path / "srv-korak"
    home.mkdir()
    (home / ".env").write_text(
        f"DATA_KEY={generate_key()}\nDATABASE_URL=sqlite+aiosqlite:///data/korak.db\n"
        "CHAT_DATABASE_URL=sqlite+aiosqlite:///data/chat.db\n", encoding="utf-8")
    elsewhere = tmp_path / "cron"
    elsewhere.mkdir()
    return home, elsewhere


class Served:
    """An aiohttp app (made by `make_app` on the server's loop) on 127.0.0.1, on an event loop
    of its own thread; `close` takes it down whole (the handlers still waiting cancelled, the
    loop stopped and closed)."""

    def __init__(self, make_app) -> None:
        from aiohttp import web

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

        async def start() -> tuple[web.AppRunner, str]:
            runner = web.AppRunner(await make_app(), access_log=None, shutdown_timeout=0.5)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            return runner, f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"

        self.runner, self.url = self._call(start())

    def _call(self, work):
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=30)

    def close(self) -> None:
        async def down() -> None:
            await self.runner.cleanup()
            left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in left:  # a long poll korak was killed in the middle of
                task.cancel()
            await asyncio.gather(*left, return_exceptions=True)

        self._call(down())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture
def unauthorized_api():
    """A Bot API that answers every call as Telegram answers a revoked token."""
    from aiohttp import web

    async def refuse(_request):
        return web.json_response({"ok": False, "error_code": 401,
                                  "description": "Unauthorized"}, status=401)

    async def make_app():
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", refuse)
        return app

    served = Served(make_app)
    yield served.url
    served.close()


@pytest.fixture
def fake_api():
    """The benchmarks' fake Bot API; getUpdates waits like a long poll with nothing to give."""
    from aiohttp import web

    from bot.bench.fake_api import FakeBotAPI

    async def make_app():
        api = FakeBotAPI(updates=asyncio.Queue())
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", api.handle)
        app.router.add_get("/bot{token}/{method}", api.handle)
        return app

    served = Served(make_app)
    yield served.url
    served.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lines:
    """stderr of a running process, line by line, as it comes."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.got: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(proc.stderr,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            self.got.put(line.rstrip("\n"))

    def until(self, predicate, timeout: float) -> list[str]:
        """Lines until one matches (included); fails after `timeout` seconds."""
        out, deadline = [], time.monotonic() + timeout
        while True:
            try:
                line = self.got.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"not seen in {timeout} s; got {self.seen}") from None
            out.append(line)
            self.seen.append(line)
            if predicate(line):
                return out

    def during(self, seconds: float) -> list[str]:
        out, deadline = [], time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                out.append(self.got.get(timeout=left))
            except queue.Empty:
                break
        self.seen += out
        return out


def start_run(project, **env) -> tuple[subprocess.Popen, Lines]:
    home, elsewhere = project
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=elsewhere,
                            env=clean_env(home / ".env", BOT_TOKEN=TOKEN, **env),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    return proc, Lines(proc)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=30)


# 2. One line, not a traceback ----------------------------------------------------------------

def test_a_token_with_a_space_is_one_line_before_anything_is_made(project):
    home, elsewhere = project
    proc = korak("run", cwd=elsewhere, env=clean_env(home / ".env", BOT_TOKEN="123456:ABC def",
                                                     STAFF_CHAT_ID="-100123"))
    line = one_line(proc)
    assert line.startswith("BOT_TOKEN ni žeton bota") and "@BotFather" in line
    assert str(home / ".env") in line  # where to fix it
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (home / "data").exists() and not (elsewhere / "data").exists()


@pytest.mark.parametrize("staff", ["-100123", ""], ids=["running", "setup-mode"])
def test_a_revoked_token_is_one_line(project, unauthorized_api, staff):
    home, elsewhere = project
    proc = korak("run", cwd=elsewhere, env=clean_env(
        home / ".env", BOT_TOKEN=TOKEN, STAFF_CHAT_ID=staff, TELEGRAM_API_URL=unauthorized_api))
    line = one_line(proc)
    assert line.startswith("Telegram ne sprejme BOT_TOKEN (Unauthorized)")
    assert TOKEN not in proc.stderr


def _pg_url(**parts) -> str:
    from sqlalchemy.engine import make_url

    return make_url(PG_URL).set(password=PASSWORD, **parts).render_as_string(hide_password=False)


@needs_pg
@pytest.mark.parametrize("command", [["run"], ["coordinators", "list"], ["db", "upgrade"]],
                         ids=" ".join)
@pytest.mark.parametrize("missing", ["database", "role"])
def test_a_database_server_that_refuses_is_one_line_naming_it(project, command, missing):
    """No such database, no such role: nothing to wait for, one line at once that names the
    database (its password masked) and what to do."""
    home, elsewhere = project
    url = (_pg_url(database="korak_no_such_database") if missing == "database"
           else _pg_url(username="korak_no_such_role"))
    started = time.monotonic()
    proc = korak(*command, cwd=elsewhere, env=clean_env(
        home / ".env", DATABASE_URL=url, BOT_TOKEN=TOKEN, STAFF_CHAT_ID="-100123",
        TELEGRAM_API_URL="http://127.0.0.1:9"))
    line = one_line(proc)
    assert time.monotonic() - started < 20  # not waited for
    assert PASSWORD not in proc.stderr and ":***@" in line
    if missing == "database":
        assert line.startswith("Baze korak_no_such_database na strežniku") and "createdb" in line
    else:
        assert "ne sprejme uporabnika korak_no_such_role" in line and "createuser" in line
    if command != ["run"]:
        assert len(proc.stderr.strip().splitlines()) == 1


def waits_then_stops(project, waiting: str, **env) -> Lines:
    """`korak run` waits for something not up yet, logging `waiting` a line a try (two seen,
    still running), and SIGTERM ends the wait within 5 s, without a traceback."""
    proc, lines = start_run(project, STAFF_CHAT_ID="-100123", **env)
    try:
        lines.until(lambda line: waiting in line, timeout=60)
        lines.until(lambda line: waiting in line, timeout=10)
        assert proc.poll() is None  # still waiting
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=5)
    finally:
        stop(proc)
    lines.during(1)
    assert "Traceback" not in "\n".join(lines.seen)
    return lines


def test_a_database_server_not_up_yet_is_waited_for_and_sigterm_ends_the_wait(project):
    """A server that is down (a closed port) may come up: `korak run` tries again, one log
    line a try, and stops when told to, without a traceback."""
    url = f"postgresql://korak:{PASSWORD}@127.0.0.1:{closed_port()}/korak"
    lines = waits_then_stops(project, "database not reachable yet", DATABASE_URL=url)
    assert all(" INFO " in line or " WARNING " in line for line in lines.seen), lines.seen
    assert PASSWORD not in "\n".join(lines.seen)


def test_a_redis_not_up_yet_is_waited_for_and_sigterm_ends_the_wait(project):
    """After a reboot Redis may come up after korak: `korak run` tries again, one log line a
    try, rather than refusing (its unit would not restart it after a refusal's exit 2)."""
    waits_then_stops(project, "Redis not reachable yet",
                     REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0")


def test_a_redis_that_turns_korak_away_is_one_line(project, redis_url):
    """A wrong user or password cannot pass by itself: one line naming REDIS_URL, exit 2."""
    home, elsewhere = project
    wrong = redis_url.replace("redis://", f"redis://nobody:{PASSWORD}@", 1)
    line = one_line(korak("run", cwd=elsewhere, env=clean_env(
        home / ".env", BOT_TOKEN=TOKEN, STAFF_CHAT_ID="-100123", REDIS_URL=wrong)))
    assert line.startswith("Redis na REDIS_URL je zavrnil povezavo (AuthenticationError)"), line
    assert PASSWORD not in line


def test_a_command_waits_a_while_for_the_database_then_says_so(project, monkeypatch, capsys):
    home, elsewhere = project
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("KORAK_ENV_FILE", str(home / ".env"))
    monkeypatch.setenv("DATABASE_URL", f"postgresql://korak:{PASSWORD}@127.0.0.1:"
                                       f"{closed_port()}/korak")
    monkeypatch.setattr(cli, "COMMAND_WAIT_SECONDS", 1.5)
    started = time.monotonic()
    assert cli.main(["retention", "--dry-run"]) == 75  # may pass by itself: try again later
    assert 1.4 < time.monotonic() - started < 10
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith("Baza postgresql://korak:***@127.0.0.1") and "ni dosegljiva" in line
    assert PASSWORD not in line


def test_a_wrong_password_and_missing_rights_are_named(project):
    """What the trust-auth test server cannot show: PostgreSQL's answers to a wrong password
    and to a role without rights, as korak reads them."""
    import asyncpg

    from bot.database import refusal
    from bot.i18n import Texts

    settings = Settings(_env_file=None, database_url=f"postgresql://korak:{PASSWORD}@db/korak")
    texts = Texts(settings.locales_dir)
    wrong = refusal(asyncpg.InvalidPasswordError("password authentication failed"),
                    settings, texts)
    assert str(wrong).startswith("Strežnik db:5432 je zavrnil geslo uporabnika korak")
    rights = refusal(asyncpg.InsufficientPrivilegeError("permission denied for schema public"),
                     settings, texts)
    assert "OWNER TO korak" in str(rights)
    assert PASSWORD not in str(wrong) + str(rights)
    assert refusal(ValueError("not the database's"), settings, texts) is None


def test_a_database_a_newer_korak_upgraded_is_named_as_such(project):
    """A replica not yet updated in a rolling upgrade starts on a database `korak db upgrade` of
    the new version moved on: one line saying so (not "run korak db upgrade"), and the
    database is left as it is."""
    import sqlite3

    home, elsewhere = project
    env = clean_env(home / ".env", BOT_TOKEN=TOKEN, STAFF_CHAT_ID="-100123")
    assert korak("db", "upgrade", cwd=elsewhere, env=env).returncode == 0
    with sqlite3.connect(home / "data" / "korak.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099_newer'")
    for args in (("run",), ("db", "upgrade")):
        line = one_line(korak(*args, cwd=elsewhere, env=env))
        assert line.startswith("Shema baze je na različici 0099_newer, ki je ta namestitev "
                               "korak ne pozna"), line
    current = korak("db", "current", cwd=elsewhere, env=env)
    assert current.returncode == 1 and "ne pozna" in current.stdout, current
    with sqlite3.connect(home / "data" / "korak.db") as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [
            ("0099_newer",)]


def test_a_setting_that_is_not_valid_is_one_line(project):
    home, elsewhere = project
    proc = korak("coordinators", "list", cwd=elsewhere,
                 env=clean_env(home / ".env", STAFF_CHAT_ID="skupina"))
    line = one_line(proc)
    assert line.startswith("Nastavitve niso veljavne (STAFF_CHAT_ID:")


# 3. The wrong folder ---------------------------------------------------------------------------

def test_settings_are_found_from_any_folder_and_paths_are_the_env_files(project):
    """`korak db upgrade` from another folder makes the database beside the project's .env,
    and `korak coordinators` from a third folder uses that one: nothing is made where the
    command ran."""
    home, elsewhere = project
    env = clean_env(home / ".env")
    made = korak("db", "upgrade", cwd=elsewhere, env=env)
    assert made.returncode == 0, made.stderr
    assert (home / "data/korak.db").exists() and not (elsewhere / "data").exists()
    third = elsewhere / "sub"
    third.mkdir()
    added = korak("coordinators", "add", "4242", "--name", "Mojca", cwd=third, env=env)
    assert added.returncode == 0, added.stderr
    listed = korak("coordinators", "list", cwd=elsewhere, env=env)
    assert "4242\tMojca" in listed.stdout
    assert not (third / "data").exists() and not (elsewhere / "data").exists()


def test_a_named_env_file_that_is_not_there_is_one_line(project):
    home, elsewhere = project
    proc = korak("coordinators", "list", cwd=elsewhere, env=clean_env(home / "nima.env"))
    line = one_line(proc)
    assert line.startswith(f"KORAK_ENV_FILE kaže na {home / 'nima.env'}")


def test_the_env_file_is_looked_for_in_the_documented_order(tmp_path, monkeypatch):
    """KORAK_ENV_FILE, then .env in the working folder, then .env in the install's folder
    (beside pyproject.toml); relative SQLite paths from the folder of the one read."""
    from bot import config

    install, work, named = tmp_path / "install", tmp_path / "work", tmp_path / "etc"
    for folder, name in ((install, "install"), (work, "work"), (named, "named")):
        folder.mkdir()
        (folder / ".env").write_text(f"DATABASE_URL=sqlite:///{name}.db\nREPORT_EMBLEM_FILE="
                                     f"grb.png\n")
    (install / "pyproject.toml").write_text("[project]\nname = 'korak'\n")
    monkeypatch.setattr(config, "ROOT", install)
    for key in ("KORAK_ENV_FILE", "DATABASE_URL", "REPORT_EMBLEM_FILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env here: the install's
    found = Settings()
    assert found.env_path == install / ".env"
    assert found.database_url == f"sqlite:///{install}/install.db"
    assert found.report_emblem_file == install / "grb.png"
    monkeypatch.chdir(work)  # the working folder's before the install's
    assert Settings().database_url == f"sqlite:///{work}/work.db"
    monkeypatch.setenv("KORAK_ENV_FILE", str(named / ".env"))  # before both
    assert Settings().database_url == f"sqlite:///{named}/named.db"
    monkeypatch.setenv("DATABASE_URL", "sqlite:///from-environment.db")  # the environment wins
    assert Settings().database_url == f"sqlite:///{named}/from-environment.db"
    monkeypatch.setenv("KORAK_ENV_FILE", os.devnull)  # the environment alone (a container's)
    assert Settings().env_path is None
    assert Settings().database_url == f"sqlite:///{work}/from-environment.db"
    monkeypatch.delenv("KORAK_ENV_FILE")
    (work / ".env").unlink()
    (install / "pyproject.toml").unlink()  # an installed package: no project folder to look in
    monkeypatch.delenv("DATABASE_URL")
    assert Settings().env_path is None
    assert Settings().database_url == f"sqlite+aiosqlite:///{work}/data/korak.db"


def test_commands_that_only_read_refuse_a_missing_database_and_name_it(
        project, monkeypatch, capsys):
    home, elsewhere = project
    monkeypatch.chdir(elsewhere)
    for key in [name.upper() for name in Settings.model_fields]:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("KORAK_ENV_FILE", str(home / ".env"))
    (elsewhere / "urnik.csv").write_text("datum;zacetek;konec;naslov;kraj\n")
    for argv in (["retention", "--dry-run"], ["access-log"], ["outbox", "failed"],
                 ["coordinators", "list"], ["enroll", "1", "--cohort", "SG 1"],
                 ["report", "--period", "2026-12"], ["reseal"], ["db", "current"],
                 ["schedule", "import", "urnik.csv", "--cohort", "SG 1"]):
        assert cli.main(argv) == 2, argv
        [line] = capsys.readouterr().err.strip().splitlines()
        assert line.startswith(f"Baze {home / 'data/korak.db'} ni") and str(home / ".env") in line
    assert not (home / "data").exists() and not (elsewhere / "data").exists()


def test_commands_that_only_read_refuse_an_empty_database(project, monkeypatch, capsys):
    home, elsewhere = project
    (home / "data").mkdir()
    (home / "data/korak.db").touch()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("KORAK_ENV_FILE", str(home / ".env"))
    assert cli.main(["coordinators", "list"]) == 2
    assert capsys.readouterr().err.startswith(f"Baza {home / 'data/korak.db'} je prazna")


def test_chat_makes_its_own_database_beside_the_env_file(project):
    home, elsewhere = project
    proc = korak("chat", cwd=elsewhere, env=clean_env(home / ".env"), input="")
    assert proc.returncode == 0, proc.stderr
    assert (home / "data/chat.db").exists() and not (home / "data/korak.db").exists()
    assert not (elsewhere / "data").exists()


# 4. Log noise ------------------------------------------------------------------------------

def test_an_idle_korak_writes_nothing_and_its_start_says_what_matters(project, fake_api):
    """Four scheduler ticks with nothing to do: not a line (the scheduler wrote two a tick).
    The start: the version, the database, the channels and the mode, and no Alembic step."""
    home, _ = project
    proc, lines = start_run(project, STAFF_CHAT_ID="-100123", COORDINATOR_IDS="4242",
                            TELEGRAM_API_URL=fake_api, OUTBOX_TICK_SECONDS="1")
    try:
        start = lines.until(lambda line: line.endswith("korak started"), timeout=90)
        start += lines.during(1.5)  # the catch-up tick after the start (the daily retention)
        idle = lines.during(4.5)
    finally:
        stop(proc)
    assert idle == []
    assert len(start) <= 6, start
    assert not any("alembic" in line or "apscheduler" in line for line in start), start
    [summary] = [line for line in start if "starting:" in line]
    from bot.logs import version

    assert f"korak {version()} starting: database sqlite" in summary
    assert str(home / "data/korak.db") in summary
    assert "channels telegram" in summary and "mode polling" in summary
    assert any("database made at revision" in line for line in start)
