"""Viber and WhatsApp have no slash commands: a text that names one reads, there, as the word
that does the same in the person's language, and that word works when typed."""

import re

import pytest

from dialogs.languages import LANGUAGES
from dialogs.understand import command_word

from bot.channels.base import COMMAND_WORDS, WordsRender, without_slashes
from bot.config import Settings
from bot.i18n import Texts, for_residents

TEXTS = Texts(Settings(_env_file=None).locales_dir)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_command_word_is_understood_as_its_command(lang):
    for command, word in COMMAND_WORDS[lang].items():
        if command != "start":  # anything a new person writes first starts the conversation
            assert command_word(word, lang) == command, (lang, word)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_resident_text_names_a_slash_command_on_viber_or_whatsapp(lang):
    texts = TEXTS.lang(lang)
    words = WordsRender(texts, lang)
    catalog = texts.catalog._catalog  # every msgid of the language (with the fallback's)
    fallback = TEXTS.catalog._catalog
    checked = 0
    for msgid in {*catalog, *fallback}:
        if not isinstance(msgid, str) or not msgid or not for_residents(msgid):
            continue
        raw = texts.catalog.gettext(msgid)
        if "{" in raw:  # a template: its slash commands are in the literal part
            raw = re.sub(r"\{[^}]*\}", "", raw)
        shown = without_slashes(raw, lang)
        assert not re.search(r"(?<![\w/])/(start|pomoc|status|izbrisi|moji_podatki|jezik|"
                             r"preklici)\b", shown), (lang, msgid, shown)
        checked += 1
    assert checked > 100
    assert "/pomoc" not in words.render(__import__("dialogs.replies").replies.Text("intake.idle"))
