"""Motion-artefact removal on real wrist PPG (issue 7); writes the "ppg" section of
docs/benchmarks.md and docs/img/ppg_*.png.

Heart-rate error on the SP Cup 2015 training recordings for no cancellation, NLMS, RLS and
the spiking canceller (reference backend and crossbar devices, several device instances),
the spiking canceller's sensitivity to its step size, its programming-pulse rate, and the
artefact classifier on labelled mixtures and on the recordings' protocol labels.

    python benchmarks/bench_ppg.py [--data DIR] [--seeds 3] [--devices taox,hfox,pcm]

``--data`` is the folder with DATA_xx_TYPEyy.mat (default
$NEUROTWIN_DATA/spc2015/Training_data).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from report import write_section  # benchmarks/ is on sys.path when run as a script

from neuro.canceller_ppg import (
    PPGFrontEnd,
    evaluate_recording,
    ppg_channels,
    summarise,
)
from neuro.canceller_snn import SpikingCanceller
from sensors.records import available, read_spc2015

ROOT = Path(__file__).resolve().parent.parent
IMG = ROOT / "docs" / "img"
# Published average absolute errors on all 12 training recordings (bpm).
PUBLISHED = (("TROIKA (Zhang, Pi & Liu, IEEE TBME 62(2), 2015)", 2.34),
             ("JOSS (Zhang et al., IEEE TBME 62(8), 2015)", 1.28))


def timed(fn):
    """(result, CPU seconds of this process)."""
    start = time.process_time()
    out = fn()
    return out, time.process_time() - start


def run_method(recordings, method, backend="reference", device="taox", **params):
    """Results per recording and the CPU seconds per minute of signal."""
    results, cpu = timed(lambda: [evaluate_recording(r, method, backend, device, **params)
                                  for r in recordings])
    minutes = sum(r.duration_s for r in recordings) / 60
    return results, cpu / minutes


def hr_table(rows, names) -> str:
    head = ("| method | MAE, 9 recordings (bpm) | " + " | ".join(n.split("_")[1] for n in names)
            + " | CPU s per min of signal |")
    lines = [head, "|" + "---|" * (len(names) + 3)]
    for label, maes, per, cpu in rows:
        overall = (f"**{np.mean(maes):.2f}**" if len(maes) == 1 else
                   f"**{np.mean(maes):.2f}** ± {np.std(maes):.2f} ({len(maes)} instances)")
        cells = " | ".join(f"{v:.2f}" for v in per)
        lines.append(f"| {label} | {overall} | {cells} | {cpu:.2f} |")
    return "\n".join(lines)


def plot_tracks(results: dict, path: Path, show=("DATA_01_TYPE01", "DATA_10_TYPE02",
                                                 "DATA_11_TYPE02")) -> None:
    fig, axes = plt.subplots(1, len(show), figsize=(15, 4), sharey=True)
    for ax, name in zip(axes, show, strict=True):
        truth = None
        for method, style in (("none", ":"), ("nlms", "--"), ("rls", "-."), ("snn", "-")):
            r = next(r for r in results[method] if r.name.endswith(name))
            truth = r.truth
            t = 4 + 2 * np.arange(r.bpm.size)
            ax.plot(t, r.bpm, style, lw=1.2, label=f"{method} ({r.mae_bpm:.2f} bpm)")
        ax.plot(t, truth, "k-", lw=2, alpha=0.35, label="ECG reference")
        ax.set_title(name)
        ax.set_xlabel("window centre (s)")
        ax.legend(fontsize=7, loc="lower right")
    axes[0].set_ylabel("heart rate (bpm)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_bars(table_rows, names, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(11, 3.6))
    width = 0.8 / len(table_rows)
    x = np.arange(len(names))
    for i, (label, _, per, _) in enumerate(table_rows):
        ax.bar(x + i * width, per, width, label=label)
    ax.set_xticks(x + 0.4 - width / 2, [n.split("_")[1] for n in names])
    ax.set_ylabel("HR mean absolute error (bpm)")
    ax.set_xlabel("SP Cup 2015 recording (DATA_xx)")
    ax.set_yscale("log")
    ax.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def pulse_rates(recordings) -> tuple[float, float]:
    """Programming pulses per synapse per second, reference backend: the mean over synapses
    and recordings, and the busiest synapse's."""
    mean, peak = [], []
    for r in recordings:
        primary, reference = PPGFrontEnd()(*ppg_channels(r), r.fs)
        counts = SpikingCanceller().fit(primary, reference).pulse_counts_
        mean.append(counts.mean() / r.duration_s)
        peak.append(counts.max() / r.duration_s)
    return float(np.mean(mean)), float(np.max(peak))


