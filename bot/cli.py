"""The `korak` command: run, chat, where, understand, coordinators, schedule, enroll, bench."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from dialogs import places
from dialogs.intake import OPTIONS, SITE_LABEL
from dialogs.understand import LANGS as ANSWER_LANGS, STEPS as ANSWER_STEPS, understand
from dialogs.replies import N_
from dialogs.schedule import site_from_name

from storage.db import Database

from bot.config import ROOT, Settings, named_env_file
from bot.database import COMMAND_WAIT_SECONDS, Refused, open_database
from bot.i18n import Texts


def _texts(settings: Settings) -> Texts:
    return Texts(settings.locales_dir, settings.locale, settings.timezone)


def _refusable(run: Callable[[], int]) -> int:
    try:
        return run()
    except Refused as exc:
        print(str(exc), file=sys.stderr)
        return exc.code


def _on_database(settings: Settings, texts: Texts,
                 work: Callable[[Database], Awaitable[int]]) -> int:
    """Run a command's work on the database, opened (made when new, refused with one line when
    behind) and closed again."""
    async def run() -> int:
        # a command finds the database the bot made: it never makes one (wrong folder, wrong
        # DATABASE_URL), and waits only a while for a server that is not up
        db = await open_database(settings, texts, create=False, wait=COMMAND_WAIT_SECONDS)
        try:
            return await work(db)
        finally:
            await db.dispose()

    return _refusable(lambda: asyncio.run(run()))


def describe_place(texts: Texts, res: places.Resolution) -> str:
    if res.status == "resolved":
        line = texts("cli.where_resolved", municipality=res.municipality,
                     site=texts(SITE_LABEL[res.site]) if res.site else "", region=res.region)
    elif res.status == "ambiguous":
        names = [f"{c.place or c.municipality} ({c.municipality})" for c in res.candidates]
        line = texts("cli.where_ambiguous", candidates="; ".join(names))
    elif res.status == "outside":
        line = texts("cli.where_outside", municipality=res.municipality, region=res.region)
    else:
        line = texts("cli.where_unknown")
    if res.confirm and res.status == "resolved":
        line += " " + texts("cli.where_confirm")
    return line


def cmd_where(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    settings = Settings()
    if args.text == ["-"]:
        for line in sys.stdin:
            res = places.resolve(line.rstrip("\n"))
            out.write(json.dumps(res.to_json(), ensure_ascii=False) + "\n")
            out.flush()
        return 0
    res = places.resolve(" ".join(args.text))
    if args.json:
        out.write(json.dumps(res.to_json(), ensure_ascii=False) + "\n")
    else:
        out.write(describe_place(_texts(settings), res) + "\n")
    return 0


def cmd_understand(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Which button a typed answer means at a step, as the bot reads it; null: it asks again.
    An answer that is no button but rules some out ("ne delam") also says which are left
    ("narrows"), and the bot asks the follow-up that settles it where there is one."""
    texts = None if args.json else _texts(Settings())

    def one(text: str) -> None:
        understood = understand(args.step, text, args.lang)
        picked = understood.choice
        if args.json:
            row = {"text": text, "step": args.step, "lang": args.lang, "choice": picked}
            if understood.narrows:
                row["narrows"] = list(understood.narrows)
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        elif picked is None and understood.narrows:
            out.write(texts("cli.understand_narrows", step=args.step, text=text,
                            left=", ".join(understood.narrows)) + "\n")
        elif picked is None:
            out.write(texts("cli.understand_none", step=args.step, text=text) + "\n")
        else:
            label = next((texts(msgid) for cid, msgid in OPTIONS[args.step] if cid == picked), "")
            out.write(texts("cli.understand_choice", step=args.step, text=text, choice=picked,
                            label=label) + "\n")
        out.flush()

    if args.text == ["-"]:
        for line in sys.stdin:
            one(line.rstrip("\r\n"))
        return 0
    one(" ".join(args.text))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    settings = Settings()
    if not settings.bot_token:
        if args.or_chat:  # scripts/run.sh on a fresh machine: meet the bot in the terminal
            print(_texts(settings)("cli.no_token_chat"), file=sys.stderr)
            return cmd_chat(args)
        print(_texts(settings)("cli.no_token"), file=sys.stderr)
        return 2
    from bot import logs
    from bot.app import run_bot
    from bot.database import Stopped, check_token, sealer

    try:
        sealer(settings)  # refused before anything starts when DATA_KEY is missing
        check_token(settings)  # and when BOT_TOKEN is not a token at all
        logs.setup(settings.log_format, settings.log_level,
                   secrets=(settings.bot_token, settings.webhook_secret))
        logs.starting(settings, "setup" if settings.staff_chat_id is None
                      else "webhook" if args.webhook else "polling")
        asyncio.run(run_bot(settings, webhook=args.webhook))
    except (KeyboardInterrupt, Stopped):
        pass
    except Refused as exc:
        print(str(exc), file=sys.stderr)
        return exc.code
    return 0


