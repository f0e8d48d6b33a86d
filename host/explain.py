"""Level 5: why the twin forecasts what it does — attributions (captum) and counterfactuals.

Drivers are the external inputs the twin sees over a forecast's window (the 48 h before the
origin and, for planned doses, the 24 h it covers): ``activity``, ``heat`` (temperature above
24 °C), ``pm`` (PM2.5) and ``drug`` (doses). Each has a neutral value — rest, 24 °C at most,
clean air (5 µg/m³, the WHO 2021 annual guideline level for PM2.5), no dose
(:func:`neutralise`). The subject's own state history is kept as observed but for the
drivers' immediate effect on heart rate, which the model's own response takes out
(:meth:`Explainer.abduct`): explanations answer "what did the drivers add", not "why is this
person's heart rate 70".

- :meth:`Explainer.attribute` attributes the mean forecast heart rate over chosen horizons
  to the drivers: Shapley values per driver (captum ``ShapleyValues`` over the drivers, each
  set of them neutralised as in :meth:`Explainer.abduct`), which add up to the change from
  the all-neutral forecast, and Integrated Gradients (captum) per driver and input hour.
- :meth:`Explainer.counterfactual` answers "what would the forecast be had this driver been
  neutral over the window": the level-2 (and level-3, for doses) model on the neutralised
  input. :func:`simulated_counterfactual` gives the simulator's answer to the same question.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from host.cohort import HEAT_THRESHOLD_C, Subject, simulate
from host.forecast import (
    EDIT_PAST_H,
    ENCODER_INPUTS,
    HISTORY_H,
    HORIZON_H,
    INPUTS,
    RESTING_ACTIVITY,
    SCALE,
    Series,
    windows,
)

DRIVERS = ("activity", "heat", "pm", "drug")
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

        def f(past, exposure, level, profile, calendar, future, doses=None):
            z = net.encode(past, exposure, level)
            y = net.decode(z, profile, calendar, future)
            if self.edit is not None:
                y = self.edit.net_(z, y, doses)
            return (y[:, horizons, 0] * sc + off).mean(dim=1)

        return torch, f

    def attribute(self, series: Series, origin: int, horizons: slice = slice(None)
                  ) -> dict[str, Any]:
        """Attributions of the mean forecast heart rate (bpm) over ``horizons`` to the
        drivers.

        Per driver (``drivers``, bpm): Shapley values (captum ``ShapleyValues``, exact over
        the 4! orders) of the game whose players are the drivers and whose value for a set
        of them is the forecast with the others neutralised as in :meth:`abduct`. A
        driver's share is thus its counterfactual effect averaged over which other drivers
        are neutral: the kind of quantity the simulator's effect of neutralising it is. They
        add up to ``forecast_bpm`` − ``neutral_bpm`` (all drivers neutral). Gradients along
        a straight path in input space (Integrated Gradients, the earlier method) credit
        the drivers for how the network interpolates between two inputs that no subject
        could have had, and ranked the true drivers worse (docs/twin.md).

        Per driver and input hour (``per_hour``, for plots): Integrated Gradients (captum)
        on the driver inputs, from those inputs neutral to the actual ones with the state
        history as observed; ``state_attribution`` is their share of the state inputs (0)."""
        import torch
        from captum.attr import IntegratedGradients, ShapleyValues

        _, f = self._forward(horizons)
        gains = self._gains(series, origin)

        seen: dict[tuple[str, ...], float] = {}  # 16 coalitions, each met in many orders

        def value(present: torch.Tensor) -> torch.Tensor:
            """Forecast (bpm) for each row of driver presence flags (1 actual, 0 neutral)."""
            out = []
            for row in present.numpy():
                absent = tuple(d for d, p in zip(DRIVERS, row, strict=True) if p < 0.5)
                if absent not in seen:
                    seen[absent] = self._mean_forecast(self.abduct(series, origin, absent,
                                                                   gains), origin, f)
                out.append(seen[absent])
            return torch.tensor(out)

        shapley = ShapleyValues(value).attribute(torch.ones(1, len(DRIVERS)),
                                                 baselines=torch.zeros(1, len(DRIVERS)),
                                                 perturbations_per_eval=24)[0]
        # Without an edit model the doses are no input (nothing to differentiate).
        names = (*INPUTS, "doses") if self.edit is not None else INPUTS
        actual = windows(series, np.array([origin]))
        neutral = windows(neutralise(series, origin, DRIVERS), np.array([origin]))
        x = tuple(torch.from_numpy(actual[k]) for k in names)
        x0 = tuple(torch.from_numpy(neutral[k]) for k in names)
        attributions, delta = IntegratedGradients(f).attribute(
            x, baselines=x0, n_steps=self.steps, return_convergence_delta=True)
        a = {k: v.detach().numpy()[0] for k, v in zip(names, attributions, strict=True)}
        per_hour = {}
        for driver in DRIVERS:
            ch = _channels(driver)
            if "doses" in ch:
                hourly = a["doses"].sum(axis=1) if "doses" in a else np.zeros(EDIT_PAST_H
                                                                               + HORIZON_H)
            else:
                hourly = a["past"][:, ch["past"]].sum(axis=1)
            per_hour[driver] = hourly.tolist()
        return {"drivers": {d: float(v) for d, v in zip(DRIVERS, shapley, strict=True)},
                "per_hour": per_hour, "forecast_bpm": self._mean_forecast(series, origin, f),
                "neutral_bpm": self._mean_forecast(self.abduct(series, origin, DRIVERS, gains),
                                                   origin, f),
                "convergence_delta": float(delta.abs().sum()),
                "state_attribution": float(sum(a[k].sum() for k in ("profile", "calendar"))
                                           + a["past"][:, :2].sum())}

    def _mean_forecast(self, series: Series, origin: int, f: Any = None) -> float:
        """The forecast heart rate (bpm) at ``origin``, averaged over ``f``'s horizons
        (default: all 24)."""
        import torch

        f = f or self._forward(slice(None))[1]
        batch = windows(series, np.array([origin]))
        with torch.no_grad():
            return float(f(*(torch.from_numpy(batch[k]) for k in (*INPUTS, "doses"))))

    def _gains(self, series: Series, origin: int) -> dict[str, float]:
        """The model's own immediate response (bpm per unit) of heart rate to activity and to
        heat: how its forecast moves when the plan of the forecast hours rises by 0.1, or
        their temperature by 1 °C above 24 °C (mean over the 24 h)."""
        later = slice(origin, origin + HORIZON_H)
        base = self._mean_forecast(series, origin)
        plan = series.plan(series.hours + HORIZON_H)
        plan[later] += 0.1
        gains = {"activity": (self._mean_forecast(replace(series, activity_plan=plan), origin)
                              - base) / 0.1, "heat": 0.0}
        if series.hours >= origin + HORIZON_H:  # the weather of the forecast hours is known
            temperature = series.temperature_c.copy()
            hot = np.maximum(temperature[later], HEAT_THRESHOLD_C) + 1.0
            step = float(np.mean(hot - temperature[later]))
            temperature[later] = hot
            gains["heat"] = max(0.0, (self._mean_forecast(
                replace(series, temperature_c=temperature), origin) - base) / step)
        return gains

    def abduct(self, series: Series, origin: int, drivers: tuple[str, ...],
               gains: dict[str, float] | None = None) -> Series:
        """:func:`neutralise` the drivers, and take their immediate effect out of the
        observed heart rate over the window as well (``gains``: :meth:`_gains`).

        Without the second step, the network sees a subject who rested (say) and still had
        the heart rate of their activity; it reads that as a higher resting level and
        forecasts a higher heart rate — the opposite sign of the true effect of resting. The
        simulator's counterfactual changes that history too: this is the abduction step of
        a counterfactual (keep the noise, change the cause, recompute what it drove). PM2.5
        and drugs act with delays the heart-rate history does not show hour by hour; their
        history is left as observed."""
        gains = gains or self._gains(series, origin)
        lo = origin - max(HISTORY_H, EDIT_PAST_H)
        neutral = neutralise(series, origin, drivers)
        hr = series.hr.copy()
        if "activity" in drivers:
            hr[lo:origin] -= gains["activity"] * (series.activity[lo:origin]
                                                  - neutral.activity[lo:origin])
        if "heat" in drivers:
            hr[lo:origin] -= gains["heat"] * np.maximum(
                series.temperature_c[lo:origin] - HEAT_THRESHOLD_C, 0.0)
        return replace(neutral, hr=hr)

    def counterfactual(self, series: Series, origin: int, drivers: tuple[str, ...]
                       ) -> dict[str, Any]:
        """Forecast heart rate (bpm, 24 h) as is and had ``drivers`` been neutral (the input
        of :meth:`abduct`)."""
        torch, _ = self._forward(slice(None))
        out = {}
        for label, s in (("factual", series), ("counterfactual",
                                              self.abduct(series, origin, drivers))):
            batch = windows(s, np.array([origin]))
            net = self.level2.net_
            with torch.no_grad():
                t = [torch.from_numpy(batch[k]) for k in INPUTS]
                z = net.encode(*t[:ENCODER_INPUTS])
                y = net.decode(z, *t[ENCODER_INPUTS:])
                if self.edit is not None:
                    y = self.edit.net_(z, y, torch.from_numpy(batch["doses"]))
            off, sc = SCALE["hr"]
            out[f"{label}_hr_bpm"] = (y[0, :, 0].numpy() * sc + off).tolist()
        out["effect_hr_bpm"] = (np.array(out["factual_hr_bpm"])
                                - np.array(out["counterfactual_hr_bpm"])).tolist()
        out["drivers"] = list(drivers)
        return out
