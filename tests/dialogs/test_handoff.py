"""The coordinators' status rules, cards and reminders, as plain rules."""

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from dialogs.handoff import (Request, actions_for, card, decide, digest, due_reminders,
                             open_list, parse_button)
from dialogs.replies import Lines
from dialogs.workhours import WorkingHours

TZ = ZoneInfo("Europe/Ljubljana")
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)  # Thursday 11:00 in Ljubljana
WH = WorkingHours(tz=ZoneInfo("Europe/Ljubljana"))
A, B = 1, 2


def req(status="new", version=0, owner=None, **kw):
    base = dict(id=7, status=status, version=version, created_at=NOW - timedelta(hours=3),
                changed_at=NOW - timedelta(hours=1), owner_id=owner,
                owner_name={A: "Ana", B: "Breda"}.get(owner), site="slovenj-gradec",
                answers={"name": "Marija", "phone": "+38641123456", "site": "slovenj-gradec"})
    base.update(kw)
    return Request(**base)


def test_only_coordinators_may_act():
    d = decide(req(), "claim", 0, 99, "Tujec", is_coordinator=False)
    assert not d.ok and d.refusal.msgid == "handoff.not_allowed"


def test_claiming_a_new_request_makes_the_presser_owner_and_tells_the_resident():
    d = decide(req(), "claim", 0, A, "Ana", True)
    assert d.ok and d.status == "claimed" and d.owner_id == A and d.tell_resident


def test_a_second_claim_on_an_old_card_is_stale():
    claimed = req("claimed", version=1, owner=A)
    d = decide(claimed, "claim", 0, B, "Breda", True)
    assert not d.ok and d.refusal.msgid == "handoff.stale"


def test_outcomes_belong_to_the_owner():
    claimed = req("claimed", version=1, owner=A)
    refused = decide(claimed, "enrolled", 1, B, "Breda", True)
    assert not refused.ok and refused.refusal.params == {"owner": "Ana"}
    ok = decide(claimed, "enrolled", 1, A, "Ana", True)
    assert ok.ok and ok.status == "enrolled" and ok.owner_id == A and not ok.tell_resident


def test_status_paths():
    assert actions_for("new") == ("claim",)
    assert "contacted" in actions_for("claimed") and "contacted" not in actions_for("contacted")
    for final in ("enrolled", "not_suitable", "unreachable"):
        assert actions_for(final) == ("release",)
    d = decide(req("contacted", version=2, owner=A), "unreachable", 2, A, "Ana", True)
    assert d.status == "unreachable"
    # anyone of the team can put a request back into the queue (an owner on leave)
    back = decide(req("enrolled", version=3, owner=A), "release", 3, B, "Breda", True)
    assert back.ok and back.status == "new" and back.owner_id is None
    # an action the status does not offer is refused, even with the right version
    assert not decide(req("new"), "enrolled", 0, A, "Ana", True).ok
    assert not decide(req("new"), "drop_table", 0, A, "Ana", True).ok


def test_button_ids_carry_action_and_version_only():
    assert parse_button("claim:3") == ("claim", 3, None)
    assert parse_button("enroll.12:3") == ("enrolled", 3, 12)
    assert parse_button("back:0") == ("back", 0, None)
    for bad in ("claim", "claim:x", "nuke:1", "claim:-1", "claim:99999999999", "",
                "enroll.:1", "enroll.x:1", "enroll.1"):
        assert parse_button(bad) is None


def test_card_shows_buttons_for_its_status_and_the_unreachable_note():
    new = card(req(), NOW)
    assert [b.id for row in new.buttons for b in row] == ["claim:0"]
    assert isinstance(new.text, Lines)
    assert new.text.items[0].msgid == "handoff.card_new"
    owned = card(req("claimed", version=1, owner=A, resident_unreachable=True), NOW)
    ids = [b.id for row in owned.buttons for b in row]
    assert ids == ["contacted:1", "enrolled:1", "not_suitable:1", "unreachable:1", "release:1"]
    assert max(len(row) for row in owned.buttons) == 2
    msgids = [t.msgid for t in owned.text.items]
    assert "handoff.card_owner" in msgids and msgids[-1] == "handoff.card_unreachable"
    owner = owned.text.items[msgids.index("handoff.card_owner")]
    assert owner.params["owner"] == "Ana" and owner.params["changed"] == NOW - timedelta(hours=1)


def test_the_card_names_the_channel_the_person_writes_on():
    for channel, name in (("telegram", "Telegram"), ("viber", "Viber"),
                          ("whatsapp", "WhatsApp")):
        lines = card(req(channel=channel), NOW).text.items
        [said] = [t for t in lines if t.msgid == "handoff.card_channel"]
        assert said.params["channel"] == name


def test_card_shows_the_phone_as_a_coordinator_dials_it():
    body = card(req(), NOW).text.items[1]
    assert body.msgid == "handoff.card_body" and body.params["phone"] == "041 123 456"
    foreign = req(answers={"name": "Ivana", "phone": "+385912345678", "site": "slovenj-gradec"})
    assert card(foreign, NOW).text.items[1].params["phone"] == "+385 91 234 5678"


