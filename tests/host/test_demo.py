"""``neurotwin demo``: a short run writes the whole report."""

from __future__ import annotations

import json

import pytest

from host.cli import main


@pytest.mark.slow
def test_short_demo_writes_every_section(tmp_path):
    assert main(["demo", "--out", str(tmp_path), "--backends", "reference", "--seconds", "20",
                 "--quick"]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    edge = summary["edge"]
    assert edge["url"] == "virtual://reference" and edge["beats_detected"] > 20
    assert edge["sensitivity"] == 1.0 and edge["stored"] == edge["beats_detected"]
    assert summary["twin"]["available"] and len(summary["twin"]["forecast_hr_bpm"]) == 24
    assert [r["backend"] for r in summary["results"]] == ["reference"]
    page = (tmp_path / "index.html").read_text()
    for png in ("ecg.png", "forecast.png", "whatif.png", "explanation.png",
                "raster_reference.png"):
        assert (tmp_path / png).exists() and png in page
    assert "Beat classes" in page
    if not edge["classes"]["available"]:
        assert "Not available yet" in page


@pytest.mark.slow
def test_demo_streams_to_a_board_at_a_url(tmp_path):
    import socket
    import threading

    from bridge.board import VirtualBoard
    from bridge.transport import serve_tcp

    ready, stop = threading.Event(), threading.Event()
    board = VirtualBoard("reference")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    thread = threading.Thread(target=serve_tcp, args=(board.feed, port),
                              kwargs={"ready": ready, "stop": stop}, daemon=True)
    thread.start()
    ready.wait(5)
    try:
        assert main(["demo", "--out", str(tmp_path), "--backends", "reference", "--seconds",
                     "10", "--quick", "--url", f"socket://127.0.0.1:{port}"]) == 0
    finally:
        stop.set()
        thread.join(5)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["edge"]["board"] == "virtual:reference"
    assert summary["edge"]["url"].startswith("socket://")
