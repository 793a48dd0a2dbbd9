"""`korak bench replicas`: N `korak run --webhook` processes share PostgreSQL and Redis behind a
fake Bot API that plays Telegram and the load balancer: it delivers residents' updates by
webhook, round-robin across the replicas (an update a replica does not take with a 200 goes to
the next one, as Telegram would send it again), and enforces Telegram's limits (30 messages a
second, one a second per chat, 20 a minute per group) with real 429s. While R residents go
through the intake and M reminders fall due, replicas are killed with SIGKILL and started again
(`--kills K`, one by default: spread over the run, the replicas in turn). Prints figures, one
JSON line last: replicas, kills, updates, lost_updates, duplicate_requests, reminders_sent,
reminder_duplicates, reminders_lost, reminders_not_repeated (cut off mid-send by a kill: at most
once, so a lost reminder is one of these), max_sends_in_any_second, rate_per_s (reminders a
second, first to last)."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from argparse import Namespace
from collections import Counter
from datetime import timedelta
from pathlib import Path

import aiohttp
import asyncpg

from storage import migrate
from storage import schedule as store
from storage.crypto import generate_key
from storage.db import Database
from storage.models import ProgrammeSession

from bot.bench.fake_api import FakeBotAPI
from bot.bench.load import DONE_MARKER, Harness, korak_resident
from bot.clock import utcnow
from bot.config import Settings
from bot.staff.schedule import ScheduleService

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "42:REPLICAS"
STAFF = -100_5151
SECRET = "bench-replicas-secret-0001"
REMINDER = "⏰ Opomnik"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _new_database(url: str) -> tuple[str, str]:
    """A database of its own on the server `url` names: (its URL, its name)."""
    name = f"korak_bench_{uuid.uuid4().hex[:10]}"
    admin = url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return admin.rsplit("/", 1)[0] + "/" + name, name


async def _drop_database(url: str, name: str) -> None:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _reminders(url: str, where: str) -> int:
    """How many reminder rows of the outbox match `where`."""
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return await conn.fetchval(f"SELECT count(*) FROM outbox WHERE kind = 'reminder' "
                                   f"AND {where}")
    finally:
        await conn.close()


# not finished with: neither sent, nor given up, nor not repeated
WAITING = "sent_at IS NULL AND failed_at IS NULL"
# cut off mid-send by a kill and, going at most once, not sent again (they may or may not have
# reached the Bot API)
NOT_REPEATED = "last_error LIKE 'interrupted while sending%'"


async def _seed(url: str, participants: int) -> int:
    """The schema, and a cohort whose session starts in an hour with everyone enrolled: one
    reminder each (two hours before), all due now."""
    db = Database(url, pool_size=5)
    try:
        await migrate.ready(db)
        now = utcnow()
        planned_at = now - timedelta(hours=3)
        settings = Settings(_env_file=None, database_url=url, reminder_offsets="-2h",
                            quiet_hours="00:00-00:00")
        service = ScheduleService(db, settings, lambda: planned_at)
        async with db.transaction() as s:
            cohort = await store.create_cohort(s, "bench replicas", "slovenj-gradec", now)
            s.add(ProgrammeSession(cohort_id=cohort.id, key="s1", title="Srečanje",
                                   place="Slovenj Gradec, Meškova ulica 21",
                                   starts_at=now + timedelta(minutes=60),
                                   ends_at=now + timedelta(minutes=180), updated_at=now))
            cohort_id = cohort.id
        planned = 0
        for first in range(0, participants, 500):
            async with db.transaction() as s:
                for uid in range(first, min(participants, first + 500)):
                    planned += await service.enroll_in(
                        s, cohort_id, f"telegram:{5_000_000 + uid}", None, planned_at)
        return planned
    finally:
        await db.dispose()


class Balancer:
    """Delivers queued updates by webhook, round-robin; an update not taken goes to the next
    replica a moment later. `inflight` updates at once (Telegram sends several)."""

    def __init__(self, queue: asyncio.Queue, ports: list[int], inflight: int = 16) -> None:
        self.queue, self.ports, self.inflight = queue, ports, inflight
        self.turn = itertools.count()
        self.sent_ids: list[int] = []
        self.redelivered = 0

    async def run(self, stopping: asyncio.Event) -> None:
        async with aiohttp.ClientSession() as http:
            await asyncio.gather(*(self._worker(http, stopping) for _ in range(self.inflight)))

    async def _worker(self, http: aiohttp.ClientSession, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                update = await asyncio.wait_for(self.queue.get(), timeout=0.2)
            except asyncio.TimeoutError:
                continue
            self.sent_ids.append(update["update_id"])
            while not stopping.is_set():
                port = self.ports[next(self.turn) % len(self.ports)]
                try:
                    async with http.post(f"http://127.0.0.1:{port}/hook", json=update,
                                         headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                                         timeout=aiohttp.ClientTimeout(total=10)) as resp:
                        if resp.status < 300:
                            break
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    pass
                self.redelivered += 1
                await asyncio.sleep(0.2)


def _env(api: str, database: str, redis: str, port: int, health: int, key: str,
         rate: float) -> dict:
    """A replica's settings: updates on `port`, health on `health` (one of each per process)."""
    return {**os.environ, "BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": api, "DATABASE_URL": database,
            "REDIS_URL": redis, "DATA_KEY": key, "STAFF_CHAT_ID": str(STAFF),
            "COORDINATOR_IDS": "1", "WEBHOOK_URL": f"http://127.0.0.1:{port}/hook",
            "WEBHOOK_LISTEN": f"127.0.0.1:{port}", "WEBHOOK_SECRET": SECRET,
            "SEND_RATE_PER_S": str(rate), "OUTBOX_TICK_SECONDS": "1", "REMINDER_OFFSETS": "-2h",
            "QUIET_HOURS": "00:00-00:00", "LOG_FORMAT": "json", "LOG_LEVEL": "WARNING",
            "HEALTH_PORT": str(health), "DATABASE_POOL_SIZE": "10",
            "DB_AUTO_UPGRADE": "false"}


