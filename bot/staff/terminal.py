"""`korak chat --staff`: the coordinators' side in a terminal, on `korak chat`'s database
(CHAT_DATABASE_URL), no Telegram. A request made with `korak chat` is a card here, drawn from
dialogs.handoff as the staff chat shows it; a number presses one of its buttons, "> 12 besedilo"
replies to card 12, and /odprte, /prosnja, /odsotna, /nazaj and /porocilo run the real services
(HandoffService, CoverService, ReportService). The person at the terminal is a coordinator of
this database alone, beside one made-up colleague (so handing over can be tried); a reply is
queued in this database's outbox as the staff chat queues it, and nothing here sends it."""

from __future__ import annotations

import asyncio
import logging
import re
import sys
from typing import TextIO

from dialogs import report as rep
from dialogs.handoff import OWNED, REVEAL, parse_button
from dialogs.help import HELP, staff_help
from dialogs.replies import N_, Say, Text
from storage import repo

from bot.channels.filters import split_command
from bot.channels.terminal import chat_sealer, chat_settings
from bot.clock import utcnow
from bot.config import Settings
from bot.database import open_database
from bot.i18n import Texts
from bot.staff.handoff import HandoffService
from bot.staff.reports import ReportService

log = logging.getLogger("korak.staff.terminal")

# small ids no Telegram person has (the resident of `korak chat` is 1)
TERMINAL_COORDINATOR = 2
TERMINAL_COLLEAGUE = 3
REPORT = ("porocilo", "poročilo")
CARD = ("prosnja", "prošnja")
REPLY = re.compile(r">\s*#?(\d{1,12})(?:\s+(.*))?$", re.S)


def staff_settings(settings: Settings) -> Settings:
    """`korak chat`'s copy (its own database, no staff chat), with the terminal's coordinator
    and her colleague as the only coordinators: the real COORDINATOR_IDS have no names here."""
    return chat_settings(settings).model_copy(
        update={"coordinator_ids": [TERMINAL_COORDINATOR, TERMINAL_COLLEAGUE]})


