"""The repository: one interface, SQLite (WAL, one file) and PostgreSQL (a real server)."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from host.storage import (
    MIGRATIONS,
    SCHEMA_VERSION,
    ConsentError,
    Event,
    SQLiteRepository,
    StorageError,
    open_repository,
)


@pytest.fixture(params=["sqlite", "postgres"])
def repo(request, tmp_path):
    if request.param == "sqlite":
        url = str(tmp_path / "twin.db")
    else:
        url = request.getfixturevalue("postgres_db")
    with open_repository(url) as r:
        yield r


def hr(subject: str, hours: range, source: str = "s") -> list[Event]:
    return [Event(subject, h * 3600.0, "state", "hr_bpm", 60.0 + h, source, h) for h in hours]


def test_event_is_validated():
    with pytest.raises(ValueError, match="kind"):
        Event("a", 0, "mood", "x", 1, "s", 0)
    with pytest.raises(ValueError, match="seq"):
        Event("a", 0, "state", "x", 1, "s", -1)


def test_new_database_is_at_the_latest_schema(repo):
    assert repo.schema_version() == SCHEMA_VERSION == len(MIGRATIONS)


def test_sqlite_is_one_file_in_wal_mode(tmp_path):
    with open_repository(f"sqlite:///{tmp_path / 'one.db'}") as r:
        assert isinstance(r, SQLiteRepository)
        assert r.journal_mode() == "wal"


def test_events_round_trip_in_time_order(repo):
    repo.set_consent("a", True)
    assert repo.append(hr("a", range(5, 0, -1))) == 5
    t, v = repo.series("a", "hr_bpm")
    np.testing.assert_array_equal(t, np.arange(1, 6) * 3600.0)
    np.testing.assert_array_equal(v, 60.0 + np.arange(1, 6))
    assert repo.events("a", "state", "hr_bpm", start=2 * 3600, stop=4 * 3600)[0].value == 62


def test_the_same_event_twice_is_stored_once(repo):
    repo.set_consent("a", True)
    assert repo.append(hr("a", range(3))) == 3
    assert repo.append(hr("a", range(5))) == 2
    assert repo.count("a") == 5
    assert repo.cursor("s") == 4
    assert repo.cursor("other") == -1


def test_events_without_consent_are_refused_and_nothing_is_stored(repo):
    repo.set_consent("a", True)
    repo.set_consent("b", False)
    with pytest.raises(ConsentError, match="b"):
        repo.append(hr("a", range(2)) + hr("b", range(2), source="t"))
    with pytest.raises(ConsentError, match="c"):
        repo.append(hr("c", range(2)))
    assert repo.count() == 0


def test_tokens_are_stored_as_digests_and_grants_scope_subjects(repo):
    token = repo.add_token("dr_who", ["a"])
    assert repo.actor(token) == "dr_who"
    assert repo.actor(token + "x") is None
    assert repo.may_access("dr_who", "a") and not repo.may_access("dr_who", "b")
    admin = repo.add_token("admin", ["*"])
    assert repo.may_access(repo.actor(admin), "anyone")
    repo.revoke(token)
    assert repo.actor(token) is None
    assert all(token not in str(row) for row in repo._query("SELECT * FROM tokens"))


def test_audit_log_keeps_every_decision_in_order(repo):
    repo.audit("x", "state", "a", True)
    repo.audit("y", "forecast", "a", False, "no consent")
    repo.audit("x", "state", "b", True)
    log = repo.audit_log("a")
    assert [(r["actor"], r["action"], r["allowed"]) for r in log] == [
        ("x", "state", True), ("y", "forecast", False)]
    assert len(repo.audit_log()) == 3


def test_export_then_delete_erases_the_subject_but_not_the_audit(repo):
    repo.set_consent("a", True)
    repo.set_consent("b", True)
    repo.append(hr("a", range(4)) + hr("b", range(2), source="t"))
    repo.save_model("a", "adapter", b"\x00\x01")
    repo.grant("dr", "a")
    repo.audit("dr", "state", "a", True)
    exported = repo.export("a")
    assert exported["consent"] and len(exported["events"]) == 4
    assert exported["models"] == ["adapter"] and exported["access"] == ["dr"]
    assert repo.delete_subject("a") == 4
    assert repo.count("a") == 0 and not repo.consent("a") and repo.load_model("a", "x") is None
    assert not repo.may_access("dr", "a")
    assert repo.count("b") == 2
    assert len(repo.audit_log("a")) == 1


def test_models_are_kept_per_subject(repo):
    repo.save_model("a", "adapter", b"one")
    repo.save_model("a", "adapter", b"two")
    assert repo.load_model("a", "adapter") == b"two"
    assert repo.load_model("b", "adapter") is None


def test_old_database_is_migrated_with_its_data(tmp_path):
    # A file written by a release with only the first schema step.
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    conn.execute("INSERT INTO schema_version VALUES (1)")
    for statement in MIGRATIONS[0]:
        conn.execute(statement.format(**SQLiteRepository._ddl))
    conn.execute("INSERT INTO subjects VALUES ('a', 1, 0)")
    conn.execute("INSERT INTO events VALUES ('a', 0, 'state', 'hr_bpm', 61, 's', 0)")
    conn.commit()
    conn.close()
    with open_repository(path) as new:
        assert new.schema_version() == SCHEMA_VERSION
        assert new.series("a", "hr_bpm")[1].tolist() == [61.0]
        new.save_model("a", "m", b"x")


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "new.db"
    open_repository(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    conn.commit()
    conn.close()
    with pytest.raises(StorageError, match="newer"):
        open_repository(path)


def test_unknown_url_is_refused():
    with pytest.raises(StorageError, match="unknown database URL"):
        open_repository("mysql://x/y")
