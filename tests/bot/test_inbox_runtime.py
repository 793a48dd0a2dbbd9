"""Updates through the inbox, as `korak run` takes them: by long polling a batch is stored
before it is confirmed, so a batch a killed process had not handled is handled after the
restart, in order and once; by webhook the secret is checked, the update is stored before the
200 (or Telegram is asked to send it again), and one person's updates are handled in order by
however many processes share the database. Health, readiness and metrics over HTTP, on their
own listener, from what the tick found."""

import asyncio
import logging
import json
from datetime import timedelta

import pytest
from aiogram.types import Update
from aiohttp.test_utils import TestClient, TestServer
from aiohttp import web

from bot.runtime.health import Health, Metrics
from bot.runtime.inbox import Inbox
from bot.runtime.webhook import InboxRequestHandler
from storage import inbox as store
from storage import repo
from storage.models import group_key, person_key

from .conftest import STAFF
from .test_handlers import U

SECRET = "s3cret-token-for-tests"


def update(uid, update_id, text):
    return Update.model_validate({"update_id": update_id, "message": {
        "message_id": update_id, "date": 1764150000, "text": text,
        "chat": {"id": uid, "type": "private"},
        "from": {"id": uid, "is_bot": False, "first_name": "Ana"}}})


async def steps(h, uid=U):
    async with h.db.transaction() as s:
        return (await repo.conversation(s, person_key("telegram", uid))).state


async def test_a_batch_a_killed_process_had_taken_is_handled_after_the_restart(h):
    batch = [update(U, 101, "/start"), update(U, 102, "Mislinja")]
    # the first process stores the batch (Telegram is then told) and dies before handling it
    async with h.db.transaction() as s:
        await store.store_batch(s, h.sealer.seal(json.dumps(
            [u.model_dump(mode="json", exclude_none=True, by_alias=True) for u in batch])), h.now)
    restarted = Inbox(h.db, h.dp, h.bot, lambda: h.now, h.sealer)
    assert await restarted.replay() == 2
    assert (await steps(h))["step"] == "consent"  # /start, then "Mislinja" is not consent yet
    texts = [m.text for m in h.session.sent(U)]
    assert texts[0].startswith("Pozdravljeni") and len(texts) == 2  # welcome and question; again
    async with h.db.transaction() as s:
        assert await store.batches(s) == []
    # Telegram delivers the unconfirmed batch again: nothing is handled twice
    await restarted.receive_batch(batch)
    await restarted.idle()
    assert len(h.session.sent(U)) == 2


async def test_a_polled_batch_is_handled_and_then_forgotten(h):
    inbox = Inbox(h.db, h.dp, h.bot, lambda: h.now, h.sealer)
    await inbox.receive_batch([update(U, 201, "/start"), update(U + 1, 202, "/start")])
    await inbox.idle()
    assert h.session.sent(U) and h.session.sent(U + 1)
    await inbox.flush()
    async with h.db.transaction() as s:
        assert await store.batches(s) == []
        assert await store.handled(s, ["telegram:201", "telegram:202"]) == {
            "telegram:201", "telegram:202"}


async def test_a_failed_batch_store_raises_so_nothing_is_confirmed(h, monkeypatch):
    inbox = Inbox(h.db, h.dp, h.bot, lambda: h.now, h.sealer)

    async def broken(*_a, **_k):
        raise OSError("disk full")

    monkeypatch.setattr(store, "store_batch", broken)
    with pytest.raises(OSError):
        await inbox.receive_batch([update(U, 301, "/start")])
    assert h.session.sent(U) == []


async def webhook_client(h, inbox=None):
    inbox = inbox or Inbox(h.db, h.dp, h.bot, lambda: h.now, h.sealer)
    app = web.Application()
    InboxRequestHandler(h.dp, h.bot, inbox, SECRET).register(app, path="/hook")
    client = TestClient(TestServer(app))
    await client.start_server()
    return client, inbox


async def post(client, body, secret=SECRET):
    return await client.post("/hook", json=body,
                             headers={"X-Telegram-Bot-Api-Secret-Token": secret})


