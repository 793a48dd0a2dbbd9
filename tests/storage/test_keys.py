"""Whether DATA_KEY opens what the database holds: the canary, a database from before it, and
sealing everything again with a new first key."""

from datetime import datetime, timezone

import pytest

from storage.models import person_key
from storage import keys, repo
from storage.crypto import Sealer, generate_key

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
OLD, NEW, LOST = generate_key(), generate_key(), generate_key()


async def _answers(db, key: str, *, telegram_id: int = 7001, now=NOW) -> None:
    """A request and a conversation in progress, each with its answer sealed with `key`."""
    sealer = Sealer(key)
    async with db.transaction() as s:
        await repo.create_request(s, person=person_key("telegram", telegram_id),
                                  answers={"name": "Zofka"}, now=now, staff_chat_id=None,
                                  sensitive=sealer.seal("yes"))
        await repo.save_state(s, person_key("telegram", telegram_id + 1), sealer.seal_state(
            {"step": "hopes", "answers": {"sensitive": "no"}}), now)


async def _check(db, key: str) -> None:
    async with db.transaction() as s:
        await keys.check_keys(s, Sealer(key), NOW)


async def _canary(db) -> str | None:
    async with db.transaction() as s:
        return await repo.get_setting(s, keys.CANARY)


async def test_the_first_key_seals_a_canary_and_another_key_is_refused(db):
    await _check(db, OLD)  # a new database: nothing sealed yet
    canary = await _canary(db)
    assert Sealer(OLD).open(canary) == keys.CANARY_WORD
    with pytest.raises(keys.WrongKey):
        await _check(db, NEW)
    await _check(db, f"{NEW},{OLD}")  # a new key first, the old one still opening
    assert await _canary(db) == canary


async def test_a_database_from_before_the_canary_gets_one_only_from_a_key_that_opens_it(db):
    await _answers(db, OLD)
    with pytest.raises(keys.WrongKey):
        await _check(db, NEW)
    assert await _canary(db) is None  # no canary sealed with the wrong key
    await _check(db, OLD)
    assert Sealer(OLD).opens(await _canary(db))


async def test_reseal_seals_every_answer_and_the_canary_with_the_new_key(db):
    await _answers(db, OLD)
    await _check(db, OLD)
    async with db.transaction() as s:
        assert await keys.reseal(s, Sealer(f"{NEW},{OLD}"), NOW) == 2
    await _check(db, NEW)  # the old key can go
    new = Sealer(NEW)
    async with db.transaction() as s:
        [req] = await repo.requests_of(s, "telegram:7001")
        assert new.open(req.sensitive) == "yes"
        talk = await repo.conversation(s, "telegram:7002")
        assert new.open_state(talk.state)["answers"]["sensitive"] == "no"


async def test_reseal_changes_nothing_when_a_key_is_missing_for_some_answers(db):
    await _answers(db, OLD)
    await _answers(db, LOST, telegram_id=8001)
    with pytest.raises(keys.Unopened) as refused:
        async with db.transaction() as s:
            await keys.reseal(s, Sealer(f"{NEW},{OLD}"), NOW)
    assert refused.value.count == 2  # the request and the conversation sealed with LOST
    async with db.transaction() as s:
        [req] = await repo.requests_of(s, "telegram:7001")
        assert Sealer(OLD).open(req.sensitive) == "yes"  # still sealed with the old key
    assert await _canary(db) is None  # not even the canary was written
