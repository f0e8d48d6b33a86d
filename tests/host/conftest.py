"""Host fixtures: a throwaway PostgreSQL server, started by the tests and removed after."""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_databases = itertools.count(1)


def _pg_bin() -> Path | None:
    """Folder of initdb/pg_ctl: pg_config's, else Debian's newest, else PATH's."""
    found = shutil.which("pg_config")
    if found:
        out = subprocess.run([found, "--bindir"], capture_output=True, text=True)
        if out.returncode == 0 and (Path(out.stdout.strip()) / "initdb").exists():
            return Path(out.stdout.strip())
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                    key=lambda p: int(Path(p).parts[-3]))
    if debian:
        return Path(debian[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a PostgreSQL server in a temporary folder (trust auth on 127.0.0.1 only).

    PostgreSQL refuses to run as root, so under root the server runs as the ``postgres``
    user (Debian's ``postgresql`` package creates it). Skips when PostgreSQL is not
    installed, except in CI (NEUROTWIN_CI set), where it fails.
    """
    bindir = _pg_bin()
    if bindir is None:
        message = "PostgreSQL is not installed (apt-get install -y postgresql)"
        if os.environ.get("NEUROTWIN_CI"):
            pytest.fail(message)
        pytest.skip(message)
    folder = Path(tempfile.mkdtemp(prefix="neurotwin-pg-"))
    data = folder / "data"
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()

    def pg(*args: str) -> None:
        subprocess.run([*as_user, *args], check=True, capture_output=True, cwd=folder)

    pg(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
       "--no-sync")
    pg(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w", "-o",
       f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=on", "start")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        pg(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_db(postgres_url: str) -> Iterator[str]:
    """A fresh, empty database on the test server; dropped after the test."""
    import psycopg

    name = f"t{os.getpid()}_{next(_databases)}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield postgres_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")



@pytest.fixture(scope="session")
def twin_models():
    """A small level-2 forecaster and level-3 edit model trained on a small virtual cohort
    (seconds, not accuracy)."""
    from host.cohort import CohortConfig, cohort, simulate
    from host.forecast import Level2Forecaster, Series
    from host.interventions import EditModel, intervention_examples

    subjects = cohort(CohortConfig(subjects=4, days=12, seed=3))
    series = [Series.from_trajectory(simulate(s)) for s in subjects]
    level2 = Level2Forecaster(hidden=8, epochs=4, max_windows=800).fit(series)
    examples, _ = intervention_examples(subjects, 6, random_state=1)
    return level2, EditModel(epochs=30).fit(level2, examples)


@pytest.fixture(scope="session")
def twin_db_template(tmp_path_factory) -> Path:
    """A database with two simulated subjects of 9 days: alice consents, bob does not."""
    from host.cohort import CohortConfig, cohort, simulate, to_events
    from host.storage import open_repository

    path = tmp_path_factory.mktemp("twin") / "template.db"
    subjects = cohort(CohortConfig(subjects=2, days=9, seed=5))
    with open_repository(path) as repo:
        for name, subject, consent in zip(("alice", "bob"), subjects, (True, False),
                                          strict=True):
            repo.set_consent(name, True)
            repo.append(to_events(simulate(subject), subject=name))
            repo.set_consent(name, consent)
    return path


@pytest.fixture
def twin_repo(tmp_path, twin_db_template):
    """A fresh copy of the two-subject database (see ``twin_db_template``)."""
    from host.storage import open_repository

    shutil.copy(twin_db_template, tmp_path / "twin.db")
    with open_repository(tmp_path / "twin.db") as repo:
        yield repo
