"""``neurotwin train ecg`` and ``neurotwin eval ecg``: the level-1 spiking beat classifier.

A thin shell over :mod:`neuro.ecg`. ``train`` and ``eval`` are shared verbs: this module adds
its ``ecg`` target to them (making the verb on first use), so that other modules can add
theirs (``eval ppg`` ...) through :func:`verb`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from neuro.backends import available
from neuro.ecg import (
    CLASSES,
    LEAD,
    BeatEncoding,
    EcgBeatClassifier,
    EcgError,
    assemble,
    evaluate,
    load_beats,
    split_records,
    train,
)


def verb(subparsers: argparse._SubParsersAction, name: str,
         help_text: str) -> argparse._SubParsersAction:
    """The target table of a shared verb (``train``, ``eval``), made on first use."""
    parser = subparsers.choices.get(name)
    if parser is None:
        parser = subparsers.add_parser(name, help=help_text)
        parser.add_subparsers(dest=f"{name}_target", required=True, metavar="TARGET")
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    raise RuntimeError(f"the {name!r} command takes no targets; cannot add one to it")


def _progress():
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    # On standard error: standard output stays for results (--json).
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=Console(stderr=True))


def _train(args: argparse.Namespace) -> int:
    records = split_records(args.data, args.split)
    # Inter-patient: fewer N beats and strong class balancing (the rare classes must carry
    # over to unseen patients); intra-patient: every N beat and mild balancing (the test
    # beats are mostly N of the same patients, so specificity decides the accuracy).
    inter = args.split == "ds1"
    max_normal = args.max_normal if args.max_normal is not None else (20000 if inter else None)
    balance = args.balance if args.balance is not None else (0.5 if inter else 0.2)
    classifier = EcgBeatClassifier(hidden=tuple(args.hidden), epochs=args.epochs,
                                   encoding=BeatEncoding(rr_irregularity=args.rr_irregularity,
                                                         p_wave=args.p_wave),
                                   balance_power=balance, crossbar=args.crossbar,
                                   threads=args.threads, random_state=args.seed)
    with _progress() as bar:
        reading = bar.add_task(f"reading {args.split} records", total=len(records))
        epochs = bar.add_task("training", total=args.epochs)
        model = train(args.data, args.split, args.lead, max_normal,
                      classifier=classifier,
                      on_record=lambda name: bar.update(reading, advance=1,
                                                        description=f"read {name}"),
                      on_epoch=lambda epoch, loss: bar.update(
                          epochs, advance=1, description=f"epoch {epoch + 1} loss {loss:.4f}"))
    model.save(args.out)
    sizes = model.network_.sizes
    print(f"ecg ({args.split}, {model.training_['beats']} beats of {len(records)} records, "
          f"seed {args.seed}): network {' -> '.join(map(str, sizes))} -> {args.out}")
    return 0


def _format(report: dict) -> str:
    lines = [f"{report['beats']} beats, accuracy {report['accuracy']:.4f} "
             f"({report['backend']})", "class      Se     +P   reference"]
    for c in CLASSES:
        pc = report["per_class"][c]
        se = "   -  " if pc["se"] is None else f"{pc['se']:6.3f}"
        ppv = "   -  " if pc["ppv"] is None else f"{pc['ppv']:6.3f}"
        lines.append(f"{c:5s} {se} {ppv} {pc['reference']:8d}")
    lines.append("confusion (rows reference N S V F Q, columns predicted):")
    lines += ["  " + " ".join(f"{n:6d}" for n in row) for row in report["confusion"]]
    return "\n".join(lines)


def _eval(args: argparse.Namespace) -> int:
    model = EcgBeatClassifier.load(args.model)
    lead = args.lead or model.training_.get("lead", LEAD)
    if args.records in ("ds1", "ds2", "all"):
        records = split_records(args.data, args.records)
    else:
        records = [r.strip() for r in args.records.split(",") if r.strip()]
    per_record = load_beats(args.data, records, lead, args.beats, model.encoding_)
    if args.limit is not None:
        # The first beats of each record; misses of the detector are then not counted.
        per_record = [dataclasses.replace(r, X=r.X[:args.limit],
                                          reference=r.reference[:args.limit],
                                          sample=r.sample[:args.limit],
                                          missed=dict.fromkeys(CLASSES, 0))
                      for r in per_record]
    beats = assemble(per_record)
    options = {k: v for k, v in (("lava_python", args.lava_python), ("sim", args.sim),
                                 ("device", args.device)) if v is not None}
    report = evaluate(model, beats, args.backend, **options)
    report.update(model=str(args.model), records=records, beats_mode=args.beats, lead=lead)
    print(json.dumps(report, indent=1) if args.json else _format(report))
    return 0


def _guarded(handler):
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except (EcgError, OSError, ValueError, ImportError) as exc:
            print(f"neurotwin: error: {exc}", file=sys.stderr)
            return 2
    return run


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``train ecg`` and ``eval ecg``."""
    t = verb(subparsers, "train", "train a model").add_parser(
        "ecg", help="train the spiking AAMI beat classifier on MIT-BIH records")
    t.add_argument("--data", required=True, type=Path,
                   help="folder of WFDB records at 360 Hz with .atr beat labels (e.g. mitdb/)")
    t.add_argument("--split", choices=["ds1", "intra"], default="ds1",
                   help="ds1: train on DS1 (inter-patient, de Chazal 2004); intra: on a seeded "
                   "half of every record's beats")
    t.add_argument("--out", required=True, type=Path, help="model file (NIR HDF5)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--epochs", type=int, default=12)
    t.add_argument("--hidden", type=int, nargs="+", default=[96], help="hidden layer sizes")
    t.add_argument("--max-normal", type=int,
                   help="at most this many N beats, a seeded draw (default: ds1 20000, "
                   "intra all)")
    t.add_argument("--balance", type=float,
                   help="class weights (1 / class frequency) ** BALANCE (default: ds1 0.5, "
                   "intra 0.2)")
    t.add_argument("--rr-irregularity", action="store_true",
                   help="also code prematurity and pause relative to the RR irregularity "
                   "(two more RR features; an experiment, see docs/ecg.md)")
    t.add_argument("--p-wave", action="store_true",
                   help="also code the atrial activity before R: the dominant beat's P-wave "
                   "amplitude, this beat's, and their correlation (an experiment, see "
                   "docs/ecg.md)")
    t.add_argument("--lead", default=LEAD)
    t.add_argument("--crossbar", help="hardware-aware training: crossbar device preset "
                   "(e.g. hfox) whose noise every training step sees")
    t.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    t.set_defaults(func=_guarded(_train))

    e = verb(subparsers, "eval", "evaluate a model").add_parser(
        "ecg", help="score the beat classifier on records (AAMI EC57)")
    e.add_argument("--model", required=True, type=Path, help="model file from `train ecg`")
    e.add_argument("--data", required=True, type=Path, help="folder of WFDB records")
    e.add_argument("--records", default="ds2",
                   help="comma-separated record names, or ds1, ds2, all (default ds2)")
    e.add_argument("--backend", default="reference", choices=available())
    e.add_argument("--beats", choices=["annotated", "detected"], default="annotated",
                   help="classify the reference beats or the detector's (matched within "
                   "150 ms)")
    e.add_argument("--lead", help="ECG lead (default: the model's, MLII)")
    e.add_argument("--limit", type=int, help="only the first N beats of each record (slow "
                   "backends; detector misses are then not counted)")
    e.add_argument("--json", action="store_true", help="print the report as JSON")
    e.add_argument("--lava-python", help="lava: Python 3.10 with lava-nc")
    e.add_argument("--sim", help="rtl: HDL simulator (icarus or verilator)")
    e.add_argument("--device", help="crossbar: device preset")
    e.set_defaults(func=_guarded(_eval))
