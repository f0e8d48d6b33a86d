"""Run fixed-point networks on Lava's LIF and Dense processes (``fixed_pt`` models).

This file is a standalone script for the Python 3.10 environment that holds lava-nc 0.10;
it imports numpy and lava only, never the ``neuro`` package, and exchanges ``.npz`` files
with :mod:`neuro.backends.lava_host`:

    python lava_process.py JOB.npz OUT.npz

``JOB.npz`` holds ``n_networks`` and, per network ``k`` and layer ``i``, the arrays
``k/spikes`` ([batch, steps, inputs] int) and ``k/w_i`` (int8 mantissas), ``k/weight_exp_i``,
``k/du_i``, ``k/dv_i``, ``k/vth_i``, ``k/bias_mant_i``, ``k/bias_exp_i``. ``OUT.npz`` holds
``k/spikes_i``, ``k/u_i`` and ``k/v_i``, each [batch, steps, neurons], plus ``run_cfg``
(the run configuration used) and ``seconds`` (wall time inside ``run``).
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from lava.magma.core.decorator import implements, requires
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyRefPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, RefPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.resources import CPU
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.dense.process import Dense
from lava.proc.io.source import RingBuffer
from lava.proc.lif.process import LIF
from lava.utils.weightutils import SignMode


def loihi2_available() -> bool:
    """True when Intel's Loihi extension (lava-loihi) imports: then run on the chip."""
    return importlib.util.find_spec("lava.magma.compiler.subcompilers.nc") is not None


def run_config():
    """Loihi2HwCfg on a machine with Loihi 2, else the bit-accurate CPU models."""
    if loihi2_available():
        from lava.magma.core.run_configs import Loihi2HwCfg

        return Loihi2HwCfg(), "Loihi2HwCfg"
    from lava.magma.core.run_configs import Loihi2SimCfg

    return Loihi2SimCfg(select_tag="fixed_pt"), "Loihi2SimCfg(select_tag='fixed_pt')"


class LayerRecorder(AbstractProcess):
    """Records one LIF layer's spikes, u and v at every step into an ``.npz`` file.

    Lava's Monitor returns its buffer through ``Var.get``, one element per channel message,
    which takes far longer than the run; this recorder writes its file itself after the
    last step instead.
    """

    def __init__(self, *, shape: tuple[int, ...], steps: int, path: str) -> None:
        super().__init__(shape=shape, steps=steps, path=path)
        self.s_in = InPort(shape=shape)
        self.u_ref = RefPort(shape=shape)
        self.v_ref = RefPort(shape=shape)


@implements(proc=LayerRecorder, protocol=LoihiProtocol)
@requires(CPU)
class PyLayerRecorderModel(PyLoihiProcessModel):
    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32)
    u_ref: PyRefPort = LavaPyType(PyRefPort.VEC_DENSE, np.int32)
    v_ref: PyRefPort = LavaPyType(PyRefPort.VEC_DENSE, np.int32)

    def __init__(self, proc_params) -> None:
        super().__init__(proc_params)
        steps, n = proc_params["steps"], proc_params["shape"][0]
        self.rec = {k: np.zeros((steps, n), np.int32) for k in ("spikes", "u", "v")}

    def run_spk(self) -> None:
        self.rec["spikes"][self.time_step - 1] = self.s_in.recv()

    def post_guard(self) -> bool:
        return True

    def run_post_mgmt(self) -> None:
        # Like Monitor: state is read after the neurons' spiking phase of this step.
        self.rec["u"][self.time_step - 1] = self.u_ref.read()
        self.rec["v"][self.time_step - 1] = self.v_ref.read()
        if self.time_step == self.proc_params["steps"]:
            np.savez(self.proc_params["path"], **self.rec)


def run_stream(
    layers: list[dict], spikes: np.ndarray, cfg, workdir: str
) -> list[dict[str, np.ndarray]]:
    """Run one input stream ([steps, inputs]) through the network; one dict per layer."""
    steps = spikes.shape[0]
    source = RingBuffer(data=spikes.T.astype(np.int32))
    port = source.s_out
    lifs, paths = [], []
    for i, p in enumerate(layers):
        # Lava's mixed-sign Dense drops the weight LSB, so an 8-bit mantissa m travels as 2m;
        # MIXED is forced so that an all-negative layer is not clipped at -255 (weightutils).
        dense = Dense(
            weights=2 * p["w"].astype(np.int32),
            weight_exp=int(p["weight_exp"]),
            num_weight_bits=8,
            sign_mode=SignMode.MIXED,
        )
        shape = (p["w"].shape[0],)
        lif = LIF(
            shape=shape,
            du=int(p["du"]),
            dv=int(p["dv"]),
            vth=int(p["vth"]),
            bias_mant=p["bias_mant"].astype(np.int32),
            bias_exp=p["bias_exp"].astype(np.int32),
        )
        port.connect(dense.s_in)
        dense.a_out.connect(lif.a_in)
        paths.append(str(Path(workdir) / f"layer{i}.npz"))
        recorder = LayerRecorder(shape=shape, steps=steps, path=paths[-1])
        lif.s_out.connect(recorder.s_in)
        recorder.u_ref.connect_var(lif.u)
        recorder.v_ref.connect_var(lif.v)
        port = lif.s_out
        lifs.append(lif)
    lifs[-1].run(condition=RunSteps(num_steps=steps), run_cfg=cfg)
    lifs[-1].stop()
    out = []
    for path in paths:
        with np.load(path) as rec:
            out.append({"spikes": rec["spikes"].astype(np.uint8), "u": rec["u"], "v": rec["v"]})
    return out


def main(job_path: str, out_path: str) -> None:
    job = np.load(job_path)
    cfg, cfg_name = run_config()
    result: dict[str, np.ndarray] = {"run_cfg": np.array(cfg_name)}
    start = time.perf_counter()
    for k in range(int(job["n_networks"])):
        n_layers = int(job[f"{k}/n_layers"])
        layers = [
            {
                name: job[f"{k}/{name}_{i}"]
                for name in ("w", "weight_exp", "du", "dv", "vth", "bias_mant", "bias_exp")
            }
            for i in range(n_layers)
        ]
        spikes = job[f"{k}/spikes"]
        with tempfile.TemporaryDirectory() as workdir:
            streams = [
                run_stream(layers, spikes[b], cfg, workdir) for b in range(spikes.shape[0])
            ]
        for i in range(n_layers):
            for var in ("spikes", "u", "v"):
                result[f"{k}/{var}_{i}"] = np.stack([s[i][var] for s in streams])
    result["seconds"] = np.array(time.perf_counter() - start)
    np.savez(out_path, **result)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
