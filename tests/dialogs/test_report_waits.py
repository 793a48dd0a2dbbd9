"""The report's working hours measure only what happened (issue 22, point 10): a request enrolled
without a claim (`korak enroll`) is no "first contact after 0 h", and a row where nothing
happened says "—", not a 0 or an empty cell."""

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import holidays

from dialogs import report as rep
from dialogs.workhours import WorkingHours

TZ = ZoneInfo("Europe/Ljubljana")
HOURS = WorkingHours(tz=TZ, holidays=holidays.country_holidays("SI"))
SG = "slovenj-gradec"
AT = datetime(2027, 1, 7, 8, tzinfo=timezone.utc)  # a Thursday, within working hours
JAN = rep.Period(2027, "month", 1)


def enrolled_by_command(i):
    return rep.RequestFacts(i, SG, "Mislinja", "enrolled", AT, "unclear",
                            (rep.Event("enrolled", "enrolled", AT + timedelta(hours=2)),))


def claimed_and_contacted(i):
    return rep.RequestFacts(i, SG, "Mislinja", "contacted", AT, "unclear",
                            (rep.Event("claim", "claimed", AT + timedelta(hours=1)),
                             rep.Event("contacted", "contacted", AT + timedelta(hours=3))))


def report(facts):
    months = {JAN: rep.count(facts, [], hours=HOURS)}
    return rep.report(JAN, months, today=date(2027, 3, 1), made_at=AT)


def test_enrolling_an_unclaimed_request_is_no_first_contact():
    figures = rep.count([enrolled_by_command(i) for i in range(5)], [], hours=HOURS)
    assert figures.waits == {}  # neither a claim nor a contact was measured
    r = report([enrolled_by_command(i) for i in range(5)])
    assert r.waits[("contact", None)].count == 0
    assert r.waits[("claim", None)].count == 0


def test_only_claimed_requests_are_measured_to_their_first_contact():
    facts = [enrolled_by_command(i) for i in range(4)] + \
        [claimed_and_contacted(i) for i in range(4, 8)]
    r = report(facts)
    assert r.waits[("claim", None)] == rep.Stat(4, 1.0, 1.0)
    assert r.waits[("contact", None)] == rep.Stat(4, 3.0, 3.0)


def test_the_summary_and_the_tables_say_a_dash_where_nothing_was_measured():
    r = report([enrolled_by_command(i) for i in range(5)])
    lines = [t.msgid for t in rep.summary(r).text.items if isinstance(t, rep.Text)]
    assert "report.summary.to_contact_none" in lines and "report.summary.to_contact" not in lines
    assert "report.summary.to_claim_none" in lines
    hours = next(t for t in rep.tables(r) if t.key == "delovne_ure")
    for line in hours.rows:
        assert line[2] == 0 and line[3:] == ("—", "—"), line
