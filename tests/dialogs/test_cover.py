"""Cover for an absent coordinator, as plain rules: /odsotna's date, who counts as away, what a
claimed request's card offers, who may hand a request to whom, whom the reminder addresses."""

from datetime import date, datetime, timedelta, timezone

import pytest

from dialogs.cover import (Colleague, Cover, away_reply, back_reply, is_away,
                           no_outcome_reminder, parse_away)
from dialogs.handoff import Request, card, decide_handover, handover_choice, parse_button
from dialogs.replies import Lines

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)
TODAY = date(2026, 11, 26)
A, B, C = 1, 2, 3


def req(status="claimed", version=4, owner=A, **kw):
    base = dict(id=7, status=status, version=version, created_at=NOW - timedelta(days=3),
                changed_at=NOW - timedelta(days=2), owner_id=owner,
                owner_name={A: "Ana", B: "Breda", C: "Cvetka"}.get(owner),
                site="slovenj-gradec", answers={"name": "Marija", "phone": "+38641123456"})
    base.update(kw)
    return Request(**base)


def team(away=(), until=None):
    return Cover(tuple(Colleague(i, n, i in away, until if i in away else None)
                       for i, n in ((A, "Ana"), (B, "Breda"), (C, "Cvetka"))))


def ids(say):
    return [b.id for row in say.buttons for b in row]


def msgids(say):
    text = say.text
    return [t.msgid for t in (text.items if isinstance(text, Lines) else (text,))]


# ----------------------------------------------------------------------------- /odsotna's date

@pytest.mark.parametrize("typed, day", [
    ("", None), ("   ", None),
    ("do 15. 8. 2027", date(2027, 8, 15)), ("do 15.8.2027", date(2027, 8, 15)),
    ("DO 15. 8. 2027.", date(2027, 8, 15)), ("15. 8. 2027", date(2027, 8, 15)),
    ("do 2027-08-15", date(2027, 8, 15)), ("do 26. 11. 2026", TODAY),
])
def test_away_until_a_day_or_until_back(typed, day):
    read = parse_away(typed, TODAY)
    assert read.error is None and read.until == day


@pytest.mark.parametrize("typed, shown", [
    ("do jutri", "jutri"), ("do", "do"), ("do 31. 2. 2027", "31. 2. 2027"),
    ("do 15. 8.", "15. 8."), ("do 15/8/2027", "15/8/2027"), ("naslednji teden", "naslednji teden"),
])
def test_a_date_that_is_not_one_gets_the_expected_format(typed, shown):
    read = parse_away(typed, TODAY)
    assert read.until is None and read.error.msgid == "cover.error.format"
    # the reply quotes what was typed and shows the format with a real date two weeks on
    assert read.error.params == {"value": shown, "example": date(2026, 12, 10)}


def test_a_past_or_far_date_is_refused_with_an_example():
    past = parse_away("do 25. 11. 2026", TODAY).error
    assert past.msgid == "cover.error.past" and past.params["date"] == date(2026, 11, 25)
    far = parse_away("do 1. 1. 2028", TODAY).error
    assert far.msgid == "cover.error.far" and far.params["example"] == date(2026, 12, 10)
    assert parse_away("do 27. 11. 2027", TODAY).until == date(2027, 11, 27)  # 366 days: fine


def test_away_through_the_last_day_then_back_by_itself():
    since = NOW
    assert not is_away(None, None, TODAY)
    assert is_away(since, None, TODAY + timedelta(days=400))  # until /nazaj
    assert is_away(since, TODAY, TODAY)  # the last day counts
    assert not is_away(since, TODAY, TODAY + timedelta(days=1))


def test_replies_say_until_when_and_count_the_open_requests():
    first, second = away_reply(date(2026, 12, 4), 3)
    assert first.msgid == "cover.away_until" and first.params["until"] == date(2026, 12, 4)
    assert second.plural == ("cover.away_requests.plural", 3) and second.params == {"n": 3}
    first, second = away_reply(None, 0)
    assert first.msgid == "cover.away_open" and second.msgid == "cover.away_no_requests"
    assert back_reply(True).msgid == "cover.back"
    assert back_reply(False).msgid == "cover.back_not_away"


# ----------------------------------------------------------------------------- the card

def test_a_claimed_card_offers_predaj_beside_the_other_buttons():
    say = card(req(), NOW, team())
    assert ids(say)[-2:] == ["release:4", "handover:4"]
    assert max(len(row) for row in say.buttons) == 2
    assert not any(m.startswith("cover.card") for m in msgids(say))
    # without cover data (or nobody to hand it to) there is no Predaj
    assert "handover:4" not in ids(card(req(), NOW))
    alone = Cover((Colleague(A, "Ana"),))
    assert "handover:4" not in ids(card(req(), NOW, alone))
    # only claimed requests are handed over
    for status in ("new", "enrolled", "not_suitable", "unreachable"):
        owner = None if status == "new" else A
        assert not any(i.startswith(("handover", "give"))
                       for i in ids(card(req(status, owner=owner), NOW, team())))


