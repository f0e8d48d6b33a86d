"""``neurotwin eval ppg``: heart rate from wrist PPG under motion, per artefact canceller.

A thin shell over :mod:`neuro.canceller_ppg`. It reads a folder laid out as the SP Cup 2015
training set (``DATA_xx_TYPEyy.mat`` with ``DATA_xx_TYPEyy_BPMtrace.mat``) or test set
(``TEST_Sxx_Tyy.mat`` with ``True_Sxx_Tyy.mat``), cleans both PPG channels of every recording,
estimates the heart rate per 8-s window (2-s step) and prints the mean absolute error,
overall (over all windows of all recordings) and per recording.

The ``eval`` command is shared with other evaluations (``eval ecg``): whichever module
registers first creates it, the others add their targets to it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import scipy.io

from neuro.backends.rtl_sim import SIMULATORS, SimulationError
from neuro.canceller_ppg import METHODS, evaluate_recording, summarise
from neuro.canceller_snn import BACKENDS
from sensors.records import (
    HR_DTYPE,
    SOURCES,
    SPC2015_FS,
    SPC2015_STEP_S,
    SPC2015_WINDOW_S,
    DataError,
    Recording,
    read_spc2015,
    sample_file,
)

TEST_CHANNELS = ("PPG1", "PPG2", "ACC_X", "ACC_Y", "ACC_Z")
TEST_UNITS = ("a.u.", "a.u.", "g", "g", "g")


def read_spc2015_test(folder: str | Path, name: str) -> Recording:
    """An SP Cup 2015 test recording ``TEST_Sxx_Tyy``: 2 PPG (a.u.) and 3-axis acceleration
    (g) at 125 Hz in ``sig``, with the heart rate per 8-s window (2-s step) in
    ``True_Sxx_Tyy.mat`` (``BPM0``)."""
    path = Path(folder) / f"{name}.mat"
    truth = path.with_name(name.replace("TEST_", "True_", 1) + ".mat")
    for file, what in ((path, "SP Cup 2015 test recording"), (truth, "its heart rate")):
        if not file.is_file():
            raise FileNotFoundError(f"{file}: no such file ({what})")
    try:
        sig = np.asarray(scipy.io.loadmat(path)["sig"], dtype=np.float64)
        bpm = np.asarray(scipy.io.loadmat(truth)["BPM0"], dtype=np.float64).ravel()
    except (KeyError, ValueError, OSError) as exc:
        raise DataError(f"{path}: cannot read 'sig' / 'BPM0' ({exc})") from exc
    if sig.ndim != 2 or sig.shape[0] != len(TEST_CHANNELS):
        raise DataError(f"{path}: 'sig' must be 5 x N (PPG1, PPG2, ACC x/y/z), got {sig.shape}")
    window = round(SPC2015_WINDOW_S * SPC2015_FS)
    step = round(SPC2015_STEP_S * SPC2015_FS)
    expected = (sig.shape[1] - window) // step + 1
    if bpm.size != expected:
        raise DataError(f"{truth}: {bpm.size} heart-rate values, but {sig.shape[1]} samples at "
                        f"125 Hz make {expected} windows of 8 s at a 2-s step")
    hr = np.empty(bpm.size, HR_DTYPE)
    hr["onset"] = np.arange(bpm.size) * SPC2015_STEP_S
    hr["offset"] = hr["onset"] + SPC2015_WINDOW_S
    hr["bpm"] = bpm
    return Recording(f"spc2015test:{name}", sig, SPC2015_FS, TEST_CHANNELS, TEST_UNITS, hr=hr,
                     info={"file": str(path), "set": "IEEE SP Cup 2015 test set"})


def find_recordings(data: str | Path) -> list[Recording]:
    """Every SP Cup 2015 recording in ``data`` (or in its ``spc2015/Training_data``-style
    sub-folders): training layout first, then test layout, each sorted by name; else the
    shipped excerpts (``spc2015_*.npz``, as in ``host/data``)."""
    root = Path(data)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such data folder")
    for folder in (root, *(root / f for f in SOURCES["spc2015"].folders)):
        train = sorted(p.stem for p in folder.glob("DATA_*.mat") if "BPM" not in p.stem)
        test = sorted(p.stem for p in folder.glob("TEST_*.mat"))
        if train or test:
            return ([read_spc2015(folder, name) for name in train]
                    + [read_spc2015_test(folder, name) for name in test])
    samples = sorted(root.glob(f"{sample_file('spc2015:*')}"))
    if samples:
        return [Recording.load(path) for path in samples]
    raise FileNotFoundError(f"{root}: no SP Cup 2015 recordings (DATA_xx_TYPEyy.mat with "
                            "_BPMtrace.mat, TEST_Sxx_Tyy.mat with True_Sxx_Tyy.mat, or sample "
                            "files spc2015_*.npz)")


def _handle(args: argparse.Namespace) -> int:
    try:
        recordings = find_recordings(args.data)
        params = {"random_state": args.seed} if args.method == "snn" else {}
        if args.method == "snn" and args.backend == "rtl":
            params["sim"] = args.sim
        results = [evaluate_recording(r, args.method, args.backend, args.device, **params)
                   for r in recordings]
    except (OSError, ValueError, SimulationError) as exc:
        print(f"neurotwin: error: {exc}", file=sys.stderr)
        return 2
    summary = summarise(results)
    report = {"method": args.method, "backend": args.backend if args.method == "snn" else None,
              **({"device": args.device} if args.backend == "crossbar" else {}),
              "windows": int(sum(r.windows for r in results)), **summary}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    width = max(len(name) for name in summary["recordings"])
    print(f"{'recording':{width}s}  windows  MAE (bpm)")
    for name, entry in summary["recordings"].items():
        print(f"{name:{width}s}  {entry['windows']:7d}  {entry['mae_bpm']:9.2f}")
    print(f"{'all':{width}s}  {report['windows']:7d}  {summary['mae_bpm']:9.2f}  "
          f"({args.method}{', ' + args.backend if args.method == 'snn' else ''})")
    return 0


def eval_subcommands(subparsers: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """The targets of the shared ``eval`` command, creating it if no module has yet."""
    parser = subparsers.choices.get("eval")
    if parser is None:
        parser = subparsers.add_parser("eval", help="evaluate a pipeline on a data set")
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return parser.add_subparsers(dest="target", required=True)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``eval ppg``."""
    p = eval_subcommands(subparsers).add_parser(
        "ppg", help="heart rate from wrist PPG with motion-artefact cancellation",
        description="Heart rate per 8-s window (2-s step) from cleaned wrist PPG on SP Cup "
                    "2015 recordings; mean absolute error against the ECG-derived rate.")
    p.add_argument("--data", required=True, help="folder with DATA_xx_TYPEyy.mat + "
                   "_BPMtrace.mat (training layout) or TEST_Sxx_Tyy.mat + True_Sxx_Tyy.mat")
    p.add_argument("--method", default="snn", choices=METHODS,
                   help="artefact canceller (snn: the spiking canceller; default)")
    p.add_argument("--backend", default="reference", choices=BACKENDS,
                   help="where the spiking canceller runs (rtl: the Verilog unit, simulated "
                   "through cocotb; bit-exact with reference)")
    p.add_argument("--device", default="taox",
                   help="crossbar device preset or .json file (with --backend crossbar)")
    p.add_argument("--seed", type=int, default=0, help="crossbar device instance and noise")
    p.add_argument("--sim", choices=SIMULATORS, default="icarus",
                   help="HDL simulator (with --backend rtl; Verilator is built on first use)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_handle)
