"""Ingestion: level-1 state and events into the repository, from files, streams and the bridge.

Durability rule: an event is acknowledged only after the transaction that stores it has
committed, and storing is idempotent (``(source, seq)`` is unique), so a sender that resends
whatever was not acknowledged after a crash of the ingester loses nothing and duplicates
nothing.

- :func:`read_events` / :func:`ingest_file` — JSON lines (``.jsonl``) or CSV files of events
  (``subject, t, kind, name, value[, seq]``; seq defaults to the line number).
- :func:`serve_stream` — a long-running ingester: JSON lines in (a pipe, a socket), one
  acknowledgement line out per committed batch (``{"ack": seq, ...}``: every event of the
  stream up to ``seq`` is stored, or was refused and is listed). ``neurotwin twin ingest
  --stdin`` runs it.
- :class:`EdgeIngester` — live from the edge over the bridge: a :class:`~bridge.client.
  BoardClient` on any link URL (``virtual://reference``, ``socket://`` co-simulation, a
  serial board) runs the edge network on chunks of spikes; each chunk's output spikes are
  decoded into events (beats with their sample index as ``seq``) and committed before the next
  chunk is sent, so a restarted ingester resumes after :meth:`Repository.cursor`.
"""

from __future__ import annotations

import csv
import json
import os
import select
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from host.storage import ConsentError, Event, Repository

FIELDS = ("subject", "t", "kind", "name", "value", "seq")


@dataclass
class IngestReport:
    """What one ingestion did: events read, newly stored, already stored, the ``seq`` of those
    refused (subject without consent) and the reasons for those rejected (malformed)."""

    read: int = 0
    stored: int = 0
    duplicates: int = 0
    refused: list[int] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)

    def add(self, other: IngestReport) -> None:
        self.read += other.read
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.refused += other.refused
        self.rejected += other.rejected


def parse_event(record: dict[str, Any], source: str, default_seq: int) -> Event:
    """An :class:`Event` from a JSON object or CSV row; ``source`` unless the record names one."""
    missing = [k for k in ("subject", "t", "kind", "name", "value") if record.get(k) in (None, "")]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    seq = record.get("seq")
    return Event(str(record["subject"]), float(record["t"]), str(record["kind"]),
                 str(record["name"]), float(record["value"]),
                 str(record.get("source") or source),
                 int(seq) if seq not in (None, "") else default_seq)


def read_events(path: str | Path, source: str | None = None,
                rejected: list[str] | None = None) -> Iterator[Event]:
    """Events of a ``.jsonl`` or ``.csv`` file; malformed lines go to ``rejected`` (with the
    line number) instead of raising. ``source`` defaults to ``file:<file name>``."""
    path = Path(path)
    source = source or f"file:{path.name}"
    rejected = rejected if rejected is not None else []
    with path.open(newline="") as f:
        if path.suffix == ".csv":
            rows: Iterable[tuple[int, dict[str, Any] | str]] = (
                (i + 2, row) for i, row in enumerate(csv.DictReader(f)))
        elif path.suffix in (".jsonl", ".ndjson", ".json"):
            rows = ((i + 1, line) for i, line in enumerate(f) if line.strip())
        else:
            raise ValueError(f"{path}: ingest reads .jsonl or .csv files")
        for line, row in rows:
            try:
                record = json.loads(row) if isinstance(row, str) else row
                yield parse_event(record, source, line)
            except (ValueError, TypeError, AttributeError) as exc:
                rejected.append(f"{path.name}:{line}: {exc}")


def commit(repository: Repository, events: list[Event]) -> IngestReport:
    """Store a batch, leaving out (and counting) events of subjects without consent."""
    report = IngestReport(read=len(events))
    allowed = {s: repository.consent(s) for s in {e.subject for e in events}}
    keep = [e for e in events if allowed[e.subject]]
    report.refused = [e.seq for e in events if not allowed[e.subject]]
    try:
        stored = repository.append(keep)
    except ConsentError:  # consent withdrawn since the check: check again
        again = commit(repository, keep)
        again.read, again.refused = len(events), report.refused + again.refused
        return again
    report.stored, report.duplicates = stored, len(keep) - stored
    return report


