"""A known data set for the report, made through storage functions: December 2026 in Koroška,
with Christmas (Friday 25. 12.) and Independence Day (Saturday 26. 12.) inside it.

Requests made in December (times in Ljubljana, UTC+1; working hours 8–15, Monday to Friday):

  R1 SG  Slovenj Gradec  Thu 24. 12. 14:00, claimed Mon 28. 12. 9:00 (2 h: 1 on Thursday, the
         holiday skipped, 1 on Monday; 9 h if the holiday counted), contacted 11:00 (4 h),
         enrolled. long-term DSP.
  R2 SG  Mislinja        Tue 1. 12. 10:00, claimed 12:30 (2.5 h), contacted Wed 2. 12. 10:00
         (7 h), not suitable. other inactive.
  R3 SG  Slovenj Gradec  Thu 3. 12. 9:00, claimed 10:00 (1 h), unreachable. employed: not fit.
  R4 RD  Muta            Mon 7. 12. 8:00, claimed 8:30 (0.5 h), still claimed. sensitive yes.
  R5 RD  Radlje ob Dravi Thu 10. 12. 13:00, never claimed. sensitive yes.
  R6 RD  Vuzenica        Mon 14. 12. 9:00, claimed 12:00 (3 h), put back, claimed again and
         contacted Tue 15. 12. 10:00 (8 h from the request), still contacted. sensitive yes.
  R9 RD  Podvelka        Wed 16. 12. 10:00, withdrawn. long-term DSP.

So to the claim: 0.5, 1, 2, 2.5, 3 (median 2, 90th percentile 3); to the first contact: 4, 7,
8 (median 7, 90th percentile 8). Target groups: SG one each of long-term DSP, other inactive,
not fit (all "<3"); Radlje ob Dravi 3 of the group that needs the sealed answer, 1 long-term.

Outside December: R7, R10, R11, R12 (November; the participants), R8 (2. 1. 2027).

Cohort "SG 2026/2" (Slovenj Gradec): S1 Thu 3. 12. 9:00–12:00, S2 Thu 10. 12. 9:00–12:00,
S3 17. 12. cancelled, S4 7. 1. 2027 (outside). E1 (R7), E2 (R10), E3 (R11) enrolled 1. 12.;
E3 left 6. 12.; E4 (R12) enrolled 5. 12. So S1 lists E1, E2, E3 and S2 lists E1, E2, E4.
  S1: answers E1 Pridem, E2 Ne morem priti, E3 none; marks present, excused, absent;
      3 reminders sent and one dropped (not counted).
  S2: answers E1 Pridem, E2 Pridem, E4 none; marks present, present, none; 2 reminders sent.
Person-hours: S1 3 × 1 = 3, S2 3 × 2 = 6, the cohort 9."""

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from storage import attendance as marks
from storage import repo
from storage import schedule as store
from storage.models import ProgrammeSession

TZ = ZoneInfo("Europe/Ljubljana")
NOW = datetime(2027, 1, 10, 12, 0, tzinfo=timezone.utc)
COORD = 9001

NAMES = {1: "Zofka Testna", 2: "Ana Novak", 3: "Bojan Kranjc", 4: "Cvetka Horvat",
         5: "Dušan Potočnik", 6: "Eva Zupan", 9: "Franc Golob", 7: "Gregor Vidmar",
         10: "Helena Kos", 11: "Igor Mlakar", 12: "Jana Kovač", 8: "Klemen Turk"}


def local(day, hour, minute=0, month=12, year=2026):
    return datetime(year, month, day, hour, minute, tzinfo=TZ).astimezone(timezone.utc)


def tid(n):
    """Residents (Telegram ids) that no report may show."""
    return f"telegram:{7_770_000 + n}"


LONG = {"dsp": "yes", "dsp_duration": "long", "work": "neither"}
INACTIVE = {"dsp": "no", "work": "neither"}
EMPLOYED = {"dsp": "no", "work": "employed"}
WORK_REGISTERED = {"dsp": "no", "work": "registered"}


async def _request(s, sealer, n, site, municipality, at, answers, sensitive=None):
    full = {**answers, "site": site, "municipality": municipality, "place": municipality,
            "name": NAMES[n], "phone": f"+3864100{n:04d}", "hopes": f"Upam na delo {n}",
            "sensitive_consent": "yes" if sensitive else "no"}
    rid, _ = await repo.create_request(s, person=tid(n), answers=full,
                                       now=at, staff_chat_id=None,
                                       sensitive=sealer.seal(sensitive) if sensitive else None)
    return rid


async def _move(s, rid, action, status, at, actor=COORD, name="Mojca"):
    req = await repo.get_request(s, rid)
    owner = (actor, name) if status in ("claimed", "contacted", "enrolled", "not_suitable",
                                        "unreachable") else (None, None)
    await repo.change_request(s, req, action=action, status=status, owner_id=owner[0],
                              owner_name=owner[1], actor_id=actor, actor_name=name, now=at)


