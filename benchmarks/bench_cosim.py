"""Co-simulation speed: events/s through ``neurotwin board`` against ``neurotwin cosim``.

    python benchmarks/bench_cosim.py [--steps 400] [--inputs 32] [--density 0.2]

For Icarus and Verilator: a one-layer network (inputs -> inputs neurons) is uploaded to the
simulated board (the RTL core behind its UART at 3 Mbaud), then one input train is streamed
and run; the run's wall time gives input events/s and output events/s, and the time the same
bytes would take on a real 3 Mbaud line gives how far the simulation is from real time.
Simulator builds are cached before timing. Writes the "cosim" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import socket
import threading
import time

import numpy as np
from report import write_section  # benchmarks/ is on sys.path when run as a script

from bridge.client import BoardClient
from bridge.cosim import CosimServer
from bridge.transport import Link
from neuro import quantise
from neuro.network import FloatLayer, FloatNetwork

LINE_BYTES_PER_S = 3_000_000 / 10  # 3 Mbaud, 8N1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(sim: str, steps: int, inputs: int, density: float) -> dict[str, float]:
    rng = np.random.default_rng(0)
    net = quantise(FloatNetwork((FloatLayer(rng.normal(0, 0.6, (inputs, inputs)), du=0.3,
                                            dv=0.2, vth=1.0),)))
    spikes = (rng.random((steps, inputs)) < density).astype(np.uint8)
    server = CosimServer(free_port(), sim=sim, log=lambda _: None)
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    link = Link(f"socket://127.0.0.1:{server.port}")
    try:
        client = BoardClient(link, timeout=1200)
        client.hello()
        client.upload(net)
        before = link.session.counters.copy()
        started = time.perf_counter()
        out = client.run(spikes)
        wall = time.perf_counter() - started
        frames = link.session.counters["frames_out"] - before["frames_out"]
        events_in = int(spikes.sum())
        events_out = int(out["spikes"].sum())
        # bytes on the line: 4 per event plus about 22 per frame (header, CRC, COBS, ACKs)
        line_s = (4 * (events_in + events_out) + 22 * 2 * frames) / LINE_BYTES_PER_S
    finally:
        link.close()
        server.stop.set()
        thread.join(timeout=60)
    return {"wall": wall, "events_in": events_in, "events_out": events_out,
            "in_per_s": events_in / wall, "all_per_s": (events_in + events_out) / wall,
            "slowdown": wall / line_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--inputs", type=int, default=32)
    parser.add_argument("--density", type=float, default=0.2)
    args = parser.parse_args()
    rows = []
    for sim in ("icarus", "verilator"):
        r = measure(sim, args.steps, args.inputs, args.density)
        rows.append(f"| {sim} | {r['events_in']} / {r['events_out']} | {r['wall']:.1f} | "
                    f"{r['in_per_s']:,.0f} | {r['all_per_s']:,.0f} | {r['slowdown']:.0f}x |")
    md = "\n".join([
        "## Co-simulation: board over cosim",
        "",
        f"Command: `python benchmarks/bench_cosim.py --steps {args.steps} --inputs "
        f"{args.inputs} --density {args.density}` (also in `nox -s bench`). One layer of "
        f"{args.inputs} neurons; the RTL core behind nt_link at 3 Mbaud, UART pins driven "
        "bit by bit by cocotb, host over TCP.",
        "",
        "| simulator | events in / out | run wall time (s) | input events/s | "
        "all events/s | slower than a real 3 Mbaud board (estimated from bytes on the line) |",
        "|---|---|---|---|---|---|",
        *rows,
    ])
    write_section("cosim", md)
    print(md)


if __name__ == "__main__":
    main()
