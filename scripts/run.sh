#!/usr/bin/env bash
# Sets everything up on a fresh machine with Python 3.11 and starts the bot (settings in .env).
# Without BOT_TOKEN it says so in one line and starts the conversation in the terminal instead.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e .
if [ ! -f .env ]; then
  # readable by this user alone: it holds the bot token and the data key
  (umask 077 && sed "s|^DATA_KEY=\$|DATA_KEY=$(.venv/bin/korak keygen)|" .env.example > .env)
fi
chmod 600 .env
# without arguments: the bot, or (no BOT_TOKEN yet) one line on what to set and `korak chat`
if [ "$#" -eq 0 ]; then set -- run --or-chat; fi
exec .venv/bin/korak "$@"
