"""Bridge figures: codec throughput, TCP loopback latency, line efficiency at 3 Mbaud.

    python benchmarks/bench_bridge.py [--frames 2000] [--pings 2000]

Writes the "bridge" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time

import numpy as np
from report import write_section  # benchmarks/ is on sys.path when run as a script

from bridge.board import event_packets
from bridge.codec import FrameDecoder, encode_frame
from bridge.protocol import EVENT_BYTES, MAX_EVENTS_PER_FRAME, Status, StatusRequest
from bridge.session import Session
from bridge.transport import Link

BAUD = 3_000_000
UART_BITS_PER_BYTE = 10  # 8N1: start + 8 data + stop


def event_stream(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.random(n) < 0.05)
    return t, rng.integers(0, 1024, n), rng.choice([-1, 1], n)


def codec_throughput(frames: int) -> dict[str, float]:
    t, x, p = event_stream(frames * MAX_EVENTS_PER_FRAME)
    packets = event_packets(t, x, p)
    start = time.perf_counter()
    wire = b"".join(encode_frame(pk, i) for i, pk in enumerate(packets))
    t_enc = time.perf_counter() - start
    start = time.perf_counter()
    decoded = FrameDecoder().feed(wire)
    t_dec = time.perf_counter() - start
    assert len(decoded) == len(packets)
    n = t.size
    return {"events": n, "encode": n / t_enc, "decode": n / t_dec,
            "efficiency": EVENT_BYTES * n / len(wire), "packets": len(packets)}


def session_line_efficiency(n: int) -> float:
    """Payload bytes over all bytes the sender puts on its line, through a Session."""
    t, x, p = event_stream(n, seed=1)
    a, b = Session(window=64), Session(window=64)
    sent = 0
    for packet in event_packets(t, x, p):
        a.send(packet)
        out = a.outgoing()
        sent += len(out)
        b.receive(out)
        a.receive(b.outgoing())
    return EVENT_BYTES * n / sent


def tcp_latency(pings: int) -> np.ndarray:
    """Round trips to a virtual board served by another process (no shared GIL)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "host.cli", "serve-board", "--port",
                               str(port)], stdout=subprocess.PIPE, text=True)
    server.stdout.readline()  # the "serving" line: the socket is listening
    link = Link(f"socket://127.0.0.1:{port}")
    rtts = []
    for _ in range(pings):
        start = time.perf_counter()
        link.send(StatusRequest())
        link.receive(lambda ps: any(isinstance(q, Status) for q in ps), 5.0)
        rtts.append(time.perf_counter() - start)
    link.close()
    server.terminate()
    server.wait(10)
    return np.array(rtts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--pings", type=int, default=2000)
    args = parser.parse_args()
    codec = codec_throughput(args.frames)
    eff = session_line_efficiency(200_000)
    rtt = tcp_latency(args.pings) * 1e6
    line_events = BAUD / UART_BITS_PER_BYTE * eff / EVENT_BYTES
    md = "\n".join([
        "## Bridge: codec, TCP latency, line efficiency",
        "",
        f"Command: `python benchmarks/bench_bridge.py --frames {args.frames} "
        f"--pings {args.pings}` (also in `nox -s bench`).",
        "",
        "| figure | value |",
        "|---|---|",
        f"| codec encode (events/s, {codec['events']} events in full frames) | "
        f"{codec['encode']:.3g} |",
        f"| codec decode (events/s) | {codec['decode']:.3g} |",
        f"| line efficiency, codec only (event bytes / line bytes) | {codec['efficiency']:.1%} |",
        f"| line efficiency through a session (acks on the return line) | {eff:.1%} |",
        f"| events/s at {BAUD / 1e6:g} Mbaud 8N1 (raw {BAUD // UART_BITS_PER_BYTE:,} B/s) | "
        f"{line_events:,.0f} |",
        f"| TCP loopback round trip, status request (p50 / p99, µs, {args.pings} pings) | "
        f"{np.percentile(rtt, 50):.0f} / {np.percentile(rtt, 99):.0f} |",
        "",
        "Line efficiency counts the bytes of the frames (header, COBS, CRC, delimiter) against "
        "the 4 bytes of each event; the UART's start and stop bits cost a further 20 % of the "
        "raw bit rate, which the events/s row includes.",
    ])
    write_section("bridge", md)
    print(md)


if __name__ == "__main__":
    main()