def ingest_file(repository: Repository, path: str | Path, source: str | None = None,
                batch: int = 5000) -> IngestReport:
    """Store every event of a file, in committed batches; running it again adds nothing."""
    report = IngestReport()
    events: list[Event] = []
    for event in read_events(path, source, report.rejected):
        events.append(event)
        if len(events) >= batch:
            report.add(commit(repository, events))
            events = []
    report.add(commit(repository, events))
    return report


def serve_stream(repository: Repository, source: str, infile: IO[bytes], outfile: IO[str],
                 batch: int = 1000, idle_s: float = 0.05) -> IngestReport:
    """Ingest JSON-line events from ``infile`` until it ends, acknowledging after each commit.

    Whatever has arrived is committed when ``batch`` events are waiting or the input has been
    quiet for ``idle_s`` seconds; then one line goes to ``outfile``:
    ``{"ack": <highest seq of the batch>, "stored": n, "duplicates": n, "refused": [seq...],
    "rejected": [reason...]}``. Events carry ``seq`` (required) and optionally ``source``.
    """
    fd = infile.fileno()
    total = IngestReport()
    pending: list[Event] = []
    rejected: list[str] = []
    buffer = b""
    line_no = 0

    def flush() -> None:
        nonlocal pending, rejected
        if not pending and not rejected:
            return
        report = commit(repository, pending)
        report.rejected = rejected
        message = {"ack": max((e.seq for e in pending), default=-1),
                   "stored": report.stored, "duplicates": report.duplicates,
                   "refused": report.refused, "rejected": rejected}
        outfile.write(json.dumps(message) + "\n")
        outfile.flush()
        total.add(report)
        pending, rejected = [], []

    while True:
        ready, _, _ = select.select([fd], [], [], idle_s)
        if not ready:
            flush()
            continue
        chunk = os.read(fd, 1 << 16)
        lines = (buffer + chunk).split(b"\n")
        buffer = lines.pop() if chunk else b""
        for raw in lines:
            line_no += 1
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
                if "seq" not in record:
                    raise ValueError("missing seq")
                pending.append(parse_event(record, source, line_no))
            except (ValueError, TypeError, AttributeError) as exc:
                rejected.append(f"line {line_no}: {exc}")
        if len(pending) >= batch or not chunk:
            flush()
        if not chunk:
            return total


# -- live from the edge over the bridge -----------------------------------------------------

# Decodes one chunk's output spikes [steps, outputs] (the chunk starting at sample ``start``)
# into events.
SpikeDecoder = Callable[[np.ndarray, int], list[Event]]


@dataclass
class EdgeIngester:
    """Runs an edge network on a board over the bridge, chunk by chunk, and stores what it
    reports.

    Args:
        repository: where the events go.
        client: a connected :class:`~bridge.client.BoardClient` with the network uploaded.
        decode: output spikes of a chunk -> events (their ``seq`` must be deterministic, e.g.
            the sample index of a beat, so that a chunk run twice stores nothing twice).
        chunk_steps: input steps per RUN.
        warmup_steps: steps of the previous chunk run again before each chunk so the neurons
            are in their running state; their outputs are discarded.
    """

    repository: Repository
    client: Any
    decode: SpikeDecoder
    chunk_steps: int = 3600
    warmup_steps: int = 360

    def chunks(self, n_steps: int) -> list[tuple[int, int]]:
        return [(s, min(s + self.chunk_steps, n_steps))
                for s in range(0, n_steps, self.chunk_steps)]

    def run(self, spikes: np.ndarray, resume_from: int = 0,
            progress: Callable[[int, int], None] | None = None) -> tuple[IngestReport,
                                                                        np.ndarray]:
        """Stream ``spikes`` [steps, inputs] from step ``resume_from``; returns the report and
        the output spikes [steps, outputs] (zeros before ``resume_from``)."""
        outputs: np.ndarray | None = None
        report = IngestReport()
        for start, stop in self.chunks(spikes.shape[0]):
            if stop <= resume_from:
                continue
            begin = max(0, start - self.warmup_steps)
            out = self.client.run(spikes[begin:stop])["spikes"][start - begin:]
            if outputs is None:
                outputs = np.zeros((spikes.shape[0], out.shape[1]), np.uint8)
            outputs[start:stop] = out
            report.add(commit(self.repository, self.decode(out, start)))
            if progress:
                progress(stop, spikes.shape[0])
        return report, outputs if outputs is not None else np.zeros((spikes.shape[0], 0),
                                                                    np.uint8)

