"""A DATA_KEY that does not open what the database holds is refused with one line, by `korak
run` before anything starts and by every command that opens sealed answers: a restart with
another key must not read every answer as missing, nor a report count nobody in a target
group. `korak reseal` seals everything again only when it can open all of it."""

import asyncio
import os
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from bot.cli import main
from storage import repo
from storage.crypto import SEALED, Sealer, generate_key
from storage.db import Database

from ..storage.test_keys import _answers as seal_answers

OLD, NEW, LOST = generate_key(), generate_key(), generate_key()
AT = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
WRONG_KEY = "DATA_KEY ne odpre šifriranih odgovorov v tej bazi"


@pytest.fixture
def url(tmp_path, monkeypatch):
    """A database made by `korak db upgrade`, DATA_KEY=OLD, and an answer sealed with it in a
    request and in a conversation in progress."""
    url = f"sqlite:///{tmp_path}/korak.db"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DATA_KEY", OLD)
    monkeypatch.delenv("STAFF_CHAT_ID", raising=False)
    assert main(["db", "upgrade"]) == 0
    asyncio.run(_answers(url, OLD, 7001))
    return url


async def _answers(url: str, key: str, telegram_id: int) -> None:
    db = Database(url)
    await seal_answers(db, key, telegram_id=telegram_id, now=AT)
    await db.dispose()


async def _sealed(url: str) -> list[str]:
    """Every answer sealed in the request and the conversation of the first resident."""
    db = Database(url)
    async with db.transaction() as s:
        [req] = await repo.requests_of(s, "telegram:7001")
        talk = await repo.conversation(s, "telegram:7002")
    await db.dispose()
    return [req.sensitive, talk.state["answers"][SEALED]]


def _report(tmp_path) -> int:
    return main(["report", "--from", "2026-11-01", "--to", "2026-11-30",
                 "--out", str(tmp_path / "porocilo.csv")])


def test_run_with_another_key_refuses_to_start(url, tmp_path):
    env = {**os.environ, "DATA_KEY": NEW, "BOT_TOKEN": "123456:korak-keys",
           "STAFF_CHAT_ID": "-100777", "TELEGRAM_API_URL": "http://127.0.0.1:9",
           "HEALTH_PORT": "0"}
    env.pop("REDIS_URL", None)
    proc = subprocess.run([sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    # the refusal is the last line (the log's lines of the start come before it)
    assert proc.stderr.strip().splitlines()[-1].startswith(WRONG_KEY)
    assert "Traceback" not in proc.stderr
    assert all(Sealer(OLD).opens(t) for t in asyncio.run(_sealed(url)))  # nothing changed


def test_report_with_another_key_is_refused_not_written_with_empty_groups(
        url, tmp_path, monkeypatch, capsys):
    assert _report(tmp_path) == 0  # the right key: the canary is sealed
    (tmp_path / "porocilo.csv").unlink()
    capsys.readouterr()
    monkeypatch.setenv("DATA_KEY", NEW)
    assert _report(tmp_path) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(WRONG_KEY)
    assert not (tmp_path / "porocilo.csv").exists()


def test_reseal_with_another_key_is_refused(url, monkeypatch, capsys):
    monkeypatch.setenv("DATA_KEY", NEW)
    assert main(["reseal"]) == 2
    captured = capsys.readouterr()
    [line] = captured.err.strip().splitlines()
    assert line.startswith(WRONG_KEY) and "Znova šifriranih" not in captured.out


def test_reseal_names_the_answers_no_key_opens_and_changes_nothing(url, monkeypatch, capsys):
    asyncio.run(_answers(url, LOST, 8001))  # sealed with a key no longer in DATA_KEY
    monkeypatch.setenv("DATA_KEY", f"{NEW},{OLD}")
    assert main(["reseal"]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("Odgovorov, ki jih ne odpre noben ključ iz DATA_KEY: 2.")
    assert not any(Sealer(NEW).opens(t) for t in asyncio.run(_sealed(url)))


def test_after_reseal_the_new_key_alone_opens_everything(url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATA_KEY", f"{NEW},{OLD}")
    assert main(["reseal"]) == 0
    assert "Znova šifriranih odgovorov: 2." in capsys.readouterr().out
    monkeypatch.setenv("DATA_KEY", NEW)  # the old key dropped: the canary was sealed again too
    assert _report(tmp_path) == 0
    assert all(Sealer(NEW).opens(t) for t in asyncio.run(_sealed(url)))
