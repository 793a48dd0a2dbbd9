"""WhatsApp's statuses settle the outbox: Meta takes a message and may fail it afterwards (the
24-hour window turned out closed, a passing limit). A coordinator's reply that Meta fails as
outside the window goes again as the "coordinator wrote" template, the coordinators read under
the card that it waits, and the words follow when the person writes; a message that went keeps
nothing personal; a status about a message no row waits for stores nothing."""

import hashlib
import hmac
import json
import time
from datetime import timedelta

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import update
from sqlmodel import select

from bot.bench.channels import channel_korak
from bot.channels.whatsapp import COORDINATOR_WROTE
from bot.clock import utcnow
from storage import repo
from storage.models import Inbox as InboxRow, Outbox, Resident, person_key

SECRET = "receipts-app-secret"
STAFF = -1009876
NUMBER = "38640111222"
PERSON = person_key("whatsapp", NUMBER)


class FakeMeta:
    """WhatsApp's messages endpoint: every message taken, each with its wamid."""

    def __init__(self) -> None:
        self.sent: list[dict] = []

    async def messages(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.sent.append(body)
        return web.json_response({"messaging_product": "whatsapp",
                                  "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                                  "messages": [{"id": f"wamid.OUT{len(self.sent)}"}]})


def webhook(value: dict) -> bytes:
    return json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "W", "changes": [{
        "field": "messages", "value": {"messaging_product": "whatsapp", "metadata": {
            "display_phone_number": "38640000000", "phone_number_id": "1"}, **value}}]}]}
    ).encode()


def status(wamid: str, state: str, code: int | None = None, to: str = NUMBER) -> bytes:
    item = {"id": wamid, "status": state, "timestamp": str(int(time.time())),
            "recipient_id": to}
    if code is not None:
        item["errors"] = [{"code": code, "title": "Re-engagement message"}]
    return webhook({"statuses": [item]})


def message(text: str, n: int) -> bytes:
    return webhook({"contacts": [{"profile": {"name": "Ana"}, "wa_id": NUMBER}],
                    "messages": [{"from": NUMBER, "id": f"wamid.IN{n}",
                                  "timestamp": str(int(time.time())), "type": "text",
                                  "text": {"body": text}}]})


@pytest.fixture
async def world(tmp_path):
    meta = FakeMeta()
    app = web.Application()
    app.router.add_post("/v23.0/1/messages", meta.messages)
    meta_server = TestServer(app)
    await meta_server.start_server()
    session = aiohttp.ClientSession()
    async with channel_korak("whatsapp", f"sqlite+aiosqlite:///{tmp_path}/korak.db",
                             str(meta_server.make_url("/v23.0")), app_secret=SECRET,
                             staff_chat_id=STAFF) as korak:

        class World:
            pass

        w = World()
        w.db, w.meta, w.staff, w.outbox, w.inbox = (korak.db, meta, korak.staff_api,
                                                    korak.wired.outbox, korak.inbox)

        async def post(body: bytes) -> int:
            sig = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            async with session.post(korak.url, data=body, headers={
                    "X-Hub-Signature-256": sig, "Content-Type": "application/json"}) as resp:
                status = resp.status
            await korak.inbox.idle()
            return status

        w.post = post
        yield w
    await session.close()
    await meta_server.close()


async def a_reply_waiting(w, wrote_ago: timedelta) -> int:
    """A WhatsApp resident with a request, who last wrote `wrote_ago`, and a coordinator's
    reply to them in the outbox."""
    assert await w.post(message("Dober dan", 0)) == 200  # their conversation begins
    await send_due(w)
    w.meta.sent.clear()
    now = utcnow()
    async with w.db.transaction() as s:
        await s.execute(update(Resident).where(Resident.person == PERSON).values(
            updated_at=now - wrote_ago))
        request_id, _ = await repo.create_request(
            s, person=PERSON, answers={"name": "Ana", "lang": "sl", "site": "slovenj-gradec"},
            sensitive=None, now=now, staff_chat_id=None)
        await repo.add_outbox(s, kind="relay_to_resident", chat=PERSON, due_at=now,
                              payload={"request_id": request_id, "name": "Maja",
                                       "text": "Pokličem vas jutri ob 10."},
                              request_id=request_id)
    return request_id


