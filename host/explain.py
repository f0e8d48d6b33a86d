"""Level 5: why the twin forecasts what it does — attributions (captum) and counterfactuals.

Drivers are the external inputs the twin sees over a forecast's window (the 48 h before the
origin and, for planned doses, the 24 h it covers): ``activity``, ``heat`` (temperature above
24 °C), ``pm`` (PM2.5) and ``drug`` (doses). Each has a neutral value — rest, 24 °C at most,
clean air (5 µg/m³, the WHO 2021 annual guideline level for PM2.5), no dose
(:func:`neutralise`). The subject's own state history (heart rate, ectopy, the daily profile)
is kept as observed: explanations answer "what did the drivers add", not "why is this person's
heart rate 70".

- :meth:`Explainer.attribute` runs Integrated Gradients (captum) on the mean forecast heart
  rate over chosen horizons, from the all-neutral input to the actual one, and sums the
  attributions over each driver's inputs (completeness: they add up to the forecast's change).
- :meth:`Explainer.counterfactual` answers "what would the forecast be had this driver been
  neutral over the window": the level-2 (and level-3, for doses) model on the neutralised
  input. :func:`simulated_counterfactual` gives the simulator's answer to the same question.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from host.cohort import HEAT_THRESHOLD_C, Subject, simulate
from host.forecast import EDIT_PAST_H, HISTORY_H, HORIZON_H, INPUTS, SCALE, Series, windows

DRIVERS = ("activity", "heat", "pm", "drug")
RESTING_ACTIVITY = 0.03
CLEAN_PM25 = 5.0


def neutralise(series: Series, origin: int, drivers: tuple[str, ...]) -> Series:
    """``series`` with the given drivers set to neutral over the explained window: the 48 h
    before ``origin`` and, for doses, the 24 h after it; the state history is unchanged."""
    lo, hi = origin - max(HISTORY_H, EDIT_PAST_H), origin
    activity, temperature, pm = (series.activity.copy(), series.temperature_c.copy(),
                                 series.pm25.copy())
    doses = {d: v.copy() for d, v in series.doses.items()}
    if "activity" in drivers:
        activity[lo:hi] = RESTING_ACTIVITY
    if "heat" in drivers:
        temperature[lo:hi] = np.minimum(temperature[lo:hi], HEAT_THRESHOLD_C)
    if "pm" in drivers:
        pm[lo:hi] = CLEAN_PM25
    if "drug" in drivers:
        for v in doses.values():
            v[lo:origin + HORIZON_H] = 0.0
    return replace(series, activity=activity, temperature_c=temperature, pm25=pm, doses=doses)


def simulated_counterfactual(subject: Subject, origin: int, drivers: tuple[str, ...]
                             ) -> np.ndarray:
    """The simulator's heart rate (bpm) over the 24 h from ``origin`` had ``drivers`` been
    neutral over the explained window (same noise as the factual run)."""
    from host.cohort import Plan

    factual = Series.from_trajectory(simulate(subject))
    neutral = neutralise(factual, origin, drivers)
    env = subject.environment.replace(temperature_c=neutral.temperature_c, pm25=neutral.pm25)
    run = simulate(subject, plan=Plan(neutral.doses), environment=env,
                   activity=neutral.activity)
    return run.hr[origin:origin + HORIZON_H]


def _channels(driver: str) -> dict[str, Any]:
    """Which inputs carry a driver: past channel indices, exposure features, doses."""
    return {
        "activity": {"past": [2], "exposure": [3]},
        "heat": {"past": [3], "exposure": [0, 1]},
        "pm": {"past": [4], "exposure": [2]},
        "drug": {"doses": True},
    }[driver]


@dataclass
class Explainer:
    """Attributions and counterfactuals for a level-2 forecaster and (optionally) its level-3
    edit model.

    Args:
        level2: a fitted :class:`~host.forecast.Level2Forecaster`.
        edit: a fitted :class:`~host.interventions.EditModel` (doses are ignored without).
        steps: Integrated-Gradients steps.
    """

    level2: Any
    edit: Any = None
    steps: int = 32

    def _forward(self, horizons: slice):
        import torch

        net = self.level2.net_
        off, sc = SCALE["hr"]

        def f(past, exposure, profile, calendar, doses):
            z = net.encode(past, exposure)
            y = net.decode(z, profile, calendar)
            if self.edit is not None:
                y = self.edit.net_(z, y, doses)
            return (y[:, horizons, 0] * sc + off).mean(dim=1)

        return torch, f

    def attribute(self, series: Series, origin: int, horizons: slice = slice(None)
                  ) -> dict[str, Any]:
        """Integrated Gradients of the mean forecast heart rate (bpm) over ``horizons``:
        per driver (bpm) and per driver and input hour (for plots)."""
        from captum.attr import IntegratedGradients

        torch, f = self._forward(horizons)
        names = (*INPUTS, "doses")
        actual = windows(series, np.array([origin]))
        neutral = windows(neutralise(series, origin, DRIVERS), np.array([origin]))
        x = tuple(torch.from_numpy(actual[k]) for k in names)
        x0 = tuple(torch.from_numpy(neutral[k]) for k in names)
        ig = IntegratedGradients(f)
        attributions, delta = ig.attribute(x, baselines=x0, n_steps=self.steps,
                                           return_convergence_delta=True)
        a = {k: v.detach().numpy()[0] for k, v in zip(names, attributions, strict=True)}
        per_driver, per_hour = {}, {}
        for driver in DRIVERS:
            ch = _channels(driver)
            if "doses" in ch:
                hourly = a["doses"].sum(axis=1)
                per_hour[driver] = hourly.tolist()
                per_driver[driver] = float(hourly.sum())
                continue
            hourly = a["past"][:, ch["past"]].sum(axis=1)
            per_hour[driver] = hourly.tolist()
            per_driver[driver] = float(hourly.sum() + a["exposure"][ch["exposure"]].sum())
        with torch.no_grad():
            fx, fx0 = float(f(*x)), float(f(*x0))
        return {"drivers": per_driver, "per_hour": per_hour, "forecast_bpm": fx,
                "neutral_bpm": fx0, "convergence_delta": float(delta.abs().sum()),
                "state_attribution": float(sum(a[k].sum() for k in ("profile", "calendar"))
                                           + a["past"][:, :2].sum())}

    def counterfactual(self, series: Series, origin: int, drivers: tuple[str, ...]
                       ) -> dict[str, Any]:
        """Forecast heart rate (bpm, 24 h) as is and had ``drivers`` been neutral."""
        torch, _ = self._forward(slice(None))
        out = {}
        for label, s in (("factual", series), ("counterfactual",
                                              neutralise(series, origin, drivers))):
            batch = windows(s, np.array([origin]))
            net = self.level2.net_
            with torch.no_grad():
                t = [torch.from_numpy(batch[k]) for k in INPUTS]
                z = net.encode(t[0], t[1])
                y = net.decode(z, t[2], t[3])
                if self.edit is not None:
                    y = self.edit.net_(z, y, torch.from_numpy(batch["doses"]))
            off, sc = SCALE["hr"]
            out[f"{label}_hr_bpm"] = (y[0, :, 0].numpy() * sc + off).tolist()
        out["effect_hr_bpm"] = (np.array(out["factual_hr_bpm"])
                                - np.array(out["counterfactual_hr_bpm"])).tolist()
        out["drivers"] = list(drivers)
        return out
