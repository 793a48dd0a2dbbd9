"""Every button label fits WhatsApp's limits as written in every catalog, without being cut:
at most 20 characters on a question of up to three choices (reply buttons), 24 on a longer one
(a list). Telegram and Viber take longer labels; WhatsApp's are the tightest."""

import pytest

from dialogs.intake import OPTIONS
from dialogs.languages import LANGUAGES, NAMES
from dialogs.replies import Text

from bot.channels.whatsapp import MAX_BUTTON_TITLE, MAX_ROW_TITLE, size
from bot.config import Settings
from bot.i18n import Texts

TEXTS = Texts(Settings(_env_file=None).locales_dir)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_label_fits_as_written(lang):
    texts = TEXTS.lang(lang)
    too_long = []
    for step, options in OPTIONS.items():
        shown = len(options) + (len(LANGUAGES) - 1 if step == "consent" else 0)
        limit = MAX_BUTTON_TITLE if shown <= 3 else MAX_ROW_TITLE
        for _cid, label in options:
            rendered = texts.render(label if isinstance(label, Text) else Text(label))
            if size(rendered) > limit:
                too_long.append((step, rendered, size(rendered), limit))
    assert not too_long, too_long


def test_every_language_name_fits_a_list_row():
    assert all(size(TEXTS.render(Text(msgid))) <= MAX_ROW_TITLE for msgid in NAMES.values())
