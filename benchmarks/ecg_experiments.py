"""Issue 8 experiments on the inter-patient ECG classifier (train DS1, test DS2).

    python benchmarks/ecg_experiments.py --data DIR/mitdb --mode val|ds2 [--hidden 96]
        [--p-wave] [--rr-irregularity] [--balance 0.5] [--max-normal 20000] [--seed 0]
        [--save M.nir] [--tag NAME]
    python benchmarks/ecg_experiments.py --data DIR/mitdb --mode val|ds2 --merge A.nir B.nir

``val``: model selection without DS2: train on the DS1 records other than ``VALIDATION`` and
score those five (patient-wise; the split docs/ecg.md used for ``--rr-irregularity``).
``ds2``: train on all of DS1, score DS2 (de Chazal 2004). ``intra``: the intra-patient
protocol as ``neurotwin train ecg --split intra`` (every N beat, ``--balance`` 0.2 unless
given), scored on the held-out half. ``--merge``: no training; the
saved networks become one network whose hidden layer is theirs side by side and whose output
layer averages their drives (:func:`neuro.ecg.merge_classifiers`), scored on the mode's test
records. Feature rows are cached per record under ``--cache`` (s of reading saved per run).
One result line (JSON) per run is appended to ``--log``.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import time
from pathlib import Path

import numpy as np

from neuro.ecg import (
    CLASSES,
    DS1,
    BeatEncoding,
    EcgBeatClassifier,
    RecordBeats,
    aami_report,
    assemble,
    beat_features,
    intra_test_beats,
    load_beats,
    merge_classifiers,
    split_records,
    subsample_normal,
    train,
)

VALIDATION = ("106", "118", "201", "215", "220")


def cached_beats(folder: Path, records: list[str], cache: Path) -> list[RecordBeats]:
    """The annotated beats of each record (feature rows as :func:`neuro.ecg.record_beats`),
    cached under a folder named after the feature code, so that a change to it reads afresh."""
    code = hashlib.sha1(inspect.getsource(beat_features).encode()).hexdigest()[:12]
    cache = cache / code
    cache.mkdir(parents=True, exist_ok=True)
    out = []
    for name in records:
        path = cache / f"{name}.npz"
        if not path.exists():
            rb = load_beats(folder, [name])[0]
            np.savez(path, X=rb.X, reference=rb.reference, sample=rb.sample)
        with np.load(path) as z:
            out.append(RecordBeats(name, z["X"], z["reference"], z["sample"],
                                   dict.fromkeys(CLASSES, 0)))
    return out


def summary(report: dict) -> dict:
    """Accuracy and per-class Se / +P in %, one decimal."""
    pct = {c: [None if v is None else round(100 * v, 1) for v in (p["se"], p["ppv"])]
           for c, p in report["per_class"].items()}
    return {"accuracy": round(100 * report["accuracy"], 2), **pct}


def intra(args: argparse.Namespace) -> None:
    """The intra-patient protocol (train on a seeded half of every record, test the rest)."""
    encoding = BeatEncoding(rr_irregularity=args.rr_irregularity, p_wave=args.p_wave)
    model = train(args.data, "intra", max_normal=None, classifier=EcgBeatClassifier(
        hidden=tuple(args.hidden), encoding=encoding, epochs=args.epochs,
        balance_power=args.balance, threads=1, random_state=args.seed))
    if args.save:
        model.save(args.save)
    beats = intra_test_beats(args.data, model)
    report = aami_report(beats.reference, model.predict(beats.X))
    line = {"tag": args.tag, "mode": "intra", "hidden_total": int(sum(
        layer.n_neurons for layer in model.network_.layers[:-1])), **summary(report),
        "confusion": report["confusion"], "per_record": {}, "train_s": 0}
    with args.log.open("a") as f:
        f.write(json.dumps(line) + "\n")
    print(json.dumps(line))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--mode", choices=["val", "ds2", "intra"], required=True)
    ap.add_argument("--hidden", type=int, nargs="+", default=[96])
    ap.add_argument("--p-wave", action="store_true")
    ap.add_argument("--rr-irregularity", action="store_true")
    ap.add_argument("--balance", type=float, help="default 0.5 (intra: 0.2)")
    ap.add_argument("--max-normal", type=int, default=20000)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save", type=Path)
    ap.add_argument("--merge", type=Path, nargs="+")
    ap.add_argument("--tag", default="")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/ecg_feature_cache"))
    ap.add_argument("--log", type=Path, default=Path("/tmp/ecg_experiments.jsonl"))
    args = ap.parse_args()
    if args.balance is None:
        args.balance = 0.2 if args.mode == "intra" else 0.5
    if args.mode == "intra":
        intra(args)
        return

    ds1 = [r for r in DS1 if r in split_records(args.data, "ds1")]
    if args.mode == "val":
        train_records = [r for r in ds1 if r not in VALIDATION]
        test_records = [r for r in ds1 if r in VALIDATION]
    else:
        train_records, test_records = ds1, split_records(args.data, "ds2")
    t0 = time.time()
    if args.merge:
        model = merge_classifiers([EcgBeatClassifier.load(p) for p in args.merge])
    else:
        train_set = assemble(cached_beats(args.data, train_records, args.cache))
        idx = subsample_normal(train_set.reference, args.max_normal, args.seed)
        encoding = BeatEncoding(rr_irregularity=args.rr_irregularity, p_wave=args.p_wave)
        model = EcgBeatClassifier(hidden=tuple(args.hidden), encoding=encoding,
                                  epochs=args.epochs, balance_power=args.balance,
                                  threads=1, random_state=args.seed)
        model.fit(train_set.X[idx], train_set.reference[idx])
        model.training_ = {"split": "ds1" if args.mode == "ds2" else "ds1-val",
                           "records": train_records, "lead": "MLII",
                           "max_normal": args.max_normal, "beats": int(idx.size),
                           "test_fraction": None, "seed": args.seed}
    t_train = time.time() - t0
    if args.save:
        model.save(args.save)
    test_beats = cached_beats(args.data, test_records, args.cache)
    test = assemble(test_beats)
    pred = model.predict(test.X)
    report = aami_report(test.reference, pred)
    per_record = {}
    # False S and false V per record (where the errors come from).
    bounds = np.cumsum([0] + [b.reference.size for b in test_beats])
    for k, name in enumerate(test_records):
        ref, p = test.reference[bounds[k]:bounds[k + 1]], pred[bounds[k]:bounds[k + 1]]
        per_record[name] = {"false_S": int(np.sum((p == "S") & (ref != "S"))),
                            "false_V": int(np.sum((p == "V") & (ref != "V"))),
                            "S_hit": int(np.sum((p == "S") & (ref == "S"))),
                            "S_ref": int(np.sum(ref == "S"))}
    line = {"tag": args.tag, "mode": args.mode,
            "args": {k: (str(v) if isinstance(v, Path) else
                         [str(x) for x in v] if isinstance(v, list) and v and
                         isinstance(v[0], Path) else v)
                     for k, v in vars(args).items() if k not in ("data", "cache", "log")},
            "train_s": round(t_train), "hidden_total": int(
                sum(layer.n_neurons for layer in model.network_.layers[:-1])),
            "inputs": model.network_.n_inputs, **summary(report),
            "confusion": report["confusion"], "per_record": per_record}
    with args.log.open("a") as f:
        f.write(json.dumps(line) + "\n")
    print(json.dumps({k: v for k, v in line.items() if k not in ("per_record",)}))
    print(json.dumps(per_record))


if __name__ == "__main__":
    main()
