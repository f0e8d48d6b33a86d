"""Reference, Lava and Brian2 side by side on one network; writes docs/benchmarks.md.

Network 64-256-256-5 with seeded random weights, Bernoulli input at 10 % per step, batch 1 and
64. Synaptic operations are counted as dense multiply-accumulates: per step and stream,
inputs x neurons summed over layers (64*256 + 256*256 + 256*5 = 83 200), whether or not the
presynaptic neuron spiked. All backends run the same network and input in one process run,
so the ratios compare like with like on the same (noisy) machine.

    python benchmarks/bench_backends.py [--steps 10000] [--slow-steps 1000] [--slow-streams 2]

Lava and Brian2 are two to three orders of magnitude slower, so they run ``--slow-steps``
steps on at most ``--slow-streams`` streams and their time is scaled to the full size (their
cost is linear in steps and streams). Lava runs in a separate Python 3.10 process and is timed
inside the worker (``run`` only, excluding interpreter start and compilation); Brian2 is timed
after a warm-up run that compiles its code.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import sys
import time

import numpy as np
from report import write_section  # benchmarks/ is on sys.path when run as a script

from neuro import FixedLayer, FixedNetwork, run
from neuro.backends.lava_host import run_many

SIZES = (64, 256, 256, 5)


def bench_network(seed: int = 0) -> FixedNetwork:
    rng = np.random.default_rng(seed)
    return FixedNetwork(tuple(
        FixedLayer(rng.integers(-128, 128, (n_out, n_in)), weight_exp=0, du=400, dv=300,
                   vth=2000)
        for n_in, n_out in itertools.pairwise(SIZES)
    ))


def synops_per_step(batch: int) -> int:
    return batch * sum(a * b for a, b in itertools.pairwise(SIZES))


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--slow-steps", type=int, default=1_000)
    parser.add_argument("--slow-streams", type=int, default=2)
    args = parser.parse_args()
    net = bench_network()
    rng = np.random.default_rng(1)
    rows = []
    for batch in (1, 64):
        spikes = (rng.random((batch, args.steps, SIZES[0])) < 0.1).astype(np.uint8)
        run(net, spikes[:, :50])  # loads (or compiles) the reference's compiled engine
        t_ref = timed(lambda s=spikes: run(net, s))
        streams = min(batch, args.slow_streams)
        scale = batch * args.steps / (streams * args.slow_steps)
        slow_in = spikes[:streams, : args.slow_steps]
        # Brian2's two runtime targets: numpy (no compiler) and cython (its default where a
        # compiler exists), which compiles on first use, so each is warmed up first.
        t_b2 = {}
        for target in ("numpy", "cython"):
            run(net, slow_in[:, :50], "brian2", target=target, record=False)
            t_b2[target] = scale * timed(
                lambda s=slow_in, tg=target: run(net, s, "brian2", target=tg, record=False))
        _, info = run_many([net], [slow_in])
        t_lava = scale * info["seconds"]
        slow = f"{streams} stream(s) x {args.slow_steps} steps, scaled"
        for name, seconds, note in (
            ("reference", t_ref, "all steps and streams, all state recorded"),
            ("brian2 (numpy)", t_b2["numpy"], f"spikes recorded; {slow}"),
            ("brian2 (cython)", t_b2["cython"], f"spikes recorded; {slow}"),
            ("lava", t_lava, f"{info['run_cfg']}, all state recorded; {slow}"),
        ):
            rows.append((batch, name, seconds, args.steps / seconds * 1.0,
                         synops_per_step(batch) * args.steps / seconds, t_ref, note))
        print(f"batch {batch}: reference {t_ref:.2f} s, brian2 {t_b2}, "
              f"lava {t_lava:.1f} s (scaled)", file=sys.stderr)
    lines = [
        "## Backends: reference vs Lava vs Brian2",
        "",
        f"Network {'-'.join(map(str, SIZES))}, {args.steps} steps, input spike probability 0.1 "
        "per step. Synaptic ops are dense multiply-accumulates (inputs x neurons per layer, "
        "per step and stream). Machine: "
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}; "
        "one process, numpy on one core; load average at the end of the run: "
        f"{os.getloadavg()[0]:.1f} (other jobs share the machine; the ratios come from "
        "one run).",
        "",
        "Command: `nox -s bench` (runs `python benchmarks/bench_backends.py`).",
        "",
        "| batch | backend | seconds | steps/s | synaptic ops/s | reference speed-up | how |",
        "|---|---|---|---|---|---|---|",
    ]
    for batch, name, seconds, sps, ops, t_ref, note in rows:
        lines.append(f"| {batch} | {name} | {seconds:.2f} | {sps:,.0f} | {ops:.3g} | "
                     f"{seconds / t_ref:.1f}x | {note} |")
    lines += ["", "Speed-up = backend seconds / reference seconds in the same run.", ""]
    write_section("backends", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
