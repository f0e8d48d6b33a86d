"""Figures of a sensed stream: signal and decoding, artefact labels, beats, events."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sensors.events import UP, sample_index
from sensors.pipeline import Sensed

# At most this much is drawn, so that beats and events stay readable.
PLOT_SECONDS = 10.0
MAX_CHANNELS = 4


def plot_sensed(sensed: Sensed, path: str | Path, seconds: float = PLOT_SECONDS) -> None:
    """Write a PNG: per channel the encoded signal with its decoding, shaded artefact labels
    and beat marks; below, the events as a raster (address against time, UP/DOWN)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_ch = min(MAX_CHANNELS, sensed.signal.shape[0])
    n = min(sensed.signal.shape[1], round(seconds * sensed.fs))
    t = np.arange(n) / sensed.fs
    fig, axes = plt.subplots(n_ch + 1, 1, figsize=(11, 1.9 * (n_ch + 1)), sharex=True)
    rec = sensed.recording
    colours = plt.get_cmap("tab10")
    kinds = sorted(set(rec.labels["kind"]))
    for c, ax in enumerate(axes[:n_ch]):
        ax.plot(t, sensed.signal[c, :n], lw=0.7, color="k", label="encoder input")
        ax.plot(t, sensed.decoded[c, :n], lw=0.7, color="tab:orange", label="decoded")
        for label in rec.labels[(rec.labels["channel"] == -1) | (rec.labels["channel"] == c)]:
            if label["onset"] < t[-1]:
                ax.axvspan(label["onset"], min(label["offset"], t[-1]), alpha=0.2,
                           color=colours(kinds.index(label["kind"]) % 10), lw=0)
        beats = rec.beats[rec.beats["sample"] / rec.fs < t[-1]]
        if beats.size:
            idx = np.minimum(np.rint(beats["sample"] / rec.fs * sensed.fs).astype(int), n - 1)
            ax.plot(idx / sensed.fs, sensed.signal[c, idx], "v", ms=4, color="tab:red")
        ax.set_ylabel(f"{rec.channels[c]} ({sensed.units[c]})")
    handles = [plt.Rectangle((0, 0), 1, 1, alpha=0.3, color=colours(i % 10))
               for i in range(len(kinds))]
    axes[0].legend(axes[0].get_lines()[:2] + handles,
                   ["encoder input", "decoded", *kinds], loc="upper right", fontsize=7, ncol=4)
    ev = sensed.events[sample_index(sensed.events, sensed.fs) < n]
    up = ev["p"] == UP
    # UP drawn just above its address, DOWN just below.
    axes[-1].scatter(ev["t"][up] / 1e6, ev["x"][up] + 0.15, s=4, marker="|",
                     color="tab:green", label="UP / ON")
    axes[-1].scatter(ev["t"][~up] / 1e6, ev["x"][~up] - 0.15, s=4, marker="|",
                     color="tab:purple", label="DOWN / OFF")
    axes[-1].set_ylabel("address")
    axes[-1].set_xlabel("time (s)")
    axes[-1].legend(loc="upper right", fontsize=7)
    cfg = sensed.config
    fig.suptitle(f"{rec.name}: afe {cfg.afe or 'none'}, encoder {cfg.encoder}, "
                 f"{sensed.event_rate:.3f} events/sample, reconstruction SNR "
                 f"{sensed.snr_db:.1f} dB (first {t[-1]:.0f} s)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
