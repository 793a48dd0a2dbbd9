"""WhatsApp Cloud API: Meta's webhook posts become plain events; korak's replies become Cloud API
message bodies, sent to {api_url}/{phone_number_id}/messages.

Written on aiohttp (already korak's HTTP client) rather than pywa, the maintained Python client
for the Cloud API (4.4, checked August 2026): pywa's GraphAPI sets the base URL to
graph.facebook.com in its constructor (tests could point it at a local fake only by reaching into
its httpx client afterwards), it brings httpx and a client of some hundred modules (flows,
calling, its own Flask/FastAPI webhook server) of which korak needs one POST and a webhook
reader, and it is not in the package index korak installs from. Its table of error codes
(pywa/errors.py) was read for `KINDS` below.

What matters on WhatsApp:
- The 24-hour window: korak may answer freely for 24 hours after the person last wrote; after
  that only an approved template goes (a send is refused with 131047, kind "window"). Reminders
  and a coordinator's message to a person who has been quiet go as templates (`TEMPLATES`).
- Buttons: at most 3 reply buttons (title ≤ 20 characters) or one list of at most 10 rows
  (title ≤ 24, description ≤ 72). `render` keeps every label within its limit and the labels
  of one question distinct (`fit_labels`).
- The person's number is their address (wa_id): WhatsApp knows it already, so the phone question
  offers "this number" as a reply button (id choice_token(step, OWN_NUMBER)), read as the
  person sharing their own number."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import sys
from dataclasses import dataclass
from typing import IO, Any, Iterable, Mapping

import aiohttp

from dialogs.intake import PLACE_OTHER, Choice, Event, Media, SharedContact, Start, Typed
from dialogs.replies import N_, Say, Text, one_line

from bot.channels.base import (MAX_TYPED, Address, Delivery, Inbound, Refused, Render,
                               choice_token, parse_choice_token, split_text, text_event)

API_URL = "https://graph.facebook.com/v23.0"

MAX_TEXT = 4096  # a text message's body
MAX_BODY = 1024  # an interactive message's body
MAX_BUTTONS = 3  # reply buttons in one message
MAX_BUTTON_TITLE = 20
MAX_ROWS = 10  # rows of a list, all sections together
MAX_ROW_TITLE = 24
MAX_ROW_DESCRIPTION = 72
MAX_LIST_BUTTON = 20  # the label of the button that opens the list
MAX_REPLY_ID = 256  # a reply button's id
MAX_ROW_ID = 200  # a list row's id

OWN_NUMBER = "own_number"  # the phone question's "this number" button
# The list's opening button (a menu sign stands in where a catalog lacks it).
LIST_BUTTON = N_("button.whatsapp_list")
LIST_BUTTON_FALLBACK = "☰"
# The tenth row of a question with more than ten choices: its last choice (korak's long
# questions end with their way out, "Drugje", which asks the person to type the name), marked
# with a writing hand; the choices that did not fit are named in its description.
TYPE_IT = "✍️ "


def size(label: str) -> int:
    """A label's length as Meta may count it: in UTF-16 units (an emoji counts two), the
    stricter of the counts it could use."""
    return len(label.encode("utf-16-le")) // 2


def _prefix(text: str, units: int) -> str:
    """The longest beginning of `text` within `units`."""
    out = text
    while size(out) > units:
        out = out[:-1]
    return out


def shorten(label: str, limit: int, keep_words: bool = True) -> str:
    """`label` within `limit`: unchanged when it fits, else cut with "…" (at a word boundary
    when `keep_words` and one is left in the part kept)."""
    label = " ".join(label.split())
    if size(label) <= limit:
        return label
    head = _prefix(label, limit - 1)
    rest = label[len(head):]
    space = head.rfind(" ")
    at_boundary = rest.startswith(" ") or head.endswith(" ")
    if keep_words and not at_boundary and space > len(head) // 2:
        head = head[:space]  # a word boundary, unless it would leave less than half
    return head.rstrip(" ,.;:-–—") + "…"


def _clashes(labels: list[str]) -> list[list[int]]:
    """The positions of labels that are alike, in groups."""
    seen: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        seen.setdefault(label, []).append(i)
    return [group for group in seen.values() if len(group) > 1]


def fit_labels(labels: Iterable[str], limit: int) -> list[str]:
    """Each label within `limit`, all distinct: cut at a word boundary; labels that then
    collide keep as many characters as fit; any still alike end in a number ("…2")."""
    labels = [" ".join(label.split()) for label in labels]
    out = [shorten(label, limit) for label in labels]
    for group in _clashes(out):
        for i in group:
            out[i] = shorten(labels[i], limit, keep_words=False)
    for group in _clashes(out):
        for n, i in enumerate(group, 1):
            mark = f"…{n}"
            out[i] = _prefix(labels[i], limit - size(mark)) + mark
    return out


def text_message(text: str) -> dict[str, Any]:
    return {"type": "text", "text": {"body": text, "preview_url": False}}


@dataclass(frozen=True)
class _Option:
    id: str  # the reply id: choice_token(step, choice)
    label: str


def _options(texts: Render, say: Say, step: str) -> list[_Option]:
    out = []
    if say.share_contact is not None:
        out.append(_Option(choice_token(step, OWN_NUMBER), texts.render(say.share_contact)))
    out += [_Option(choice_token(step, b.id), texts.render(b.label))
            for row in say.buttons for b in row]
    return out


def buttons_message(text: str, pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """A text with up to three reply buttons, each (label, what a tap sends)."""
    return _buttons(text, [_Option(token, label) for label, token in pairs])


def _buttons(body: str, options: list[_Option]) -> dict[str, Any]:
    titles = fit_labels((o.label for o in options), MAX_BUTTON_TITLE)
    return {"type": "interactive", "interactive": {
        "type": "button", "body": {"text": body},
        "action": {"buttons": [{"type": "reply", "reply": {"id": o.id, "title": title}}
                               for o, title in zip(options, titles)]}}}


def _list(texts: Render, body: str, options: list[_Option]) -> dict[str, Any]:
    """A list; past ten choices the first ones and the question's "elsewhere — type it" row
    (with what follows it, such as "I do not know"), which names the choices left out (they are
    reachable by typing, which korak understands at every question). A question without such a
    row keeps its last choice for it."""
    descriptions: list[str | None] = [None] * len(options)
    if len(options) > MAX_ROWS:
        ids = [parse_choice_token(o.id) for o in options]
        at = next((i for i, found in enumerate(ids) if found and found[1] == PLACE_OTHER),
                  len(options) - 1)
        tail = options[at:]
        keep = MAX_ROWS - len(tail)
        hidden = options[keep:at]
        options = (options[:keep] + [_Option(tail[0].id, TYPE_IT + tail[0].label)]
                   + tail[1:])
        descriptions = ([None] * keep + [", ".join(o.label for o in hidden)]
                        + [None] * (len(tail) - 1))
    titles = fit_labels((o.label for o in options), MAX_ROW_TITLE)
    rows = []
    for option, title, description in zip(options, titles, descriptions):
        if description is None and title != option.label:
            description = option.label  # the whole label below the shortened one
        row = {"id": option.id, "title": title}
        if description:
            row["description"] = shorten(description, MAX_ROW_DESCRIPTION)
        rows.append(row)
    label = texts.render(Text(LIST_BUTTON))
    if label == LIST_BUTTON:
        label = LIST_BUTTON_FALLBACK
    return {"type": "interactive", "interactive": {
        "type": "list", "body": {"text": body},
        "action": {"button": shorten(label, MAX_LIST_BUTTON), "sections": [{"rows": rows}]}}}


def _body_tail(text: str) -> tuple[str, str]:
    """(what goes first as text messages, the interactive message's body within MAX_BODY): the
    body is the longest run of whole paragraphs (else lines, words) at the text's end."""
    text = text.strip()
    if len(text) <= MAX_BODY:
        return "", text
    for sep in ("\n\n", "\n", " "):
        cut = text.find(sep, len(text) - MAX_BODY - len(sep))
        if cut != -1 and text[cut + len(sep):].strip():
            return text[:cut].rstrip(), text[cut + len(sep):].strip()
    return text[:-MAX_BODY], text[-MAX_BODY:]


@dataclass(frozen=True)
class Template:
    """A message template as korak keeps it: its body is a catalog msgid whose parameters,
    in `params` order, become Meta's {{1}}, {{2}} …; `buttons` are quick-reply labels
    (msgids). `examples` are sample values Meta's review asks for."""

    name: str
    body: str
    params: tuple[str, ...]
    examples: tuple[str, ...]
    buttons: tuple[str, ...] = ()
    category: str = "UTILITY"


REMINDER = Template("korak_reminder", N_("reminder.text"), ("when", "place", "title"),
                    ("četrtek, 4. december, ob 10.00", "Ravne na Koroškem", "Delavnica"),
                    (N_("reminder.button.yes"), N_("reminder.button.no")))
# A coordinator wrote to a person outside the 24-hour window: the template asks them to answer,
# which opens the window (the coordinator's words follow then).
COORDINATOR_WROTE = Template("korak_coordinator_wrote", N_("whatsapp.template.coordinator_wrote"),
                             ("name",), ("Maja",))
TEMPLATES = (REMINDER, COORDINATOR_WROTE)
# korak's catalog → Meta's template language (the hbs catalog is written in Croatian spelling)
TEMPLATE_LANGUAGE = {"sl": "sl", "en": "en", "hbs": "hr", "sq": "sq", "uk": "uk"}


def preview(body: dict[str, Any]) -> tuple[str, list[tuple[str, str | None]]]:
    """A message body as a person sees it: its text and its choices in order (a list's rows
    with their descriptions), each with the id a tap sends; for `korak chat --channel
    whatsapp`."""
    if body.get("type") != "interactive":
        return body.get("text", {}).get("body", ""), []
    inner = body["interactive"]
    action = inner.get("action", {})
    choices = [(b["reply"]["title"], b["reply"]["id"]) for b in action.get("buttons", [])]
    for section in action.get("sections", []):
        choices += [(row["title"] + (f" — {row['description']}" if row.get("description") else ""),
                     row["id"]) for row in section.get("rows", [])]
    text = inner.get("body", {}).get("text", "")
    if action.get("button"):
        text += f"\n[{action['button']}]"
    return text, choices


def _plain_label(label: str) -> str:
    """A quick-reply label without the catalog's leading emoji ("✅ Pridem" → "Pridem")."""
    return re.sub(r"^\W+", "", label).strip()


def template_body(template: Template, texts: Render) -> str:
    """The template's text in `texts`' language, with {{1}} … where its parameters go."""
    return texts.render(Text(template.body, {name: f"{{{{{i}}}}}" for i, name
                                             in enumerate(template.params, 1)}))


def template_message(template: Template, lang: str, params: Mapping[str, Any],
                     payloads: Iterable[str] = ()) -> dict[str, Any]:
    """A message body sending `template` in korak's language `lang`; `payloads` are what each
    quick-reply button brings back when tapped (a choice token reads as a Choice). Meta takes
    no line breaks in a parameter: each is made one line."""
    components: list[dict[str, Any]] = []
    if template.params:
        components.append({"type": "body", "parameters": [
            {"type": "text", "text": one_line(str(params[name]))} for name in template.params]})
    for i, payload in enumerate(payloads):
        components.append({"type": "button", "sub_type": "quick_reply", "index": str(i),
                           "parameters": [{"type": "payload", "payload": payload}]})
    return {"type": "template", "template": {
        "name": template.name, "language": {"code": TEMPLATE_LANGUAGE.get(lang, "sl")},
        "components": components}}


def template_requests(texts: Any) -> list[dict[str, Any]]:
    """Every template in every language as Meta's template manager takes it (the body of
    POST /{waba_id}/message_templates). `texts`: bot.i18n.Texts. A body still equal to its
    msgid has no catalog text yet."""
    out = []
    for template in TEMPLATES:
        for lang, code in TEMPLATE_LANGUAGE.items():
            theirs = texts.lang(lang)
            body: dict[str, Any] = {"type": "BODY", "text": template_body(template, theirs)}
            if template.params:
                body["example"] = {"body_text": [list(template.examples)]}
            components = [body]
            if template.buttons:
                components.append({"type": "BUTTONS", "buttons": [
                    {"type": "QUICK_REPLY", "text": _plain_label(theirs.render(Text(b)))}
                    for b in template.buttons]})
            out.append({"name": template.name, "language": code, "category": template.category,
                        "parameter_format": "POSITIONAL", "components": components})
    return out


def print_templates(texts: Any, out: IO[str] | None = None) -> None:
    """template_requests as JSON, to `out` (standard output when None)."""
    out = out or sys.stdout
    json.dump(template_requests(texts), out, ensure_ascii=False, indent=2)
    out.write("\n")


# Meta's error codes (developers.facebook.com, WhatsApp Cloud API "Error codes") → Refused kinds
KINDS: dict[int, str] = {
    131047: "window",  # re-engagement: more than 24 hours since the person last wrote
    131026: "gone",  # undeliverable: no WhatsApp, an old app, terms not accepted
    131030: "gone",  # not on the test number's allowed list
    131021: "invalid",  # sender and recipient are the same number
    131050: "blocked",  # the person stopped marketing messages
    4: "retry", 80007: "retry", 130429: "retry",  # rate limits (app, account, throughput)
    131048: "retry", 131049: "retry",  # spam rate limit; held back for ecosystem engagement
    131056: "retry",  # too many messages to one person (pair rate)
    1: "retry", 2: "retry", 131000: "retry", 131016: "retry", 131057: "retry",  # Meta's side
    0: "auth", 3: "auth", 10: "auth", 190: "auth", 131005: "auth",  # token, permissions
    368: "auth", 131031: "auth", 130497: "auth", 131042: "auth", 131045: "auth",  # the account
    100: "invalid", 131008: "invalid", 131009: "invalid", 131051: "invalid",  # korak's body
    131052: "invalid", 131053: "invalid", 135000: "invalid",
}


def error_kind(code: Any, http_status: int | None = None) -> str:
    """A Meta error code (and the HTTP status it came with) as a Refused kind."""
    code = code if isinstance(code, int) else None
    if code in KINDS:
        return KINDS[code]
    if code is not None and 132000 <= code <= 132016:
        return "template"  # missing, not approved, paused, disabled, parameters wrong
    if code is not None and 200 <= code <= 299:
        return "auth"
    if http_status is not None and (http_status == 429 or http_status >= 500):
        return "retry"
    if http_status in (401, 403):
        return "auth"
    return "invalid"


# --------------------------------------------------------------------------- reading webhooks


def _reply_event(data: str | None, title: str | None, wa_id: str) -> Event:
    """A tapped reply button, list row or template quick reply: a choice token is the Choice
    it names ("this number" is the person's own number); anything else reads as its text."""
    parsed = parse_choice_token(data)
    if parsed is None and data and data.startswith("a|"):
        return Typed(data[:MAX_TYPED])  # Pridem / Ne morem priti under a reminder: its token
    if parsed is None:
        return Typed((title or data or "")[:MAX_TYPED])
    if parsed[1] == OWN_NUMBER:
        return SharedContact("+" + wa_id, True)
    return Choice(*parsed)


MEDIA = {"image", "sticker", "audio", "video", "document", "location", "contacts", "unsupported"}


def _contact_event(message: Mapping[str, Any], wa_id: str) -> Event:
    """A shared contact card: the first phone on it, the person's own when WhatsApp names the
    sender's wa_id for it (someone else's number is refused by the conversation, as on
    Telegram); a card without a phone is media."""
    for contact in message.get("contacts") or []:
        for phone in contact.get("phones") or []:
            number = phone.get("phone") or phone.get("wa_id")
            if number:
                own = phone.get("wa_id") == wa_id
                return SharedContact(str(number), own)
    return Media("contacts")


def message_event(message: Mapping[str, Any], wa_id: str) -> tuple[str, Event | None]:
    """(Inbound kind, event) for one entry of value.messages."""
    kind = message.get("type")
    if kind == "text":
        return "message", text_event(str((message.get("text") or {}).get("body") or ""))
    if kind == "interactive":
        reply = message.get("interactive") or {}
        picked = reply.get(reply.get("type") or "") or {}  # button_reply | list_reply
        return "message", _reply_event(picked.get("id"), picked.get("title"), wa_id)
    if kind == "button":  # a template's quick reply
        button = message.get("button") or {}
        return "message", _reply_event(button.get("payload"), button.get("text"), wa_id)
    if kind == "contacts":
        return "message", _contact_event(message, wa_id)
    if kind == "request_welcome":  # the person opened the chat for the first time
        return "opened", Start()
    if kind in ("reaction", "system", "ephemeral"):
        return "message", None
    return "message", Media(str(kind) if kind in MEDIA else "unsupported")


def _status(status: Mapping[str, Any]) -> Inbound:
    error = None
    if status.get("status") == "failed":
        errors = status.get("errors") or [{}]
        error = error_kind(errors[0].get("code"))
    message_id, state = str(status["id"]), str(status["status"])
    return Inbound(Address("whatsapp", str(status["recipient_id"])), f"{message_id}:{state}",
                   None, kind="status", delivery=Delivery(message_id, state, error))


def parse(body: bytes) -> list[Inbound]:
    """The events of one webhook post; ValueError when it is not WhatsApp's JSON."""
    try:
        data = json.loads(body)
        if data.get("object") != "whatsapp_business_account":
            raise ValueError("not a WhatsApp Business Account webhook")
        out: list[Inbound] = []
        for entry in data["entry"]:
            for change in entry["changes"]:
                value = change.get("value") or {}
                names = {c.get("wa_id"): (c.get("profile") or {}).get("name")
                         for c in value.get("contacts") or []}
                for message in value.get("messages") or []:
                    wa_id = str(message["from"])
                    kind, event = message_event(message, wa_id)
                    out.append(Inbound(Address("whatsapp", wa_id), str(message["id"]), event,
                                       kind=kind, name=names.get(wa_id)))
                out += [_status(s) for s in value.get("statuses") or []]
        return out
    except ValueError:
        raise
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"malformed WhatsApp webhook: {exc!r}") from exc