def classifier_section(recordings, seed: int) -> str:
    from neuro.artefact_classifier import (
        CLASSES,
        ArtefactClassifier,
        class_report,
        labelled_mixtures,
        protocol_labels,
        window_features,
    )
    train = labelled_mixtures(records=8, random_state=seed)
    test = labelled_mixtures(records=6, random_state=seed + 100)
    clf = ArtefactClassifier(random_state=seed).fit(*train)
    on_mix = class_report(test[1], clf.predict(test[0]))
    feats, truth = [], []
    for r in recordings:
        ppg, acc = ppg_channels(r)
        f = window_features(ppg[0], r.fs, acc, r.fs)
        lab = protocol_labels(r.name, r.duration_s)[: len(f)]
        feats.append(f[lab != ""])
        truth.append(lab[lab != ""])
    on_spc = class_report(np.concatenate(truth), clf.predict(np.concatenate(feats)))
    lines = ["| data | " + " | ".join(f"{c} Se / PPV (n)" for c in CLASSES) + " |",
             "|---|" + "---|" * len(CLASSES)]
    for label, rep in (("labelled mixtures (held-out seeds)", on_mix),
                       ("SP Cup 2015, protocol labels", on_spc)):
        cells = []
        for c in CLASSES:
            v = rep[c]
            cells.append("n/a (0)" if v["support"] == 0 and np.isnan(v["precision"]) else
                         f"{v['sensitivity']:.2f} / {v['precision']:.2f} ({v['support']})")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    n_train = len(train[1])
    return (f"Artefact classifier (6 rate-coded band energies -> 4 CUBA-LIF neurons, "
            f"{clf.network_.layers[0].weights.size} 8-bit synapses; trained on {n_train} "
            f"windows of 2 s from {8 * len(CLASSES)} synthetic records, tested on "
            f"{len(test[1])} windows of others and on the real recordings):\n\n"
            + "\n".join(lines))


ECG_RECORDS = ("100", "103", "117")
ECG_SNRS = (24, 18, 12, 6, 0, -6)


