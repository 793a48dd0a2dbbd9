#!/usr/bin/env bash
# Sets everything up on a fresh machine with Python 3.11 and starts the bot (settings in .env).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e .
[ -f .env ] || cp .env.example .env
exec .venv/bin/korak "${@:-run}"
