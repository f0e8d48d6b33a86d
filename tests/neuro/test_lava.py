"""Lava (``fixed_pt`` process models) reproduces the reference bit for bit.

Runs in the ``lava`` nox session (Python 3.10 with lava-nc); ``NEUROTWIN_LAVA_PYTHON`` names
the interpreter that runs the Lava worker. The full sweep is sized by ``NEUROTWIN_LAVA_NETWORKS``
(default 200) and ``NEUROTWIN_LAVA_STEPS`` (default 500).
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from neuro import run, write_network
from neuro.backends.lava_host import run_many
from neuro.backends.reference import synaptic_drive
from neuro.random_networks import random_network, random_spikes

pytestmark = pytest.mark.lava

N_NETWORKS = int(os.environ.get("NEUROTWIN_LAVA_NETWORKS", "200"))
STEPS = int(os.environ.get("NEUROTWIN_LAVA_STEPS", "500"))
CHUNK = 10


def first_difference(ref, got) -> str | None:
    for key, want in ref.arrays().items():
        have = got.arrays()[key]
        if have.shape != want.shape:
            return f"{key}: shape {have.shape} != {want.shape}"
        bad = np.argwhere(have != want)
        if len(bad):
            idx = tuple(bad[0])
            return f"{key} at [batch, step, neuron] {idx}: lava {have[idx]}, reference {want[idx]}"
    return None


def check_seeds(seeds: list[int]) -> list[str]:
    nets = [random_network(s) for s in seeds]
    inputs = [random_spikes(s, n.n_inputs, STEPS) for n, s in zip(nets, seeds, strict=True)]
    records, _ = run_many(nets, inputs)
    failures = []
    for seed, net, spikes, rec in zip(seeds, nets, inputs, records, strict=True):
        diff = first_difference(run(net, spikes), rec)
        if diff:
            failures.append(f"seed {seed} (random_network({seed}), {STEPS} steps): {diff}")
    return failures


def test_random_networks_are_bit_exact_against_the_reference():
    seeds = list(range(N_NETWORKS))
    chunks = [seeds[i:i + CHUNK] for i in range(0, len(seeds), CHUNK)]
    # Two workers: Lava's processes mostly wait on each other, so the two cores overlap.
    with ThreadPoolExecutor(max_workers=2) as pool:
        failures = [f for chunk in pool.map(check_seeds, chunks) for f in chunk]
    assert not failures, "\n".join(failures)


def test_sweep_reaches_the_state_limits():
    """The sweep is only a proof if it drives u into its 24-bit wrap, v into saturation and
    some inputs past 2**24 per step, where Lava's int32 words wrap too."""
    wrapped = saturated = int32 = silent = 0
    for seed in range(N_NETWORKS):
        net = random_network(seed)
        spikes = random_spikes(seed, net.n_inputs, STEPS)
        rec = run(net, spikes)
        saturated += any(np.abs(v).max() == 2**23 - 1 for v in rec.v)
        wrapped += any(np.abs(np.diff(u.astype(np.int64), axis=1)).max(initial=0) > 2**23
                       for u in rec.u)
        layer_inputs = [spikes, *rec.spikes[:-1]]
        int32 += any(np.abs(synaptic_drive(layer, s)).max() >= 2**24
                     for layer, s in zip(net.layers, layer_inputs, strict=True))
        silent += rec.output.sum() == 0
    assert saturated >= 10 and wrapped >= 5 and int32 >= 5, (saturated, wrapped, int32)
    assert silent < N_NETWORKS // 2


def test_batched_input_runs_each_stream(tmp_path):
    net = random_network(3, max_layers=2, max_neurons=16)
    spikes = random_spikes(3, net.n_inputs, steps=60, batch=2)
    assert first_difference(run(net, spikes), run(net, spikes, "lava")) is None


def test_cli_backend_lava_writes_the_same_file_as_reference(tmp_path):
    net = random_network(21)
    write_network(tmp_path / "net.nir", net)
    np.savez(tmp_path / "in.npz", spikes=random_spikes(21, net.n_inputs, 120)[0].astype(int))
    outs = {}
    for backend in ("reference", "lava"):
        out = tmp_path / f"{backend}.npz"
        subprocess.run(
            [sys.executable, "-m", "host.cli", "run", "--model", str(tmp_path / "net.nir"),
             "--input", str(tmp_path / "in.npz"), "--backend", backend, "--out", str(out)],
            check=True,
        )
        outs[backend] = np.load(out)
    assert sorted(outs["lava"].files) == sorted(outs["reference"].files)
    for key in outs["reference"].files:
        np.testing.assert_array_equal(outs["lava"][key], outs["reference"][key], err_msg=key)
