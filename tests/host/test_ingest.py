"""Ingestion: files, an acknowledged stream that survives SIGKILL, and the edge over the bridge."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from host.ingest import EdgeIngester, ingest_file, read_events, serve_stream
from host.storage import Event, open_repository


def line(seq: int, subject: str = "a") -> bytes:
    return (json.dumps({"subject": subject, "t": 60.0 * seq, "kind": "beat", "name": "N",
                        "value": 1, "seq": seq}) + "\n").encode()


def test_jsonl_and_csv_files_are_ingested_once(tmp_path):
    (tmp_path / "e.jsonl").write_text(
        '{"subject": "a", "t": 0, "kind": "state", "name": "hr_bpm", "value": 70}\n'
        '{"subject": "a", "t": 3600, "kind": "state", "name": "hr_bpm", "value": 72}\n'
        'not json\n'
        '{"subject": "a", "t": 7200, "kind": "state", "name": "hr_bpm"}\n')
    (tmp_path / "e.csv").write_text("subject,t,kind,name,value,seq\n"
                                    "a,0,dose,metoprolol,50,7\nb,0,dose,metoprolol,25,8\n")
    with open_repository(tmp_path / "db") as repo:
        repo.set_consent("a", True)
        report = ingest_file(repo, tmp_path / "e.jsonl")
        assert (report.stored, report.duplicates) == (2, 0)
        assert [r.split(": ")[0] for r in report.rejected] == ["e.jsonl:3", "e.jsonl:4"]
        assert ingest_file(repo, tmp_path / "e.jsonl").stored == 0
        report = ingest_file(repo, tmp_path / "e.csv")
        assert (report.stored, report.refused) == (1, [8])
        assert repo.events("a", "dose")[0] == Event("a", 0, "dose", "metoprolol", 50,
                                                     "file:e.csv", 7)


def test_stream_acknowledges_each_commit(tmp_path):
    read, write = os.pipe()
    os.write(write, b"".join(line(i) for i in range(10)) + line(10, "nobody") + b"{}\n")
    os.close(write)
    out = []

    class Sink:
        def write(self, text: str) -> None:
            out.append(text)

        def flush(self) -> None:
            pass

    with open_repository(tmp_path / "db") as repo, os.fdopen(read, "rb") as infile:
        repo.set_consent("a", True)
        report = serve_stream(repo, "live", infile, Sink(), batch=4)
        assert report.stored == 10 and report.refused == [10] and len(report.rejected) == 1
        acks = [json.loads(text) for text in out]
        assert acks[-1]["ack"] == 10
        assert sum(a["stored"] for a in acks) == 10
        assert repo.cursor("live") == 9


# The ingester as a process of its own: the library call, and the command a user runs.
SERVE = ("import sys; from host.ingest import serve_stream; from host.storage import "
         "open_repository; serve_stream(open_repository(sys.argv[1]), 'live', sys.stdin.buffer, "
         "sys.stdout, batch=int(sys.argv[2]))")


def _ingester(db: Path | str, batch: int, command: bool = False) -> subprocess.Popen:
    argv = (["-m", "host.cli", "twin", "--db", str(db), "ingest", "--stdin", "--source", "live",
             "--batch", str(batch)] if command else ["-c", SERVE, str(db), str(batch)])
    return subprocess.Popen([sys.executable, *argv], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_sigkill_mid_stream_loses_no_acknowledged_event(tmp_path, request, database):
    total = 8000
    db = tmp_path / "twin.db" if database == "sqlite" else request.getfixturevalue("postgres_db")
    with open_repository(db) as repo:
        repo.set_consent("a", True)
    proc = _ingester(db, batch=25)
    acked = [-1]
    killed = threading.Event()

    def read_acks() -> None:
        for text in proc.stdout:
            acked[0] = max(acked[0], json.loads(text)["ack"])
            if acked[0] >= 1500 and not killed.is_set():
                # Mid-stream: more is in the pipe and more is being written.
                os.kill(proc.pid, signal.SIGKILL)
                killed.set()

    reader = threading.Thread(target=read_acks)
    reader.start()
    sent = 0
    try:
        while sent < total and not killed.is_set():
            proc.stdin.write(b"".join(line(i) for i in range(sent, sent + 40)))
            proc.stdin.flush()
            sent += 40
            time.sleep(0.001)
    except BrokenPipeError:
        pass
    reader.join(30)
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    assert 1500 <= acked[0] < sent <= total, "the kill must land mid-stream"
    with open_repository(db) as repo:
        stored = {e.seq for e in repo.events("a")}
        assert set(range(acked[0] + 1)) <= stored
        resume = repo.cursor("live") + 1
    # The sender resends everything not acknowledged (some of it is stored already).
    proc = _ingester(db, batch=1000, command=True)
    out, _ = proc.communicate(b"".join(line(i) for i in range(acked[0] + 1, total)), 60)
    assert proc.returncode == 0
    assert json.loads(out.splitlines()[-1])["ack"] == total - 1
    with open_repository(db) as repo:
        assert sorted(e.seq for e in repo.events("a")) == list(range(total))
    assert resume > acked[0]


class FakeBoard:
    """A board client whose network echoes its input: output spike = input spike."""

    def __init__(self) -> None:
        self.runs: list[int] = []

    def run(self, spikes: np.ndarray) -> dict[str, np.ndarray]:
        self.runs.append(spikes.shape[0])
        return {"spikes": spikes.copy()}


def beats(out: np.ndarray, start: int) -> list[Event]:
    return [Event("a", (start + t) / 360, "beat", "N", 1, "edge", start + t)
            for t in np.flatnonzero(out[:, 0])]


def test_edge_ingester_commits_chunk_by_chunk_and_resumes(tmp_path):
    spikes = np.zeros((1000, 1), np.uint8)
    spikes[::50] = 1
    with open_repository(tmp_path / "db") as repo:
        repo.set_consent("a", True)
        board = FakeBoard()
        ingester = EdgeIngester(repo, board, beats, chunk_steps=300, warmup_steps=30)
        report, out = ingester.run(spikes[:600])
        assert report.stored == 12 and board.runs == [300, 330]
        np.testing.assert_array_equal(out, spikes[:600])
        resume = repo.cursor("edge") + 1
        report, _ = ingester.run(spikes, resume_from=resume)
        assert (report.stored, report.duplicates) == (8, 6)
        assert [e.seq for e in repo.events("a")] == list(range(0, 1000, 50))


def test_edge_ingester_over_the_bridge(tmp_path):
    from bridge.client import BoardClient
    from bridge.transport import Link
    from neuro import FloatLayer, FloatNetwork, quantise

    net = quantise(FloatNetwork((FloatLayer(np.array([[4.0]]), du=1.0, dv=1.0, vth=1.0),)))
    spikes = np.zeros((720, 1), np.uint8)
    spikes[100::90] = 1
    link = Link("virtual://reference")
    try:
        client = BoardClient(link, timeout=30)
        client.hello()
        client.upload(net)
        with open_repository(tmp_path / "db") as repo:
            repo.set_consent("a", True)
            report, out = EdgeIngester(repo, client, beats, chunk_steps=360,
                                       warmup_steps=36).run(spikes)
            assert report.stored == out[:, 0].sum() == 7
    finally:
        link.close()


@pytest.mark.parametrize("suffix", [".txt", ".npz"])
def test_unknown_file_type_is_refused(tmp_path, suffix):
    (tmp_path / f"e{suffix}").write_text("x")
    with pytest.raises(ValueError, match=r"jsonl or \.csv"):
        list(read_events(tmp_path / f"e{suffix}"))
