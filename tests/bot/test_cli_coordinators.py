"""`korak coordinators add|remove|list`, and that an added coordinator may act in the bot."""

import pytest

from bot import cli


@pytest.fixture
def korak(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no .env from elsewhere
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/k.db")
    monkeypatch.setenv("COORDINATOR_IDS", "111")
    assert cli.main(["db", "upgrade"]) == 0  # only run and db upgrade make a database
    capsys.readouterr()

    def run(*argv):
        code = cli.main(["coordinators", *argv])
        return code, capsys.readouterr().out
    return run


def test_add_list_remove(korak):
    assert korak("list") == (0, "111\t—\tCOORDINATOR_IDS\n")
    assert korak("add", "222", "--name", "Mojca") == (0, "Koordinator/ka 222 je dodan/a.\n")
    assert korak("add", "222")[1] == "Koordinator/ka 222 je že na seznamu.\n"
    assert korak("list")[1] == "111\t—\tCOORDINATOR_IDS\n222\tMojca\tbaza\n"
    code, text = korak("remove", "222")
    assert code == 0 and text.startswith("Koordinator/ka 222 je odstranjen/a.")
    assert "tudi iz skupine koordinatork" in text  # or she still sees every card
    code, text = korak("remove", "111")
    assert code == 1 and "COORDINATOR_IDS" in text and "iz skupine koordinatork" in text
    code, text = korak("remove", "333")
    assert code == 1 and "ni na seznamu" in text


def test_empty_list_says_how_to_add(korak, monkeypatch):
    monkeypatch.setenv("COORDINATOR_IDS", "")
    code, text = korak("list")
    assert code == 0 and "korak coordinators add" in text
