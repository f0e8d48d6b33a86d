"""Sensor chain speed and encoder quality; writes the "sensors" section of docs/benchmarks.md.

Throughput: every encoder and the front-end chain (ADS1292 preset: noise, band limit,
saturation, 24-bit quantisation) on one long multichannel input, one process, best of
``--repeat`` runs, in samples (channels x samples) per CPU-second of the thread that runs
them, which is the per-core figure (numpy and numba run these loops on one thread), and per
wall-clock second.

Quality: reconstruction SNR (signal power about its mean over the error power, dB) against the
event rate (events per sample per channel) for the delta, graded delta, interpolating
(interp, knots), level-crossing and rate encoders with their decoders, over a sweep of
thresholds, on real ECG (MIT-BIH 100 and 208), PPG (SP Cup 2015 DATA_01, PPG1) and EEG
(EEGLAB sample, 4 channels). The plot goes to docs/img/encoders_snr.png.

MIT-BIH per record (every record that ``--data`` holds: all 44 of the full set, or the two
shipped excerpts): graded delta at the dead band that gives at most 0.2 events per sample, the
events per sample it needs for 30 dB, and the bound for any decoder that holds a level between
events (the best piecewise-constant approximation with that many changes, :func:`hold_bound`);
then interp and knots with their causal rate controllers set to 0.198 events per sample, one
pass over each record with no threshold chosen in advance.

    python benchmarks/bench_sensors.py [--data DIR] [--samples 2000000] [--channels 8]

``--data`` defaults to $NEUROTWIN_DATA, else the shipped sample (host/data).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import numba
import numpy as np
from report import write_section  # benchmarks/ is on sys.path when run as a script

from sensors.afe import PRESETS, AnalogFrontEnd
from sensors.encoders import (
    DeltaDecoder,
    DeltaEncoder,
    GradedDeltaDecoder,
    GradedDeltaEncoder,
    LevelCrossingDecoder,
    LevelCrossingEncoder,
    RateDecoder,
    RateEncoder,
    ThresholdEncoder,
    reconstruction_snr_db,
)
from sensors.interp import InterpDeltaDecoder, InterpDeltaEncoder, KnotEncoder, decode_stream
from sensors.records import available, load

ROOT = Path(__file__).resolve().parent.parent
FIGURE = ROOT / "docs" / "img" / "encoders_snr.png"
TARGET_RATE = 0.2  # events per sample per channel: the "20 % of the sample rate"
TARGET_SNR = 30.0  # dB
# The interpolating coders' rate controllers aim a little below the target: they hold the rate
# on average, and the start of a record, before they settle, may run above it.
CONTROL_RATE = 0.198
RESOLUTION = 1 / 1024  # knot value unit, as a fraction of the 0.5-99.5 percentile range


def best_time(fn, repeat: int) -> tuple[float, float]:
    """Shortest wall-clock and shortest CPU time of ``repeat`` runs (CPU time of this thread,
    which runs the stage; other threads of the process do not count)."""
    wall = cpu = float("inf")
    for _ in range(repeat):
        w, c = time.perf_counter(), time.thread_time()
        fn()
        wall = min(wall, time.perf_counter() - w)
        cpu = min(cpu, time.thread_time() - c)
    return wall, cpu


def throughput(channels: int, samples: int,
               repeat: int) -> list[tuple[str, float, float, str]]:
    """Samples per second (wall clock, CPU time) of each stage on a [channels, samples]
    random walk."""
    rng = np.random.default_rng(0)
    x = np.cumsum(rng.normal(0, 0.05, (channels, samples)), axis=1)
    lo, hi = float(x.min()), float(x.max())
    spec = PRESETS["ads1292"]
    volts = x * 1e-4
    # The graded coder's cost grows with its events: time it also where it gives about as
    # many as on ECG.
    busy = 0.08
    busy_rate = GradedDeltaEncoder(busy, 360.0)(x).size / x.size
    interp_rate = InterpDeltaEncoder(busy, 360.0, 0.005)(x).size / x.size
    # The knot placer is the slowest (a two-step search per knot): timed on the first 1/10.
    short = np.ascontiguousarray(x[:, :samples // 10])
    knot_penalty = 0.004
    knots_rate = KnotEncoder(knot_penalty, 360.0, 0.005)(short).size / short.size
    stages = {
        "delta encoder": (lambda: DeltaEncoder(0.5, 360.0)(x), "threshold 0.5"),
        "graded delta encoder": (lambda: GradedDeltaEncoder(0.5, 360.0)(x), "threshold 0.5"),
        "graded delta encoder, busy": (lambda: GradedDeltaEncoder(busy, 360.0)(x),
                                       f"threshold {busy}: {busy_rate:.2f} events/sample"),
        "interp encoder": (lambda: InterpDeltaEncoder(busy, 360.0, 0.005)(x),
                           f"threshold {busy}: {interp_rate:.2f} events/sample"),
        "interp encoder, rate-controlled": (
            lambda: InterpDeltaEncoder(busy, 360.0, 0.005, target_rate=CONTROL_RATE)(x),
            f"controller at {CONTROL_RATE} events/sample"),
        "knots encoder": (lambda: KnotEncoder(knot_penalty, 360.0, 0.005)(short),
                          f"penalty {knot_penalty}: {knots_rate:.2f} events/sample; "
                          f"{channels} x {samples // 10} input"),
        "level-crossing encoder": (
            lambda: LevelCrossingEncoder(np.linspace(lo, hi, 64), 360.0)(x), "64 levels"),
        "rate encoder": (lambda: RateEncoder(lo, hi, 360.0, 90.0, random_state=0)(x),
                         "max 90 Hz at 360 Hz"),
        "threshold encoder": (lambda: ThresholdEncoder(-1.0, 1.0, 360.0)(x), "±1"),
        "front end (ads1292)": (
            lambda: AnalogFrontEnd(spec, spec.fs, channels, random_state=0)(volts),
            "noise + band limit + saturation + 24-bit ADC"),
    }
    out = []
    for name, (fn, note) in stages.items():
        wall, cpu = best_time(fn, repeat)
        n = short.size if name == "knots encoder" else x.size
        out.append((name, n / wall, n / cpu, note))
    return out


def delta_curve(x: np.ndarray, fs: float, span: np.ndarray) -> list[tuple[float, float]]:
    out = []
    for fraction in np.geomspace(1 / 400, 1 / 8, 12):
        step = span * fraction
        events = DeltaEncoder(step, fs, x[:, 0])(x)
        decoded = DeltaDecoder(step, fs, x.shape[0], x[:, 0])(events, x.shape[1])
        out.append((events.size / x.size, reconstruction_snr_db(x, decoded)))
    return out


def graded(x: np.ndarray, fs: float, threshold: np.ndarray | float) -> tuple[float, float]:
    """Events per sample per channel and reconstruction SNR (dB) of graded delta on x."""
    events = GradedDeltaEncoder(threshold, fs, origin=x[:, 0])(x)
    decoded = GradedDeltaDecoder(threshold, fs, x.shape[0], origin=x[:, 0])(events, x.shape[1])
    return events.size / x.size, reconstruction_snr_db(x, decoded)


def graded_curve(x: np.ndarray, fs: float, span: np.ndarray) -> list[tuple[float, float]]:
    return [graded(x, fs, span * fraction) for fraction in np.geomspace(1 / 400, 1 / 8, 12)]


def interp(x: np.ndarray, fs: float, encoder: InterpDeltaEncoder | KnotEncoder,
           resolution: np.ndarray) -> tuple[float, float]:
    """Events per sample per channel and reconstruction SNR (dB) of an interpolating coder on
    x, to the end of the stream (its flush)."""
    events = np.concatenate([encoder(x), encoder.flush()])
    decoder = InterpDeltaDecoder(1.0, fs, x.shape[0], resolution, encoder.levels,
                                 encoder.delay, x[:, 0])
    return events.size / x.size, reconstruction_snr_db(x, decode_stream(decoder, events,
                                                                        x.shape[1]))


def interp_curve(x: np.ndarray, fs: float, span: np.ndarray) -> list[tuple[float, float]]:
    res = span * RESOLUTION
    return [interp(x, fs, InterpDeltaEncoder(span * f, fs, res, origin=x[:, 0]), res)
            for f in np.geomspace(1 / 400, 1 / 8, 12)]


def knots_curve(x: np.ndarray, fs: float, span: np.ndarray) -> list[tuple[float, float]]:
    res = span * RESOLUTION
    return [interp(x, fs, KnotEncoder((span * f) ** 2, fs, res, origin=x[:, 0]), res)
            for f in np.geomspace(1 / 400, 1 / 8, 12)]


def controlled(x: np.ndarray, fs: float, name: str) -> tuple[float, float]:
    """interp or knots on x with the rate controller at CONTROL_RATE, started from the
    graded auto dead band (1/48 of each channel's range; its square as the knots penalty)."""
    lo, hi = np.percentile(x, [0.5, 99.5], axis=1)
    band, res = (hi - lo) / 48, (hi - lo) * RESOLUTION
    encoder = (InterpDeltaEncoder(band, fs, res, origin=x[:, 0], target_rate=CONTROL_RATE)
               if name == "interp" else
               KnotEncoder(band**2, fs, res, origin=x[:, 0], target_rate=CONTROL_RATE))
    return interp(x, fs, encoder, res)


def level_curve(x: np.ndarray, fs: float, span: np.ndarray) -> list[tuple[float, float]]:
    out = []
    lo, hi = x.min(), x.max()  # the ladder spans the whole signal
    for n_levels in (8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256):
        levels = np.linspace(lo, hi, n_levels)
        events = LevelCrossingEncoder(levels, fs)(x)
        decoded = LevelCrossingDecoder(levels, fs, x.shape[0])(events, x.shape[1])
        out.append((events.size / x.size, reconstruction_snr_db(x, decoded)))
    return out


def rate_curve(x: np.ndarray, fs: float, span: np.ndarray) -> list[tuple[float, float]]:
    out = []
    lo, hi = np.percentile(x, [0.5, 99.5], axis=1)
    for fraction in (0.05, 0.1, 0.2, 0.4, 0.7, 1.0):
        max_rate = fraction * fs
        events = RateEncoder(lo, hi, fs, max_rate, random_state=0)(x)
        decoded = RateDecoder(lo, hi, fs, max_rate, x.shape[0], window_s=0.05)(events,
                                                                             x.shape[1])
        out.append((events.size / x.size, reconstruction_snr_db(x, decoded)))
    return out


def bisect(rate_and_snr: Callable[[float], tuple[float, float]],
           ok: Callable[[float, float], bool], good: float, bad: float,
           steps: int = 16) -> tuple[float, float, float]:
    """The parameter nearest ``bad`` (geometric bisection between ``good``, where
    ``ok(rate, snr)`` holds, and ``bad``, where it fails) that is still ok, with its rate and
    SNR. Assumes ok switches once in between, as the rate and SNR of a dead band do."""
    for _ in range(steps):
        mid = float(np.sqrt(good * bad))
        good, bad = (mid, bad) if ok(*rate_and_snr(mid)) else (good, mid)
    return (good, *rate_and_snr(good))


@numba.njit(cache=True)
def _best_steps(x: np.ndarray, penalty: float) -> tuple[float, int]:
    """Least squared error of a piecewise-constant fit to x with a cost of ``penalty`` per
    change (optimal partitioning, exact; PELT pruning with K = 0, valid for squared error:
    Killick, Fearnhead & Eckley, JASA 107(500), 2012). Returns the error and the changes."""
    n = x.size
    s1 = np.zeros(n + 1)
    s2 = np.zeros(n + 1)
    for i in range(n):
        s1[i + 1] = s1[i] + x[i]
        s2[i + 1] = s2[i] + x[i] * x[i]
    best = np.empty(n + 1)
    best[0] = -penalty  # the first segment is free: it is the origin, not a change
    segments = np.zeros(n + 1, np.int64)
    keep = np.empty(n + 1, np.int64)
    cost = np.empty(n + 1)
    keep[0] = 0
    m = 1
    for t in range(1, n + 1):
        low, arg = np.inf, 0
        for j in range(m):
            s = keep[j]
            total = s1[t] - s1[s]
            cost[j] = best[s] + s2[t] - s2[s] - total * total / (t - s)
            if cost[j] + penalty < low:
                low, arg = cost[j] + penalty, s
        best[t] = low
        segments[t] = segments[arg] + 1
        # A start whose fit already costs more than the optimum can never be optimal later.
        k = 0
        for j in range(m):
            if cost[j] <= low:
                keep[k] = keep[j]
                k += 1
        keep[k] = t
        m = k + 1
    return best[n] - penalty * (segments[n] - 1), segments[n] - 1


def hold_bound(x: np.ndarray, rate: float) -> float:
    """Upper bound (dB) on the reconstruction SNR of any decoder that holds a level between
    events, at ``rate`` events per sample per channel: such a decoder's output is piecewise
    constant with at most that many changes, so its error is at least that of the best such
    fit, E*(K) for K changes. For any penalty λ, whose optimum has error E and C changes,
    E*(K) >= E + λ (C - K) (Lagrangian duality); bisection on λ brings C to K and the bound
    close to E*(K). One penalty for all channels shares the changes optimally among them."""
    xc = x - x.mean(axis=1, keepdims=True)
    budget = rate * x.size
    # Penalties in the signal's unit squared, relative to its power. A penalty near the power
    # already leaves few changes; larger ones would slow the pruning (long segments).
    lo, hi = 1e-6 * float(np.mean(xc**2)), float(np.mean(xc**2))
    error = 0.0
    for _ in range(20):
        penalty = float(np.sqrt(lo * hi))
        fits = [_best_steps(row, penalty) for row in xc]
        changes, fit_error = sum(c for _, c in fits), sum(e for e, _ in fits)
        error = max(error, fit_error + penalty * (changes - budget))
        lo, hi = (penalty, hi) if changes > budget else (lo, penalty)
    return float(10 * np.log10(np.mean(xc**2) / (error / x.size)))


def mitdb_table(data: Path) -> list[tuple[str, float, float, float, float, float, float,
                                              float, float, float]]:
    """Per MIT-BIH record in ``data`` (both leads, whole record): dead band (µV) for <= 0.2
    events per sample, its rate and SNR (dB), the hold bound at 0.2 (dB) and the events per
    sample that 30 dB needs; then the rate and SNR of interp and of knots, rate-controlled."""
    rows = []
    for source in (s for s in available(data) if s.startswith("mitdb:")):
        x = load(source, data).signal
        band, rate, snr = bisect(lambda th, x=x: graded(x, 360.0, th),
                                 lambda rate, snr: rate <= TARGET_RATE, 1.0, 1e-5)
        rate_30 = bisect(lambda th, x=x: graded(x, 360.0, th),
                         lambda rate, snr: snr >= TARGET_SNR, 1e-5, 1.0)[1]
        rows.append((source.partition(":")[2], band * 1e3, rate, snr,
                     hold_bound(x, TARGET_RATE), rate_30, *controlled(x, 360.0, "interp"),
                     *controlled(x, 360.0, "knots")))
    return rows


CURVES = {"delta": delta_curve, "graded": graded_curve, "interp": interp_curve,
          "knots": knots_curve, "level": level_curve, "rate": rate_curve}


def signals(data: Path) -> dict[str, tuple[np.ndarray, float, str]]:
    """The real signals of the quality sweep: name -> (signal, fs, description)."""
    ecg = [load(f"mitdb:{r}", data).excerpt(0, 120) for r in ("100", "208")]
    ppg = load("spc2015:DATA_01_TYPE01", data).excerpt(0, 90).select(["PPG1"])
    eeg = load("eeglab:sample", data).excerpt(0, 30).select(["FPz", "EOG1", "Cz", "Oz"])
    return {
        "ECG": (np.concatenate([r.signal for r in ecg]), 360.0,
                "MIT-BIH 100 and 208, both leads, first 120 s, 360 Hz, mV"),
        "PPG": (ppg.signal, ppg.fs, "SP Cup 2015 DATA_01_TYPE01 PPG1, first 90 s, 125 Hz"),
        "EEG": (eeg.signal, eeg.fs, "EEGLAB sample FPz, EOG1, Cz, Oz, first 30 s, 128 Hz, µV"),
    }


def quality(data: Path) -> dict[str, dict[str, list[tuple[float, float]]]]:
    results = {}
    for name, (x, fs, _) in signals(data).items():
        lo, hi = np.percentile(x, [0.5, 99.5], axis=1)
        results[name] = {enc: curve(x, fs, hi - lo) for enc, curve in CURVES.items()}
    return results


def plot(results: dict[str, dict[str, list[tuple[float, float]]]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(13, 3.8), sharey=True)
    for ax, (name, curves) in zip(axes, results.items(), strict=True):
        for enc, points in curves.items():
            rate, snr = np.array(points).T
            ax.semilogx(rate, snr, "o-", ms=3, label=enc)
        ax.axvline(0.2, color="grey", ls=":", lw=1)
        ax.axhline(30.0, color="grey", ls=":", lw=1)
        ax.set_title(name)
        ax.set_xlabel("events per sample per channel")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("reconstruction SNR (dB)")
    axes[0].legend()
    fig.tight_layout()
    FIGURE.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(FIGURE, dpi=110)
    plt.close(fig)


def best_at(points: list[tuple[float, float]], max_rate: float) -> str:
    ok = [snr for rate, snr in points if rate <= max_rate]
    return f"{max(ok):.1f}" if ok else "-"


def rate_for(points: list[tuple[float, float]], snr: float) -> str:
    ok = [rate for rate, s in points if s >= snr]
    return f"{min(ok):.3f}" if ok else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=os.environ.get("NEUROTWIN_DATA")
                        or str(resources.files("host.data")))
    parser.add_argument("--samples", type=int, default=2_000_000)
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    speed = throughput(args.channels, args.samples, args.repeat)
    results = quality(Path(args.data))
    plot(results)
    records = mitdb_table(Path(args.data))
    described = {name: text for name, (_, _, text) in signals(Path(args.data)).items()}
    whole = len(records) > 2  # the full set rather than the two shipped 120-s excerpts
    lines = [
        "## Sensors: encoder and front-end throughput, reconstruction SNR vs event rate",
        "",
        "`python benchmarks/bench_sensors.py "
        + ("--data DIR " if whole else "")
        + f"--samples {args.samples} --channels {args.channels}` "
        + ("(DIR: the full sets, laid out like shared/data; " if whole else "(")
        + f"{platform.processor() or 'cpu'}, "
        f"Python {platform.python_version()}, numpy {np.__version__}; shared 2-core machine, "
        f"load average {os.getloadavg()[0]:.1f} at the end of the run).",
        "",
        f"Throughput on a {args.channels} x {args.samples} input (one process, one thread, "
        f"best of {args.repeat}); the target is 5e7 samples/s per core. Per CPU-second is the "
        "per-core figure (other jobs share this machine's two cores, so wall clock is lower "
        "when it is busy):",
        "",
        "| stage | samples per CPU-second | samples per wall-clock second | setting |",
        "|---|---|---|---|",
        *(f"| {name} | {cpu:.3g} | {wall:.3g} | {note} |" for name, wall, cpu, note in speed),
        "",
        "Reconstruction SNR against event rate (events per sample per channel; the delta, "
        "graded and level decoders hold the last level, the interp and knots decoders draw "
        "lines between knots (knot values in 1/1024 of the 0.5-99.5 percentile range; delay "
        "32 and 79 samples), the rate decoder averages over 50 ms):",
        "",
        "![SNR vs event rate](img/encoders_snr.png)",
        "",
        "| signal | encoder | best SNR at <= 0.2 events/sample (dB) | "
        "events/sample for >= 30 dB |",
        "|---|---|---|---|",
    ]
    for name, curves in results.items():
        for enc, points in curves.items():
            lines.append(f"| {name} | {enc} | {best_at(points, 0.2)} | {rate_for(points, 30.0)} |")
    lines += ["", "Signals: " + "; ".join(f"{k}: {v}" for k, v in described.items()) + "."]
    reached = sum(row[3] >= TARGET_SNR for row in records)
    possible = sum(row[4] >= TARGET_SNR for row in records)
    snrs = np.array([row[3] for row in records])
    needed = np.array([row[5] for row in records])
    length = "whole records, 30 min" if whole else "first 120 s"
    summary = []
    for name, col in (("interp", 6), ("knots", 8)):
        rate, snr = np.array([row[col] for row in records]), np.array([row[col + 1]
                                                                     for row in records])
        summary.append(
            f"{name}, rate-controlled: {rate.min():.3f}-{rate.max():.3f} events/sample "
            f"({'all' if rate.max() <= TARGET_RATE else 'not all'} <= 0.2), median SNR "
            f"{np.median(snr):.1f} dB ({snr.min():.1f}-{snr.max():.1f}), 30 dB on "
            f"{int(np.sum(snr >= TARGET_SNR))} of {len(records)} records")
    lines += [
        "",
        f"MIT-BIH per record ({length}, both leads, 360 Hz, mV). Graded delta: the "
        "smallest dead band with at most 0.2 events per sample (bisection), its SNR, the bound "
        "on the SNR of any coder whose decoder holds a level between events (best "
        "piecewise-constant fit with 0.2 changes per sample, found offline with the whole "
        "record in view), and the events per sample that 30 dB takes. "
        f"30 dB at <= 0.2 events/sample: reached on {reached} of {len(records)} records; the "
        f"bound allows it on {possible}. Median SNR at 0.2: {np.median(snrs):.1f} dB "
        f"({snrs.min():.1f}-{snrs.max():.1f}); median events/sample for 30 dB: "
        f"{np.median(needed):.2f} ({needed.min():.2f}-{needed.max():.2f}). "
        f"interp and knots: one causal pass per record, the rate controller set to "
        f"{CONTROL_RATE} events per sample from the graded auto dead band; the events "
        "include the final knot. " + "; ".join(summary) + ".",
        "",
        "| record | graded dead band (µV) | graded events/sample | graded SNR (dB) | "
        "hold bound at 0.2 (dB) | graded events/sample for 30 dB | interp events/sample | "
        "interp SNR (dB) | knots events/sample | knots SNR (dB) |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *(f"| {r} | {band:.1f} | {rate:.3f} | {snr:.1f} | {bound:.1f} | {rate_30:.3f} | "
          f"{i_rate:.3f} | {i_snr:.1f} | {k_rate:.3f} | {k_snr:.1f} |"
          for r, band, rate, snr, bound, rate_30, i_rate, i_snr, k_rate, k_snr in records),
    ]
    markdown = "\n".join(lines)
    write_section("sensors", markdown)
    print(markdown)


if __name__ == "__main__":
    main()
