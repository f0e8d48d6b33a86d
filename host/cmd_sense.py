"""``neurotwin sense``: a recording or model through artefacts, a front end and an encoder.

A thin shell over ``sensors.pipeline.sense``; the event file is ``sensors.events``' format.
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path

from sensors.afe import PRESETS
from sensors.artefacts import ARTEFACTS
from sensors.encoders import ENCODERS
from sensors.physiology import MODELS
from sensors.pipeline import SenseConfig, sense
from sensors.plot import plot_sensed
from sensors.records import SOURCES, available


def sample_folder() -> Path:
    """The sample data shipped with the project (``host/data``)."""
    return Path(str(resources.files("host.data")))


def _list(data: Path) -> str:
    lines = ["sources (set:record):"]
    lines += [f"  {s.name:8s} {s.description} (e.g. {s.example})" for s in SOURCES.values()]
    lines.append(f"  {'sim':8s} models: " + ", ".join(f"sim:{m}" for m in MODELS))
    lines.append(f"records in {data}:")
    lines.append("  " + " ".join(available(data)))
    lines.append("front ends (--afe):")
    lines += [f"  {p.name:9s} {p.part}: {p.quantity}, {p.fs:g} Hz, {p.bits} bits, noise "
              f"{p.noise:.3g} ({p.noise_kind})" for p in PRESETS.values()]
    lines.append("encoders (--encoder):")
    lines += [f"  {name:9s} {text}" for name, text in ENCODERS.items()]
    lines.append("artefacts (--artefact): " + ", ".join(ARTEFACTS))
    return "\n".join(lines)


def _handle(args: argparse.Namespace) -> int:
    data = Path(args.data) if args.data else sample_folder()
    try:
        if args.list:
            print(_list(data))
            return 0
        if not args.source or not args.out:
            print("neurotwin sense: error: --source and --out are required (or --list)",
                  file=sys.stderr)
            return 2
        config = SenseConfig(
            source=args.source, data=data,
            channels=tuple(c for c in (args.channels or "").split(",") if c),
            start_s=args.start, duration_s=args.duration, artefacts=tuple(args.artefact or ()),
            snr_db=args.snr, coupling=args.coupling, afe=None if args.afe == "none" else args.afe,
            encoder=args.encoder, threshold=args.threshold, seed=args.seed)
        sensed = sense(config)
        sensed.save(args.out)
        if args.plot is not None:
            plot_sensed(sensed, args.plot or Path(args.out).with_suffix(".png"))
    except (OSError, ValueError) as exc:
        print(f"neurotwin: error: {exc}", file=sys.stderr)
        return 2
    print("".join(f"note: {note}\n" for note in sensed.notes)
          + f"{sensed.recording.name}: {sensed.signal.shape[0]} channel(s) x "
          f"{sensed.signal.shape[1]} samples at {sensed.fs:g} Hz -> {sensed.events.size} "
          f"events ({sensed.event_rate:.3f}/sample), reconstruction SNR "
          f"{sensed.snr_db:.1f} dB -> {args.out}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``sense`` subcommand."""
    p = subparsers.add_parser("sense", help="encode a recording or model as address-events")
    p.add_argument("--list", action="store_true", help="list sources, front ends, encoders")
    p.add_argument("--source", help="set:record (mitdb:100, spc2015:DATA_01_TYPE01, "
                   "nstdb:118e06, emgdb:healthy, eeglab:sample) or sim:ecg|ppg|resp|emg|eeg")
    p.add_argument("--data", help="folder with the set (default: the shipped sample)")
    p.add_argument("--channels", help="comma-separated channel names (default: all)")
    p.add_argument("--start", type=float, default=0.0, help="excerpt start, s")
    p.add_argument("--duration", type=float, help="excerpt length, s (sim: 30 s)")
    p.add_argument("--artefact", action="append", choices=list(ARTEFACTS),
                   help="add an artefact (repeatable)")
    p.add_argument("--snr", type=float, default=10.0, help="signal-to-artefact ratio, dB")
    p.add_argument("--coupling", choices=["ppg", "ecg", "ear_eeg"],
                   help="motion coupling (default: from the channel units)")
    p.add_argument("--afe", default="none", choices=["none", *PRESETS],
                   help="analog front end preset")
    p.add_argument("--encoder", default="delta", choices=list(ENCODERS))
    p.add_argument("--threshold", type=float, help="encoder step (graded: dead band; interp: "
                   "largest distance from the line; knots: square root of the penalty) in the "
                   "encoded unit (default: 1/40 of each channel's range, graded 1/48; interp, "
                   "knots: a rate controller at 0.198 events/sample)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="event file (.npz): one structured array 'events' (t, x, p)")
    p.add_argument("--plot", nargs="?", const="", help="write a PNG (default: OUT with .png)")
    p.set_defaults(func=_handle)