async def send_due(w) -> int:
    """What is due goes (and whatever a status or a message kicked off has finished)."""
    await w.outbox.idle()
    sent = await w.outbox.run_once()
    await w.outbox.idle()
    return sent


async def reply_row(w) -> Outbox:
    async with w.db.transaction() as s:
        return (await s.execute(select(Outbox).where(
            Outbox.kind == "relay_to_resident"))).scalars().one()


def texts_of(meta: FakeMeta) -> list[str]:
    return [m["text"]["body"] for m in meta.sent if m["type"] == "text"]


async def test_a_reply_meta_fails_as_outside_the_window_goes_as_the_template_then_follows(
        world):
    w = world
    await a_reply_waiting(w, timedelta(hours=2))  # korak thinks the window is open
    assert await send_due(w) == 1
    assert any("Pokličem vas jutri" in t for t in texts_of(w.meta))
    row = await reply_row(w)
    assert row.receipt == "wamid.OUT1" and row.chat == PERSON  # kept until Meta says

    # Meta: failed, 131047 (more than 24 hours since the person wrote)
    assert await w.post(status("wamid.OUT1", "failed", 131047)) == 200
    row = await reply_row(w)
    assert row.sent_at is None and row.last_error == "window"
    await send_due(w)
    template = w.meta.sent[-1]
    assert template["type"] == "template"
    assert template["template"]["name"] == COORDINATOR_WROTE.name
    await send_due(w)  # the notice under the card
    staff = [d.text for d in w.staff.delivered if d.chat_id == STAFF]
    assert any("WhatsApp" in t and "odgovori" in t for t in staff), staff
    before = len(w.meta.sent)

    # the person answers the template: now the words go, as text
    assert await w.post(message("Dobro, hvala", 1)) == 200
    await send_due(w)
    words = [m for m in w.meta.sent[before:] if m["type"] == "text"
             and "Pokličem vas jutri" in m["text"]["body"]]
    assert len(words) == 1
    row = await reply_row(w)
    assert row.sent_at is not None and row.receipt is not None

    # Meta: delivered. The row keeps nothing personal any more
    assert await w.post(status(row.receipt, "delivered")) == 200
    row = await reply_row(w)
    assert row.chat is None and row.payload == {} and row.receipt is None


async def test_a_passing_failure_sends_it_again_and_one_that_went_is_blanked(world):
    w = world
    await a_reply_waiting(w, timedelta(hours=1))
    await send_due(w)
    assert await w.post(status("wamid.OUT1", "failed", 131000)) == 200  # Meta's side
    row = await reply_row(w)
    assert row.sent_at is None and row.last_error == "retry" and row.failed_at is None
    async with w.db.transaction() as s:  # its time comes
        row.due_at = utcnow()
        s.add(row)
    await send_due(w)
    assert len(texts_of(w.meta)) == 2  # the same words again
    assert await w.post(status("wamid.OUT2", "sent")) == 200
    row = await reply_row(w)
    assert row.sent_at is not None and row.chat is None and row.payload == {}


async def test_a_status_no_row_waits_for_stores_nothing(world):
    w = world
    await a_reply_waiting(w, timedelta(hours=1))
    await send_due(w)

    async def everything():
        async with w.db.transaction() as s:
            return ([(r.id, r.chat, r.receipt, r.sent_at) for r in
                     (await s.execute(select(Outbox))).scalars()],
                    len((await s.execute(select(InboxRow))).all()))

    before = await everything()
    # a message of an erased person, and one to another number: acknowledged, nothing kept
    assert await w.post(status("wamid.OTHER", "delivered", to="38640999888")) == 200
    assert await w.post(status("wamid.OUT1", "read", to="38640999888")) == 200
    assert await w.post(status("wamid.GONE", "failed", 131047)) == 200
    assert await everything() == before
