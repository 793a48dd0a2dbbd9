"""DATA_KEY and the database: whether the keys open what the database holds, and sealing it all
again with the first key.

A wrong key must not pass for one without answers (a restart would read every sealed answer
as missing, and a report would count nobody in a target group). So the database holds a
canary: a known word sealed with the first key, in the `setting` table, written the first time
the database is opened with a key. A database from before the canary gets one only when a key
opens at least one of the answers it holds sealed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel.ext.asyncio.session import AsyncSession

from . import repo
from .crypto import SEALED, Sealer
from .db import Database
from .models import ContactRequest, Inbox, InboxBatch, Resident, Setting

CANARY = "data_key_canary"  # the setting's name
CANARY_WORD = "korak"  # what it holds sealed: nothing personal


class WrongKey(Exception):
    """No key in DATA_KEY opens what the database holds sealed."""


class Unopened(Exception):
    """`reseal`: some sealed answers open with no key in DATA_KEY; nothing was changed."""

    def __init__(self, count: int) -> None:
        super().__init__(f"{count} sealed answers open with no key in DATA_KEY")
        self.count = count


async def check_canary(db: Database, sealer: Sealer) -> None:
    """Before an upgrade: WrongKey when the database holds a canary DATA_KEY does not open, so
    that no revision seals anything (the waiting updates, say) with a wrong key. A database
    without the table or the canary yet is checked by check_keys once it is up to date."""
    try:
        async with db.transaction() as session:
            canary = await repo.get_setting(session, CANARY)
    except SQLAlchemyError:  # no setting table yet: an older schema, or a new database
        return
    if canary is not None and not sealer.opens(canary):
        raise WrongKey()


async def check_keys(session: AsyncSession, sealer: Sealer, now: datetime) -> None:
    """WrongKey unless DATA_KEY opens the canary. A database without one yet (new, or from
    before it) gets it, once DATA_KEY opens at least one of the answers it holds sealed (if
    it holds any)."""
    canary = await repo.get_setting(session, CANARY)
    if canary is None:
        sealed = await _sealed(session)
        if sealed and not any(sealer.opens(token) for _, token in sealed):
            raise WrongKey()
        insert = postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
        await session.execute(insert(Setting).values(  # unless another process wrote one just now
            name=CANARY, value=sealer.seal(CANARY_WORD), updated_at=now).on_conflict_do_nothing())
        canary = await repo.get_setting(session, CANARY)
    if not sealer.opens(canary):
        raise WrongKey()


async def reseal(session: AsyncSession, sealer: Sealer, now: datetime) -> int:
    """Every sealed answer, and the canary, sealed again with DATA_KEY's first key, so older
    keys can be dropped. Returns how many answers were sealed again. WrongKey or Unopened
    (how many no key opens) before anything is changed."""
    await check_keys(session, sealer, now)
    sealed = await _sealed(session)
    unopened = sum(not sealer.opens(token) for _, token in sealed)
    if unopened:
        raise Unopened(unopened)
    for row, token in sealed:
        if isinstance(row, ContactRequest):
            row.sensitive = sealer.reseal(token)
        elif isinstance(row, Inbox):
            row.payload = sealer.reseal(token)
        elif isinstance(row, InboxBatch):
            row.updates = sealer.reseal(token)
        else:
            answers = row.state["answers"]
            row.state = {**row.state, "answers": {**answers, SEALED: sealer.reseal(token)}}
        session.add(row)
    await repo.set_setting(session, CANARY,
                           sealer.reseal(await repo.get_setting(session, CANARY)), now)
    return len(sealed)


async def _sealed(session: AsyncSession) -> list[tuple[Any, str]]:
    """Every sealed value with the row that holds it: a request's answer, a conversation's in
    progress, and the updates waiting in the inbox."""
    found: list[tuple[Any, str]] = [
        (req, req.sensitive) for req in (await session.execute(
            select(ContactRequest).where(ContactRequest.sensitive.is_not(None)))).scalars()]
    for resident in (await session.execute(select(Resident))).scalars():
        answers = (resident.state or {}).get("answers") or {}
        if SEALED in answers:
            found.append((resident, answers[SEALED]))
    found += [(row, row.payload) for row in (await session.execute(
        select(Inbox).where(Inbox.payload.is_not(None)))).scalars()]
    found += [(row, row.updates) for row in (await session.execute(select(InboxBatch))).scalars()]
    return found