def test_while_the_owner_is_away_her_card_names_each_colleague_who_is_not():
    say = card(req(), NOW, team(away=(A, C), until=date(2026, 12, 4)))
    assert "handover:4" not in ids(say)
    # Breda only: Ana has it, Cvetka is away too; one row each, after the other buttons
    assert [i for i in ids(say) if i.startswith("give.")] == ["give.2:4"]
    [give] = next(row for row in say.buttons if row[0].id == "give.2:4")
    assert give.label.msgid == "cover.button.give" and give.label.params == {"name": "Breda"}
    lines = say.text.items
    away = next(t for t in lines if t.msgid == "cover.card_away_until")
    assert away.params == {"owner": "Ana", "until": date(2026, 12, 4)}
    assert "cover.card_give_hint" in msgids(say)
    # the outcome buttons stay: she may come back and finish it
    assert "contacted:4" in ids(say)


def test_away_without_a_date_and_nobody_to_take_it():
    say = card(req(), NOW, team(away=(A, B, C)))
    assert "cover.card_away" in msgids(say) and "cover.card_give_hint" not in msgids(say)
    assert not any(i.startswith(("give", "handover")) for i in ids(say))


def test_the_card_says_who_covers_while_the_one_it_came_from_is_away():
    cover = team(away=(A,), until=date(2026, 12, 4))
    covered = Cover(cover.colleagues, covering_for=cover.of(A))
    say = card(req(owner=B), NOW, covered)
    line = next(t for t in say.text.items if t.msgid == "cover.card_covering_until")
    assert line.params["cover"] == "Breda" and line.params["away"] == "Ana"
    # she is back: nobody covers any more, the card just names its owner
    back = Cover(team().colleagues, covering_for=team().of(A))
    assert not any(m.startswith("cover.card") for m in msgids(card(req(owner=B), NOW, back)))


def test_the_choice_lists_colleagues_not_away_and_not_the_owner_then_back():
    say = handover_choice(req(owner=A), NOW, team(away=(C,)))
    assert ids(say) == ["give.2:4", "back:4"]
    assert msgids(say)[-1] == "cover.choose"


# ----------------------------------------------------------------------------- who may hand over

def test_any_coordinator_hands_over_to_a_colleague_who_is_in():
    d = decide_handover(req(owner=A), 4, C, team(), True)
    assert d.ok and (d.status, d.owner_id, d.owner_name) == ("claimed", C, "Cvetka")
    # contacted stays contacted
    d = decide_handover(req("contacted", owner=A), 4, B, team(), True)
    assert d.ok and d.status == "contacted" and d.owner_id == B


def test_handover_refusals():
    assert decide_handover(req(), 4, B, team(), False).refusal.msgid == "handoff.not_allowed"
    assert decide_handover(req(), 3, B, team(), True).refusal.msgid == "handoff.stale"
    assert decide_handover(req("new", owner=None), 4, B, team(), True
                           ).refusal.msgid == "handoff.stale"
    assert decide_handover(req("enrolled"), 4, B, team(), True).refusal.msgid == "handoff.stale"
    for target in (A, 99, None):  # the owner herself, a stranger, nobody
        assert decide_handover(req(), 4, target, team(), True
                               ).refusal.msgid == "cover.target_unavailable"
    away = decide_handover(req(), 4, B, team(away=(B,)), True)
    assert away.refusal.msgid == "cover.target_unavailable"


def test_button_ids():
    assert parse_button("handover:3") == ("handover", 3, None)
    assert parse_button("give.9002:3") == ("give", 3, 9002)
    for bad in ("give.:3", "give.x:3", "give.9002", "give." + "9" * 16 + ":3", "give9002:3",
                "handover:x"):
        assert parse_button(bad) is None


# ----------------------------------------------------------------------------- the reminder

def test_the_no_outcome_reminder_goes_to_everyone_while_the_owner_is_away():
    since = NOW - timedelta(days=3)
    away = no_outcome_reminder(7, "Ana", since, Colleague(A, "Ana", away=True))
    assert away.msgid == "cover.remind_no_outcome_away" and away.params["owner"] == "Ana"
    for owner in (Colleague(A, "Ana"), None):
        named = no_outcome_reminder(7, "Ana", since, owner)
        assert named.msgid == "handoff.remind_no_outcome"
        assert named.params == {"id": 7, "owner": "Ana", "since": since}
