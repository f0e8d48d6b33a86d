"""lif_core in a chain (lif_chain_sim) against the reference simulator, bit for bit.

The coroutines drive the chain through :class:`neuro.backends.rtl_bench.Testbench` (AER driver
and monitor, configuration port, trace reader) and compare with ``neuro.backends.reference``
through its :class:`~neuro.backends.rtl_bench.Scoreboard`. The pytest functions at the end
build the chain with parameters from Python and run them on ``$SIM``.

The random sweep uses the seeded networks and inputs of the reference and Lava suites:
``NEUROTWIN_RTL_NETWORKS`` (default 50) networks of ``NEUROTWIN_RTL_STEPS`` (default 400)
steps, or the seeds listed in ``NEUROTWIN_RTL_SEEDS``, in ``NEUROTWIN_RTL_JOBS`` (default 2)
simulators at once. A failing seed is run again with a waveform, whose path the failure names.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import cocotb
import numpy as np
import pytest

from neuro import FixedLayer, FixedNetwork, run
from neuro import fixed_point as fp
from neuro.backends import crossbar_sim, rtl_sim
from neuro.backends.rtl_bench import Scoreboard, Testbench
from neuro.random_networks import random_network, random_spikes
from neuro.rtl_compile import (
    FLAGS,
    REG_CTRL,
    REG_CYCLES,
    REG_N_NEURONS,
    REG_STATUS,
    REG_STEP,
    U_BASE,
    V_BASE,
    CompileError,
    CoreGeometry,
    address,
    compile_network,
)

N_NETWORKS = int(os.environ.get("NEUROTWIN_RTL_NETWORKS", "50"))
STEPS = int(os.environ.get("NEUROTWIN_RTL_STEPS", "400"))
# The sweep's chain: two 256-neuron cores of 16 lanes hold every random_network().
SWEEP = CoreGeometry(n_neurons=256, n_inputs=256, n_layers=4, lanes=16, n_cores=2)
# The FPGA core: 4 lanes (two SPRAMs), one core, as rtl/top/up5k_top.v instantiates it.
FPGA = CoreGeometry(n_neurons=256, n_inputs=256, n_layers=4, lanes=4, n_cores=1)


async def started(dut) -> Testbench:
    tb = Testbench(dut, Path(os.environ["NEUROTWIN_RTL_TRACE"]))
    await tb.start()
    return tb


@cocotb.test()
async def random_networks_match_reference(dut):
    """Every spike and state word of the seeded sweep, the AER output and the read-backs."""
    tb = await started(dut)
    failures: dict[int, list[str]] = {}
    reached = {name: 0 for name in ("u_wrap", "v_saturated", "int32_wrap")}
    seeds = [int(s) for s in os.environ["NEUROTWIN_RTL_SEEDS"].split(",")]
    for seed in seeds:
        net = random_network(seed)
        spikes = random_spikes(seed, net.n_inputs, STEPS)
        image = compile_network(net, tb.geometry)
        result = await tb.run(image, spikes[0], checkpoints=(STEPS // 2,))
        diffs = Scoreboard().check(run(net, spikes), result)
        if diffs:
            failures[seed] = diffs
            dut._log.error("seed %d (random_network(%d), %d steps): %s", seed, seed, STEPS,
                           "; ".join(diffs))
        for name in reached:
            reached[name] += any(f >> FLAGS[name] & 1 for f in result.flags)
    report = {"failures": failures, "reached": reached, "networks": len(seeds),
              "steps": len(seeds) * STEPS}
    Path(os.environ["NEUROTWIN_RTL_REPORT"]).write_text(json.dumps(report))
    assert not failures, f"seeds that differ from the reference: {sorted(failures)}"


@cocotb.test()
async def configuration_reads_back_what_it_wrote(dut):
    tb = await started(dut)
    net = random_network(7, max_layers=3, max_neurons=40)
    image = compile_network(net, tb.geometry)
    await tb.cfg.write(image.writes)
    # Every register, bias and weight word reads back as written (not the commands: CLEAR,
    # and the flag clear through STATUS).
    local = image.writes[:, 0] & 0x1FFFF
    kept = image.writes[(local != REG_CTRL) & (local != REG_STATUS)]
    got = await tb.cfg.read(kept[:, 0])
    bad = np.flatnonzero(got != kept[:, 1])
    assert not len(bad), [(hex(a), hex(d), hex(g)) for (a, d), g in
                          zip(kept[bad[:5]].tolist(), got[bad[:5]].tolist(), strict=True)]
    # The parameters the host compiles for are those of the core.
    assert (await tb.cfg.read([REG_N_NEURONS]))[0] == tb.geometry.n_neurons
    # State words: u is 32 bits, v 24 bits read back sign-extended.
    rng = np.random.default_rng(3)
    neurons = rng.choice(tb.geometry.n_neurons, 16, replace=False)
    u = rng.integers(-(2**31), 2**31, 16)
    v = rng.integers(-(2**23), 2**23, 16)
    await tb.cfg.write(np.stack([np.concatenate([address(0, U_BASE + neurons),
                                                 address(0, V_BASE + neurons)]),
                                 np.concatenate([u, v]).astype(np.int64) & 0xFFFFFFFF], 1))
    words = await tb.cfg.read(np.concatenate([address(0, U_BASE + neurons),
                                              address(0, V_BASE + neurons)]))
    assert words.view(np.int32).tolist() == np.concatenate([u, v]).tolist()


@cocotb.test()
async def flags_report_errors_and_limits(dut):
    tb = await started(dut)
    # A layer driven into the limits: 64 inputs at full weight put 2**27 into u each step,
    # so u wraps, its slow decay lets it climb past the 32-bit word, and v saturates.
    net = FixedNetwork((FixedLayer(np.full((4, 64), 127), weight_exp=7, du=0, dv=0,
                                   vth=fp.VTH_MAX, bias_mant=-4096, bias_exp=7),))
    spikes = np.ones((30, 64), np.uint8)
    image = compile_network(net, tb.geometry)
    result = await tb.run(image, spikes)
    assert not Scoreboard().check(run(net, spikes), result)
    flags = result.flags[0]
    for name in ("u_wrap", "v_saturated", "int32_wrap"):
        assert flags >> FLAGS[name] & 1, (name, bin(flags))
    # Writing ones to STATUS clears the flags.
    await tb.cfg.write(np.array([[REG_STATUS, 0x3F]], np.uint32))
    assert (await tb.cfg.read([REG_STATUS]))[0] & 0x3F == 0
    # An input address beyond the fan-in is dropped and flagged; the run is otherwise exact.
    quiet = FixedNetwork((FixedLayer(np.arange(-8, 8).reshape(2, 8), du=10, dv=10, vth=3),))
    image = compile_network(quiet, tb.geometry)
    await tb.cfg.write(image.writes)
    tb.monitor.reset()
    await tb.aer.send([3, 200, 0x8000, 0x8000])
    await tb.monitor.wait_steps(2)
    status = (await tb.cfg.read([REG_STATUS]))[0]
    assert status >> FLAGS["addr_error"] & 1
    state = await tb.read_state(image)
    want = run(quiet, np.array([[0, 0, 0, 1, 0, 0, 0, 0], [0] * 8]))
    assert state[0][0].tolist() == want.u[0][0][1].tolist()
    # An unmapped configuration address sets config_error.
    await tb.cfg.write(np.array([[0x0FF0, 1]], np.uint32))
    assert (await tb.cfg.read([REG_STATUS]))[0] >> FLAGS["config_error"] & 1


@cocotb.test()
async def activation_port_takes_the_crossbar(dut):
    """Crossbar co-simulation: layers take their Dense outputs from neuro's crossbar model.

    The crossbar backend (neuro.backends.crossbar_sim) runs the network on simulated devices;
    its ADC words, the integer Dense outputs a of every layer and step, drive the activation
    port, and the RTL must then reproduce the crossbar backend's record exactly, for an
    ideal and for noisy devices. Each step the bench also checks that the spikes feeding a
    layer, as the RTL produced them, are those the crossbar read (the loop is closed).
    """
    tb = await started(dut)
    cases = ((11, "ideal", None), (12, "hfox", None), (13, "pcm", None), (14, "ideal", {0}))
    for seed, device, acts in cases:
        net = random_network(seed, max_layers=2, max_neurons=24)
        spikes = random_spikes(seed, net.n_inputs, 80)
        xbar = crossbar_sim.simulate(net, spikes, device, seed=seed)
        feeds = [spikes[0], *(s[0] for s in xbar.record.spikes)]

        def drive(layer: int, step: int, feeding: np.ndarray, xbar=xbar, feeds=feeds
                  ) -> np.ndarray:
            if step > 0:
                assert np.array_equal(feeding, feeds[layer][step - 1]), (layer, step)
            return xbar.activations[layer][0, step]

        layers = set(range(len(net.layers))) if acts is None else acts
        image = compile_network(net, tb.geometry, activation_layers=layers)
        result = await tb.run(image, spikes[0], drive=drive)
        diffs = Scoreboard().check(xbar.record, result)
        assert not diffs, (seed, device, layers, diffs)


@cocotb.test()
async def runs_restart_from_a_clear(dut):
    tb = await started(dut)
    net = random_network(5, max_layers=2, max_neurons=50)
    image = compile_network(net, tb.geometry)
    batch = random_spikes(5, net.n_inputs, 60, batch=2)
    ref = run(net, batch)
    for b in range(2):
        result = await tb.run(image, batch[b], configure=b == 0)
        assert not Scoreboard().check(ref, result, batch=b), b
    assert (await tb.cfg.read([REG_STEP]))[0] == 60


def cycle_model(n: int, events: int, lanes: int) -> int:
    """Cycles of one single-layer step, as docs/rtl.md derives them."""
    groups = -(-n // lanes)
    last = n - (groups - 1) * lanes
    return max(events, 1) + (groups - 1) * max(events, lanes) + last + LATENCY


# Per layer and step: setup, the A1/A2/N1 stages, the datapath's 7 stages and the
# write-back cycle, and the step's end (see docs/rtl.md).
LATENCY = 13


@cocotb.test()
async def step_cycles_follow_the_model(dut):
    """Busy cycles per step = the model, within one cycle per synaptic op + one per update."""
    tb = await started(dut)
    lanes = tb.geometry.lanes
    for n, events in ((4, 0), (16, 3), (64, 10), (256, 40), (100, 200)):
        net = FixedNetwork((FixedLayer(np.ones((n, 256), int), du=4095, dv=4095,
                                       vth=fp.VTH_MAX),))
        spikes = np.zeros((20, 256), np.uint8)
        spikes[:, :events] = 1
        image = compile_network(net, tb.geometry)
        await tb.run(image, spikes)
        cycles = (await tb.cfg.read([REG_CYCLES]))[0]
        # Step 0 integrates nothing (Dense's delay); steps 1.. integrate `events` each.
        want = cycle_model(n, 0, lanes) + 19 * cycle_model(n, events, lanes)
        assert cycles == want, (n, events, cycles, want)
        # Target: one cycle per synaptic operation and per neuron update, plus the fixed
        # cost of a layer's step (latency and the issue slot of an empty first group).
        bound = 20 * (n + LATENCY + 1) + 19 * events * n
        assert cycles <= bound, (n, events, cycles, bound)


def trace_env(bench, name: str, **env: str) -> dict:
    """Keyword arguments of bench.run for a chain run with its trace file in root/name."""
    work = bench.root / name
    return {"env": {"NEUROTWIN_RTL_TRACE": str(work / "trace.txt"),
                    "NEUROTWIN_RTL_REPORT": str(work / "report.json"), **env},
            "plusargs": (f"+trace={work / 'trace.txt'}",), "name": name}


def sweep_jobs(jobs: int) -> list[tuple[int, list[int]]]:
    """The sweep's seeds as (cores, seeds) simulator runs: grouped by the cores their network
    needs (an idle core in a longer chain still costs the simulator every clock) and split
    into ``jobs`` runs of similar work to use the machine's cores."""
    listed = os.environ.get("NEUROTWIN_RTL_SEEDS")
    seeds = [int(s) for s in listed.split(",")] if listed else list(range(N_NETWORKS))
    runs: list[tuple[int, list[int]]] = []
    by_cores: dict[int, list[tuple[int, int]]] = {}
    for seed in seeds:
        net = random_network(seed)
        work = sum(layer.weights.size + layer.n_neurons for layer in net.layers)
        by_cores.setdefault(compile_network(net, SWEEP).cores_used, []).append((work, seed))
    for cores, items in sorted(by_cores.items()):
        chunks: list[list[int]] = [[] for _ in range(min(jobs, len(items)))]
        loads = [0] * len(chunks)
        for work, seed in sorted(items, reverse=True):
            k = loads.index(min(loads))
            chunks[k].append(seed)
            loads[k] += work
        runs += [(cores, sorted(chunk)) for chunk in chunks]
    return runs