async def test_the_webhook_checks_the_secret_stores_then_answers_and_handles(h):
    client, inbox = await webhook_client(h)
    try:
        body = update(U, 401, "/start").model_dump(mode="json", exclude_none=True, by_alias=True)
        assert (await post(client, body, secret="wrong")).status == 401
        assert (await post(client, body, secret="")).status == 401
        assert h.session.sent(U) == []
        assert (await post(client, body)).status == 200
        await inbox.idle()
        assert h.session.sent(U)[0].text.startswith("Pozdravljeni")
        assert (await post(client, body)).status == 200  # delivered again: handled once
        await inbox.idle()
        assert len(h.session.sent(U)) == 1  # the welcome with the first question, once
    finally:
        await client.close()


async def test_a_secret_header_that_is_not_ascii_is_refused_like_any_wrong_one(h, caplog):
    """Not a 500 with an ERROR line: anyone may send such a header."""
    client, inbox = await webhook_client(h)
    try:
        body = update(U, 451, "/start").model_dump(mode="json", exclude_none=True, by_alias=True)
        with caplog.at_level(logging.WARNING):
            assert (await post(client, body, secret="tajnošč-žeton")).status == 401
            assert (await post(client, body, secret=SECRET + "č")).status == 401
        assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
        await inbox.idle()
        assert h.session.sent(U) == []
    finally:
        await client.close()


async def test_an_update_that_cannot_be_stored_is_refused_for_telegram_to_send_again(
        h, monkeypatch):
    client, inbox = await webhook_client(h)

    async def broken(*_a, **_k):
        raise OSError("database down")

    try:
        monkeypatch.setattr(store, "store", broken)
        body = update(U, 501, "/start").model_dump(mode="json", exclude_none=True, by_alias=True)
        assert (await post(client, body)).status == 500
        monkeypatch.undo()
        assert (await post(client, body)).status == 200  # Telegram's next try
        await inbox.idle()
        assert len(h.session.sent(U)) == 1  # the welcome with the first question, once
    finally:
        await client.close()


async def test_one_person_s_updates_stay_in_order_across_processes(h):
    """Two inboxes (two processes) share the database; one person's updates arrive at both at
    once: each is handled once, in the order sent."""
    a = Inbox(h.db, h.dp, h.bot, lambda: h.now, h.sealer)
    b = Inbox(h.db, h.dp, h.bot, lambda: h.now, h.sealer)
    seen = []
    original = a.handle

    async def handled(update, **kwargs):
        seen.append(update.update_id)
        await asyncio.sleep(0.01)  # another process gets a turn meanwhile
        await original(update, **kwargs)

    a.handle = b.handle = handled
    texts = ["/start", "/pomoc", "/status", "/moji_podatki"]
    ups = [update(U, 600 + i, t) for i, t in enumerate(texts)]
    for i, u in enumerate(ups):
        await (a if i % 2 == 0 else b).receive([u])
    await asyncio.gather(*(inbox.drain(person_key("telegram", U)) for inbox in (a, b, b, a)))
    assert seen == [600, 601, 602, 603]


async def test_a_lane_whose_process_died_is_taken_over(h):
    dead = Inbox(h.db, h.dp, h.bot, lambda: h.now, h.sealer)
    await dead.receive([update(U, 701, "/start")])
    async with h.db.transaction() as s:  # claimed, then the process died
        await store.claim_next(s, U, h.now, timedelta(minutes=5))
    alive = Inbox(h.db, h.dp, h.bot, lambda: h.now + timedelta(minutes=6), h.sealer)
    assert await alive.sweep() == 1
    assert h.session.sent(U)[0].text.startswith("Pozdravljeni")


async def health_client(health):
    client = TestClient(TestServer(health.app()))
    await client.start_server()
    return client


