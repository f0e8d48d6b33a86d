"""The spiking canceller's step and learning unit in Verilog, run chunk by chunk.

:func:`run_chunk` is what ``SpikingCanceller(backend="rtl")`` runs per ``fit`` or
``partial_fit``: it builds ``rtl/canceller/nt_canceller.v`` for Icarus Verilog or Verilator
(through :func:`neuro.backends.rtl_sim.build`, cached per simulator, parameters and source),
writes a job file (the unit's configuration, the stream's state and the chunk's delivered event
counts) and runs the cocotb job :func:`neuro.backends.canceller_rtl_bench.run_job`, which
resets the unit, loads the state through its state port, steps it once per sample and reads
the state back. A chunk therefore starts exactly where the previous one stopped: streaming
chunk by chunk gives the output of one call, as on the other backends.

The encoders and their rate limiter stay on the host (as on the other backends); the unit gets
their delivered signed counts, at most 127 per channel and step (8-bit ports). Each chunk
starts the simulator (about 2 s); a sample then costs 1-2.5 ms under Verilator and 5-9 ms
under Icarus (docs/ppg.md, "On the RTL").
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neuro.backends import rtl_sim

TOP = "nt_canceller"
# The state port's memories in st_sel order (rtl/canceller/nt_canceller.v).
STATE = ("m", "acc", "hc", "ht", "tr", "u", "v", "pos")
# The configuration inputs, held while the unit runs.
CONFIG = ("primary_weight", "weight_exp", "du", "vth", "threshold", "limit", "rule",
          "learning")
# Widths of nt_canceller's ports and memories that bound the canceller's hyperparameters.
COUNT_MAX = 127            # cp, cr: signed 8-bit counts per channel and step
THRESHOLD_MAX = 2**15 - 1  # counters: signed 16 bits, saturating at +-threshold


@dataclass(frozen=True)
class UnitConfig:
    """nt_canceller's parameters (its geometry) and configuration inputs."""

    n_primary: int
    n_reference: int
    taps: int
    spacing: int
    primary_weight: int
    weight_exp: int
    du: int
    vth: int
    threshold: int   # counter value of one pulse
    limit: int       # mantissa limit
    rule: int        # 0 sign-sign, 1 sign-error
    learning: bool

    def parameters(self) -> dict[str, int]:
        """The Verilog parameters."""
        return {"N_P": self.n_primary, "N_R": self.n_reference, "TAPS": self.taps,
                "SPACING": self.spacing}

    def inputs(self) -> dict[str, int]:
        """The configuration inputs, by port name."""
        return {name: int(getattr(self, name)) for name in CONFIG}


@dataclass
class ChunkResult:
    """One chunk on the RTL: records [steps, primaries, 2] (e+, e-) and what it leaves."""

    u: np.ndarray
    v: np.ndarray
    spikes: np.ndarray
    pulses: np.ndarray   # programming pulses per synapse [primaries, references, taps]
    cycles: np.ndarray   # clocks from accepting each step to its output [steps]
    state: dict[str, np.ndarray]  # the unit's state after the chunk (see run_chunk)


def run_chunk(config: UnitConfig, state: Mapping[str, np.ndarray], cp: np.ndarray,
              cr: np.ndarray, sim: str = "icarus", work_dir: Path | None = None
              ) -> ChunkResult:
    """Run delivered counts cp [P, n], cr [R, n] on nt_canceller from ``state``.

    ``state`` holds int arrays by :data:`STATE` name, in the reference kernel's layout:
    ``m`` and ``acc`` [P, R, taps] (mantissas, counters), ``hc`` and ``ht`` [R, history] (the
    delay lines of counts and of traces), ``tr`` [R] (traces), ``u`` and ``v`` [P, 2] (e+, e-)
    and ``pos`` [1] (the delay lines' slot of the last step). The returned state has the same
    layout. ``work_dir`` keeps the job, result and simulator log.
    """
    if np.abs(cp).max(initial=0) > COUNT_MAX or np.abs(cr).max(initial=0) > COUNT_MAX:
        raise ValueError(f"the RTL takes at most {COUNT_MAX} events per channel and step")
    build_dir = rtl_sim.build(TOP, config.parameters(), sim)
    flat = {name: np.asarray(state[name], np.int64).ravel() for name in STATE}
    with tempfile.TemporaryDirectory(prefix="neurotwin-canceller-") as tmp:
        work = Path(work_dir) if work_dir else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        job, result = work / "job.pkl", work / "result.npz"
        job.write_bytes(pickle.dumps({"config": config.inputs(), "state": flat,
                                      "cp": np.asarray(cp, np.int64),
                                      "cr": np.asarray(cr, np.int64)}))
        result.unlink(missing_ok=True)
        tests, failed = rtl_sim.run_cocotb(
            TOP, build_dir, "neuro.backends.canceller_rtl_bench", sim, testcase="run_job",
            work_dir=work, env={"NEUROTWIN_RTL_JOB": str(job),
                                "NEUROTWIN_RTL_RESULT": str(result)})
        if failed or not tests or not result.exists():
            log = (work / "sim.log").read_text(errors="replace").splitlines()[-40:]
            raise rtl_sim.SimulationError(f"{sim}: the canceller job failed:\n" + "\n".join(log))
        with np.load(result) as data:
            out = {k: data[k] for k in data.files}
    shapes = {name: np.shape(state[name]) for name in STATE}
    return ChunkResult(
        out["u"], out["v"], out["spikes"],
        out["pulses"].reshape(config.n_primary, config.n_reference, config.taps),
        out["cycles"], {name: out[f"state_{name}"].reshape(shapes[name]) for name in STATE})