@pytest.mark.rtl
@pytest.mark.slow
def test_random_networks_are_bit_exact(bench):
    jobs = int(os.environ.get("NEUROTWIN_RTL_JOBS", "2"))
    runs = sweep_jobs(jobs)
    for cores in {c for c, _ in runs}:  # build once, before the runs share the build
        rtl_sim.build("lif_chain_sim", replace(SWEEP, n_cores=cores).parameters(), bench.sim,
                      bench.waves)

    def sweep(run_index: int) -> tuple[bool, dict]:
        cores, seeds = runs[run_index]
        name = f"sweep-{run_index}"
        kwargs = trace_env(bench, name, NEUROTWIN_RTL_SEEDS=",".join(map(str, seeds)))
        passed = bench.run("lif_chain_sim", "random_networks_match_reference",
                           replace(SWEEP, n_cores=cores).parameters(), check=False, **kwargs)
        return passed, json.loads((bench.root / name / "report.json").read_text())

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(sweep, range(len(runs))))
    failures = {int(seed): diffs for _, report in results
                for seed, diffs in report["failures"].items()}
    if failures or not all(passed for passed, _ in results):
        seed = min(failures, default=None)
        if seed is None:
            pytest.fail(f"the sweep failed without a differing seed; see {bench.root}")
        cores = next(c for c, seeds in runs if seed in seeds)
        replay = trace_env(bench, f"seed-{seed}", NEUROTWIN_RTL_SEEDS=str(seed))
        bench.run("lif_chain_sim", "random_networks_match_reference",
                  replace(SWEEP, n_cores=cores).parameters(), waves=True, check=False, **replay)
        wave = bench.waveform("lif_chain_sim", bench.root / f"seed-{seed}")
        pytest.fail(f"seeds {sorted(failures)} differ from the reference (random_network(seed),"
                    f" random_spikes(seed, n, {STEPS})); seed {seed}: {failures[seed]}; its "
                    f"waveform: {wave}", pytrace=False)
    reports = [report for _, report in results]
    networks = sum(r["networks"] for r in reports)
    steps = sum(r["steps"] for r in reports)
    reached = {k: sum(r["reached"][k] for r in reports) for k in reports[0]["reached"]}
    print(f"{networks} networks, {steps} steps bit-exact; networks reaching the limits "
          f"(RTL flags): {reached}")
    if "NEUROTWIN_RTL_SEEDS" not in os.environ and N_NETWORKS >= 50 and STEPS >= 400:
        assert networks >= 50 and steps >= 20_000
        # The sweep proves the limits only if it reaches them (as tests/neuro/test_lava.py).
        assert reached["u_wrap"] >= 5 and reached["v_saturated"] >= 5, reached