async def test_health_readiness_and_metrics(h):
    metrics = Metrics()
    paused = [None]
    health = Health(h.db, lambda: h.now, 5.0, lambda: paused[0], metrics)
    client = await health_client(health)
    try:
        assert (await client.get("/healthz")).status == 200
        not_yet = await client.get("/readyz")  # no tick yet
        assert not_yet.status == 503 and (await not_yet.json())["checks"]["scheduler"] != "ok"
        health.ticked()
        await health.watch()
        assert (await client.get("/readyz")).status == 200
        paused[0] = "forbidden"
        answer = await client.get("/readyz")
        assert answer.status == 503
        assert (await answer.json())["checks"]["staff_chat"] == "cannot post (forbidden)"
        paused[0] = None
        async with h.db.transaction() as s:  # a staff message due 10 minutes ago
            await repo.add_outbox(s, kind="staff_digest", chat=group_key(STAFF), payload={},
                                  due_at=h.now - timedelta(minutes=10))
        await health.watch()  # the next tick sees it
        checks = (await (await client.get("/readyz")).json())["checks"]
        assert checks["outbox"].startswith("oldest due row waits 600")
        metrics.handled(update(U, 1, "x"), 0.02)
        metrics.telegram_error(429)
        page = await (await client.get("/metrics")).text()
        for name in ("korak_updates_total", "korak_update_seconds_bucket",
                     "korak_outbox_pending 1.0", "korak_outbox_oldest_due_seconds 600.0",
                     'korak_telegram_errors_total{code="429"} 1.0', "korak_ticks_total 1.0"):
            assert name in page, name
    finally:
        await client.close()


async def test_a_flood_of_health_requests_queries_nothing(h, monkeypatch):
    """/readyz and /metrics answer from what the last tick found; the tick's and the staff
    chat's state are still read as they are."""
    paused = [None]
    health = Health(h.db, lambda: h.now, 5.0, lambda: paused[0], Metrics())
    health.ticked()
    await health.watch()
    opened = []
    transaction = h.db.transaction

    def counted():
        opened.append(1)
        return transaction()

    monkeypatch.setattr(h.db, "transaction", counted)
    client = await health_client(health)
    try:
        for _ in range(50):
            assert (await client.get("/readyz")).status == 200
            assert (await client.get("/metrics")).status == 200
        paused[0] = "forbidden"
        assert (await client.get("/readyz")).status == 503
        assert "korak_ready 0.0" in await (await client.get("/metrics")).text()
    finally:
        await client.close()
    assert opened == []


async def test_ten_minutes_not_ready_logs_an_error_and_alerts_the_staff_once(h, monkeypatch):
    alerts = []

    async def alert(failing):
        alerts.append(failing)

    health = Health(h.db, lambda: h.now, 5.0, lambda: "forbidden", Metrics(), alert=alert)
    clock = [1000.0]
    monkeypatch.setattr("bot.runtime.health.time.monotonic", lambda: clock[0])
    health.ticked()
    await health.watch()
    clock[0] += 9 * 60
    health.ticked()
    await health.watch()
    assert alerts == []
    clock[0] += 61
    health.ticked()
    await health.watch()
    await health.watch()
    assert alerts == [["staff_chat"]]


async def test_one_process_leads_the_scheduled_work(h):
    async with h.db.transaction() as s:
        assert await store.lead(s, "scheduler", "replica-1", h.now, timedelta(seconds=30))
        assert not await store.lead(s, "scheduler", "replica-2", h.now, timedelta(seconds=30))


async def test_a_reply_lost_with_its_process_is_said_again_once(h, monkeypatch):
    """Issue 23, item 6: an update handled (committed) whose reply never went — the process
    was killed in between — is not the end: once its time has passed, any process tells the
    person again what they were last told, once; a reply that went is never repeated."""
    working = Inbox(h.db, h.dp, h.bot, lambda: h.now, h.sealer)
    await working.receive([update(U, 801, "/start")])
    await working.drain(person_key("telegram", U))
    await working.idle()  # Ana's reply went, and that is noted
    dead = Inbox(h.db, h.dp, h.bot, lambda: h.now, h.sealer)
    monkeypatch.setattr(dead, "_note_replied", lambda event: None)  # killed before noting
    other = 555
    await dead.receive([update(other, 802, "/start")])
    await dead.drain(person_key("telegram", other))
    h.session.requests.clear()

    alive = Inbox(h.db, h.dp, h.bot, lambda: h.now, h.sealer)
    alive.say_again["telegram"] = h.front.say_again
    assert await alive.say_again_lost(h.now) == 0  # their time has not passed: still waited
    assert await alive.say_again_lost(h.now + timedelta(seconds=31)) == 1
    assert h.session.sent(U) == []
    again = [m.text for m in h.session.sent(other)]
    assert again and "strinjate" in " ".join(again), again  # the consent question, again
    assert await alive.say_again_lost(h.now + timedelta(minutes=5)) == 0  # once
