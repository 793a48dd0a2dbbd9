"""The coordinators' queue in storage, on SQLite and PostgreSQL: history, locking a request
while it changes, keyed outbox rows written once even by two processes at the same moment,
and deletion taking the history along."""

import asyncio
from datetime import datetime, timezone

from storage.models import person_key
from storage import repo

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)
ANSWERS = {"site": "radlje-ob-dravi", "municipality": "Muta", "name": "Ana"}


async def new_request(db, uid=9):
    async with db.transaction() as s:
        rid, _ = await repo.create_request(s, person=person_key("telegram", uid), answers=ANSWERS,
                                           now=NOW, staff_chat_id=-100)
        return rid


async def test_changes_bump_the_version_and_keep_history(db):
    rid = await new_request(db)
    async with db.transaction() as s:
        req = await repo.get_request(s, rid, lock=True)
        await repo.change_request(s, req, action="claim", status="claimed", owner_id=77,
                                  owner_name="Mojca", actor_id=77, actor_name="Mojca", now=NOW)
    async with db.transaction() as s:
        req = await repo.get_request(s, rid)
        assert (req.status, req.owner_id, req.version) == ("claimed", 77, 1)
        assert repo.as_utc(req.claimed_at) == NOW
        [event] = await repo.history(s, rid)
        assert (event.actor_name, event.from_status, event.to_status) == ("Mojca", "new",
                                                                          "claimed")
        assert [r.id for r in await repo.open_requests(s)] == [rid]


async def test_keyed_outbox_row_is_written_once_even_by_two_planners(db):
    async def plan():
        async with db.transaction() as s:
            return await repo.add_outbox(s, kind="staff_digest", chat="group:-100", payload={},
                                         due_at=NOW, key="digest:2026-11-26")

    results = await asyncio.gather(plan(), plan(), plan())
    assert sorted(results) == [False, False, True]
    assert await plan() is False
    async with db.transaction() as s:
        rows = [r for r in await repo.pending_outbox(s) if r.kind == "staff_digest"]
    assert len(rows) == 1


async def test_staff_messages_point_to_their_request(db):
    rid = await new_request(db)
    async with db.transaction() as s:
        await repo.remember_staff_message(s, -100, 55, rid, card=True)
        await repo.remember_staff_message(s, -100, 60, rid)
        await repo.remember_staff_message(s, -100, 60, rid)  # twice is harmless
    async with db.transaction() as s:
        assert (await repo.request_of_staff_message(s, -100, 60)).id == rid
        assert await repo.request_of_staff_message(s, -100, 61) is None
        assert await repo.request_of_staff_message(s, -200, 55) is None
        req = await repo.get_request(s, rid)
        assert (req.card_chat_id, req.card_message_id) == (-100, 55)


async def test_unreachable_is_reported_once_and_cleared_when_they_write_again(db):
    rid = await new_request(db)
    async with db.transaction() as s:
        await repo.save_state(s, "telegram:9", {"step": "done"}, NOW)
    async with db.transaction() as s:
        assert await repo.mark_unreachable(s, "telegram:9", NOW, -100)
        assert not await repo.mark_unreachable(s, "telegram:9", NOW, -100)
        notices = [r for r in await repo.pending_outbox(s) if r.kind == "staff_unreachable"]
        assert [n.payload["request_id"] for n in notices] == [rid]
        assert await repo.resident_unreachable(s, "telegram:9")
    async with db.transaction() as s:
        await repo.save_state(s, "telegram:9", {"step": "done"}, NOW)
        assert not await repo.resident_unreachable(s, "telegram:9")


async def test_coordinators_table(db):
    async with db.transaction() as s:
        assert await repo.add_coordinator(s, 5, "Mojca", NOW)
        assert not await repo.add_coordinator(s, 5, "Mojca K.", NOW)
    async with db.transaction() as s:
        assert await repo.coordinator_ids(s) == {5}
        assert [c.name for c in await repo.coordinators(s)] == ["Mojca K."]
        assert await repo.remove_coordinator(s, 5)
        assert not await repo.remove_coordinator(s, 5)