async def _ticking(port: int, timeout: float = 60.0) -> None:
    """Wait for the replica whose HEALTH_PORT is `port` to have ticked (its /readyz says so):
    by then it listens for updates. Its other checks may fail while the outbox is busy."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(f"http://127.0.0.1:{port}/readyz") as resp:
                    if (await resp.json())["checks"]["scheduler"] == "ok":
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError(f"replica with health on port {port} did not come up")


def densest_second(attempts: list[tuple[float, int]]) -> list[tuple[float, int]]:
    """The most (when, chat) pairs that fall within any one second, in time order."""
    pairs = sorted(attempts)
    best, at, j = 0, 0, 0
    for i, (t, _) in enumerate(pairs):
        while pairs[j][0] <= t - 1.0:
            j += 1
        if i - j + 1 > best:
            best, at = i - j + 1, j
    return pairs[at:at + best]


async def _run(args: Namespace) -> dict:
    if not args.database or args.database.startswith("sqlite"):
        raise SystemExit("korak bench replicas needs --database postgresql://… (replicas share it)")
    if not args.redis:
        raise SystemExit("korak bench replicas needs --redis redis://… (the shared limits)")
    url, name = await _new_database(args.database)
    logs_dir = Path(os.environ.get("KORAK_BENCH_LOGS", "/tmp"))
    procs: list[subprocess.Popen | None] = []
    logs: list = []
    try:
        planned = await _seed(url, args.reminders)
        print(f"planned {planned} reminders; starting {args.replicas} replicas", flush=True)
        h = Harness()  # the residents, as the load benchmark walks them
        # Telegram's limits: 30 a second, about one a second per chat with short bursts,
        # 20 a minute per group; every sendMessage asked for is counted, 429 or not
        h.api = api = FakeBotAPI(global_rate=30.0, chat_interval=1.0, chat_burst=4,
                                 group_per_minute=20)
        api.updates = asyncio.Queue()
        api.on_message = h._message
        api_url = await api.start()
        ports = [free_port() for _ in range(args.replicas)]
        health_ports = [free_port() for _ in range(args.replicas)]
        key = generate_key()

        def start(i: int) -> subprocess.Popen:
            log = open(logs_dir / f"korak-replica-{i}.log", "a")
            logs.append(log)
            return subprocess.Popen([sys.executable, "-m", "bot", "run", "--webhook"], cwd=ROOT,
                                    env=_env(api_url, url, args.redis, ports[i],
                                             health_ports[i], key, args.rate or 28.0),
                                    stdout=log, stderr=subprocess.STDOUT)

        procs = [start(i) for i in range(args.replicas)]
        await asyncio.gather(*(_ticking(p) for p in health_ports))
        stopping = asyncio.Event()
        balancer = Balancer(api.updates, ports)
        delivering = asyncio.create_task(balancer.run(stopping))
        started = time.monotonic()

        through: list[int] = []  # residents who finished the intake, as they do

        async def resident(uid: int) -> bool:
            try:
                await korak_resident(h, uid)
                through.append(uid)
                return True
            except TimeoutError as exc:
                if os.environ.get("KORAK_BENCH_DEBUG"):
                    print("stuck:", str(exc)[:300], f"at {time.monotonic() - started:.1f} s",
                          flush=True)
                return False

        async def kill(times: int) -> int:
            """`times` kills spread over the run: the k-th once k/(times+2) of the reminders are
            out (one kill: a third), each of the next replica in turn, SIGKILL, and started
            again 3 s later. Returns how many were done."""
            for k in range(1, times + 1):
                while sum(1 for d in api.delivered
                          if d.text.startswith(REMINDER)) < planned * k // (times + 2):
                    await asyncio.sleep(0.2)
                i = (k - 1) % len(procs)
                procs[i].send_signal(signal.SIGKILL)
                procs[i].wait(10)
                print(f"killed replica {i} at {time.monotonic() - started:.1f} s; restarting it",
                      flush=True)
                await asyncio.sleep(3)
                procs[i] = start(i)
                kills_done.append(i)
                await _ticking(health_ports[i])
            return len(kills_done)

        kills_done: list[int] = []  # a replica killed counts once it is started again
        killing = asyncio.create_task(kill(args.kills))
        walks = asyncio.gather(*(resident(7_000_000 + i) for i in range(args.residents)))
        deadline = started + args.timeout
        look_at = 0.0
        while time.monotonic() < deadline:
            reminders = sum(1 for d in api.delivered if d.text.startswith(REMINDER))
            if walks.done() and killing.done():
                if reminders >= planned:
                    break
                # a reminder korak gave up on (or did not repeat) will not come: done once
                # none is left to send
                if time.monotonic() >= look_at:
                    look_at = time.monotonic() + 2.0
                    if not await _reminders(url, WAITING):
                        break
            await asyncio.sleep(0.5)
        if not walks.done():
            walks.cancel()
        killing.cancel()
        kills = len(kills_done)
        stopping.set()
        await delivering
        await asyncio.sleep(1.0)
        for proc in procs:
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            if proc is not None:
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        await api.stop()
        not_repeated = await _reminders(url, NOT_REPEATED)

        db = Database(url, pool_size=2)
        try:
            async with db.transaction() as s:
                sent = list(set(balancer.sent_ids))
                handled = {int(r[0].split(":")[1])
                           for r in (await s.execute(_select_handled(sent))).all()}
                dupes = (await s.execute(_select_duplicate_requests())).all()
        finally:
            await db.dispose()
        deliveries = [d for d in api.delivered if d.text.startswith(REMINDER)]
        densest = densest_second(api.attempts)
        if os.environ.get("KORAK_BENCH_DEBUG") and densest:
            print("densest second at", round(densest[0][0] - min(api.attempts)[0], 2), "s:",
                  Counter("group" if c < 0 else "resident" if c >= 7_000_000 else "reminder"
                          for _, c in densest),
                  [round(t - densest[0][0], 3) for t, _ in densest], flush=True)
        per_chat = Counter(d.chat_id for d in deliveries)
        stamps = sorted(d.at for d in deliveries)
        span = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
        return {
            "replicas": args.replicas, "kills": kills, "residents": args.residents,
            "residents_done": len(through),
            "updates": len(sent), "lost_updates": len([u for u in sent if u not in handled]),
            "redelivered": balancer.redelivered,
            "duplicate_requests": sum(n - 1 for _, n in dupes),
            "reminders_planned": planned, "reminders_sent": len(per_chat),
            "reminder_duplicates": sum(n - 1 for n in per_chat.values()),
            "reminders_lost": planned - len(per_chat),
            "reminders_not_repeated": not_repeated,
            "max_sends_in_any_second": len(densest),
            "rate_per_s": round((len(deliveries) - 1) / span, 2) if span > 0 else 0.0,
            "messages_per_s": round(sum(1 for d in api.delivered
                                        if stamps and stamps[0] <= d.at <= stamps[-1]) / span, 2)
            if span > 0 else 0.0,
            "rejected_429": api.rejected_429, "seconds": round(time.monotonic() - started, 1),
        }
    finally:
        for proc in procs:
            if proc is not None and proc.poll() is None:
                proc.kill()
        for log in logs:
            log.close()
        await _drop_database(args.database, name)


def _select_handled(ids: list[int]):
    from sqlalchemy import select

    from storage.models import Inbox
    events = {f"telegram:{i}": i for i in ids}
    return select(Inbox.event).where(Inbox.event.in_(list(events) or [""]),
                                     Inbox.handled_at.is_not(None))


def _select_duplicate_requests():
    from sqlalchemy import func, select

    from storage.models import ContactRequest
    return (select(ContactRequest.person, func.count())
            .group_by(ContactRequest.person).having(func.count() > 1))


def main(args: Namespace) -> int:
    logging.basicConfig(level=logging.ERROR)
    result = asyncio.run(_run(args))
    print(f"{result['replicas']} replicas, {result['kills']} killed: "
          f"{result['updates']} updates ({result['lost_updates']} lost), "
          f"{result['residents_done']}/{result['residents']} residents through, "
          f"{result['duplicate_requests']} duplicate requests; reminders "
          f"{result['reminders_sent']}/{result['reminders_planned']} sent, "
          f"{result['reminder_duplicates']} twice, {result['rate_per_s']}/s; at most "
          f"{result['max_sends_in_any_second']} messages in any second", flush=True)
    print(json.dumps(result))
    ok = (result["residents_done"] == result["residents"]
          and result["lost_updates"] == 0 and result["duplicate_requests"] == 0
          and result["reminder_duplicates"] == 0 and result["reminders_lost"] == 0
          and result["max_sends_in_any_second"] <= 30)
    return 0 if ok else 1


__all__ = ["main", "DONE_MARKER"]
