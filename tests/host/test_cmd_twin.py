"""``neurotwin twin``: simulate, train, query with consent, export, delete, audit."""

from __future__ import annotations

import json

from host.cli import main


def test_twin_commands_from_simulation_to_deletion(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    db = str(tmp_path / "t.db")
    assert main(["twin", "--db", db, "simulate", "--subjects", "2", "--days", "9"]) == 0
    assert main(["twin", "--db", db, "train", "--epochs", "1", "--hidden", "8",
                 "--examples", "4"]) == 0
    capsys.readouterr()
    assert main(["twin", "--db", db, "forecast", "S000"]) == 0
    assert len(json.loads(capsys.readouterr().out)["hr_bpm"]) == 24
    assert main(["twin", "--db", db, "what-if", "S000", "--dose", "metoprolol:50@1"]) == 0
    assert json.loads(capsys.readouterr().out)["doses"][0] == {"drug": "metoprolol",
                                                               "hour": 1, "mg": 50.0}
    assert main(["twin", "--db", db, "consent", "S001", "--withdraw"]) == 0
    assert main(["twin", "--db", db, "state", "S001"]) == 3
    assert "not consented" in capsys.readouterr().err
    assert main(["twin", "--db", db, "export", "S001", "--out", "s1.json"]) == 0
    assert len(json.loads((tmp_path / "s1.json").read_text())["events"]) > 0
    assert main(["twin", "--db", db, "delete", "S001"]) == 0
    capsys.readouterr()
    assert main(["twin", "--db", db, "audit", "S001"]) == 0
    actions = [json.loads(line)["action"] for line in capsys.readouterr().out.splitlines()]
    assert actions == ["consent", "state", "export", "delete"]


def test_token_is_printed_once_and_ingest_reports(tmp_path, capsys):
    db = str(tmp_path / "t.db")
    assert main(["twin", "--db", db, "token", "dr", "--subject", "a"]) == 0
    token = capsys.readouterr().out.strip()
    assert len(token) > 30
    (tmp_path / "e.jsonl").write_text(
        '{"subject": "a", "t": 0, "kind": "state", "name": "hr_bpm", "value": 70}\n')
    assert main(["twin", "--db", db, "ingest", str(tmp_path / "e.jsonl")]) == 0
    assert "refused (no consent) 1" in capsys.readouterr().err
    assert main(["twin", "--db", "mysql://x", "audit"]) == 2
