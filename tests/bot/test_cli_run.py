"""`korak run` refuses to start, with one line saying what to set, when the settings it cannot
run without are missing, or when its HEALTH_PORT is taken. No Bot API is needed for that."""

import os
import socket
import subprocess
import sys

import pytest

TOKEN = "123456:korak-refused"


def test_run_without_a_data_key_says_how_to_make_one(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATA_KEY"}
    env["BOT_TOKEN"] = TOKEN
    proc = subprocess.run([sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("Manjka DATA_KEY") and "korak keygen" in line
    assert not (tmp_path / "data").exists()  # refused before anything was made


def test_run_without_token_says_what_to_set(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "BOT_TOKEN"}
    proc = subprocess.run([sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "Manjka BOT_TOKEN: nastavite ga v datoteki .env ali v okolju (glejte .env.example)."]


@pytest.mark.parametrize("mode", [[], ["--webhook"]], ids=["polling", "webhook"])
def test_run_stops_when_its_health_port_is_taken(tmp_path, mode):
    """Two processes on one host with one HEALTH_PORT: the second would let a probe read the
    first one's health as its own. It stops with one line instead, in every mode."""
    from storage.crypto import generate_key

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
        env.update(BOT_TOKEN=TOKEN, DATA_KEY=generate_key(), STAFF_CHAT_ID="-100123",
                   DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/k.db", HEALTH_PORT=str(port),
                   HEALTH_HOST="127.0.0.1", TELEGRAM_API_URL="http://127.0.0.1:9",
                   WEBHOOK_URL="https://korak.example.si/tg",
                   WEBHOOK_SECRET="health-port-test-secret", WEBHOOK_LISTEN="127.0.0.1:0")
        proc = subprocess.run([sys.executable, "-m", "bot", "run", *mode], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert f"127.0.0.1:{port}" in last and "HEALTH_PORT" in last and "zaseden" in last


def test_keygen_prints_a_key_that_seals_and_opens():
    from storage.crypto import Sealer

    out = subprocess.run([sys.executable, "-m", "bot", "keygen"], capture_output=True,
                         text=True, timeout=60).stdout.strip()
    assert Sealer(out).open(Sealer(out).seal("yes")) == "yes"


def test_retention_and_access_log_by_hand(tmp_path, monkeypatch, capsys):
    """`korak retention` prints one JSON line last with counts per kind; --dry-run changes
    nothing; `korak access-log` lists who opened what."""
    import asyncio
    import json
    from datetime import datetime, timedelta, timezone

    from bot.cli import main
    from storage import erasure, repo
    from storage.db import Database

    url = f"sqlite:///{tmp_path}/korak.db"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("STAFF_CHAT_ID", raising=False)
    assert main(["db", "upgrade"]) == 0
    old = datetime(2025, 1, 10, 9, 0, tzinfo=timezone.utc)

    async def seed():
        db = Database(url)
        async with db.transaction() as s:
            rid, _ = await repo.create_request(s, person="telegram:5", answers={},
                                               now=old, staff_chat_id=None)
            await repo.save_state(s, "telegram:5", {"step": "done"}, old)
            await repo.save_state(s, "telegram:6", {"step": "consent"}, old + timedelta(days=300))
            await erasure.log_access(s, rid, 9001, "Mojca", "sensitive", old)
        await db.dispose()
        return rid

    rid = asyncio.run(seed())
    capsys.readouterr()
    assert main(["access-log", "--request", str(rid)]) == 0
    line = capsys.readouterr().out
    assert "Mojca (9001)" in line and "občutljiv odgovor" in line
    assert main(["retention", "--dry-run", "--as-of", "2026-03-01"]) == 0
    counted = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert counted["dry_run"] and counted["requests"] == 1 and counted["unconsented"] == 1
    assert main(["retention", "--as-of", "2026-03-01"]) == 0
    done = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (done["requests"], done["unconsented"], done["as_of"]) == (1, 1, "2026-03-01")
    assert main(["retention", "--as-of", "2026-03-01"]) == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert again["requests"] == 0 and again["unconsented"] == 0
    assert main(["access-log"]) == 0
    assert "V dnevniku ogledov ni zapisov" in capsys.readouterr().out


def fake_checkout(tmp_path):
    """scripts/run.sh and .env.example in `tmp_path`, with stand-ins for the venv's python
    (does nothing) and korak (prints a key for `keygen`, else the command it was given)."""
    import shutil
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent.parent
    (tmp_path / "scripts").mkdir()
    shutil.copy(root / "scripts/run.sh", tmp_path / "scripts/run.sh")
    shutil.copy(root / ".env.example", tmp_path / ".env.example")
    bin_dir = tmp_path / ".venv/bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "korak").write_text(
        '#!/bin/sh\nif [ "$1" = keygen ]; then echo "bmV3LWtleS1mb3ItdGVzdHMtMDEyMzQ1Njc4OTAx="; '
        'else echo "korak $*"; fi\n')
    for f in ("python", "korak"):
        (bin_dir / f).chmod(0o755)


def test_run_sh_makes_a_private_env_with_a_fresh_data_key(tmp_path):
    """scripts/run.sh on a fresh checkout: .env from .env.example, 0600, with DATA_KEY filled
    in by `korak keygen` (the venv's python and korak are stand-ins here)."""
    fake_checkout(tmp_path)
    proc = subprocess.run(["bash", str(tmp_path / "scripts/run.sh"), "chat"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    env = tmp_path / ".env"
    assert oct(env.stat().st_mode & 0o777) == "0o600"
    assert "DATA_KEY=bmV3LWtleS1mb3ItdGVzdHMtMDEyMzQ1Njc4OTAx=\n" in env.read_text()
    assert proc.stdout.strip().endswith("korak chat")


def test_outbox_failed_lists_and_retry_queues_again(tmp_path, monkeypatch, capsys):
    import asyncio
    from datetime import datetime, timezone

    from bot.cli import main
    from storage import repo
    from storage.db import Database

    url = f"sqlite:///{tmp_path}/korak.db"
    monkeypatch.setenv("DATABASE_URL", url)
    assert main(["db", "upgrade"]) == 0
    now = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)

    async def seed():
        db = Database(url)
        async with db.transaction() as s:
            await repo.add_outbox(s, kind="staff_new_request", chat="group:-100", due_at=now,
                                  payload={"request_id": 7}, request_id=7)
        async with db.transaction() as s:
            [row] = await repo.pending_outbox(s)
            await repo.fail_outbox(s, row.id, now, "unauthorized")
        await db.dispose()
        return row.id

    rid = asyncio.run(seed())
    capsys.readouterr()
    assert main(["outbox", "failed"]) == 0
    listed = capsys.readouterr().out
    assert f"{rid}  staff_new_request  prošnja 7" in listed and "unauthorized" in listed
    assert main(["outbox", "retry"]) == 2  # which ones?
    assert main(["outbox", "retry", "--all"]) == 0
    assert "Znova v vrsti za pošiljanje: 1." in capsys.readouterr().out
    assert main(["outbox", "failed"]) == 0
    assert "Ni sporočil" in capsys.readouterr().out


def test_run_or_chat_without_token_says_what_to_set_and_starts_the_chat(tmp_path):
    """What `bash scripts/run.sh` starts on a fresh machine: one line on BOT_TOKEN, then the
    conversation in the terminal, on its own database."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("BOT_TOKEN", "DATABASE_URL", "CHAT_DATABASE_URL", "STAFF_CHAT_ID")}
    proc = subprocess.run([sys.executable, "-m", "bot", "run", "--or-chat"], cwd=tmp_path,
                          env=env, input="", capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines()[0].startswith("BOT_TOKEN še ni nastavljen")
    assert "Socialna aktivacija" in proc.stdout  # the bot's welcome, in the terminal
    assert (tmp_path / "data/chat.db").exists() and not (tmp_path / "data/korak.db").exists()


def test_run_sh_starts_run_or_chat_by_default(tmp_path):
    fake_checkout(tmp_path)
    proc = subprocess.run(["bash", str(tmp_path / "scripts/run.sh")],
                          capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip().splitlines()[-1] == "korak run --or-chat"
