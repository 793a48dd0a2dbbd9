"""What the staff chat's /pomoc says, and what korak says in set-up mode (no STAFF_CHAT_ID yet):
the chat's id, the person's id and the next step. Plain replies; no Telegram, no settings."""

from __future__ import annotations

from .handoff import ACTION_LABEL
from .replies import N_, Text

HELP = ("pomoc", "pomoč", "help", "start")  # the staff chat's help, and set-up mode's
ID = ("id",)  # set-up mode: this chat's id and yours

# the card's buttons as the help names them: the same msgids the cards use
BUTTONS = {**ACTION_LABEL, "handover": N_("cover.button.handover"),
           "reveal": N_("handoff.button.reveal")}


def staff_help() -> Text:
    """/pomoc (or /start) in the staff chat: every staff command and card button, short enough
    for a phone's screen or two."""
    return Text(N_("staff.help"), {k: Text(v) for k, v in BUTTONS.items()})


def setup_help() -> Text:
    """/pomoc in set-up mode, anywhere: the steps to a working staff chat."""
    return Text(N_("staff.setup.help"))


def setup_id(chat_id: int, group: bool, user_id: int | None) -> Text:
    """/id in set-up mode: this chat's id and the person's, and what to do with them."""
    params = {"chat": chat_id, "user": user_id if user_id is not None else "—"}
    return Text(N_("staff.setup.id_group") if group else N_("staff.setup.id_private"), params)


def not_open() -> Text:
    """What a resident reads while korak is being set up (in their language)."""
    return Text(N_("setup.not_open"))
