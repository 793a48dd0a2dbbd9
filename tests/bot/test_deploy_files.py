"""The deployment files say what README's Deploying section says: compose.yaml runs korak with
PostgreSQL 16 and Redis 7 (healthchecks, a volume for PostgreSQL, DATABASE_URL and REDIS_URL
pointing at them, `korak db upgrade` before korak starts), the Dockerfile installs the package
and runs `korak run` as a user that is not root with settings from the environment alone and a
HEALTHCHECK on /healthz, and deploy/korak.service is a unit with the settings file, a user of
its own, Restart=on-failure and a stop timeout.

This machine has no container engine (the docker client only), so the image is not built here:
the files are parsed and checked. compose.yaml is read with PyYAML when it is installed; else
with the small reader below, which takes the subset compose.yaml is written in (and is checked
against PyYAML wherever both are there)."""

from __future__ import annotations

import configparser
import http.server
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------------------ reading YAML


def _scalar(text: str):
    text = text.strip()
    if not text:
        return None
    if text.startswith("["):  # a flow list of scalars
        assert text.endswith("]"), text
        return [_scalar(part) for part in _split_flow(text[1:-1])]
    if text[0] in "\"'":
        assert text[-1] == text[0], text
        return json.loads(text) if text[0] == '"' else text[1:-1].replace("''", "'")
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return text


def _split_flow(inner: str) -> list[str]:
    parts, current, quote = [], "", None
    for ch in inner:
        if quote:
            current += ch
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote, current = ch, current + ch
        elif ch == ",":
            parts.append(current)
            current = ""
        else:
            current += ch
    if current.strip():
        parts.append(current)
    return parts


def _uncomment(line: str) -> str:
    """The line without a comment (a # at the start or after a space, outside quotes)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip()
    return line.rstrip()


def read_yaml(text: str):
    """Block mappings, block lists and scalars (plain, quoted, flow lists): the subset the
    project's compose.yaml is written in. Anything else fails loudly."""
    lines = [(len(raw) - len(raw.lstrip(" ")), raw.strip())
             for raw in (_uncomment(line) for line in text.splitlines()) if raw.strip()]
    value, end = _block(lines, 0, lines[0][0])
    assert end == len(lines), f"unread from line {end}: {lines[end:]}"
    return value


def _block(lines, i, indent):
    if lines[i][1].startswith("- "):
        out = []
        while i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("- "):
            item = lines[i][1][2:]
            assert not re.match(r"[\w.-]+:(\s|$)", item), f"mapping in a list: {item}"
            out.append(_scalar(item))
            i += 1
        return out, i
    out = {}
    while i < len(lines) and lines[i][0] == indent:
        match = re.fullmatch(r"([\w.-]+):(?:\s+(.*))?", lines[i][1])
        assert match, f"not a key: {lines[i][1]}"
        key, rest = match.group(1), match.group(2)
        assert key not in out, f"{key} twice"
        i += 1
        if rest is None and i < len(lines) and lines[i][0] > indent:
            out[key], i = _block(lines, i, lines[i][0])
        else:
            out[key] = _scalar(rest or "")
    assert i == len(lines) or lines[i][0] < indent, f"bad indentation: {lines[i]}"
    return out, i


def load_compose():
    text = (ROOT / "compose.yaml").read_text()
    ours = read_yaml(text)
    try:
        import yaml
    except ImportError:
        return ours
    assert yaml.safe_load(text) == ours  # the small reader reads it as PyYAML does
    return ours


def test_the_small_reader_reads_what_it_should():
    doc = read_yaml("""
# a comment
a:
  b: 1   # trailing
  c: "no"
  d: ["CMD", "x, y", 'z']
  e:
    - one
    - "two # not a comment"
  f:
g: text with spaces
""")
    assert doc == {"a": {"b": 1, "c": "no", "d": ["CMD", "x, y", "z"],
                         "e": ["one", "two # not a comment"], "f": None},
                   "g": "text with spaces"}


# ------------------------------------------------------------------------------ compose.yaml


@pytest.fixture(scope="module")
def compose():
    return load_compose()