def cmd_retention(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """korak retention [--dry-run] [--as-of YYYY-MM-DD]: the daily retention run by hand. One
    JSON line last, with counts per kind."""
    out = out or sys.stdout
    settings = Settings()
    texts = _texts(settings)
    now = None
    if args.as_of:
        from datetime import date, datetime, time
        from zoneinfo import ZoneInfo

        try:
            day = date.fromisoformat(args.as_of)
        except ValueError:
            print(texts("cli.bad_date", value=args.as_of), file=sys.stderr)
            return 2
        now = datetime.combine(day, time(12, 0), tzinfo=ZoneInfo(settings.timezone))

    async def run(db: Database) -> int:
        from dataclasses import asdict

        from bot.clock import utcnow
        from bot.runtime.retention import RetentionService

        service = RetentionService(db, settings, utcnow)
        counts = await service.run(now, dry_run=args.dry_run)
        key = N_("cli.retention_dry_run") if args.dry_run else N_("cli.retention_done")
        out.write(texts(key, count=counts.total()) + "\n")
        out.write(json.dumps({"dry_run": args.dry_run,
                              "as_of": (now or utcnow()).date().isoformat(),
                              **asdict(counts)}) + "\n")
        return 0

    return _on_database(settings, texts, run)


def cmd_access_log(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """korak access-log [--request N]: who opened which personal data on demand, and when."""
    out = out or sys.stdout
    settings = Settings()
    texts = _texts(settings)

    async def run(db: Database) -> int:
        from storage import erasure, repo

        async with db.transaction() as s:
            rows = await erasure.access_log(s, [args.request] if args.request else None)
        if not rows:
            out.write(texts("cli.access_none") + "\n")
        for row in rows:
            out.write(texts("cli.access_line", at=repo.as_utc(row.at), id=row.request_id,
                            actor=row.actor_id, name=row.actor_name or "—",
                            what=texts(ACCESS_WHAT.get(row.what, N_("answer.none")))) + "\n")
        return 0

    return _on_database(settings, texts, run)


ACCESS_WHAT = {"sensitive": N_("cli.access_what_sensitive"), "card": N_("cli.access_what_card")}


def cmd_reseal(_args: argparse.Namespace, out: TextIO | None = None) -> int:
    """korak reseal: every sealed answer sealed again with DATA_KEY's first key; refused, with
    nothing changed, when a key in DATA_KEY is missing for some of them."""
    out = out or sys.stdout
    settings = Settings()
    texts = _texts(settings)

    from storage import keys

    from bot.clock import utcnow
    from bot.database import sealer

    async def run(db: Database) -> int:
        try:
            async with db.transaction() as s:
                count = await keys.reseal(s, seal, utcnow())
        except keys.Unopened as exc:
            raise Refused(texts("cli.reseal_unopened", count=exc.count)) from exc
        out.write(texts("cli.resealed", count=count) + "\n")
        return 0

    try:
        seal = sealer(settings, texts)
    except Refused as exc:
        print(str(exc), file=sys.stderr)
        return exc.code
    return _on_database(settings, texts, run)


def cmd_outbox(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """korak outbox failed | retry ID… | retry --all: messages korak gave up on after bounded
    retries, and queueing them again."""
    out = out or sys.stdout
    settings = Settings()
    texts = _texts(settings)

    async def run(db: Database) -> int:
        from storage import repo

        from bot.clock import utcnow

        keep = timedelta(days=settings.outbox_failed_keep_days)
        async with db.transaction() as s:
            rows = await repo.failed_outbox(s)
            if args.action == "failed":
                if not rows:
                    out.write(texts("cli.outbox_none_failed") + "\n")
                for row in rows:
                    failed, blanked = repo.as_utc(row.failed_at), repo.as_utc(row.blanked_at)
                    content = (texts("cli.outbox_content_erased", at=blanked) if blanked
                               else texts("cli.outbox_content_kept", until=failed + keep))
                    out.write(texts("cli.outbox_failed_line", id=row.id, kind=row.kind,
                                    attempts=row.attempts, at=failed,
                                    error=row.last_error or "—",
                                    request=row.request_id or "—", content=content) + "\n")
                return 0
            if not args.all and not args.ids:
                out.write(texts("cli.outbox_which") + "\n")
                return 2
            erased = [r for r in rows if r.blanked_at is not None
                      and (args.all or r.id in args.ids)]
            count = await repo.retry_failed(s, utcnow(), None if args.all else args.ids)
        for row in erased:  # blanked: nothing left to send
            out.write(texts("cli.outbox_erased", id=row.id, at=repo.as_utc(row.blanked_at))
                      + "\n")
        out.write(texts("cli.outbox_retried", count=count) + "\n")
        return 1 if erased and not args.all else 0

    return _on_database(settings, texts, run)


def cmd_keygen(_args: argparse.Namespace, out: TextIO | None = None) -> int:
    """A new key for DATA_KEY."""
    from storage.crypto import generate_key

    (out or sys.stdout).write(generate_key() + "\n")
    return 0


def cmd_doctor(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """korak doctor [--webhook] [--timeout S]: one line per check of the settings, the
    database, Redis, the staff chat, the channels and the webhook (bot/doctor.py); exit code 0
    when all pass, 1 otherwise."""
    from bot import doctor

    return doctor.main(out or sys.stdout, webhook=args.webhook, timeout=args.timeout)


def cmd_db(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """korak db upgrade | current"""
    out = out or sys.stdout
    settings = Settings()
    texts = _texts(settings)

    async def run() -> int:
        from storage import keys, migrate
        from storage.crypto import KeyMissing

        from bot.database import reach, sealer_or_none

        # `upgrade` makes a new database; `current` only looks at one that is there
        db, _ = await reach(settings, texts, create=args.action == "upgrade", empty=True,
                            wait=COMMAND_WAIT_SECONDS)
        try:
            if args.action == "current":
                found = await migrate.status(db)
                if found.empty:
                    out.write(texts("cli.db_empty", head=found.head) + "\n")
                elif found.ahead:
                    out.write(texts("cli.db_ahead", current=found.current,
                                    head=found.head) + "\n")
                elif found.up_to_date:
                    out.write(texts("cli.db_current", current=found.current) + "\n")
                else:
                    out.write(texts("cli.db_current_behind", current=found.current or "0.1",
                                    head=found.head) + "\n")
                return 0 if found.up_to_date else 1
            seal = sealer_or_none(settings)
            try:
                if seal is not None:  # nothing sealed with a wrong key by a revision
                    await keys.check_canary(db, seal)
                before = await migrate.upgrade(db, sealer=seal)
            except KeyMissing:
                print(texts("cli.db_needs_key"), file=sys.stderr)
                return 2
            except migrate.SchemaAhead as exc:
                print(texts("cli.db_ahead", current=exc.current, head=exc.head),
                      file=sys.stderr)
                return 2
            except keys.WrongKey:
                print(texts("cli.wrong_data_key"), file=sys.stderr)
                return 2
            if before.up_to_date:
                out.write(texts("cli.db_was_current", current=before.head) + "\n")
            else:
                out.write(texts("cli.db_upgraded", before=before.current or (
                    "—" if before.empty else "0.1"), head=before.head) + "\n")
            return 0
        finally:
            await db.dispose()

    return asyncio.run(run())


def cmd_whatsapp(_args: argparse.Namespace, out: TextIO | None = None) -> int:
    """korak whatsapp templates: korak's message templates in every language, as Meta's template
    manager takes them (JSON), to submit for approval."""
    from bot.channels.whatsapp import print_templates

    settings = Settings()
    print_templates(_texts(settings), out or sys.stdout)
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from bot.channels.terminal import chat

    channel = getattr(args, "channel", "telegram")  # `korak run --or-chat` comes here too
    if getattr(args, "staff", False):  # the coordinators' side, on the same database
        from bot.staff.terminal import staff_chat
        return _refusable(lambda: asyncio.run(staff_chat(Settings())))
    return _refusable(lambda: asyncio.run(chat(Settings(), channel=channel)))


def cmd_coordinators(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """korak coordinators add ID [--name NAME] | remove ID | list"""
    out = out or sys.stdout
    settings = Settings()
    texts = _texts(settings)

    async def run(db: Database) -> int:
        from datetime import datetime, timezone

        from storage import repo

        async with db.transaction() as s:
            if args.action == "add":
                added = await repo.add_coordinator(s, args.id, args.name,
                                                   datetime.now(timezone.utc))
                key = N_("cli.coordinators_added") if added else N_("cli.coordinators_known")
                out.write(texts(key, id=args.id) + "\n")
                return 0
            if args.action == "remove":
                if await repo.remove_coordinator(s, args.id):
                    out.write(texts("cli.coordinators_removed", id=args.id) + "\n")
                    return 0
                key = (N_("cli.coordinators_in_env") if args.id in settings.coordinator_ids
                       else N_("cli.coordinators_not_found"))
                out.write(texts(key, id=args.id) + "\n")
                return 1
            rows = [(c.telegram_id, c.name or "", texts("cli.coordinators_source_db"))
                    for c in await repo.coordinators(s)]
            known = {r[0] for r in rows}
            rows += [(i, "", texts("cli.coordinators_source_env"))
                     for i in settings.coordinator_ids if i not in known]
            if not rows:
                out.write(texts("cli.coordinators_none") + "\n")
            for cid, name, source in sorted(rows):
                out.write(texts("cli.coordinators_line", id=cid, name=name or "—",
                                source=source) + "\n")
            return 0

    return _on_database(settings, texts, run)


def _progress(stream: TextIO) -> Callable[[int, int], None]:
    """A bar on stderr for imports of more than a few dozen sessions."""
    def show(done: int, total: int) -> None:
        if total < 50:
            return
        width = 30
        filled = width * done // total
        stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done == total:
            stream.write("\n")
        stream.flush()
    return show


def cmd_schedule(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """korak schedule import FILE --cohort NAME [--site SITE]"""
    out = out or sys.stdout
    settings = Settings()
    texts = _texts(settings)
    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError:
        out.write(texts("cli.file_unreadable", file=str(path)) + "\n")
        return 2

    async def run(db: Database) -> int:
        from bot.staff.schedule import ScheduleService
        from bot.clock import utcnow

        service = ScheduleService(db, settings, utcnow)
        site = args.site or site_from_name(args.cohort)  # "Radlje 2027/1" says where
        result = await service.import_file(args.cohort, path.name, data, site=site,
                                           progress=_progress(sys.stderr))
        out.write(texts.render(result.report.text) + "\n")
        return 0 if result.ok else 1

    return _on_database(settings, texts, run)


def cmd_enroll(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """korak enroll REQUEST_ID --cohort NAME [--leave]"""
    out = out or sys.stdout
    settings = Settings()
    texts = _texts(settings)

    async def run(db: Database) -> int:
        from bot.staff.schedule import ScheduleService
        from bot.clock import utcnow

        text = await ScheduleService(db, settings, utcnow).enroll_request(
            args.request, args.cohort, leave=args.leave)
        out.write(texts.render(text) + "\n")
        return 0 if text.msgid in ("schedule.enrolled", "schedule.left") else 1

    return _on_database(settings, texts, run)


def cmd_report(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """korak report --period 2027-01|2027-Q1|2027 (or --from/--to spanning exactly one)
    [--format csv|xlsx|png] [--out FILE]: the programme's report for a whole month, quarter or
    year, written to FILE (by default porocilo-PERIOD.FORMAT here; `-` is standard output).
    Any other span is refused in one line."""
    out = out or sys.stdout
    settings = Settings()
    texts = _texts(settings)
    from datetime import date

    from dialogs.report import Period

    try:
        period = (Period.parse(args.period or "") if not (args.date_from or args.date_to) else
                  None if args.period else Period.spanning(date.fromisoformat(args.date_from),
                                                           date.fromisoformat(args.date_to)))
    except (TypeError, ValueError):  # a day missing or not a date
        period = None
    if period is None:
        print(texts("report.cli_period"), file=sys.stderr)
        return 2
    target = args.out or f"porocilo-{period.key}.{args.format}"

    from bot.database import sealer

    try:
        seal = sealer(settings, texts)  # the target groups need the sealed answer opened
    except Refused as exc:
        print(str(exc), file=sys.stderr)
        return exc.code

    async def run(db: Database) -> int:
        from bot.clock import utcnow
        from bot.staff.reports import ReportService, render

        service = ReportService(db, settings, seal, utcnow)
        report = await service.build(period)
        data = await asyncio.to_thread(render, report, texts, args.format,
                                       service.imprint(report, texts))
        if target == "-":
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
            print(texts("report.cli_written_stdout", count=report.requests), file=sys.stderr)
            return 0
        try:
            Path(target).write_bytes(data)
        except OSError:
            print(texts("cli.file_unwritable", file=target), file=sys.stderr)
            return 2
        out.write(texts("report.cli_written", file=target, count=report.requests,
                        sessions=len(report.sessions)) + "\n")
        return 0

    return _on_database(settings, texts, run)


def cmd_bench(args: argparse.Namespace) -> int:
    if args.residents is None:
        args.residents = 20 if args.what == "replicas" else 500
    if args.rate is None:
        args.rate = 28.0 if args.what == "replicas" else 29.0
    if args.what == "replicas":
        from bot.bench import replicas

        return replicas.main(args)
    if args.what == "reminders":
        from bot.bench import reminders

        return reminders.main(args)
    if args.what == "load" and args.channel in ("viber", "whatsapp"):
        from bot.bench import channels

        return channels.main(args)
    if args.what == "load":
        from bot.bench import load

        return load.main(args)
    from bot.bench import places as bench_places

    return bench_places.main(args.what, args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="korak", description="korak: Socialna aktivacija Koroška")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start the Telegram bot (long polling, or --webhook)")
    run.add_argument("--webhook", action="store_true",
                     help="serve a webhook (WEBHOOK_URL, WEBHOOK_SECRET) instead of polling")
    run.add_argument("--or-chat", action="store_true",
                     help="without BOT_TOKEN, say so and start `korak chat` instead")
    run.set_defaults(func=cmd_run)
    wa = sub.add_parser("whatsapp", help="WhatsApp: the message templates to submit to Meta")
    wa.add_argument("action", choices=["templates"])
    wa.set_defaults(func=cmd_whatsapp)
    chat_cmd = sub.add_parser("chat", help="the same conversation in this terminal")
    chat_cmd.add_argument("--channel", choices=["telegram", "viber", "whatsapp"],
                          default="telegram", help="draw the replies as this channel does")
    chat_cmd.add_argument("--staff", action="store_true",
                          help="the coordinators' side: cards, buttons, replies, staff commands")
    chat_cmd.set_defaults(func=cmd_chat)
    sub.add_parser("keygen", help="print a new key for DATA_KEY").set_defaults(func=cmd_keygen)
    doctor = sub.add_parser("doctor", help="check the settings, database, Redis, staff chat, "
                            "channels and webhook: one line each")
    doctor.add_argument("--webhook", action="store_true",
                        help="check as for `korak run --webhook` (also when WEBHOOK_URL is set)")
    doctor.add_argument("--timeout", type=float, default=5.0,
                        help="seconds a network check may take (5)")
    doctor.set_defaults(func=cmd_doctor)
    sub.add_parser("reseal", help="seal every sensitive answer again with DATA_KEY's first key"
                   ).set_defaults(func=cmd_reseal)
    ret = sub.add_parser("retention", help="erase what is past its keeping time (daily by itself)")
    ret.add_argument("--dry-run", action="store_true", help="count, change nothing")
    ret.add_argument("--as-of", help="run as if it were this day (YYYY-MM-DD)")
    ret.set_defaults(func=cmd_retention)
    outbox = sub.add_parser("outbox", help="messages given up on: list them, send them again")
    outbox.add_argument("action", choices=["failed", "retry"])
    outbox.add_argument("ids", nargs="*", type=int, help="retry: the ids `failed` lists")
    outbox.add_argument("--all", action="store_true", help="retry: every failed message")
    outbox.set_defaults(func=cmd_outbox)
    acc = sub.add_parser("access-log", help="who opened personal data on demand, and when")
    acc.add_argument("--request", type=int, help="only this request")
    acc.set_defaults(func=cmd_access_log)
    db = sub.add_parser("db", help="the database schema: korak db upgrade | current")
    db.add_argument("action", choices=["upgrade", "current"])
    db.set_defaults(func=cmd_db)
    where = sub.add_parser("where", help="which site serves a place: korak where Kotlje")
    where.add_argument("--json", action="store_true", help="one JSON object per answer")
    where.add_argument("text", nargs="+", help="what a resident wrote, or - for one per line on stdin")
    where.set_defaults(func=cmd_where)
    und = sub.add_parser("understand", help="which button a typed answer means: "
                         "korak understand --step work ne delam")
    und.add_argument("--json", action="store_true", help="one JSON object per answer")
    und.add_argument("--step", required=True, choices=ANSWER_STEPS, help="the question asked")
    und.add_argument("--lang", default="sl", choices=ANSWER_LANGS, help="the resident's language")
    und.add_argument("text", nargs="+",
                     help="what a resident wrote, or - for one per line on stdin")
    und.set_defaults(func=cmd_understand)
    coord = sub.add_parser("coordinators", help="who may work the queue in the staff chat")
    coord_sub = coord.add_subparsers(dest="action", required=True)
    add = coord_sub.add_parser("add", help="korak coordinators add TELEGRAM_ID [--name NAME]")
    add.add_argument("id", type=int)
    add.add_argument("--name")
    coord_sub.add_parser("remove", help="korak coordinators remove TELEGRAM_ID").add_argument(
        "id", type=int)
    coord_sub.add_parser("list", help="everyone who may act, and where they are set")
    coord.set_defaults(func=cmd_coordinators)
    schedule = sub.add_parser("schedule", help="programme sessions")
    schedule_sub = schedule.add_subparsers(dest="action", required=True)
    imp = schedule_sub.add_parser("import", help="load a .ics or .csv schedule into a cohort")
    imp.add_argument("file")
    imp.add_argument("--cohort", required=True, help="the cohort's name, e.g. 'SG 2027/1'")
    imp.add_argument("--site", choices=sorted(SITE_LABEL),
                     help="needed when the cohort is new and its name names no site "
                          "(Radlje…, RD…: radlje-ob-dravi; Slovenj…, SG…: slovenj-gradec)")
    schedule.set_defaults(func=cmd_schedule)
    enroll = sub.add_parser("enroll", help="enroll a request's resident in a cohort")
    enroll.add_argument("request", type=int, help="the request number")
    enroll.add_argument("--cohort", required=True)
    enroll.add_argument("--leave", action="store_true", help="take them out of the cohort")
    enroll.set_defaults(func=cmd_enroll)
    report = sub.add_parser("report", help="the programme's report for a whole month, quarter "
                                           "or year: korak report --period 2027-Q1")
    report.add_argument("--period", help="2027-01 (a month), 2027-Q1 (a quarter) or 2027")
    report.add_argument("--from", dest="date_from",
                        help="first day, YYYY-MM-DD (with --to: exactly one period)")
    report.add_argument("--to", dest="date_to", help="last day, YYYY-MM-DD")
    report.add_argument("--format", choices=["csv", "xlsx", "png"], default="csv",
                        help="csv (UTF-8, ;), xlsx or png (the charts); default csv")
    report.add_argument("--out", help="the file to write (default porocilo-FROM-TO.FORMAT; "
                                      "- for standard output)")
    report.set_defaults(func=cmd_report)
    bench = sub.add_parser("bench", help="benchmarks that print figures")
    bench.add_argument("what", choices=["places", "reminders", "load", "replicas"])
    bench.add_argument("--residents", type=int, default=None,
                       help="load (500), replicas (20): residents going through the intake")
    bench.add_argument("--channel", choices=["telegram", "viber", "whatsapp"],
                       default="telegram",
                       help="load: residents on this channel (viber, whatsapp: compared with "
                            "Telegram in the same run)")
    bench.add_argument("--rounds", type=int, default=20, help="places: passes over the test set")
    bench.add_argument("--count", type=int, default=10_000, help="reminders: how many")
    bench.add_argument("--database",
                       help="reminders, load: database URL (default: a new SQLite file); "
                            "replicas: a PostgreSQL server (a database of its own is made)")
    bench.add_argument("--dispatchers", type=int, default=1,
                       help="reminders: dispatcher processes")
    bench.add_argument("--rate", type=float, default=None,
                       help="reminders (29), replicas (28): messages/s all processes together "
                            "may send (the fake Bot API allows 30)")
    bench.add_argument("--replicas", type=int, default=3,
                       help="replicas: `korak run --webhook` processes")
    bench.add_argument("--redis", help="replicas: Redis URL for the shared limits")
    bench.add_argument("--kills", type=int, default=1,
                       help="replicas: replicas SIGKILLed and started again, spread over the run "
                            "(one at a time, the replicas in turn)")
    bench.add_argument("--reminders", type=int, default=3000,
                       help="replicas: reminders due at once")
    bench.add_argument("--timeout", type=float, default=900.0,
                       help="replicas: seconds before the run is cut off")
    bench.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    bench.add_argument("--api", help=argparse.SUPPRESS)
    bench.add_argument("--schema", help=argparse.SUPPRESS)
    bench.set_defaults(func=cmd_bench)
    args = parser.parse_args(argv)
    if getattr(args, "text", None) == ["-"]:
        args.json = True
    return dispatch(args)


def dispatch(args: argparse.Namespace) -> int:
    """Run a command. What stops it is said in one line on stderr (exit 2), never as a
    traceback: a settings file or setting that is wrong, a database that refuses, a bot token
    Telegram does not take, a refusal of the command's own (Refused); Ctrl+C ends it quietly."""
    texts = Texts(ROOT / "locales")
    named = named_env_file()
    if named is not None and (not named.exists() or named.is_dir()):  # /dev/null: no file
        print(texts("cli.env_file_missing", file=str(named)), file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except Refused as exc:
        print(str(exc), file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        refused = _one_line(exc, texts)
        if refused is None:
            raise
        print(str(refused), file=sys.stderr)
        return refused.code


def _one_line(exc: Exception, texts: Texts) -> Refused | None:
    """The line for what an operator must fix, or None (a fault of korak's: the traceback)."""
    from aiogram.exceptions import TelegramNotFound, TelegramUnauthorizedError
    from aiogram.methods import GetMe
    from pydantic import ValidationError

    from bot.database import refusal_or_none, settings_source

    if isinstance(exc, ValidationError) and exc.title == Settings.__name__:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
                             for e in exc.errors(include_input=False, include_url=False))
        return Refused(texts("cli.bad_settings", problems=problems, env=_settings_file()))
    try:
        settings = Settings()
    except Exception:
        return None
    if isinstance(exc, TelegramUnauthorizedError) or (
            isinstance(exc, TelegramNotFound) and isinstance(exc.method, GetMe)):
        return Refused(texts("cli.token_refused", env=settings_source(settings)))
    return refusal_or_none(exc, settings, texts)


def _settings_file() -> str:
    from bot.config import find_env_file

    found = find_env_file()
    return str(found) if found is not None and found.is_file() else "okolje, brez datoteke .env"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
