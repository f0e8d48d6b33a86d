"""The ``lava`` backend: Lava's LIF and Dense ``fixed_pt`` process models, run out of process.

lava-nc 0.10 runs only on Python 3.10, so this module writes the network and input to an
``.npz`` job, runs :mod:`neuro.backends.loihi.lava_process` with a Python 3.10 interpreter
that has lava-nc, and reads the recorded spikes and states back. That interpreter is, in
order: the ``lava_python`` option, the ``NEUROTWIN_LAVA_PYTHON`` environment variable, or a
virtual environment made on first use under ``~/.cache/neurotwin/lava-py310`` (override the
folder with ``NEUROTWIN_LAVA_ENV``). The worker picks ``Loihi2HwCfg`` when Intel's Loihi
extension imports and ``Loihi2SimCfg(select_tag="fixed_pt")`` otherwise.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from neuro.network import FixedNetwork
from neuro.record import Record

WORKER = Path(__file__).parent / "loihi" / "lava_process.py"
LAVA_REQUIREMENT = "lava-nc==0.10.0"


class LavaUnavailable(RuntimeError):
    """No Python 3.10 environment with lava-nc could be found or made."""


def _default_env() -> Path:
    default = Path.home() / ".cache" / "neurotwin" / "lava-py310"
    return Path(os.environ.get("NEUROTWIN_LAVA_ENV", default))


def _find_python310() -> str | None:
    found = shutil.which("python3.10")
    if found and subprocess.run([found, "-c", "pass"], capture_output=True).returncode == 0:
        return found
    pyenv_root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates = sorted(glob.glob(f"{pyenv_root}/versions/3.10*/bin/python3.10"))
    return candidates[-1] if candidates else None


def _make_env(env: Path) -> str:
    base = _find_python310()
    if base is None:
        raise LavaUnavailable(
            "the lava backend needs Python 3.10 (lava-nc 0.10 supports no other); install "
            "one (e.g. `pyenv install 3.10`) or point NEUROTWIN_LAVA_PYTHON at a Python 3.10 "
            "that has lava-nc"
        )
    print(f"making the Lava environment in {env} (first use, takes a minute)", file=sys.stderr)
    subprocess.run([base, "-m", "venv", str(env)], check=True)
    python = str(env / "bin" / "python")
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", LAVA_REQUIREMENT], check=True
    )
    return python


def lava_python(explicit: str | None = None) -> str:
    """The Python 3.10 interpreter with lava-nc, making its environment if needed."""
    chosen = explicit or os.environ.get("NEUROTWIN_LAVA_PYTHON")
    if chosen:
        return chosen
    env = _default_env()
    python = env / "bin" / "python"
    if python.exists():
        return str(python)
    return _make_env(env)


def write_job(path: Path, networks: Sequence[FixedNetwork], inputs: Sequence[np.ndarray]) -> None:
    """Write networks and their [batch, steps, inputs] spikes as a worker job file."""
    job: dict[str, np.ndarray] = {"n_networks": np.array(len(networks))}
    for k, (net, spikes) in enumerate(zip(networks, inputs, strict=True)):
        job[f"{k}/n_layers"] = np.array(len(net.layers))
        job[f"{k}/spikes"] = spikes
        for i, layer in enumerate(net.layers):
            job[f"{k}/w_{i}"] = layer.weights
            for name in ("weight_exp", "du", "dv", "vth", "bias_mant", "bias_exp"):
                job[f"{k}/{name}_{i}"] = np.asarray(getattr(layer, name))
    np.savez(path, **job)


def run_many(
    networks: Sequence[FixedNetwork],
    inputs: Sequence[np.ndarray],
    lava_python_path: str | None = None,
) -> tuple[list[Record], dict[str, object]]:
    """Run several networks in one Lava worker (one interpreter start for all of them).

    Returns the records and ``{"run_cfg": ..., "seconds": ...}`` as the worker reports them.
    """
    python = lava_python(lava_python_path)
    with tempfile.TemporaryDirectory(prefix="neurotwin-lava-") as tmp:
        job, out = Path(tmp) / "job.npz", Path(tmp) / "out.npz"
        write_job(job, networks, inputs)
        proc = subprocess.run([python, str(WORKER), str(job), str(out)],
                              capture_output=True, text=True)
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(
                f"the Lava worker ({python}) failed with exit status {proc.returncode}:\n"
                + proc.stderr[-4000:]
            )
        with np.load(out) as data:
            info = {"run_cfg": str(data["run_cfg"]), "seconds": float(data["seconds"])}
            records = [
                Record(
                    tuple(data[f"{k}/spikes_{i}"] for i in range(len(net.layers))),
                    tuple(data[f"{k}/u_{i}"] for i in range(len(net.layers))),
                    tuple(data[f"{k}/v_{i}"] for i in range(len(net.layers))),
                )
                for k, net in enumerate(networks)
            ]
    return records, info


def run(network: FixedNetwork, spikes: np.ndarray, lava_python: str | None = None) -> Record:
    """Run ``spikes`` (uint8 [batch, steps, inputs]) on Lava; one Lava run per stream."""
    records, _ = run_many([network], [spikes], lava_python)
    return records[0]
