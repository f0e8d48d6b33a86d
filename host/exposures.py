"""Level 4: exposures that accumulate, and a subject's model updated as new data arrive.

- :class:`ExposureAccumulator` keeps exponentially weighted averages of hourly exposures —
  heat above 24 °C (over a day and over five days: strain and acclimatisation), PM2.5 over a
  day, and activity load (7-day minus 42-day average, Banister's fatigue minus fitness) — and
  updates them hour by hour (``partial_fit``), so a subject's exposure state is carried
  forward without keeping the raw history.
- :class:`SubjectAdapter` corrects a frozen population forecaster for one subject: a linear
  model of the forecast residual (bpm) on the accumulated exposures, the heat forecast for
  each target hour (with its interaction with the 5-day heat dose, which is how
  acclimatisation shows) and the hour of day, fitted by ridge regression. Each
  ``partial_fit`` folds new hours into running sums of the normal equations — no
  retraining, no stored history. Those sums are a replay of everything seen, so a fit to a
  new regime (a hotter climate) is also a fit to the earlier data: the correction cannot
  buy accuracy after a shift with error on what came before, which forgetting would (a
  forgetting factor below 1 is still available for subjects whose response drifts in ways
  the regressors do not capture).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np

# name: (exposure, time constant in hours); the order of the feature vector.
ACCUMULATORS: tuple[tuple[str, str, float], ...] = (
    ("heat_24h", "heat", 24.0),
    ("heat_120h", "heat", 120.0),
    ("pm_24h", "pm25", 24.0),
    ("load_7d", "activity", 168.0),
    ("load_42d", "activity", 1008.0),
)
HEAT_THRESHOLD_C = 24.0


@dataclass
class ExposureAccumulator:
    """Exponentially weighted exposure averages, updated hour by hour.

    ``partial_fit(temperature_c, pm25, activity)`` takes hourly arrays (°C, µg/m³, 0..1) and
    returns the features after each hour ([hours, 4]: heat over 24 h and 120 h in °C above
    24 °C, PM2.5 over 24 h in units of 10 µg/m³, and activity load = 7-day − 42-day average
    activity ×10); state between calls is in ``levels_``.
    """

    def __post_init__(self) -> None:
        self.levels_: np.ndarray | None = None

    def reset(self) -> ExposureAccumulator:
        self.levels_ = None
        return self

    def partial_fit(self, temperature_c: np.ndarray, pm25: np.ndarray,
                    activity: np.ndarray) -> np.ndarray:
        heat = np.maximum(np.asarray(temperature_c, float) - HEAT_THRESHOLD_C, 0.0)
        inputs = {"heat": heat, "pm25": np.asarray(pm25, float),
                  "activity": np.asarray(activity, float)}
        n = heat.size
        if self.levels_ is None:
            # Start as if the first day had lasted: no warm-up transient.
            self.levels_ = np.array([float(np.mean(inputs[k][:24])) if n else 0.0
                                     for _, k, _ in ACCUMULATORS])
        alpha = np.array([1.0 - np.exp(-1.0 / tau) for _, _, tau in ACCUMULATORS])
        out = np.empty((n, len(ACCUMULATORS)))
        x = np.stack([inputs[k] for _, k, _ in ACCUMULATORS], axis=1)
        level = self.levels_.copy()
        for i in range(n):
            level += alpha * (x[i] - level)
            out[i] = level
        self.levels_ = level
        return features(out)


def features(levels: np.ndarray) -> np.ndarray:
    """Accumulator levels [hours, 5] -> features [hours, 4] (see ExposureAccumulator)."""
    return np.stack([levels[:, 0], levels[:, 1], levels[:, 2] / 10.0,
                     (levels[:, 3] - levels[:, 4]) * 10.0], axis=1)


FEATURES = ("heat_24h", "heat_120h", "pm_24h", "load")
# Width of SubjectAdapter.design: bias, PM2.5, load, heat, heat × 5-day heat, sin, cos.
REGRESSORS = 7


@dataclass
class SubjectAdapter:
    """Ridge regression (optionally exponentially weighted) on a forecaster's residuals (see
    the module docstring), kept in information form: ``partial_fit`` adds the new samples' normal
    equations to decayed running sums, so no history is stored and no retraining happens.

    Args:
        forgetting: per-sample forgetting factor λ (effective memory 1/(1 − λ) samples; 24
            samples per forecast origin); 1: none, every sample kept in the sums.
        ridge: L2 penalty pulling the correction towards zero (the population forecast).
            A day brings 576 samples (24 origins × 24 h) that overlap and share their noise,
            so the penalty is set to weigh like ~2 weeks of the unit regressors (bias, hour
            of day), which would otherwise chase noise, and like under a day of the heat
            regressors (°C², ~25 per sample in a hot spell), which should follow a new
            climate quickly. 10 000 was chosen among 500, 2000, 5000, 10 000 and 50 000 on
            the benchmark's shift subjects (docs/benchmarks.md).
        horizons: forecast horizons (h) the adapter corrects.
    """

    forgetting: float = 1.0
    ridge: float = 10_000.0
    horizons: int = 24
    # The last forecast origin folded in (set by whoever feeds it; -1: none).
    last_origin_: int = field(default=-1, init=False)

    def design(self, exposure: np.ndarray, hour_of_day: np.ndarray,
               heat: np.ndarray) -> np.ndarray:
        """Regressors [n, horizons, 7] for origins with exposures [n, 4] (see
        :class:`ExposureAccumulator`), hour of day [n] of the first forecast hour and the
        heat forecast [n, horizons] (°C above 24 °C at each target hour): a bias, PM2.5 and
        activity load, the heat, the heat times the 5-day heat dose (/10 °C: strain that
        acclimatisation lessens), and the hour-of-day harmonic of each target hour. The
        heat doses do not enter on their own: before a first hot spell they are ~0, and
        estimated from its first day alone they would be collinear with the heat and
        extrapolate badly."""
        n = exposure.shape[0]
        hod = (np.asarray(hour_of_day)[:, None] + np.arange(self.horizons)[None]) % 24
        ang = 2 * np.pi * hod / 24
        ones = np.ones((n, self.horizons, 1))
        exp = np.broadcast_to(exposure[:, None, :], (n, self.horizons, exposure.shape[1]))
        heat = np.asarray(heat, float)[..., None]
        return np.concatenate([ones, exp[..., 2:], heat, heat * exp[..., 1:2] / 10.0,
                               np.sin(ang)[..., None], np.cos(ang)[..., None]], axis=2)

    def partial_fit(self, exposure: np.ndarray, hour_of_day: np.ndarray, heat: np.ndarray,
                    residual: np.ndarray) -> SubjectAdapter:
        """Fold in forecast residuals (observed − forecast, bpm) [n, horizons] of origins with
        exposures [n, 4], first-hour hour of day [n] and heat forecast [n, horizons] (see
        :meth:`design`); NaN residuals are skipped."""
        x = self.design(exposure, hour_of_day, heat)
        x = x.reshape(-1, x.shape[-1])
        y = np.asarray(residual, float).reshape(-1)
        ok = np.isfinite(y)
        x, y = x[ok], y[ok]
        if not hasattr(self, "gram_"):
            self.gram_ = np.zeros((x.shape[1], x.shape[1]))
            self.moment_ = np.zeros(x.shape[1])
            self.n_samples_ = 0
        decay = self.forgetting ** y.size
        self.gram_ = decay * self.gram_ + x.T @ x
        self.moment_ = decay * self.moment_ + x.T @ y
        self.n_samples_ += int(y.size)
        self.coef_ = np.linalg.solve(self.gram_ + self.ridge * np.eye(x.shape[1]), self.moment_)
        return self

    def fit(self, exposure: np.ndarray, hour_of_day: np.ndarray, heat: np.ndarray,
            residual: np.ndarray) -> SubjectAdapter:
        """Start afresh and fold in ``residual`` (see :meth:`partial_fit`)."""
        for name in ("gram_", "moment_", "coef_", "n_samples_"):
            self.__dict__.pop(name, None)
        return self.partial_fit(exposure, hour_of_day, heat, residual)

    def predict(self, exposure: np.ndarray, hour_of_day: np.ndarray,
                heat: np.ndarray) -> np.ndarray:
        """Correction (bpm) to add to the forecast [n, horizons]; zeros before any fit."""
        x = self.design(exposure, hour_of_day, heat)
        if not hasattr(self, "coef_"):
            return np.zeros(x.shape[:2])
        return x @ self.coef_

    def to_bytes(self) -> bytes:
        """The adapter's state, for :meth:`Repository.save_model`."""
        buf = io.BytesIO()
        np.savez(buf, gram=self.gram_, moment=self.moment_, coef=self.coef_,
                 n=self.n_samples_, last_origin=self.last_origin_,
                 params=np.array([self.forgetting, self.ridge, self.horizons]))
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> SubjectAdapter:
        """The adapter saved by :meth:`to_bytes`; ValueError if it has other regressors
        (saved by an earlier version: its sums cannot be carried over)."""
        with np.load(io.BytesIO(data)) as d:
            if d["coef"].shape != (REGRESSORS,):
                raise ValueError(f"adapter with {d['coef'].size} regressors, expected "
                                 f"{REGRESSORS}")
            forgetting, ridge, horizons = d["params"]
            adapter = cls(float(forgetting), float(ridge), int(horizons))
            adapter.gram_, adapter.moment_, adapter.coef_ = d["gram"], d["moment"], d["coef"]
            adapter.n_samples_ = int(d["n"])
            adapter.last_origin_ = int(d["last_origin"])
        return adapter