class StaffTerminal:
    """One coordinator at a terminal: lines in, what the staff chat would show out."""

    def __init__(self, service: HandoffService, reports: ReportService, texts: Texts,
                 out: TextIO) -> None:
        self.service, self.reports, self.texts, self.out = service, reports, texts, out
        self.me = TERMINAL_COORDINATOR
        self.name = texts("cli.staff_chat_name")
        self.picks: list[tuple[int, str]] = []  # what each printed number presses
        # request id → the version its card was printed at, and how it read
        self.shown: dict[int, tuple[int, str]] = {}
        self._fresh = True  # the next card printed starts the numbers again

    def say(self, text: Text | str) -> None:
        self.out.write("\n" + self.texts.render(text) + "\n")

    def card(self, request_id: int, card: Say) -> None:
        """A card with its buttons numbered on from the cards printed for the same line."""
        if self._fresh:
            self.picks, self._fresh = [], False
        self.say(card.text)
        for row in card.buttons:
            for button in row:
                self.picks.append((request_id, button.id))
                self.out.write(f"  {len(self.picks)}) {self.texts.render(button.label)}\n")

    async def _open(self) -> dict[int, tuple[int, bool]]:
        """The open requests, oldest first: id → (version, whether someone has it)."""
        async with self.service.db.transaction() as s:
            return {r.id: (r.version, r.status in OWNED) for r in await repo.open_requests(s)}

    async def refresh(self, absence: bool = False) -> int:
        """The cards of requests that are new here or changed since they were printed; after
        /odsotna or /nazaj also the claimed ones whose card reads differently now (an absence
        changes cards without changing their requests)."""
        printed = 0
        for request_id, (version, owned) in (await self._open()).items():
            seen = self.shown.get(request_id)
            if seen is not None and seen[0] == version and not (absence and owned):
                continue
            current = await self.service.card(request_id)
            if current is None or (seen is not None and seen[0] == version
                                   and seen[1] == self._look(current)):
                continue
            self.card(request_id, current)
            self.shown[request_id] = (version, self._look(current))
            printed += 1
        return printed

    def _look(self, card: Say) -> str:
        return "\n".join([self.texts.render(card.text)] + [
            button.id for row in card.buttons for button in row])

    async def _seen(self, request_id: int, card: Say) -> None:
        """Its card was just printed as it is now."""
        current = (await self._open()).get(request_id)
        if current is not None:
            self.shown[request_id] = (current[0], self._look(card))

    async def start(self) -> None:
        await self.service.cover.saw(self.me, self.name)
        await self.service.cover.saw(TERMINAL_COLLEAGUE, self.texts("cli.staff_chat_colleague"))
        self.out.write(self.texts("cli.staff_chat_intro") + "\n")
        if not await self.refresh():
            self.say(Text(N_("cli.staff_chat_empty")))

    async def handle(self, line: str) -> None:
        self._fresh = True
        line = line.strip()
        command = split_command(line)
        reply = REPLY.match(line)
        if command is not None:
            await self.command(*command)
        elif reply is not None:
            await self.relay(int(reply.group(1)), (reply.group(2) or "").strip())
        elif line.isdigit() and 0 < int(line) <= len(self.picks):
            await self.press(*self.picks[int(line) - 1])
        elif line:
            self.say(Text(N_("cli.staff_chat_unknown")))
        await self.refresh()  # a request made meanwhile with `korak chat` comes as a card

    async def press(self, request_id: int, button: str) -> None:
        action = parse_button(button)
        if action is None:
            self.say(Text(N_("handoff.stale")))
            return
        if action[0] == REVEAL:  # in Telegram an alert for the one who pressed
            self.say(await self.service.reveal(request_id, self.me, self.name))
            return
        result = await self.service.press(request_id, action[0], action[1], self.me, self.name,
                                          cohort_id=action[2])
        if result.notice is not None:  # in Telegram a short notice at the top of the chat
            self.say(result.notice)
        if result.card is not None:  # the card as the press left it (edited in place there)
            self.card(request_id, result.card)
            await self._seen(request_id, result.card)
        if result.announce is not None:
            self.say(result.announce)

    async def relay(self, request_id: int, text: str) -> None:
        if not text:
            self.say(Text(N_("cli.staff_chat_reply_usage")))
            return
        notice = await self.service.relay_to_request(request_id, text, self.name)
        self.say(notice if notice is not None
                 else Text(N_("cli.staff_chat_relayed"), {"id": request_id}))

    async def command(self, name: str, rest: str) -> None:
        if name in HELP:
            self.say(staff_help())
            self.say(Text(N_("cli.staff_chat_intro")))
        elif name == "odprte":
            self.say((await self.service.open_list()).text)
        elif name in CARD:
            number = rest.lstrip("#").strip()
            if not number.isdigit() or len(number) > 12:
                self.say(Text(N_("handoff.which_request")))
                return
            current = await self.service.card(int(number), self.me, self.name)
            if current is None:
                self.say(Text(N_("handoff.no_such_request"), {"id": int(number)}))
                return
            self.card(int(number), current)
            await self._seen(int(number), current)
        elif name == "odsotna":
            self.say(await self.service.cover.away(self.me, self.name, rest))
            await self.refresh(absence=True)
        elif name == "nazaj":
            self.say(await self.service.cover.back(self.me))
            await self.refresh(absence=True)
        elif name in REPORT:
            await self.report(rest)
        else:
            self.say(Text(N_("cli.staff_chat_unknown")))

    async def report(self, rest: str) -> None:
        period = rep.parse_period(rest, self.reports.today())
        if period is None:
            self.say(Text(N_("report.usage")))
            return
        try:
            report = await self.reports.build(period)
        except Exception:
            log.exception("report failed")
            self.say(Text(N_("report.failed")))
            return
        self.say(rep.summary(report).text)
        if report.requests or report.sessions:  # the staff chat posts the chart as well
            self.say(Text(N_("cli.staff_chat_no_chart")))


async def staff_chat(settings: Settings, lines=None, out: TextIO = sys.stdout) -> int:
    texts = Texts(settings.locales_dir, settings.locale, settings.timezone)
    settings = staff_settings(settings)
    seal = chat_sealer(settings, texts)  # the key `korak chat` sealed its answers with
    db = await open_database(settings, texts)
    service = HandoffService(db, settings, utcnow, sealer=seal)
    terminal = StaffTerminal(service, ReportService(db, settings, seal, utcnow), texts, out)
    try:
        await terminal.start()
        out.flush()
        while True:
            line = await asyncio.to_thread(sys.stdin.readline) if lines is None else next(lines, "")
            if not line:
                break
            await terminal.handle(line)
            out.flush()
    finally:
        await db.dispose()
    return 0
