"""The first answer after a start (issue 23, item 5): what the first update needs is loaded
before korak takes updates, so the first resident does not wait while catalogs, the place
index, the word lists and the phone metadata load."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import sys, time
from bot.app import warm_up
from bot.config import Settings
from bot.i18n import Texts
from dialogs import places, understand
from dialogs.languages import LANGUAGES
settings = Settings(_env_file=None)
texts = Texts(settings.locales_dir, settings.locale, settings.timezone)
warm_up(texts)
assert set(texts._langs) >= set(LANGUAGES), texts._langs
assert places._data.cache_info().currsize == 1
assert understand.lexicon.cache_info().currsize >= len(understand.LANGS)
# and so a first conversation in a fresh process finds it all loaded: nothing left to read
before = set(sys.modules)
from dialogs.intake import Start, State, handle
for code in LANGUAGES:
    texts.lang(code)("intake.ask_place")
places.resolve("Ravne na Koroškem")
understand.choose("dsp", "ne", "hbs")
print(sorted(m for m in set(sys.modules) - before if not m.startswith("dialogs.intake")))
"""


def test_what_the_first_update_needs_is_loaded_before_updates_are_taken():
    proc = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]", proc.stdout  # no module left to import on first use
