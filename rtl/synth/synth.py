"""iCE40 UP5K builds: yosys synth_ice40, nextpnr-ice40, icepack.

Synthesises a top, places and routes it for the UP5K (SG48 package) at a target clock, packs
the bitstream and reports logic cells, EBR, SPRAM, DSP and Fmax. Exits with status 1 when the
design does not fit or misses the target clock. Tops (each by default at its own clock):

* ``up5k_top``: the 256-neuron, 256-input core behind a byte-wide host bus (the core alone),
  24 MHz;
* ``up5k_link_top``: the board: the same core behind nt_link, the wire protocol on a UART at
  3 Mbaud from the 12 MHz oscillator (the bitstream ``neurotwin board`` drives on a serial
  port), 12 MHz.

    python rtl/synth/synth.py [--top up5k_top|up5k_link_top|all] [--out build/synth]
                              [--freq MHZ] [--seed 1]

Builds go to ``OUT/<top>``; ``all`` (the default) builds both.

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
CORE = ("common/nt_fifo.v", "common/nt_ram.v", "common/nt_wmem.v", "common/nt_count.v",
        "lif_core/lif_datapath.v", "lif_core/lif_core.v")
# Target clock of each top, MHz.
CLOCK = {"up5k_top": 24.0, "up5k_link_top": 12.0}
TOPS = {
    "up5k_top": (*CORE, "top/up5k_top.v"),
    "up5k_link_top": (*CORE, "link/nt_uart_rx.v", "link/nt_uart_tx.v", "link/nt_link.v",
                      "top/up5k_link_top.v"),
}
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


def build(out: Path, freq_mhz: float, seed: int, top: str = "up5k_top") -> dict:
    """Synthesise, place, route and pack; returns the report (utilisation and Fmax)."""
    for tool in ("yosys", "nextpnr-ice40", "icepack"):
        if not shutil.which(tool):
            raise RuntimeError(f"{tool} not found: apt-get install yosys nextpnr-ice40 "
                               "fpga-icestorm")
    out.mkdir(parents=True, exist_ok=True)
    netlist, asc, bitstream = out / f"{top}.json", out / f"{top}.asc", out / f"{top}.bin"
    report_path = out / "nextpnr-report.json"
    sources = " ".join(str(RTL / s) for s in TOPS[top])
    started = time.perf_counter()
    # NT_ICE40_SPRAM puts the weight memory in SB_SPRAM256KA, NT_ICE40_DSP the step and cycle
    # counters in MAC16 accumulators; -dsp maps the multipliers to MAC16 blocks.
    run(["yosys", "-q", "-l", str(out / "yosys.log"), "-p",
         f"read_verilog -DNT_ICE40_SPRAM -DNT_ICE40_DSP {sources}; "
         f"synth_ice40 -top {top} -dsp -json {netlist}"], out / "yosys.out")
    run(["nextpnr-ice40", "--up5k", "--package", "sg48", "--json", str(netlist),
         "--asc", str(asc), "--freq", str(freq_mhz), "--seed", str(seed),
         "--report", str(report_path), "--timing-allow-fail"], out / "nextpnr.log")
    run(["icepack", str(asc), str(bitstream)], out / "icepack.log")
    report = json.loads(report_path.read_text())
    fmax = min(c["achieved"] for c in report["fmax"].values())
    used = {k: report["utilization"][k]["used"] for k in CAPACITY}
    return {
        "target": "iCE40UP5K-SG48", "top": top, "target_mhz": freq_mhz, "seed": seed,
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
        f"nextpnr seed {report['seed']}, target {report['target_mhz']} MHz:",
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
    parser.add_argument("--freq", type=float, help="target clock, MHz (default: the top's)")
    parser.add_argument("--seed", type=int, default=1, help="nextpnr placement seed")
    parser.add_argument("--top", choices=[*sorted(TOPS), "all"], default="all")
    args = parser.parse_args(argv)
    ok = True
    for top in sorted(TOPS) if args.top == "all" else [args.top]:
        out = args.out / top
        report = build(out, args.freq or CLOCK[top], args.seed, top)
        (out / "report.json").write_text(json.dumps(report, indent=2))
        print(markdown(report), end="\n\n")
        ok = ok and report["fits"] and report["meets_timing"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
