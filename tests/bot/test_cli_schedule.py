"""`korak schedule import` works the site out from the cohort's name, as the staff chat's upload
does (issue 22, point 11)."""

import asyncio
from datetime import date, timedelta

import pytest

from bot import cli
from storage import schedule as store
from storage.db import Database


@pytest.fixture
def korak(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no .env from elsewhere
    url = f"sqlite+aiosqlite:///{tmp_path}/k.db"
    monkeypatch.setenv("DATABASE_URL", url)
    assert cli.main(["db", "upgrade"]) == 0  # only run and db upgrade make a database
    capsys.readouterr()
    day = date.today() + timedelta(days=5)
    (tmp_path / "urnik.csv").write_text(
        "datum;zacetek;konec;naslov;kraj\n"
        f"{day.day}. {day.month}. {day.year};10.00;12.00;Uvodno srečanje;Radlje ob Dravi\n",
        encoding="utf-8")

    def run(*argv):
        code = cli.main(["schedule", "import", str(tmp_path / "urnik.csv"), *argv])
        return code, capsys.readouterr().out

    async def sites():
        db = Database(url)
        try:
            async with db.transaction() as s:
                return {c.name: c.site for c in await store.cohorts(s, None)}
        finally:
            await db.dispose()

    run.sites = lambda: asyncio.run(sites())
    return run


def test_the_site_comes_from_the_cohort_name(korak):
    code, text = korak("--cohort", "Radlje 2027/1")
    assert code == 0, text
    code, text = korak("--cohort", "SG – jesen 2027")
    assert code == 0, text
    assert korak.sites() == {"Radlje 2027/1": "radlje-ob-dravi",
                             "SG – jesen 2027": "slovenj-gradec"}


def test_a_name_without_a_site_still_needs_site(korak):
    code, text = korak("--cohort", "Jesen 2027")
    assert code == 1 and "--site" in text
    code, text = korak("--cohort", "Jesen 2027", "--site", "radlje-ob-dravi")
    assert code == 0, text