def ecg_section(mitdb: Path, nstdb: Path) -> str:
    """SNR improvement and beat detection before and after, per noise level, on MIT-BIH
    records with modelled motion; NSTDB before only (no reference channel)."""
    from neuro.canceller_ecg import (
        beat_scores,
        detect_beats,
        make_ecg_canceller,
        motion_mixture,
        output_snr_db,
    )
    from sensors.records import read_mitdb, read_nstdb

    methods = ("none", "nlms", "rls", "snn")
    gain = {m: np.zeros((len(ECG_RECORDS), len(ECG_SNRS))) for m in methods}
    scores = {m: np.zeros((len(ECG_RECORDS), len(ECG_SNRS), 2)) for m in methods}
    for i, name in enumerate(ECG_RECORDS):
        record = read_mitdb(mitdb, name).excerpt(0, 120)
        for j, snr in enumerate(ECG_SNRS):
            mix = motion_mixture(record, snr, random_state=j)
            start = round(10 * mix.fs)
            before = output_snr_db(mix.clean, mix.primary[0], start)
            for method in methods:
                out = make_ecg_canceller(method, fs=mix.fs).fit_transform(mix.primary,
                                                                           mix.reference)[0]
                gain[method][i, j] = output_snr_db(mix.clean, out, start) - before
                scores[method][i, j] = beat_scores(detect_beats(out, mix.fs), mix.beats,
                                                   round(0.15 * mix.fs))
    lines = ["| SNR in (dB) | " + " | ".join(
        f"{m}: ΔSNR dB, Se / +P" for m in methods) + " |", "|---|" + "---|" * len(methods)]
    for j, snr in enumerate(ECG_SNRS):
        cells = [f"{gain[m][:, j].mean():+.1f}, {scores[m][:, j, 0].mean():.3f} / "
                 f"{scores[m][:, j, 1].mean():.3f}" for m in methods]
        lines.append(f"| {snr} | " + " | ".join(cells) + " |")
    nst = []
    for name in ("118e24", "118e06"):
        rec = read_nstdb(nstdb, name).excerpt(300)
        lead = rec.signal[0]
        se, pp = beat_scores(detect_beats(lead, rec.fs), rec.beats["sample"],
                             round(0.15 * rec.fs))
        nst.append(f"{name}: Se {se:.3f}, +P {pp:.3f}")
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for k, m in enumerate(methods[1:], start=1):
        axes[0].plot(ECG_SNRS, gain[m].mean(axis=0), "o-", color=f"C{k}", label=m)
    axes[0].axhline(0, color="k", lw=0.8)
    axes[0].set_xlabel("input SNR (dB)")
    axes[0].set_ylabel("SNR improvement (dB)")
    axes[0].legend()
    for k, m in enumerate(methods):
        colour = f"C{k}"
        axes[1].plot(ECG_SNRS, scores[m][:, :, 0].mean(axis=0), "o-", color=colour,
                     label=f"{m} Se")
        axes[1].plot(ECG_SNRS, scores[m][:, :, 1].mean(axis=0), "x--", color=colour,
                     label=f"{m} +P")
    axes[1].set_xlabel("input SNR (dB)")
    axes[1].set_ylabel("beat detection")
    axes[1].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(IMG / "ppg_ecg_snr.png", dpi=110)
    plt.close(fig)
    return (f"ECG with modelled electrode motion (MIT-BIH {', '.join(ECG_RECORDS)}, first "
            "120 s of lead 0, `MotionArtefact(coupling='ecg')` in two 30-50-s walking "
            "episodes with its 3-axis accelerometer as the reference; SNR over the whole "
            "excerpt, scored after the first 10 s; neurokit2 QRS detector, 150-ms match). "
            "Mean over the records:\n\n" + "\n".join(lines)
            + "\n\nNSTDB 118 with recorded electrode-motion noise, from 300 s (before only: "
            "the set records no reference channel, so no adaptive canceller applies): "
            + "; ".join(nst) + ".\n\n![ECG: SNR improvement and beat detection per noise "
            "level](img/ppg_ecg_snr.png)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(os.environ.get("NEUROTWIN_DATA", "../shared/data")) / "spc2015" / \
        "Training_data"
    parser.add_argument("--data", type=Path, default=default)
    parser.add_argument("--seeds", type=int, default=3, help="crossbar device instances")
    parser.add_argument("--devices", default="taox,hfox,pcm")
    parser.add_argument("--no-classifier", action="store_true")
    parser.add_argument("--no-ecg", action="store_true")
    args = parser.parse_args(argv)
    names = [s.split(":")[1] for s in available(args.data) if s.startswith("spc2015")]
    if not names:
        sys.exit(f"no SP Cup 2015 recordings in {args.data}")
    recordings = [read_spc2015(args.data, n) for n in names]

    results, rows = {}, []
    for method, label in (("none", "no cancellation"), ("nlms", "NLMS (float)"),
                          ("rls", "RLS (float)"), ("snn", "spiking, reference (fixed point)")):
        res, cpu = run_method(recordings, method)
        results[method] = res
        rows.append((label, [summarise(res)["mae_bpm"]], [r.mae_bpm for r in res], cpu))
        print(f"{label}: {rows[-1][1][0]:.3f} bpm", flush=True)
    for device in [d for d in args.devices.split(",") if d]:
        maes, per, cpus = [], [], []
        for seed in range(args.seeds):
            res, cpu = run_method(recordings, "snn", "crossbar", device, random_state=seed)
            maes.append(summarise(res)["mae_bpm"])
            per.append([r.mae_bpm for r in res])
            cpus.append(cpu)
            print(f"crossbar {device} seed {seed}: {maes[-1]:.3f} bpm", flush=True)
        rows.append((f"spiking, crossbar `{device}`", maes, np.mean(per, axis=0),
                     float(np.mean(cpus))))

    sweep = []
    for threshold in (64, 96, 128, 160, 256):
        res, _ = run_method(recordings, "snn", update_threshold=threshold)
        sweep.append((threshold, summarise(res)["mae_bpm"]))
    mean_rate, peak_rate = pulse_rates(recordings)

    IMG.mkdir(parents=True, exist_ok=True)
    plot_tracks(results, IMG / "ppg_tracks.png")
    plot_bars(rows, names, IMG / "ppg_mae.png")
    classifier = "" if args.no_classifier else classifier_section(recordings, seed=0)
    data_root = args.data.parent.parent
    ecg = "" if args.no_ecg else ecg_section(data_root / "mitdb", data_root / "nstdb-118em")

    published = "\n".join(f"| {name} | {value:.2f} | all 12 training recordings |"
                          for name, value in PUBLISHED)
    sweep_text = ", ".join(f"{t}: {m:.2f}" for t, m in sweep)
    markdown = f"""## PPG heart rate under motion (issue 7)

`python benchmarks/bench_ppg.py --seeds {args.seeds} --devices {args.devices}` on
{platform.machine()}, Python {platform.python_version()}; SP Cup 2015 training recordings
{", ".join(n.split("_")[1] for n in names)} (9 of the 12: 04, 08 and 12 are held out of
shared/data). Heart rate per 8-s window (2-s step) from both cleaned PPG channels, one
spectral tracker for every method (docs/ppg.md); mean absolute error over all
{sum(r.windows for r in results['none'])} windows against the ECG-derived reference. The same
figure comes from `neurotwin eval ppg --data DIR --method M --json`.

{hr_table(rows, names)}

Crossbar rows: mean ± standard deviation over device instances (seeds 0..{args.seeds - 1});
per-recording cells are the instance mean. CPU time is this process's, per minute of
recording (a real-time factor: 60 would be real time on one core).

Published figures, for orientation only: they cover all 12 recordings (ours lack 3, among them
DATA_12, one of the hardest) and use a different tracker; they are not directly comparable.

| method | MAE (bpm) | recordings |
|---|---|---|
{published}

Step size of the spiking canceller (pulse per `update_threshold` agreeing error events), MAE
in bpm: {sweep_text}. The default (128) was chosen on these same recordings: there is no
held-out set here, so the figures above are tuned, not tested.

Programming pulses (reference backend): {mean_rate:.3f} per synapse per second on average,
{peak_rate:.3f} for the busiest synapse; at that rate a 1e6-cycle HfOx device lasts
{1e6 / peak_rate / 86400:.0f} days of continuous use, a 1e12-cycle TaOx device far longer.

{classifier}

{ecg}

![heart rate against the ECG reference](img/ppg_tracks.png)

![error per recording and method](img/ppg_mae.png)
"""
    write_section("ppg", markdown)
    print(markdown)


if __name__ == "__main__":
    main()
