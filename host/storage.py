"""Twin storage behind one small repository interface: SQLite by default, PostgreSQL by URL.

What is stored, per subject:

- **events**: level-1 state and everything that happened, one row each — ``kind`` "state"
  (a level-1 variable such as ``hr_bpm``), "beat" (a classified beat), "artefact", "dose"
  (an intervention) or "exposure"; ``name`` says which (see :data:`UNITS`), ``value`` holds
  the number in that name's unit, ``t`` the time in seconds since the Unix epoch (UTC).
  Every event carries the stream it came from (``source``) and its position in that stream
  (``seq``); ``(source, seq)`` is unique, so delivering an event twice stores it once and an
  ingester that restarts resumes after :meth:`Repository.cursor`.
- **consent**: whether the subject consents to their data being processed; events of a
  subject without consent are refused (:class:`ConsentError`).
- **access**: API tokens (stored as SHA-256 digests only) naming an actor, and grants of
  subjects to actors ("*" grants every subject).
- **models**: per-subject model state (bytes), e.g. a level-4 adapter.
- **audit**: one row per access decision: who, what, which subject, allowed or not.

:func:`open_repository` takes a path or ``sqlite:///path`` (one file in WAL mode, no server)
or a ``postgresql://`` URL (psycopg 3). The schema is versioned: :data:`MIGRATIONS` lists the
steps, each applied once in its own transaction, and ``schema_version`` records how far a
database has come; a database from a newer release is refused rather than written.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

KINDS = ("state", "beat", "artefact", "dose", "exposure")
# Unit of each known event name; other names are stored as given, unit "a.u.".
UNITS: dict[str, str] = {
    "hr_bpm": "bpm",
    "ectopy_per_h": "1/h",
    "activity": "a.u. (0 rest .. 1 vigorous)",
    "artefact_fraction": "fraction of the hour",
    "metoprolol": "mg",
    "flecainide": "mg",
    "temperature_c": "°C",
    "pm25": "µg/m³",
    "N": "beat", "S": "beat", "V": "beat", "F": "beat", "Q": "beat",
}
ALL_SUBJECTS = "*"

# Schema steps; {real}, {blob} and {serial} are filled in per database dialect. Never edit a
# released step: append a new one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE subjects (subject TEXT PRIMARY KEY, consent INTEGER NOT NULL, "
        "updated {real} NOT NULL)",
        "CREATE TABLE events (subject TEXT NOT NULL, t {real} NOT NULL, kind TEXT NOT NULL, "
        "name TEXT NOT NULL, value {real} NOT NULL, source TEXT NOT NULL, seq BIGINT NOT NULL, "
        "PRIMARY KEY (source, seq))",
        "CREATE INDEX events_by_subject ON events (subject, kind, name, t)",
        "CREATE TABLE audit (id {serial}, t {real} NOT NULL, actor TEXT NOT NULL, "
        "action TEXT NOT NULL, subject TEXT, allowed INTEGER NOT NULL, detail TEXT NOT NULL)",
    ),
    (
        "CREATE TABLE tokens (digest TEXT PRIMARY KEY, actor TEXT NOT NULL, "
        "created {real} NOT NULL)",
        "CREATE TABLE grants (actor TEXT NOT NULL, subject TEXT NOT NULL, "
        "PRIMARY KEY (actor, subject))",
        "CREATE TABLE models (subject TEXT NOT NULL, name TEXT NOT NULL, data {blob} NOT NULL, "
        "updated {real} NOT NULL, PRIMARY KEY (subject, name))",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


class StorageError(RuntimeError):
    """The database cannot be used as asked (e.g. its schema is newer than this code)."""


class ConsentError(PermissionError):
    """Data of a subject who has not consented (or withdrew consent)."""


@dataclass(frozen=True)
class Event:
    """One stored event (see the module docstring).

    Args:
        subject: subject identifier.
        t: time, s since the Unix epoch (UTC).
        kind: one of :data:`KINDS`.
        name: the variable, beat class, drug or exposure (units in :data:`UNITS`).
        value: the number, in ``name``'s unit (bpm, 1/h, mg, °C, µg/m³; 1 for a beat).
        source: the stream the event came from.
        seq: position in ``source`` (>= 0); ``(source, seq)`` identifies the event.
    """

    subject: str
    t: float
    kind: str
    name: str
    value: float
    source: str
    seq: int

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"event kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.seq < 0:
            raise ValueError(f"event seq must be >= 0, got {self.seq}")
        if not self.subject or not self.source:
            raise ValueError("event subject and source must be non-empty")
        object.__setattr__(self, "t", float(self.t))
        object.__setattr__(self, "value", float(self.value))
        object.__setattr__(self, "seq", int(self.seq))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def token_digest(token: str) -> str:
    """What is stored of an API token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