# --------------------------------------------------------------------------- the adapter


class WhatsApp:
    """The WhatsApp Cloud API channel."""

    name = "whatsapp"

    def __init__(self, token: str, phone_number_id: str, app_secret: str, verify_token: str,
                 api_url: str = API_URL, timeout: float = 20.0) -> None:
        self.token, self.phone_number_id = token, phone_number_id
        self.app_secret, self.verify_token = app_secret.encode(), verify_token
        self.url = f"{api_url.rstrip('/')}/{phone_number_id}/messages"
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    def handshake(self, query: Mapping[str, str]) -> str | None:
        """Meta's subscription check (GET with hub.mode, hub.verify_token, hub.challenge):
        the challenge to answer with, or None (answer 403)."""
        token = query.get("hub.verify_token") or ""
        if query.get("hub.mode") != "subscribe" or not self.verify_token:
            return None
        if not hmac.compare_digest(token.encode(), self.verify_token.encode()):
            return None
        return query.get("hub.challenge")

    def signature(self, body: bytes) -> str:
        return "sha256=" + hmac.new(self.app_secret, body, hashlib.sha256).hexdigest()

    def verify(self, headers: Mapping[str, str], body: bytes) -> bool:
        """X-Hub-Signature-256 is the HMAC-SHA256 of the raw body with the app secret."""
        given = next((v for k, v in headers.items() if k.lower() == "x-hub-signature-256"), "")
        if not given or not self.app_secret:
            return False
        try:
            given_bytes = given.encode("ascii")
        except (UnicodeEncodeError, AttributeError):
            return False
        return hmac.compare_digest(given_bytes, self.signature(body).encode())

    parse = staticmethod(parse)

    def render(self, texts: Render, says: list[Say], step: str) -> list[dict[str, Any]]:
        """The replies as message bodies. Texts without choices join the next message (one
        notification, as on Telegram); up to three choices are reply buttons, more a list.
        A text too long for an interactive body goes first as text messages, the question's
        last paragraphs staying with its buttons."""
        out: list[dict[str, Any]] = []
        waiting: list[str] = []
        for say in says:
            waiting.append(texts.render(say.text))
            options = _options(texts, say, step)
            if not options:
                continue
            head, body = _body_tail("\n\n".join(waiting))
            waiting.clear()
            if head:
                out += [text_message(part) for part in split_text(head, MAX_TEXT)]
            out.append(_buttons(body, options) if len(options) <= MAX_BUTTONS
                       else _list(texts, body, options))
        if waiting:
            out += [text_message(part) for part in split_text("\n\n".join(waiting), MAX_TEXT)]
        return out

    async def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout, headers={
                "Authorization": f"Bearer {self.token}"})
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def send(self, address: Address, body: dict[str, Any]) -> str:
        """POST one message; its wamid. Raises Refused (connection errors and timeouts:
        "retry")."""
        payload = {"messaging_product": "whatsapp", "recipient_type": "individual",
                   "to": address.id, **body}
        session = await self._client()
        try:
            async with session.post(self.url, json=payload) as resp:
                status, raw = resp.status, await resp.read()
                retry_after = resp.headers.get("Retry-After")
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise Refused("retry", type(exc).__name__) from exc
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if status == 200 and isinstance(data, dict) and data.get("messages"):
            return str(data["messages"][0]["id"])
        error = data.get("error") if isinstance(data, dict) else None
        error = error if isinstance(error, dict) else {}
        code = error.get("code")
        details = (error.get("error_data") or {}).get("details") or error.get("message") or ""
        after = float(retry_after) if retry_after and retry_after.isdigit() else None
        raise Refused(error_kind(code, status), f"HTTP {status}: {details}"[:300], after,
                      code if code is not None else status)
