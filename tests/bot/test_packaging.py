"""`pip install .` gives a whole korak: the wheel holds the catalogs (locales/**/*.mo and .po),
the place and answer data (dialogs/data/**) and the schema revisions (storage/migrations/**),
and korak run from the unpacked wheel alone, outside the project folder, answers in Slovenian,
finds places and makes its database.

The wheel is built offline (`pip wheel --no-deps --no-build-isolation --no-index`) from a copy
of the project, so nothing is written into the work tree; without the build backend in this
interpreter (setuptools>=68 and wheel, the test extras) the test is skipped and says so."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def backend_missing() -> str | None:
    """Why the build backend cannot build here, or None."""
    try:
        import setuptools
    except ImportError:
        return "setuptools is not installed"
    major = int(setuptools.__version__.split(".")[0])
    if major < 68:
        return f"setuptools {setuptools.__version__} is older than pyproject.toml's >=68"
    minor = int(setuptools.__version__.split(".")[1])
    if importlib.util.find_spec("wheel") is None and (major, minor) < (70, 1):
        return "the wheel package is not installed (setuptools < 70.1 needs it)"
    return None


def project_files() -> list[Path]:
    """What the wheel must hold, as paths relative to the project folder."""
    wanted = [*ROOT.glob("locales/*/LC_MESSAGES/messages.po"),
              *ROOT.glob("locales/*/LC_MESSAGES/messages.mo"),
              *(p for p in (ROOT / "dialogs/data").rglob("*") if p.is_file()),
              *(p for p in (ROOT / "storage/migrations").rglob("*")
                if p.is_file() and p.suffix in (".py", ".mako"))]
    return sorted(p.relative_to(ROOT) for p in wanted if "__pycache__" not in p.parts)


@pytest.fixture(scope="module")
def wheel_file(tmp_path_factory) -> Path:
    why = backend_missing()
    if why:
        pytest.skip(f"cannot build the wheel offline: {why} in {sys.executable} "
                    "(pip install -e '.[test]' brings it)")
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    src.mkdir()
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    tops = sorted({name.split(".")[0] for name in config["tool"]["setuptools"]["packages"]})
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for top in tops:
        shutil.copytree(ROOT / top, src / top, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    out = work / "dist"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "--disable-pip-version-check", "-q", "-w", str(out), str(src)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [built] = out.glob("korak-*.whl")
    return built


def test_the_wheel_holds_the_catalogs_the_data_and_the_migrations(wheel_file):
    with zipfile.ZipFile(wheel_file) as whl:
        names = set(whl.namelist())
        entry_points = next(whl.read(n).decode() for n in names
                            if n.endswith(".dist-info/entry_points.txt"))
    expected = project_files()
    assert len([p for p in expected if p.suffix == ".mo"]) >= 5  # every language
    assert any(p.parts[:3] == ("storage", "migrations", "versions") for p in expected)
    assert any(p.parts[:3] == ("dialogs", "data", "answers") for p in expected)
    missing = [str(p) for p in expected if p.as_posix() not in names]
    assert not missing, f"not in the wheel: {missing}"
    assert "korak = bot.cli:main" in entry_points


def test_korak_from_the_wheel_alone_runs_outside_the_project(wheel_file, tmp_path):
    """The unpacked wheel first on the path (this interpreter's dependencies after it), in a
    folder with no .env: Slovenian lines, places found, the database made at the head."""
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel_file) as whl:
        whl.extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KORAK_", "PYTHON"))}
    env.update(PYTHONPATH=str(site), KORAK_ENV_FILE="/dev/null",
               DATABASE_URL=f"sqlite:///{tmp_path}/korak.db")

    def korak(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bot", *args], cwd=elsewhere, env=env,
                              capture_output=True, text=True, timeout=120)

    where = subprocess.run([sys.executable, "-c", "import bot, locales; print(bot.__file__)"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, timeout=60)
    assert where.stdout.strip() == str(site / "bot" / "__init__.py"), where.stderr
    place = korak("where", "Kotlje")
    assert place.stdout.strip() == "Ravne na Koroškem (lokacija Slovenj Gradec, regija Koroška)", (
        place.stderr)
    made = korak("db", "upgrade")
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("Shema baze je posodobljena: z — na ")
    current = korak("db", "current")
    assert current.returncode == 0 and "je posodobljena" in current.stdout
    assert not (elsewhere / "data").exists()  # the database is where DATABASE_URL says
