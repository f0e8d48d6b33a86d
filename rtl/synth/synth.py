"""iCE40 UP5K build of rtl/top/up5k_top.v: yosys synth_ice40, nextpnr-ice40, icepack.

Synthesises the 256-neuron, 256-input core behind its byte-wide host bus, places and routes it
for the UP5K (SG48 package) at a target clock, packs the bitstream and reports logic cells,
EBR, SPRAM, DSP and Fmax. Exits with status 1 when the design does not fit or misses the
target clock.

    python rtl/synth/synth.py [--out build/synth] [--freq 24] [--seed 1]

Needs the Debian packages yosys, nextpnr-ice40 and fpga-icestorm.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

RTL = Path(__file__).resolve().parent.parent
SOURCES = ("common/nt_fifo.v", "common/nt_ram.v", "common/nt_wmem.v",
           "lif_core/lif_datapath.v", "lif_core/lif_core.v", "top/up5k_top.v")
TOP = "up5k_top"
# Resources of the iCE40 UP5K.
CAPACITY = {"ICESTORM_LC": 5280, "ICESTORM_RAM": 30, "ICESTORM_SPRAM": 4, "ICESTORM_DSP": 8}
NAMES = {"ICESTORM_LC": "logic cells", "ICESTORM_RAM": "EBR (4 kbit)",
         "ICESTORM_SPRAM": "SPRAM (256 kbit)", "ICESTORM_DSP": "DSP (MAC16)"}


def run(cmd: list[str], log: Path) -> None:
    """Run a tool, its output to ``log``; raise with the log's tail when it fails."""
    with log.open("w") as f:
        done = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, check=False)
    if done.returncode:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise RuntimeError(f"{cmd[0]} failed (see {log}):\n{tail}")


def build(out: Path, freq_mhz: float, seed: int) -> dict:
    """Synthesise, place, route and pack; returns the report (utilisation and Fmax)."""
    for tool in ("yosys", "nextpnr-ice40", "icepack"):
        if not shutil.which(tool):
            raise RuntimeError(f"{tool} not found: apt-get install yosys nextpnr-ice40 "
                               "fpga-icestorm")
    out.mkdir(parents=True, exist_ok=True)
    netlist, asc, bitstream = out / f"{TOP}.json", out / f"{TOP}.asc", out / f"{TOP}.bin"
    report_path = out / "nextpnr-report.json"
    sources = " ".join(str(RTL / s) for s in SOURCES)
    started = time.perf_counter()
    # NT_ICE40_SPRAM puts the weight memory in SB_SPRAM256KA; -dsp maps the decay
    # multipliers to MAC16 blocks.
    run(["yosys", "-q", "-l", str(out / "yosys.log"), "-p",
         f"read_verilog -DNT_ICE40_SPRAM {sources}; "
         f"synth_ice40 -top {TOP} -dsp -json {netlist}"], out / "yosys.out")
    run(["nextpnr-ice40", "--up5k", "--package", "sg48", "--json", str(netlist),
         "--asc", str(asc), "--freq", str(freq_mhz), "--seed", str(seed),
         "--report", str(report_path), "--timing-allow-fail"], out / "nextpnr.log")
    run(["icepack", str(asc), str(bitstream)], out / "icepack.log")
    report = json.loads(report_path.read_text())
    fmax = min(c["achieved"] for c in report["fmax"].values())
    used = {k: report["utilization"][k]["used"] for k in CAPACITY}
    return {
        "target": "iCE40UP5K-SG48", "top": TOP, "target_mhz": freq_mhz, "seed": seed,
        "fmax_mhz": round(fmax, 2), "used": used, "capacity": CAPACITY,
        "fits": all(used[k] <= CAPACITY[k] for k in CAPACITY),
        "meets_timing": fmax >= freq_mhz, "bitstream": str(bitstream),
        "bitstream_bytes": bitstream.stat().st_size,
        "seconds": round(time.perf_counter() - started, 1),
    }


def markdown(report: dict) -> str:
    """The report as a markdown table."""
    rows = [f"| {NAMES[k]} | {report['used'][k]} | {report['capacity'][k]} | "
            f"{100 * report['used'][k] / report['capacity'][k]:.0f} % |"
            for k in CAPACITY]
    return "\n".join([
        f"{report['target']}, top `{report['top']}` (256 neurons, fan-in 256, 4 lanes), "
        f"nextpnr seed {report['seed']}:",
        "",
        "| resource | used | available | share |",
        "|---|---|---|---|",
        *rows,
        "",
        f"Fmax {report['fmax_mhz']} MHz (target {report['target_mhz']} MHz: "
        f"{'met' if report['meets_timing'] else 'MISSED'}); bitstream "
        f"{report['bitstream_bytes']} bytes; build {report['seconds']} s.",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/synth"))
    parser.add_argument("--freq", type=float, default=24.0, help="target clock, MHz")
    parser.add_argument("--seed", type=int, default=1, help="nextpnr placement seed")
    args = parser.parse_args(argv)
    report = build(args.out, args.freq, args.seed)
    (args.out / "report.json").write_text(json.dumps(report, indent=2))
    print(markdown(report))
    return 0 if report["fits"] and report["meets_timing"] else 1


if __name__ == "__main__":
    sys.exit(main())
