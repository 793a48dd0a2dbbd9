"""The choices each intake question offers: [(choice id, label msgid)] by step, in the order
the buttons show. The conversation (dialogs/intake.py) draws them, and the reading of typed
answers (dialogs/understand.py) maps words onto them: both read this one table."""

from __future__ import annotations

from .replies import N_

# step -> [(choice id, label msgid)], in the order the buttons show. What typed words mean
# each one, in every language, is dialogs/understand.py and dialogs/data/answers/<lang>.toml.
OPTIONS: dict[str, list[tuple[str, str]]] = {
    "consent": [
        ("yes", N_("button.consent_yes")),
        ("no", N_("button.consent_no")),
        ("more_programme", N_("button.more_programme")),
        ("more_data", N_("button.more_data")),
    ],
    "dsp": [
        ("yes", N_("button.yes")),
        ("no", N_("button.no")),
        ("dont_know", N_("button.dont_know")),
    ],
    "dsp_duration": [
        ("short", N_("button.dsp_short")),
        ("long", N_("button.dsp_long")),
        ("dont_know", N_("button.dont_know")),
    ],
    "work": [
        ("employed", N_("button.work_employed")),
        ("registered", N_("button.work_registered")),
        ("neither", N_("button.work_neither")),
        ("other", N_("button.work_other")),
    ],
    # "ne delam", "I'm unemployed": not a button, but it leaves these three; the one follow-up
    # that settles it (registered at the employment office or not). The ids are the work
    # question's: the answer is stored as "work".
    "work_office": [
        ("registered", N_("button.work_office_yes")),
        ("neither", N_("button.work_office_no")),
        ("other", N_("button.work_office_other")),
    ],
    "sensitive_consent": [
        ("yes", N_("button.sensitive_consent_yes")),
        ("skip", N_("button.sensitive_consent_skip")),
    ],
    "sensitive": [
        ("yes", N_("button.yes")),
        ("no", N_("button.no")),
        ("no_answer", N_("button.no_answer")),
    ],
    "hopes": [
        ("skip", N_("button.skip")),
    ],
    "fit": [
        ("continue", N_("button.fit_continue")),
        ("stop", N_("button.fit_stop")),
    ],
    "name": [],
    "phone": [
        ("write_here", N_("button.write_here")),
    ],
    "call_time": [
        ("morning", N_("button.time_morning")),
        ("afternoon", N_("button.time_afternoon")),
        ("any", N_("button.time_any")),
        ("write_here", N_("button.write_here")),
    ],
    "summary": [
        ("confirm", N_("button.confirm")),
        ("edit", N_("button.edit")),
    ],
    "edit_choose": [
        ("place", N_("button.field_place")),
        ("dsp", N_("button.field_dsp")),
        ("work", N_("button.field_work")),
        ("sensitive_consent", N_("button.field_sensitive")),
        ("hopes", N_("button.field_hopes")),
        ("name", N_("button.field_name")),
        ("phone", N_("button.field_phone")),
        ("call_time", N_("button.field_call_time")),
        ("back", N_("button.back_to_summary")),
    ],
    "place_confirm": [
        ("yes", N_("button.yes")),
        ("no", N_("button.no")),
    ],
    "place_move": [  # a place outside Koroška chosen at the summary: really moving?
        ("yes", N_("button.move_yes")),
        ("back", N_("button.back_to_summary")),
    ],
    "confirm_restart": [
        ("restart", N_("button.restart")),
        ("continue", N_("button.continue")),
    ],
    "confirm_delete": [
        ("delete", N_("button.delete")),
        ("keep", N_("button.keep")),
    ],
}
