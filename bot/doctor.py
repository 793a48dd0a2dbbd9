"""`korak doctor`: is this installation ready to run? Each check prints one line, "✓ …" when it
passes and "✗ …: what to do" when it does not (catalog texts `cli.doctor_*`); the exit code is 0
when every check passed, 1 otherwise.

What is checked, in order: the settings (they load; BOT_TOKEN's shape; DATA_KEY), the database
(reachable, at the code's schema revision, and DATA_KEY opening what it holds sealed), Redis
when REDIS_URL is set, the Bot API (getMe) and the staff chat (getChat, getChatMember: the bot
can post there and sees the group's messages), the channels (Viber's get_account_info,
WhatsApp's phone number), and the webhook (in webhook mode WEBHOOK_URL and WEBHOOK_SECRET, and
getWebhookInfo against WEBHOOK_URL).

It changes nothing: no database is made or upgraded, nothing is written to one, no webhook is
set and nothing is sent. Every network call has a short timeout; a check that cannot run (the
Bot API did not answer, say) says so in its line and counts as failed. No line holds a token, a
secret or a password: errors are named by type or by the service's own short description."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, TextIO
from urllib.parse import urlsplit

import aiohttp

from dialogs.replies import N_

from bot.config import Settings
from bot.database import Refused, database_name, reach, settings_source
from bot.i18n import Texts

PASS, FAIL = "✓", "✗"
TIMEOUT = 5.0  # seconds one network call may take (`korak doctor --timeout`)
SECRET_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,256}")  # as `korak run --webhook` requires
RECENT = timedelta(hours=1)  # a webhook delivery error younger than this is a problem now


@dataclass
class Line:
    ok: bool
    text: str

    def __str__(self) -> str:
        return f"{PASS if self.ok else FAIL} {self.text}"


class _Unreachable(Exception):
    """No answer from a service (in time), or not one it gives: the text says which, by the
    error's type or the HTTP status."""


def redis_place(url: str) -> str:
    """Where a Redis URL points, without user or password: host:port/db."""
    parts = urlsplit(url)
    try:
        port = parts.port or 6379
    except ValueError:
        port = "?"
    path = parts.path.strip("/") or "0"
    return f"{parts.hostname or '?'}:{port}/{path}"


