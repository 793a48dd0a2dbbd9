"""Cover for absence in storage, on SQLite and PostgreSQL: who is away and until when,
absences ending by themselves, a handover kept as a history row, and names for the cards."""

from datetime import date, datetime, timedelta, timezone

from storage.models import person_key
from storage import cover, erasure, repo

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)
TODAY = date(2026, 11, 26)
ANSWERS = {"site": "slovenj-gradec", "municipality": "Ravne na Koroškem", "name": "Zala"}
MOJCA, BREDA, ANA = 9001, 9002, 9003


async def claimed(db, uid, owner=MOJCA, name="Mojca", card=None):
    async with db.transaction() as s:
        rid, _ = await repo.create_request(s, person=person_key("telegram", uid), answers=ANSWERS,
                                           now=NOW, staff_chat_id=-100)
        req = await repo.get_request(s, rid, lock=True)
        await repo.change_request(s, req, action="claim", status="claimed", owner_id=owner,
                                  owner_name=name, actor_id=owner, actor_name=name, now=NOW)
        if card is not None:
            await repo.remember_staff_message(s, -100, card, rid, card=True)
    return rid


async def test_away_and_back(db):
    async with db.transaction() as s:
        await cover.set_away(s, MOJCA, "Mojca", NOW, date(2026, 12, 4))
    later = NOW + timedelta(hours=2)
    async with db.transaction() as s:  # said again: the new date, the first day kept
        await cover.set_away(s, MOJCA, "Mojca", later, date(2026, 12, 11))
    async with db.transaction() as s:
        [row] = await cover.absences(s)
        assert (row.telegram_id, row.name, row.until) == (MOJCA, "Mojca", date(2026, 12, 11))
        assert repo.as_utc(row.since) == NOW
    async with db.transaction() as s:
        assert await cover.clear_away(s, MOJCA) is True
        assert await cover.clear_away(s, MOJCA) is False
        assert await cover.absences(s) == []


async def test_absences_end_after_their_last_day_or_with_the_coordinator(db):
    async with db.transaction() as s:
        await cover.set_away(s, MOJCA, "Mojca", NOW, TODAY - timedelta(days=1))
        await cover.set_away(s, BREDA, "Breda", NOW, TODAY)
        await cover.set_away(s, ANA, "Ana", NOW, None)
        await cover.set_away(s, 4242, "Tina", NOW, None)  # no longer a coordinator
    async with db.transaction() as s:
        ended = await cover.end_absences(s, TODAY, {MOJCA, BREDA, ANA})
        assert sorted(ended) == [4242, MOJCA]
        assert [a.telegram_id for a in await cover.absences(s)] == [BREDA, ANA]
    async with db.transaction() as s:  # the next day Breda is back too; Ana stays
        assert await cover.end_absences(s, TODAY + timedelta(days=1), {BREDA, ANA}) == [BREDA]


async def test_a_handover_is_a_history_row_and_the_request_is_hers_now(db):
    rid = await claimed(db, 11)
    later = NOW + timedelta(days=1)
    async with db.transaction() as s:
        req = await repo.get_request(s, rid, lock=True)
        await cover.hand_over(s, req, to_id=BREDA, to_name="Breda", actor_id=ANA,
                              actor_name="Ana", now=later)
    async with db.transaction() as s:
        req = await repo.get_request(s, rid)
        assert (req.status, req.owner_id, req.owner_name, req.version) == (
            "claimed", BREDA, "Breda", 2)
        assert repo.as_utc(req.claimed_at) == NOW  # when it was first claimed stays
        assert repo.as_utc(req.activity_at) == later
        claim, handover = await repo.history(s, rid)
        assert claim.action == "claim" and claim.from_owner_id is None
        assert (handover.action, handover.actor_id, handover.actor_name, handover.from_status,
                handover.to_status, handover.from_owner_id, handover.from_owner_name,
                handover.to_owner_id, handover.to_owner_name) == (
            "handover", ANA, "Ana", "claimed", "claimed", MOJCA, "Mojca", BREDA, "Breda")
        assert repo.as_utc(handover.at) == later
        assert (await cover.last_handover(s, rid)).id == handover.id
        # Breda has it now; Mojca's request is covered for her
        assert [r.id for r in await cover.owned_open(s, BREDA)] == [rid]
        assert await cover.owned_open(s, MOJCA) == []
        assert [r.id for r in await cover.covered_open(s, MOJCA)] == [rid]
        assert await cover.covered_open(s, BREDA) == []


async def test_only_claimed_requests_without_an_outcome_count_as_hers(db):
    open_one = await claimed(db, 21)
    done = await claimed(db, 22)
    await claimed(db, 23, owner=BREDA, name="Breda")
    async with db.transaction() as s:
        req = await repo.get_request(s, done, lock=True)
        await repo.change_request(s, req, action="enrolled", status="enrolled", owner_id=MOJCA,
                                  owner_name="Mojca", actor_id=MOJCA, actor_name="Mojca",
                                  now=NOW)
    async with db.transaction() as s:
        assert [r.id for r in await cover.owned_open(s, MOJCA)] == [open_one]


async def test_names_for_the_cards(db):
    await claimed(db, 31, owner=BREDA, name="Bredica")
    await claimed(db, 32, owner=BREDA, name="Breda")  # the name she acted under last
    async with db.transaction() as s:
        await repo.add_coordinator(s, ANA, "Ana Novak", NOW)
        await repo.add_coordinator(s, 9004, None, NOW)
    async with db.transaction() as s:
        assert await cover.coordinator_names(s) == {ANA: "Ana Novak", 9004: None}
        assert await cover.names_seen(s, [BREDA, MOJCA, 9004]) == {BREDA: "Breda"}
        assert await cover.names_seen(s, []) == {}


async def test_erasing_the_person_takes_the_handover_rows_along(db):
    rid = await claimed(db, 41)
    async with db.transaction() as s:
        req = await repo.get_request(s, rid, lock=True)
        await cover.hand_over(s, req, to_id=BREDA, to_name="Breda", actor_id=BREDA,
                              actor_name="Breda", now=NOW)
    async with db.transaction() as s:
        await erasure.erase_person(s, "telegram:41", NOW, -100)
    async with db.transaction() as s:
        assert await repo.history(s, rid) == []
        assert await cover.last_handover(s, rid) is None
        assert await cover.covered_open(s, MOJCA) == []