def test_compose_runs_korak_with_postgresql_16_and_redis_7(compose):
    services = compose["services"]
    assert set(services) >= {"db", "redis", "migrate", "korak"}
    assert services["db"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    assert any("pg_isready" in part for part in services["db"]["healthcheck"]["test"])
    assert services["redis"]["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]


def test_postgresql_keeps_its_data_in_a_volume(compose):
    [mount] = compose["services"]["db"]["volumes"]
    volume, path = mount.split(":")[:2]
    assert path == "/var/lib/postgresql/data"
    assert volume in compose["volumes"]  # a named volume, not a folder of the host


def test_korak_points_at_them_and_upgrades_the_database_before_it_starts(compose):
    services = compose["services"]
    db_env = services["db"]["environment"]
    for name in ("migrate", "korak"):
        service = services[name]
        assert service["env_file"] == "korak.env"
        env = service["environment"]
        db = urlsplit(env["DATABASE_URL"])
        assert (db.scheme, db.hostname, db.port) == ("postgresql", "db", 5432)
        assert db.path == f"/{db_env['POSTGRES_DB']}" and db.username == db_env["POSTGRES_USER"]
        # the password is compose's variable, the same the server is made with
        assert db.password == "${POSTGRES_PASSWORD}"
        assert db_env["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD")
        redis = urlsplit(env["REDIS_URL"])
        assert (redis.scheme, redis.hostname) == ("redis", "redis")
        assert service["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["migrate"]["command"] == ["korak", "db", "upgrade"]
    assert services["migrate"]["restart"] == "no"
    korak = services["korak"]
    assert korak["command"][:2] == ["korak", "run"]
    assert korak["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert korak["depends_on"]["redis"]["condition"] == "service_healthy"
    assert korak["restart"] == "unless-stopped"
    assert services["migrate"]["image"] == korak["image"]  # the same korak


def test_no_settings_or_data_go_into_the_build_context():
    ignored = (ROOT / ".dockerignore").read_text().split()
    for name in (".env", "*.env", ".venv", ".git", "data"):
        assert name in ignored
    assert "korak.env" in (ROOT / ".gitignore").read_text().split()


# ------------------------------------------------------------------------------ the Dockerfile


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments left out."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_the_image_installs_the_package_and_runs_korak_as_a_user_of_its_own():
    steps = dockerfile()
    words = [w for w, _ in steps]
    assert steps[0] == ("FROM", "python:3.11-slim")
    copied = {Path(args.split()[0]).name for w, args in steps if w == "COPY"}
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    tops = {name.split(".")[0] for name in config["tool"]["setuptools"]["packages"]}
    assert copied >= tops | {"pyproject.toml"}, "every package of pyproject.toml is copied"
    install = next(i for i, (w, args) in enumerate(steps)
                   if w == "RUN" and re.search(r"\bpip install /tmp/korak\b", args))
    user = words.index("USER")
    assert user > install
    assert steps[user][1] not in ("root", "0")
    assert any(w == "RUN" and "useradd" in args and steps[user][1] in args for w, args in steps)
    env = " ".join(args for w, args in steps if w == "ENV")
    assert "KORAK_ENV_FILE=/dev/null" in env
    assert steps[-1] == ("CMD", '["korak", "run"]')


@pytest.fixture
def health_server():
    """/healthz on a free port of 127.0.0.1: 200, or 503 once `status` says so."""
    state = {"status": 200}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(state["status"] if self.path == "/healthz" else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], state
    server.shutdown()
    server.server_close()


def test_the_healthcheck_asks_healthz_at_health_port(health_server):
    port, state = health_server
    [(_, args)] = [(w, a) for w, a in dockerfile() if w == "HEALTHCHECK"]
    options, _, command = args.partition(" CMD ")
    assert "--interval=" in options and "--timeout=" in options
    argv = shlex.split(command)
    assert argv[:2] == ["python", "-c"] and "/healthz" in argv[2]
    env = {**os.environ, "HEALTH_PORT": str(port)}
    env.pop("HEALTH_HOST", None)

    def check(**extra) -> int:
        return subprocess.run([sys.executable, "-c", argv[2]], env={**env, **extra},
                              capture_output=True, timeout=30).returncode

    assert check() == 0
    assert check(HEALTH_HOST="0.0.0.0") == 0  # listening everywhere: asked on 127.0.0.1
    state["status"] = 503
    assert check() != 0
    assert check(HEALTH_PORT="1") != 0  # nothing there


# ------------------------------------------------------------------------------ the unit


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False,
                                       comment_prefixes=("#", ";"))
    parser.optionxform = str
    parser.read_string((ROOT / "deploy/korak.service").read_text())
    return parser


def test_the_systemd_unit():
    service = unit()["Service"]
    assert service["User"] == "korak" and service["User"] != "root"
    assert "KORAK_ENV_FILE=/etc/korak/korak.env" in service.get("Environment", "") or (
        service.get("EnvironmentFile", "").lstrip("-") == "/etc/korak/korak.env")
    assert service["ExecStart"].split()[1:] == ["run"]
    assert service["ExecStart"].split()[0].endswith("/korak")
    assert service["Restart"] == "on-failure"
    assert 10 <= int(service["TimeoutStopSec"]) <= 90
    assert unit()["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze not installed: the unit is not verified by systemd")
def test_systemd_accepts_the_unit(tmp_path):
    """systemd-analyze verify, with ExecStart pointing at this interpreter's korak (the unit's
    /opt/korak is not installed here)."""
    korak = Path(sys.executable).parent / "korak"
    if not korak.exists():
        pytest.skip(f"no korak beside {sys.executable}")
    text = (ROOT / "deploy/korak.service").read_text()
    (tmp_path / "korak.service").write_text(text.replace("/opt/korak/bin/korak", str(korak)))
    proc = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "korak.service")],
                          capture_output=True, text=True, timeout=60)
    problems = [line for line in proc.stderr.splitlines() if "korak.service" in line]
    assert proc.returncode == 0 and not problems, proc.stderr


# ------------------------------------------------------------------------------ README


def test_the_readme_names_only_commands_korak_has():
    """Every `korak WORD` in the code of README's Deploying section is a korak command (or
    korak's service, user or database name before another word)."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Deploying\n", 1)[1].split("\n## ", 1)[0]
    code = re.findall(r"```[a-z]*\n(.*?)```", section, flags=re.S)
    code += re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", section, flags=re.S))
    commands = set(re.findall(r'sub\.add_parser\(\s*"([a-z-]+)"', (ROOT / "bot/cli.py")
                              .read_text()))
    assert {"run", "db", "doctor", "keygen", "coordinators"} <= commands
    lines = [line.split(" # ")[0] for text in code for line in text.splitlines()
             if not line.startswith(("✓", "✗"))]  # commands, not their comments or output
    used = {word for line in lines for word in re.findall(r"(?<![\w.-])korak ([a-z][\w-]*)",
                                                          line)}
    assert {"run", "db", "doctor", "keygen"} <= used
    assert used - commands <= {"korak", "env"}, used - commands
    for file in ("deploy/korak.service", "compose.yaml", "Dockerfile", ".env.example"):
        assert (ROOT / file).exists() and file in section