class Doctor:
    def __init__(self, settings: Settings, texts: Texts, *, webhook: bool = False,
                 timeout: float = TIMEOUT, out: TextIO | None = None) -> None:
        self.settings, self.texts, self.timeout = settings, texts, timeout
        # webhook mode: asked for, or WEBHOOK_URL set (then that is how korak is meant to run)
        self.webhook = webhook or bool(settings.webhook_url)
        self.out = out
        self.lines: list[Line] = []
        self.env = settings_source(settings)
        self._http: aiohttp.ClientSession | None = None

    # ------------------------------------------------------------------ plumbing

    def say(self, ok: bool, msgid: str, **params: Any) -> bool:
        return self.said(ok, self.texts(msgid, **params))

    def said(self, ok: bool, text: str) -> bool:
        """A line, printed at once; `text` is a catalog text (a database's refusal comes whole
        from bot/database.py)."""
        line = Line(ok, text)
        self.lines.append(line)
        if self.out is not None:
            self.out.write(f"{line}\n")
            self.out.flush()
        return ok

    @property
    def passed(self) -> bool:
        return all(line.ok for line in self.lines)

    async def _request(self, method: str, url: str, *, json: Any = None,
                       headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """(HTTP status, the JSON answer or None); _Unreachable when there is no answer in time.
        Errors are named by type only: a URL (the Bot API's holds the token) is never shown."""
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        try:
            async with self._http.request(method, url, json=json, headers=headers) as resp:
                try:
                    body = await resp.json(content_type=None)
                except ValueError:
                    body = None
                return resp.status, body
        except asyncio.TimeoutError as exc:
            raise _Unreachable(f"TimeoutError, {self.timeout:g} s") from exc
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            raise _Unreachable(type(exc).__name__) from exc

    async def telegram(self, method: str, **params: Any) -> tuple[bool, Any, dict[str, Any]]:
        """A Bot API call: (ok, result, the whole answer)."""
        base = self.settings.telegram_api_url.rstrip("/")
        status, body = await self._request(
            "POST", f"{base}/bot{self.settings.bot_token}/{method}", json=params)
        if not isinstance(body, dict):  # a proxy's error page, say
            raise _Unreachable(f"HTTP {status}")
        return bool(body.get("ok")), body.get("result"), body

    # ------------------------------------------------------------------ the checks

    async def run(self) -> bool:
        quiet = logging.getLogger("korak")
        handler = logging.NullHandler()  # reach() logs its retries: not lines of this report
        quiet.addHandler(handler)
        try:
            token_ok = self.check_token()
            seal = self.check_data_key()
            await self.check_database(seal)
            await self.check_redis()
            me = await self.check_bot_api(token_ok)
            await self.check_staff_chat(me)
            await self.check_viber()
            await self.check_whatsapp()
            await self.check_webhook(me)
        finally:
            quiet.removeHandler(handler)
            if self._http is not None:
                await self._http.close()
        return self.passed

    def check_token(self) -> bool:
        from aiogram.utils.token import TokenValidationError, validate_token

        if not self.settings.bot_token:
            return self.say(False, N_("cli.doctor_token_missing"), env=self.env)
        try:
            validate_token(self.settings.bot_token)
        except TokenValidationError:
            return self.say(False, N_("cli.doctor_token_shape"), env=self.env)
        return self.say(True, N_("cli.doctor_token_ok"))

    def check_data_key(self):
        from storage.crypto import BadKey, KeyMissing, Sealer, parse_keys

        try:
            seal = Sealer(self.settings.data_key)
        except KeyMissing:
            self.say(False, N_("cli.doctor_key_missing"), env=self.env)
            return None
        except BadKey:
            self.say(False, N_("cli.doctor_key_bad"), env=self.env)
            return None
        self.say(True, N_("cli.doctor_key_ok"), count=len(parse_keys(self.settings.data_key)))
        return seal

    async def check_database(self, seal) -> None:
        """Reachable and at the code's revision (never made, never upgraded: `create=False`),
        then DATA_KEY against what it holds sealed."""
        db_name = database_name(self.settings.database_url)
        try:
            db, found = await asyncio.wait_for(
                reach(self.settings, self.texts, create=False, empty=False, wait=self.timeout),
                timeout=2 * self.timeout + 1)
        except Refused as exc:
            self.said(False, str(exc))
            self.say(False, N_("cli.doctor_canary_skipped"))
            return
        except asyncio.TimeoutError:
            self.say(False, N_("cli.doctor_db_timeout"), db=db_name,
                     seconds=round(2 * self.timeout), env=self.env)
            self.say(False, N_("cli.doctor_canary_skipped"))
            return
        except Exception as exc:  # a driver's error korak has no line for: named by type
            self.say(False, N_("cli.doctor_db_failed"), db=db_name, error=type(exc).__name__,
                     env=self.env)
            self.say(False, N_("cli.doctor_canary_skipped"))
            return
        try:
            if found.up_to_date:
                self.say(True, N_("cli.doctor_db_ok"), db=db_name, current=found.current)
            elif found.ahead:
                self.say(False, N_("cli.doctor_db_ahead"), db=db_name, current=found.current,
                         head=found.head)
            else:
                self.say(False, N_("cli.doctor_db_behind"), db=db_name,
                         current=found.current or "0.1", head=found.head)
            if seal is None:
                self.say(False, N_("cli.doctor_canary_skipped"))
                return
            await self.check_canary(db, seal, db_name, found.up_to_date)
        finally:
            await db.dispose()

    async def check_canary(self, db, seal, db_name: str, up_to_date: bool) -> None:
        """As `korak run` would find it, reading only: the canary opens; a database without one
        yet passes when no answer it holds sealed is left unopened (the first `korak run`
        then writes the canary). A database behind the code is checked by its canary alone."""
        from storage import keys, repo

        from sqlalchemy.exc import SQLAlchemyError

        if not up_to_date:  # older tables: only the canary, if the database has one yet
            try:
                async with db.transaction() as s:
                    canary = await repo.get_setting(s, keys.CANARY)
            except SQLAlchemyError:  # no setting table yet
                canary = None
            if canary is None:
                self.say(False, N_("cli.doctor_canary_later"))
            elif seal.opens(canary):
                self.say(True, N_("cli.doctor_canary_ok"))
            else:
                self.say(False, N_("cli.doctor_canary_wrong"), db=db_name)
            return
        try:
            async with db.transaction() as s:
                canary = await repo.get_setting(s, keys.CANARY)
                if canary is not None:
                    opened = seal.opens(canary)
                else:
                    sealed = await keys._sealed(s)
                    opened = not sealed or any(seal.opens(token) for _, token in sealed)
        except Exception as exc:
            self.say(False, N_("cli.doctor_db_failed"), db=db_name, error=type(exc).__name__,
                     env=self.env)
            return
        if not opened:
            self.say(False, N_("cli.doctor_canary_wrong"), db=db_name)
        elif canary is None:
            self.say(True, N_("cli.doctor_canary_new"))
        else:
            self.say(True, N_("cli.doctor_canary_ok"))

    async def check_redis(self) -> None:
        url = self.settings.redis_url
        if not url:
            self.say(True, N_("cli.doctor_redis_off"))
            return
        from redis import asyncio as aioredis

        place = redis_place(url)
        client = None
        try:
            client = aioredis.from_url(url, socket_connect_timeout=self.timeout,
                                       socket_timeout=self.timeout)
            await asyncio.wait_for(client.ping(), timeout=self.timeout + 1)
        except Exception as exc:
            self.say(False, N_("cli.doctor_redis_down"), redis=place, error=type(exc).__name__,
                     env=self.env)
        else:
            self.say(True, N_("cli.doctor_redis_ok"), redis=place)
        finally:
            if client is not None:
                try:
                    await client.aclose()
                except Exception:  # pragma: no cover - closing a client that never connected
                    pass

    async def check_bot_api(self, token_ok: bool) -> dict[str, Any] | None:
        """getMe: the Bot API answers and takes the token. The bot (its user) or None."""
        api = self.settings.telegram_api_url
        if not token_ok:
            self.say(False, N_("cli.doctor_api_skipped"))
            return None
        try:
            ok, me, body = await self.telegram("getMe")
        except _Unreachable as exc:
            self.say(False, N_("cli.doctor_api_unreachable"), api=api, error=str(exc))
            return None
        if not ok or not isinstance(me, dict):
            code = body.get("error_code")
            if code in (401, 404):  # a revoked token; a token of no bot
                self.say(False, N_("cli.doctor_api_refused"), error=_described(body),
                         env=self.env)
            else:
                self.say(False, N_("cli.doctor_api_error"), api=api, error=_described(body))
            return None
        self.say(True, N_("cli.doctor_api_ok"), api=api,
                 username=me.get("username") or me.get("id"))
        return me

    async def check_staff_chat(self, me: dict[str, Any] | None) -> None:
        """The bot can post in the staff chat (what `korak run` requires at start), and sees the
        group's ordinary messages (a schedule file sent with a caption)."""
        chat_id = self.settings.staff_chat_id
        if chat_id is None:
            self.say(False, N_("cli.doctor_staff_unset"))
            return
        if me is None:
            self.say(False, N_("cli.doctor_staff_skipped"), chat=chat_id)
            return
        try:
            ok, chat, body = await self.telegram("getChat", chat_id=chat_id)
            if ok:
                ok, member, body = await self.telegram("getChatMember", chat_id=chat_id,
                                                       user_id=me["id"])
        except _Unreachable as exc:
            self.say(False, N_("cli.doctor_api_unreachable"), api=self.settings.telegram_api_url,
                     error=str(exc))
            return
        if not ok:
            moved = (body.get("parameters") or {}).get("migrate_to_chat_id")
            if moved:
                self.say(False, N_("cli.doctor_staff_migrated"), chat=chat_id, new=moved)
            else:
                self.say(False, N_("cli.doctor_staff_not_found"), chat=chat_id,
                         error=_described(body))
            return
        kind = chat.get("type") if isinstance(chat, dict) else None
        if kind not in ("group", "supergroup"):
            self.say(False, N_("cli.doctor_staff_not_group"), chat=chat_id, kind=kind or "?")
            return
        status = member.get("status", "") if isinstance(member, dict) else ""
        if status == "restricted":
            writable = bool(member.get("can_send_messages"))
        elif status == "member":
            permissions = chat.get("permissions") or {}
            writable = permissions.get("can_send_messages") is not False
        else:
            writable = status in ("creator", "administrator")
        title = chat.get("title") or chat_id
        if not writable:
            self.say(False, N_("cli.doctor_staff_unwritable"), chat=chat_id, status=status or "?")
            return
        self.say(True, N_("cli.doctor_staff_ok"), title=title, chat=chat_id, status=status)
        if status in ("creator", "administrator"):
            self.say(True, N_("cli.doctor_privacy_admin"))
        elif me.get("can_read_all_group_messages"):
            self.say(True, N_("cli.doctor_privacy_off"))
        else:
            self.say(False, N_("cli.doctor_privacy_on"))

    def _missing(self, names: dict[str, Any]) -> str:
        return ", ".join(name for name, value in names.items() if not value)

    async def check_viber(self) -> None:
        s = self.settings
        needed = {"VIBER_AUTH_TOKEN": s.viber_auth_token, "VIBER_WEBHOOK_URL": s.viber_webhook_url}
        if not any(needed.values()):
            self.say(True, N_("cli.doctor_viber_off"))
            return
        missing = self._missing(needed)
        if missing:
            self.say(False, N_("cli.doctor_viber_needs"), missing=missing, env=self.env)
            return
        if not _https(s.viber_webhook_url):
            self.say(False, N_("cli.doctor_viber_not_https"), url=s.viber_webhook_url)
            return
        api = s.viber_api_url.rstrip("/")
        try:
            status, body = await self._request(
                "POST", f"{api}/get_account_info", json={},
                headers={"X-Viber-Auth-Token": s.viber_auth_token or ""})
        except _Unreachable as exc:
            self.say(False, N_("cli.doctor_viber_unreachable"), api=api, error=str(exc))
            return
        if status == 200 and isinstance(body, dict) and body.get("status") == 0:
            self.say(True, N_("cli.doctor_viber_ok"), api=api, name=body.get("name") or "?")
            return
        if isinstance(body, dict) and "status" in body:
            error = f"{body.get('status')} {body.get('status_message') or ''}".strip()
        else:
            error = f"HTTP {status}"
        self.say(False, N_("cli.doctor_viber_refused"), api=api, error=error)

    async def check_whatsapp(self) -> None:
        s = self.settings
        needed = {"WHATSAPP_TOKEN": s.whatsapp_token,
                  "WHATSAPP_PHONE_NUMBER_ID": s.whatsapp_phone_number_id,
                  "WHATSAPP_APP_SECRET": s.whatsapp_app_secret,
                  "WHATSAPP_VERIFY_TOKEN": s.whatsapp_verify_token}
        if not any(needed.values()):
            self.say(True, N_("cli.doctor_whatsapp_off"))
            return
        missing = self._missing(needed)
        if missing:
            self.say(False, N_("cli.doctor_whatsapp_needs"), missing=missing, env=self.env)
            return
        api = s.whatsapp_api_url.rstrip("/")
        number = s.whatsapp_phone_number_id
        try:
            status, body = await self._request(
                "GET", f"{api}/{number}", headers={"Authorization": f"Bearer {s.whatsapp_token}"})
        except _Unreachable as exc:
            self.say(False, N_("cli.doctor_whatsapp_unreachable"), api=api, error=str(exc))
            return
        if status == 200 and isinstance(body, dict):
            self.say(True, N_("cli.doctor_whatsapp_ok"), api=api,
                     number=body.get("display_phone_number") or number,
                     name=body.get("verified_name") or "?")
            return
        error = (body or {}).get("error") if isinstance(body, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        error_text = f"HTTP {status}" + (f", {code}" if code is not None else "")
        if status in (401, 403) or code == 190:
            self.say(False, N_("cli.doctor_whatsapp_refused"), api=api, error=error_text)
        elif status in (400, 404) or code == 100:
            self.say(False, N_("cli.doctor_whatsapp_no_number"), api=api, number=number,
                     error=error_text)
        else:
            self.say(False, N_("cli.doctor_whatsapp_error"), api=api, error=error_text)

    async def check_webhook(self, me: dict[str, Any] | None) -> None:
        s = self.settings
        want = s.webhook_url
        if self.webhook:
            missing = self._missing({"WEBHOOK_URL": s.webhook_url,
                                     "WEBHOOK_SECRET": s.webhook_secret})
            if missing:
                self.say(False, N_("cli.doctor_webhook_needs"), missing=missing, env=self.env)
            elif not _https(s.webhook_url):
                self.say(False, N_("cli.doctor_webhook_not_https"), url=s.webhook_url)
            elif not SECRET_SHAPE.fullmatch(s.webhook_secret or ""):
                self.say(False, N_("cli.doctor_webhook_secret"))
            else:
                self.say(True, N_("cli.doctor_webhook_settings_ok"))
        if me is None:
            self.say(False, N_("cli.doctor_webhook_skipped"))
            return
        try:
            ok, info, body = await self.telegram("getWebhookInfo")
        except _Unreachable as exc:
            self.say(False, N_("cli.doctor_api_unreachable"), api=s.telegram_api_url,
                     error=str(exc))
            return
        if not ok or not isinstance(info, dict):
            self.say(False, N_("cli.doctor_api_error"), api=s.telegram_api_url,
                     error=_described(body))
            return
        got = info.get("url") or ""
        if not self.webhook:
            if got:
                self.say(False, N_("cli.doctor_webhook_leftover"), url=got)
            else:
                self.say(True, N_("cli.doctor_webhook_polling"))
            return
        if not want:
            return  # the settings' line above said what is missing
        if not got:
            self.say(True, N_("cli.doctor_webhook_unset"), url=want)
        elif got != want:
            self.say(False, N_("cli.doctor_webhook_elsewhere"), got=got, url=want)
        else:
            at = info.get("last_error_date")
            when = datetime.fromtimestamp(at, timezone.utc) if isinstance(at, int) else None
            if when is not None and datetime.now(timezone.utc) - when < RECENT:
                self.say(False, N_("cli.doctor_webhook_failing"), url=want, at=when,
                         error=info.get("last_error_message") or "?",
                         pending=info.get("pending_update_count") or 0)
            else:
                self.say(True, N_("cli.doctor_webhook_ok"), url=want)


def _https(url: str | None) -> bool:
    parts = urlsplit(url or "")
    return parts.scheme == "https" and bool(parts.hostname)


def _described(body: dict[str, Any]) -> str:
    """The Bot API's own short words for a refusal ("Unauthorized", "Bad Request: chat not
    found"), or its code."""
    text = body.get("description") if isinstance(body, dict) else None
    code = body.get("error_code") if isinstance(body, dict) else None
    return str(text or code or "?")


def load_settings(texts: Texts, out: TextIO) -> Settings | None:
    """The settings, with their line; None (and a ✗ line naming the values) when they do not
    load."""
    from pydantic import ValidationError

    from bot.config import find_env_file

    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
                             for e in exc.errors(include_input=False, include_url=False))
        found = find_env_file()
        env = str(found) if found is not None and found.is_file() else "okolje, brez datoteke .env"
        out.write(f"{Line(False, texts('cli.doctor_settings_bad', problems=problems, env=env))}\n")
        return None
    out.write(f"{Line(True, texts('cli.doctor_settings_ok', env=settings_source(settings)))}\n")
    return settings


def main(out: TextIO, *, webhook: bool = False, timeout: float = TIMEOUT) -> int:
    """`korak doctor [--webhook] [--timeout S]`: 0 when every check passed, 1 otherwise."""
    from bot.config import ROOT

    settings = load_settings(Texts(ROOT / "locales"), out)
    if settings is None:
        return 1
    texts = Texts(settings.locales_dir, settings.locale, settings.timezone)
    doctor = Doctor(settings, texts, webhook=webhook, timeout=timeout, out=out)
    return 0 if asyncio.run(doctor.run()) else 1