async def build(db, sealer):
    """Make the data set; returns {"requests": {n: id}, "sessions": {n: id},
    "enrollments": {n: id}}."""
    ids, sessions, enrolled = {}, {}, {}
    async with db.transaction() as s:
        sg, rd = "slovenj-gradec", "radlje-ob-dravi"
        ids[1] = await _request(s, sealer, 1, sg, "Slovenj Gradec", local(24, 14), LONG)
        ids[2] = await _request(s, sealer, 2, sg, "Mislinja", local(1, 10), INACTIVE)
        ids[3] = await _request(s, sealer, 3, sg, "Slovenj Gradec", local(3, 9), EMPLOYED)
        ids[4] = await _request(s, sealer, 4, rd, "Muta", local(7, 8), WORK_REGISTERED, "yes")
        ids[5] = await _request(s, sealer, 5, rd, "Radlje ob Dravi", local(10, 13),
                                WORK_REGISTERED, "yes")
        ids[6] = await _request(s, sealer, 6, rd, "Vuzenica", local(14, 9), INACTIVE, "yes")
        ids[9] = await _request(s, sealer, 9, rd, "Podvelka", local(16, 10), LONG)
        for n, at in ((7, local(20, 10, month=11)), (10, local(23, 10, month=11)),
                      (11, local(24, 10, month=11)), (12, local(25, 10, month=11)),
                      (8, local(2, 10, month=1, year=2027))):
            ids[n] = await _request(s, sealer, n, sg, "Slovenj Gradec", at, LONG)
        await _move(s, ids[1], "claim", "claimed", local(28, 9))
        await _move(s, ids[1], "contacted", "contacted", local(28, 11))
        await _move(s, ids[1], "enrolled", "enrolled", local(29, 9))
        await _move(s, ids[2], "claim", "claimed", local(1, 12, 30))
        await _move(s, ids[2], "contacted", "contacted", local(2, 10))
        await _move(s, ids[2], "not_suitable", "not_suitable", local(2, 11))
        await _move(s, ids[3], "claim", "claimed", local(3, 10))
        await _move(s, ids[3], "unreachable", "unreachable", local(4, 10))
        await _move(s, ids[4], "claim", "claimed", local(7, 8, 30))
        await _move(s, ids[6], "claim", "claimed", local(14, 12))
        await _move(s, ids[6], "release", "new", local(14, 13))
        await _move(s, ids[6], "claim", "claimed", local(15, 9), actor=9002, name="Breda")
        await _move(s, ids[6], "contacted", "contacted", local(15, 10), actor=9002, name="Breda")
        await _move(s, ids[9], "withdraw", "withdrawn", local(17, 9), actor=None, name=None)

        cohort = await store.create_cohort(s, "SG 2026/2", sg, local(20, 9, month=11))
        for n, (day, month, year, cancelled) in {1: (3, 12, 2026, False),
                                                 2: (10, 12, 2026, False),
                                                 3: (17, 12, 2026, True),
                                                 4: (7, 1, 2027, False)}.items():
            row = ProgrammeSession(cohort_id=cohort.id, key=f"s{n}", title=f"Srečanje {n}",
                                   place="Meškova ulica 21",
                                   starts_at=local(day, 9, 0, month, year),
                                   ends_at=local(day, 12, 0, month, year), cancelled=cancelled,
                                   updated_at=local(20, 9, month=11))
            s.add(row)
            await s.flush()
            sessions[n] = row.id
        for e, n, day in ((1, 7, 1), (2, 10, 1), (3, 11, 1), (4, 12, 5)):
            enr, _ = await store.enroll(s, cohort_id=cohort.id, person=tid(n), request_id=ids[n], now=local(day, 8))
            enrolled[e] = enr.id
        await store.leave(s, cohort.id, tid(11), local(6, 8))
        s1, s2 = sessions[1], sessions[2]
        await store.set_attendance(s, s1, tid(7), "yes", local(2, 18))
        await store.set_attendance(s, s1, tid(10), "no", local(2, 18))
        await store.set_attendance(s, s2, tid(7), "yes", local(9, 18))
        await store.set_attendance(s, s2, tid(10), "yes", local(9, 18))
        for e, presence in ((1, "present"), (2, "excused"), (3, "absent")):
            await marks.mark(s, s1, enrolled[e], presence, COORD, local(3, 13))
        for e in (1, 2):
            await marks.mark(s, s2, enrolled[e], "present", COORD, local(10, 13))
        for session_id, e, offset in ((s1, 1, 1), (s1, 2, 1), (s1, 3, 1), (s1, 1, 2),
                                      (s2, 1, 1), (s2, 2, 1)):
            await repo.add_outbox(s, kind="reminder", chat=tid(7), due_at=local(1, 8),
                                  payload={"session_id": session_id,
                                           "enrollment_id": enrolled[e]},
                                  key=f"reminder:{session_id}:{enrolled[e]}:{offset}",
                                  topic=f"session:{session_id}")
    async with db.transaction() as s:
        rows = [r for r in await repo.pending_outbox(s) if r.kind == "reminder"]
        for i, row in enumerate(rows):
            # the fourth S1 reminder came after the session had begun: dropped, not sent
            dropped = row.key.endswith(":2")
            await repo.finish_outbox(s, row.id, local(2, 17),
                                     error="nothing to send" if dropped else None)
    return {"requests": ids, "sessions": sessions, "enrollments": enrolled}
