import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("KORAK_TESTING", "1")


@pytest.fixture
def now():
    return datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)