def test_open_list_is_oldest_first_and_leaves_out_closed_ones():
    reqs = [req(id=1, created_at=NOW - timedelta(hours=1)),
            req(id=2, created_at=NOW - timedelta(days=2), status="claimed", owner=A),
            req(id=3, status="enrolled", owner=A)]
    say = open_list(reqs, NOW)
    assert say.text.params["count"] == 2
    assert [t.params["id"] for t in say.text.params["lines"].items] == [2, 1]
    assert open_list([req(status="not_suitable")], NOW).text.msgid == "handoff.none_open"


def test_digest_counts_per_site_and_status():
    reqs = [req(id=i, site=site, status=status, owner=A if status != "new" else None)
            for i, (site, status) in enumerate([("slovenj-gradec", "new"), ("slovenj-gradec", "new"),
                                                ("radlje-ob-dravi", "claimed")], 1)]
    counts = {(t.params["site"].msgid, t.params["status"].msgid): t.params["count"]
              for t in digest(reqs, NOW, TZ).text.params["counts"].items}
    assert counts == {("site.slovenj-gradec", "handoff.status.new"): 2,
                      ("site.radlje-ob-dravi", "handoff.status.claimed"): 1}


def due(reqs, now):
    return due_reminders(reqs, now, WH, unclaimed_hours=8, outcome_days=2,
                         digest_at=time(8, 0))


def test_unclaimed_reminder_after_eight_working_hours_once_per_wait():
    created = datetime(2026, 11, 26, 13, 0, tzinfo=timezone.utc)  # Thu 14:00 local
    r = req(created_at=created, changed_at=created)
    # Thu 14-15 (1 h) + Fri 8-15 (7 h): due Friday 15:00 local, not before
    assert not [d for d in due([r], datetime(2026, 11, 27, 13, 59, tzinfo=timezone.utc))
                if d.kind == "unclaimed"]
    [d] = [d for d in due([r], datetime(2026, 11, 27, 14, 0, tzinfo=timezone.utc))
           if d.kind == "unclaimed"]
    # put back into the queue later, it waits anew under a new key
    again = req(created_at=created, changed_at=created + timedelta(days=5))
    [d2] = [d for d in due([again], created + timedelta(days=9)) if d.kind == "unclaimed"]
    assert d.key != d2.key and d.request_id == d2.request_id == 7


def test_no_outcome_reminder_after_two_working_days_from_the_claim():
    claimed_at = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)  # Thursday 10:00
    r = req("contacted", version=2, owner=A, claimed_at=claimed_at,
            changed_at=claimed_at + timedelta(hours=2))
    assert not [d for d in due([r], datetime(2026, 11, 30, 8, 59, tzinfo=timezone.utc))
                if d.kind == "no_outcome"]
    [d] = [d for d in due([r], datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc))
           if d.kind == "no_outcome"]
    assert d.key.startswith("no_outcome:7:")
    closed = req("enrolled", version=3, owner=A, claimed_at=claimed_at)
    assert not [d for d in due([closed], NOW + timedelta(days=30)) if d.request_id]


def test_digest_due_once_a_working_day():
    keys = {d.key for d in due([], NOW) if d.kind == "digest"}
    assert keys == {"digest:2026-11-26"}
    saturday = datetime(2026, 11, 28, 10, 0, tzinfo=timezone.utc)
    assert not [d for d in due([], saturday) if d.kind == "digest"]


def test_the_digest_greets_as_the_hour_fits():
    from dialogs.handoff import digest
    from dialogs.workhours import greeting
    tz = ZoneInfo("Europe/Ljubljana")
    at = lambda h: datetime(2026, 11, 26, h, 5, tzinfo=tz)  # noqa: E731
    assert [greeting(at(h), tz) for h in (7, 9, 10, 14, 18, 21, 2)] == [
        "morning", "morning", "day", "day", "evening", "evening", "evening"]
    assert digest([], at(8), tz).text.params["greeting"].msgid == "handoff.greeting.morning"
    assert digest([], at(21), tz).text.params["greeting"].msgid == "handoff.greeting.evening"


def test_a_request_without_a_site_says_so_and_offers_the_sites():
    """Issue 22: "Ne vem, pokličite me" sends a request without a site."""
    from dialogs.handoff import decide_site

    r = req(site=None, answers={"name": "Marija", "site": None}, version=2)
    say = card(r, NOW)
    assert "handoff.card_no_site" in [t.msgid for t in say.text.items]
    ids = [b.id for row in say.buttons for b in row]
    assert ids == ["claim:2", "site.0:2", "site.1:2"]
    assert parse_button("site.1:2") == ("site", 2, 1)
    assert parse_button("site.x:2") is None
    d = decide_site(r, 2, 1, is_coordinator=True)
    assert d.ok and d.site == "radlje-ob-dravi" and d.status == "new"
    assert not decide_site(r, 1, 1, True).ok  # an old card
    assert not decide_site(r, 2, 5, True).ok
    assert decide_site(r, 2, 0, False).refusal.msgid == "handoff.not_allowed"
    placed = req(version=3)  # once it has a site: no line, no buttons, no second choice
    assert "handoff.card_no_site" not in [t.msgid for t in card(placed, NOW).text.items]
    assert not any(b.id.startswith("site.") for row in card(placed, NOW).buttons for b in row)
    assert not decide_site(placed, 3, 0, True).ok
