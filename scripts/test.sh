#!/usr/bin/env bash
# Sets everything up on a fresh machine with Python 3.11 (and Node.js for the end-to-end tests),
# then runs the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"
if command -v npm >/dev/null 2>&1; then
  (cd tests/e2e && npm ci --silent --no-audit --no-fund)
else
  echo "npm not found: the end-to-end tests will be skipped" >&2
fi
if [ -z "${KORAK_TEST_REDIS_URL:-}" ] && ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
  echo "no Redis (KORAK_TEST_REDIS_URL unset, none on 127.0.0.1:6379): the shared-limits tests will be skipped" >&2
fi
if [ -z "${KORAK_TEST_POSTGRES_URL:-}" ]; then
  echo "KORAK_TEST_POSTGRES_URL is not set: the PostgreSQL tests will be skipped (SQLite runs)" >&2
fi
exec .venv/bin/python -m pytest -q -rs "$@"