class Repository(ABC):
    """Everything the twin stores, behind one interface (SQLite or PostgreSQL)."""

    # Dialect: parameter marker and DDL fill-ins.
    _param: ClassVar[str] = "?"
    _ddl: ClassVar[dict[str, str]] = {}

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._conn = self._connect()
        self.migrate()

    # -- dialect ---------------------------------------------------------------------------

    @abstractmethod
    def _connect(self) -> Any:
        """A DB-API connection in autocommit mode (transactions are explicit)."""

    @abstractmethod
    def _begin(self, cur: Any, exclusive: bool) -> None:
        """Start a write transaction; ``exclusive`` ones (schema changes) also serialise
        against every other process."""

    @contextmanager
    def _tx(self, exclusive: bool = False) -> Iterator[Any]:
        with self._lock:
            cur = self._conn.cursor()
            self._begin(cur, exclusive)
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")

    def _sql(self, text: str) -> str:
        return text.replace("?", self._param)

    def _query(self, text: str, args: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            cur = self._conn.cursor()
            cur.execute(self._sql(text), tuple(args))
            return list(cur.fetchall())

    # -- schema ----------------------------------------------------------------------------

    def schema_version(self) -> int:
        """How many of :data:`MIGRATIONS` this database has applied."""
        rows = self._query("SELECT version FROM schema_version")
        return int(rows[0][0]) if rows else 0

    def migrate(self, to: int = SCHEMA_VERSION) -> int:
        """Apply the missing migration steps up to ``to``; returns the version reached."""
        with self._tx(exclusive=True) as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            cur.execute("SELECT version FROM schema_version")
            row = cur.fetchone()
            if row is None:
                cur.execute("INSERT INTO schema_version (version) VALUES (0)")
            version = int(row[0]) if row else 0
        if version > SCHEMA_VERSION:
            raise StorageError(f"database schema version {version} is newer than this "
                               f"release's {SCHEMA_VERSION}: upgrade neurotwin")
        while version < to:
            with self._tx(exclusive=True) as cur:
                cur.execute("SELECT version FROM schema_version")
                version = int(cur.fetchone()[0])
                if version >= to:
                    break
                for statement in MIGRATIONS[version]:
                    cur.execute(statement.format(**self._ddl))
                version += 1
                cur.execute(self._sql("UPDATE schema_version SET version = ?"), (version,))
        return version

    # -- subjects and consent --------------------------------------------------------------

    def set_consent(self, subject: str, granted: bool) -> None:
        """Record a subject's consent (creating the subject) or its withdrawal."""
        with self._tx() as cur:
            cur.execute(self._sql("DELETE FROM subjects WHERE subject = ?"), (subject,))
            cur.execute(self._sql("INSERT INTO subjects (subject, consent, updated) "
                                  "VALUES (?, ?, ?)"), (subject, int(granted), time.time()))

    def consent(self, subject: str) -> bool:
        """True when the subject is known and consents."""
        rows = self._query("SELECT consent FROM subjects WHERE subject = ?", (subject,))
        return bool(rows and rows[0][0])

    def subjects(self) -> list[str]:
        """Every known subject, sorted."""
        return [r[0] for r in self._query("SELECT subject FROM subjects ORDER BY subject")]

    # -- events ----------------------------------------------------------------------------

    def append(self, events: Sequence[Event]) -> int:
        """Store events in one transaction (all or none); returns how many were new.

        Events already stored (same ``source`` and ``seq``) are skipped, so a stream may be
        delivered again after a crash. Raises :class:`ConsentError`, storing nothing, when
        any subject lacks consent. When this returns, the events are durable.
        """
        if not events:
            return 0
        subjects = sorted({e.subject for e in events})
        with self._tx() as cur:
            marks = ", ".join(self._param for _ in subjects)
            cur.execute(f"SELECT subject FROM subjects WHERE consent = 1 AND subject IN "
                        f"({marks})", subjects)
            refused = set(subjects) - {r[0] for r in cur.fetchall()}
            if refused:
                raise ConsentError(f"no consent recorded for {', '.join(sorted(refused))}")
            cur.executemany(
                self._sql("INSERT INTO events (subject, t, kind, name, value, source, seq) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"),
                [(e.subject, e.t, e.kind, e.name, e.value, e.source, e.seq) for e in events])
            return max(cur.rowcount, 0)

    def cursor(self, source: str) -> int:
        """Highest ``seq`` stored from ``source``; -1 when none."""
        rows = self._query("SELECT MAX(seq) FROM events WHERE source = ?", (source,))
        return -1 if rows[0][0] is None else int(rows[0][0])

    def events(self, subject: str, kind: str | None = None, name: str | None = None,
               start: float | None = None, stop: float | None = None) -> list[Event]:
        """A subject's events in time order, optionally of one kind/name, with start <= t < stop."""
        where, args = ["subject = ?"], [subject]
        for column, op, value in (("kind", "=", kind), ("name", "=", name),
                                  ("t", ">=", start), ("t", "<", stop)):
            if value is not None:
                where.append(f"{column} {op} ?")
                args.append(value)
        rows = self._query("SELECT subject, t, kind, name, value, source, seq FROM events "
                           f"WHERE {' AND '.join(where)} ORDER BY t, source, seq", args)
        return [Event(*r) for r in rows]

    def series(self, subject: str, name: str, start: float | None = None,
               stop: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """One level-1 variable as arrays: times (s) and values (in ``name``'s unit)."""
        events = self.events(subject, "state", name, start, stop)
        return (np.array([e.t for e in events], float), np.array([e.value for e in events],
                                                                   float))

    def count(self, subject: str | None = None) -> int:
        """Stored events, of one subject or all."""
        if subject is None:
            return int(self._query("SELECT COUNT(*) FROM events")[0][0])
        return int(self._query("SELECT COUNT(*) FROM events WHERE subject = ?",
                               (subject,))[0][0])

    # -- access control --------------------------------------------------------------------

    def add_token(self, actor: str, subjects: Sequence[str] = ()) -> str:
        """A new API token for ``actor`` (returned once; only its digest is stored), granting
        ``subjects`` (``"*"``: all)."""
        token = secrets.token_urlsafe(32)
        with self._tx() as cur:
            cur.execute(self._sql("INSERT INTO tokens (digest, actor, created) VALUES (?, ?, ?)"),
                        (token_digest(token), actor, time.time()))
        for subject in subjects:
            self.grant(actor, subject)
        return token

    def actor(self, token: str) -> str | None:
        """The actor a token belongs to, or None for an unknown token."""
        rows = self._query("SELECT actor FROM tokens WHERE digest = ?", (token_digest(token),))
        return rows[0][0] if rows else None

    def revoke(self, token: str) -> None:
        with self._tx() as cur:
            cur.execute(self._sql("DELETE FROM tokens WHERE digest = ?"), (token_digest(token),))

    def grant(self, actor: str, subject: str) -> None:
        """Let ``actor`` reach ``subject``'s data (``"*"``: every subject)."""
        with self._tx() as cur:
            cur.execute(self._sql("INSERT INTO grants (actor, subject) VALUES (?, ?) "
                                  "ON CONFLICT DO NOTHING"), (actor, subject))

    def may_access(self, actor: str, subject: str) -> bool:
        rows = self._query("SELECT 1 FROM grants WHERE actor = ? AND subject IN (?, ?)",
                           (actor, subject, ALL_SUBJECTS))
        return bool(rows)

    # -- audit -----------------------------------------------------------------------------

    def audit(self, actor: str, action: str, subject: str | None, allowed: bool,
              detail: str = "") -> None:
        """Record one access decision."""
        with self._tx() as cur:
            cur.execute(self._sql("INSERT INTO audit (t, actor, action, subject, allowed, "
                                  "detail) VALUES (?, ?, ?, ?, ?, ?)"),
                        (time.time(), actor, action, subject, int(allowed), detail))

    def audit_log(self, subject: str | None = None) -> list[dict[str, Any]]:
        """Audit rows, oldest first, of one subject or all."""
        sql = "SELECT t, actor, action, subject, allowed, detail FROM audit"
        rows = self._query(sql + " WHERE subject = ? ORDER BY id", (subject,)) if subject \
            else self._query(sql + " ORDER BY id")
        keys = ("t", "actor", "action", "subject", "allowed", "detail")
        return [{**dict(zip(keys, r, strict=True)), "allowed": bool(r[4])} for r in rows]

    # -- per-subject models ----------------------------------------------------------------

    def save_model(self, subject: str, name: str, data: bytes) -> None:
        with self._tx() as cur:
            cur.execute(self._sql("DELETE FROM models WHERE subject = ? AND name = ?"),
                        (subject, name))
            cur.execute(self._sql("INSERT INTO models (subject, name, data, updated) "
                                  "VALUES (?, ?, ?, ?)"), (subject, name, data, time.time()))

    def load_model(self, subject: str, name: str) -> bytes | None:
        rows = self._query("SELECT data FROM models WHERE subject = ? AND name = ?",
                           (subject, name))
        return bytes(rows[0][0]) if rows else None

    # -- a subject's rights: export and deletion -------------------------------------------

    def export(self, subject: str) -> dict[str, Any]:
        """Everything stored about a subject, as plain JSON-ready data."""
        return {
            "subject": subject,
            "consent": self.consent(subject),
            "events": [e.to_dict() for e in self.events(subject)],
            "models": [r[0] for r in self._query(
                "SELECT name FROM models WHERE subject = ? ORDER BY name", (subject,))],
            "access": [r[0] for r in self._query(
                "SELECT actor FROM grants WHERE subject = ? ORDER BY actor", (subject,))],
            "audit": self.audit_log(subject),
            "units": UNITS,
        }

    def delete_subject(self, subject: str) -> int:
        """Erase a subject's events, consent, models and grants; returns the events erased.
        Audit rows stay (they record who did what, including this deletion)."""
        with self._tx() as cur:
            cur.execute(self._sql("SELECT COUNT(*) FROM events WHERE subject = ?"), (subject,))
            n = int(cur.fetchone()[0])
            for table in ("events", "subjects", "models", "grants"):
                cur.execute(self._sql(f"DELETE FROM {table} WHERE subject = ?"), (subject,))
        return n

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Repository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SQLiteRepository(Repository):
    """One SQLite file in WAL mode with full sync: a committed transaction survives a crash
    of the process (and of the machine)."""

    _ddl: ClassVar[dict[str, str]] = {
        "real": "REAL", "blob": "BLOB", "serial": "INTEGER PRIMARY KEY AUTOINCREMENT"}

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        super().__init__()

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                               timeout=30.0)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    def _begin(self, cur: sqlite3.Cursor, exclusive: bool) -> None:
        # IMMEDIATE takes the write lock at once: writers queue instead of failing later.
        cur.execute("BEGIN IMMEDIATE")

    def journal_mode(self) -> str:
        return str(self._query("PRAGMA journal_mode")[0][0])


class PostgresRepository(Repository):
    """The same schema on a PostgreSQL server (psycopg 3), for many subjects and writers."""

    _param: ClassVar[str] = "%s"
    _ddl: ClassVar[dict[str, str]] = {
        "real": "DOUBLE PRECISION", "blob": "BYTEA",
        "serial": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"}
    # Serialises schema migrations between processes (an arbitrary advisory-lock key).
    _MIGRATION_LOCK = 0x4E54_5749

    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__()

    def _connect(self) -> Any:
        import psycopg

        return psycopg.connect(self.url, autocommit=True)

    def _begin(self, cur: Any, exclusive: bool) -> None:
        cur.execute("BEGIN")
        if exclusive:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (self._MIGRATION_LOCK,))


def open_repository(url: str | Path) -> Repository:
    """A repository from a path or ``sqlite:///path`` (SQLite) or ``postgresql://...``."""
    text = str(url)
    if text.startswith(("postgresql://", "postgres://")):
        return PostgresRepository(text)
    if text.startswith("sqlite:///"):
        text = text[len("sqlite:///"):]
    elif "://" in text:
        raise StorageError(f"unknown database URL {text!r}: give a file path, sqlite:///path "
                           "or postgresql://user@host/db")
    return SQLiteRepository(text)

