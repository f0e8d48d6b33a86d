"""Figures of the crossbar model: pulse response and Monte Carlo sweeps (matplotlib, PNG).

Figures are built on :class:`matplotlib.figure.Figure` directly, so no pyplot state or
display is involved and they can be drawn in worker processes and headless CI alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from neuro.crossbar import DeviceArray, pulse_response
from neuro.crossbar_presets import DevicePreset, get_preset, only


def plot_pulse_response(device: Any, path: str | Path, devices: int = 8, seed: int = 0,
                        cycles: int = 2) -> Path:
    """G (µS) against pulse number over ``cycles`` SET-then-RESET sweeps: the preset's
    nominal curve and ``devices`` devices with its device-to-device and cycle-to-cycle
    variability. Returns the path written."""
    preset: DevicePreset = get_preset(device)
    up, down = preset.set_pulses, preset.reset_pulses
    nominal = pulse_response(preset, up, down)
    noisy = only(preset, "d2d", "c2c")
    arr = DeviceArray(noisy, (devices,), np.random.default_rng(seed))
    arr.program(np.full(devices, preset.g_min))
    trace = [arr.g_.copy()]
    for _ in range(cycles):
        for i in range(up + down):
            arr.apply_pulses(np.full(devices, 1 if i < up else -1))
            trace.append(arr.g_.copy())
    trace = np.array(trace)
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.add_subplot()
    pulses = np.arange(len(trace))
    ax.plot(pulses, trace, color="tab:blue", alpha=0.35, lw=0.8)
    ax.plot(pulses, np.concatenate([nominal, *[nominal[1:]] * (cycles - 1)]),
            color="black", lw=2, label="nominal response")
    ax.plot([], [], color="tab:blue", alpha=0.6, label=f"{devices} devices (d2d + c2c)")
    ax.set_xlabel("pulse number (SET, then RESET)")
    ax.set_ylabel("conductance G (µS)")
    ax.set_title(f"{preset.name}: {up} SET / {down} RESET pulses across "
                 f"[{preset.g_min:.3g}, {preset.g_max:.3g}] µS")
    ax.legend(loc="lower right")
    path = Path(path)
    fig.savefig(path, dpi=120)
    return path


def plot_sweep(rows: Sequence[dict[str, Any]], parameter: str, path: str | Path,
               metric: str = "accuracy", group: str | None = None, title: str = "") -> Path:
    """Mean and standard deviation of ``metric`` over instances against ``parameter``.

    ``rows`` are the per-instance records of a sweep; one line per value of ``group``.
    """
    fig = Figure(figsize=(6.5, 4), layout="constrained")
    ax = fig.add_subplot()
    groups = sorted({r[group] for r in rows}) if group else [None]
    for g in groups:
        sel = [r for r in rows if group is None or r[group] == g]
        xs = sorted({r[parameter] for r in sel})
        values = [[r[metric] for r in sel if r[parameter] == x] for x in xs]
        mean = np.array([np.mean(v) for v in values])
        std = np.array([np.std(v) for v in values])
        label = f"{group} = {g}" if group else f"mean ± sd over {len(values[0])} instances"
        ax.errorbar(xs, mean, yerr=std, marker="o", capsize=3, label=label)
        numeric = all(isinstance(x, int | float) for x in xs)
        if numeric and min(xs) > 0 and max(xs) / min(xs) > 100:
            ax.set_xscale("log")
    ax.set_xlabel(parameter)
    ax.set_ylabel(metric)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    path = Path(path)
    fig.savefig(path, dpi=120)
    return path