@pytest.mark.rtl
@pytest.mark.parametrize("geometry", [SWEEP, FPGA], ids=["16-lanes-2-cores", "fpga-4-lanes"])
def test_configuration_port(bench, geometry):
    bench.run("lif_chain_sim", "configuration_reads_back_what_it_wrote",
              geometry.parameters(), **trace_env(bench, "config"))


@pytest.mark.rtl
def test_flags(bench):
    bench.run("lif_chain_sim", "flags_report_errors_and_limits", FPGA.parameters(),
              **trace_env(bench, "flags"))


@pytest.mark.rtl
def test_crossbar_activation_port(bench):
    bench.run("lif_chain_sim", "activation_port_takes_the_crossbar", SWEEP.parameters(),
              **trace_env(bench, "activation"))


@pytest.mark.rtl
def test_clear_between_runs(bench):
    bench.run("lif_chain_sim", "runs_restart_from_a_clear", SWEEP.parameters(),
              **trace_env(bench, "clear"))


@pytest.mark.rtl
@pytest.mark.parametrize("geometry", [SWEEP, FPGA], ids=["16-lanes", "fpga-4-lanes"])
def test_cycles_per_step(bench, geometry):
    bench.run("lif_chain_sim", "step_cycles_follow_the_model", geometry.parameters(),
              **trace_env(bench, "cycles"))


def test_sweep_chain_holds_every_random_network():
    for seed in range(N_NETWORKS):
        try:
            compile_network(random_network(seed), SWEEP)
        except CompileError as exc:
            pytest.fail(f"seed {seed}: {exc}")
