from datetime import datetime, timezone
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def now():
    return datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)


def _redis_url():
    """KORAK_TEST_REDIS_URL, or a Redis on this machine's default port when one answers."""
    import os
    import socket
    url = os.environ.get("KORAK_TEST_REDIS_URL")
    if url:
        return url
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.3):
            return "redis://127.0.0.1:6379/0"
    except OSError:
        return None


REDIS_URL = _redis_url()


@pytest.fixture
def redis_url():
    if REDIS_URL is None:
        pytest.skip("no Redis (set KORAK_TEST_REDIS_URL): tests of shared limits skipped")
    return REDIS_URL
