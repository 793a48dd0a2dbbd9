"""`korak bench load --channel`: residents on Viber and WhatsApp go through the whole intake
through korak's listener and the platform fakes, and the figures come out as a JSON line."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("channel", ["viber", "whatsapp"])
def test_bench_load_on_a_channel_takes_every_resident_through_and_prints_figures(channel):
    proc = subprocess.run([sys.executable, "-m", "bot", "bench", "load", "--channel", channel,
                           "--residents", "4"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["channel"] == channel and result["updates"] == 4 * 11
    assert result["p99_ms"] > 0 and result["telegram_p99_ms"] > 0
    assert result["p99_vs_telegram"] == round(result["p99_ms"] / result["telegram_p99_ms"], 3)
