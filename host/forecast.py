"""Level 2: forecast a subject's state 1-24 h ahead with a torch sequence model.

The state is hourly: mean heart rate (bpm) and ectopic beats per hour. A forecast made at
origin ``t`` (hours ``< t`` observed) covers hours ``t .. t+23`` (horizons 1-24 h). Inputs:

- ``past`` [48 h, 8]: heart rate, log ectopy, activity, temperature, PM2.5, hour of day
  (sin, cos), free day — scaled by :data:`SCALE`;
- ``exposure`` [4]: accumulated exposures at ``t`` (:mod:`host.exposures`);
- ``level`` [2]: the subject's level over the last seven days — mean heart rate (scaled)
  and log(1 + mean ectopic count): steadier than the same-hour profile, whose ectopy is an
  average of seven Poisson counts;
- ``profile`` [24, 2]: the subject's state at the same hour of day averaged over the last
  seven days (the seasonal prior), and ``calendar`` [24, 3] of the target hours;
- ``future`` [24, 6]: the known covariates of the target hours that the forecast is
  conditioned on (:data:`FUTURE_CHANNELS`): the weather forecast (temperature, heat above
  24 °C, PM2.5), the subject's activity plan (the schedule they keep to: sleep, routine,
  planned exercise; not the activity that will actually happen) and the 7-day same-hour
  profiles of activity and heat. Hours beyond the stored data take yesterday's weather at
  the same hour and the plan of a week before (a routine) — see :func:`windows`.

:class:`Level2Net` encodes ``past`` with a GRU, the exposures and the level into a state
vector ``z`` — the state encoder that level 3 freezes — and decodes each horizon as the
profile plus a correction from ``z``, the horizon, the target hour's calendar and its known
covariates. :class:`Level2Forecaster` wraps it as an estimator (``fit``/``partial_fit``/``predict``,
``random_state``).
:func:`seasonal_naive` is the baseline: the value 24 h before each target hour.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from host.cohort import DRUGS, EPOCH_S, HEAT_THRESHOLD_C, HOUR_S, Trajectory
from host.exposures import ExposureAccumulator

# Activity at rest (0..1): asleep in the cohort, the neutral value of the activity driver.
RESTING_ACTIVITY = 0.03
HISTORY_H = 48
PROFILE_DAYS = 7
HORIZON_H = 24
EDIT_PAST_H = 48
FIRST_ORIGIN = PROFILE_DAYS * 24
TARGETS = ("hr_bpm", "ectopy_per_h")
PAST_CHANNELS = ("hr", "ectopy", "activity", "temperature", "pm25", "hour_sin", "hour_cos",
                 "free_day")
FUTURE_CHANNELS = ("temperature", "heat", "pm25", "activity_plan", "activity_profile",
                   "heat_profile")
# (offset, scale) of each scaled channel: x' = (x - offset) / scale.
SCALE = {"hr": (70.0, 15.0), "temperature": (15.0, 10.0)}


@dataclass(frozen=True)
class Series:
    """One subject's hourly level-1 state, exposures and doses (hour 0 starts at
    ``start_s``, s since the Unix epoch). Units: bpm, 1/h, 0..1, °C, µg/m³, mg.
    ``activity_plan`` (0..1) is the activity the subject plans hour by hour; NaN or absent
    where unknown (:meth:`plan` then falls back on the activity a week before)."""

    subject: str
    start_s: float
    hr: np.ndarray
    ectopy: np.ndarray
    activity: np.ndarray
    temperature_c: np.ndarray
    pm25: np.ndarray
    doses: dict[str, np.ndarray] = field(default_factory=dict)
    activity_plan: np.ndarray | None = None

    @property
    def hours(self) -> int:
        return self.hr.size

    @classmethod
    def from_trajectory(cls, tr: Trajectory) -> Series:
        return cls(tr.subject, EPOCH_S, tr.hr, tr.ectopy, tr.activity, tr.temperature_c,
                   tr.pm25, dict(tr.doses), tr.schedule)

    @classmethod
    def from_repository(cls, repository: Any, subject: str) -> Series:
        """The subject's stored events on an hourly grid (gaps carried forward)."""
        events = repository.events(subject)
        if not events:
            raise ValueError(f"no data stored for subject {subject!r}")
        states = [e for e in events if e.kind == "state"] or events
        start = np.floor(min(e.t for e in states) / HOUR_S) * HOUR_S
        hours = int((max(e.t for e in events) - start) // HOUR_S) + 1
        grid: dict[str, np.ndarray] = {}
        for name in ("hr_bpm", "ectopy_per_h", "activity", "temperature_c", "pm25",
                     "activity_plan", *DRUGS):
            grid[name] = np.full(hours, np.nan if name not in DRUGS else 0.0)
        for e in events:
            k = int((e.t - start) // HOUR_S)
            if e.name in grid and 0 <= k < hours:
                grid[e.name][k] = grid[e.name][k] + e.value if e.kind == "dose" else e.value
        defaults = {"hr_bpm": 70.0, "ectopy_per_h": 0.0, "activity": 0.0,
                    "temperature_c": 15.0, "pm25": 10.0}
        for name, default in defaults.items():
            grid[name] = _carry_forward(grid[name], default)
        return cls(subject, float(start), grid["hr_bpm"], grid["ectopy_per_h"],
                   grid["activity"], grid["temperature_c"], grid["pm25"],
                   {d: grid[d] for d in DRUGS}, grid["activity_plan"])

    def hour_of_day(self) -> np.ndarray:
        return ((self.start_s / HOUR_S + np.arange(self.hours)) % 24).astype(int)

    def exposure(self) -> np.ndarray:
        """Accumulated exposures after each hour [hours, 4] (host.exposures)."""
        return ExposureAccumulator().partial_fit(self.temperature_c, self.pm25, self.activity)

    def dose(self, drug: str) -> np.ndarray:
        return self.doses.get(drug, np.zeros(self.hours))

    def plan(self, hours: int | None = None) -> np.ndarray:
        """The activity plan over ``hours`` (default: the series; up to 168 more extend into
        the future), 0..1: the stored plan, else (unknown hours, or beyond the data) the
        plan, or activity, of a week before: what a routine would repeat."""
        hours = self.hours if hours is None else hours
        stored = np.full(hours, np.nan)
        if self.activity_plan is not None:
            m = min(hours, self.activity_plan.size)
            stored[:m] = self.activity_plan[:m]
        # An unknown hour takes the plan of a week before, else the activity then (never the
        # activity of the hour itself, which a forecast does not know); a week before lies
        # within the data for hours <= data + 168 h.
        gap = np.flatnonzero(np.isnan(stored))
        before = gap - 168
        ok = before >= 0
        fill = np.full(gap.size, RESTING_ACTIVITY)
        fill[ok] = np.where(np.isnan(stored[before[ok]]), self.activity[before[ok]],
                            stored[before[ok]])
        stored[gap] = fill
        return stored


def _carry_forward(x: np.ndarray, default: float) -> np.ndarray:
    out = x.copy()
    last = default
    for i, v in enumerate(out):
        if np.isnan(v):
            out[i] = last
        else:
            last = v
    return out


def _calendar(start_s: float, hours: np.ndarray) -> np.ndarray:
    """[..., 3]: sin and cos of the hour of day and a free-day flag, at absolute hours."""
    absolute = start_s / HOUR_S + hours
    ang = 2 * np.pi * (absolute % 24) / 24
    day = np.floor((absolute - EPOCH_S / HOUR_S) / 24)
    free = ((day % 7) >= 5).astype(float)
    return np.stack([np.sin(ang), np.cos(ang), free], axis=-1)


def scaled_state(series: Series) -> np.ndarray:
    """Targets in model units [hours, 2]: scaled heart rate and log(1 + ectopy)."""
    off, sc = SCALE["hr"]
    return np.stack([(series.hr - off) / sc, np.log1p(series.ectopy)], axis=1)


def unscale(y: np.ndarray) -> np.ndarray:
    """Model units [..., 2] back to bpm and beats per hour."""
    off, sc = SCALE["hr"]
    return np.stack([y[..., 0] * sc + off, np.expm1(np.maximum(y[..., 1], 0.0))], axis=-1)


def windows(series: Series, origins: np.ndarray) -> dict[str, np.ndarray]:
    """Model inputs and targets for forecasts made at ``origins`` (hours >= 168). Targets
    beyond the series are NaN."""
    origins = np.asarray(origins, int)
    if origins.size and origins.min() < FIRST_ORIGIN:
        raise ValueError(f"a forecast origin needs {FIRST_ORIGIN} h of history")
    n = series.hours
    state = scaled_state(series)
    toff, tsc = SCALE["temperature"]
    channels = np.concatenate([
        state,
        series.activity[:, None],
        ((series.temperature_c - toff) / tsc)[:, None],
        np.log(np.maximum(series.pm25, 0.5) / 10.0)[:, None],
        _calendar(series.start_s, np.arange(n)),
    ], axis=1)
    past_idx = origins[:, None] + np.arange(-HISTORY_H, 0)[None]
    future = origins[:, None] + np.arange(HORIZON_H)[None]
    padded = np.concatenate([state, np.full((HORIZON_H, 2), np.nan)])
    days = np.arange(1, PROFILE_DAYS + 1)
    profile = padded[future[..., None] - 24 * days].mean(axis=2)
    week = origins[:, None] - 1 - np.arange(PROFILE_DAYS * 24)[None]
    level = np.stack([state[week, 0].mean(axis=1), np.log1p(series.ectopy[week].mean(axis=1))],
                     axis=1)
    accumulated = series.exposure()
    exposure = accumulated[origins - 1]
    # Known covariates of the target hours; beyond the data, yesterday's weather at the same
    # hour stands in for a weather forecast (the plan falls back as in Series.plan).
    beyond = future >= n
    weather_idx = np.where(beyond, future - 24, future)
    temperature = series.temperature_c[weather_idx]
    act_padded = np.concatenate([series.activity, np.full(HORIZON_H, np.nan)])
    heat_padded = np.maximum(np.concatenate([series.temperature_c, np.full(HORIZON_H, np.nan)])
                             - HEAT_THRESHOLD_C, 0.0)
    future_cov = np.stack([
        (temperature - toff) / tsc,
        np.maximum(temperature - HEAT_THRESHOLD_C, 0.0) / 10.0,
        np.log(np.maximum(series.pm25[weather_idx], 0.5) / 10.0),
        series.plan(n + HORIZON_H)[future],
        act_padded[future[..., None] - 24 * days].mean(axis=2),
        heat_padded[future[..., None] - 24 * days].mean(axis=2) / 10.0,
    ], axis=-1)
    dose_idx = origins[:, None] + np.arange(-EDIT_PAST_H, HORIZON_H)[None]
    doses = np.stack([np.concatenate([series.dose(d), np.zeros(HORIZON_H)])[dose_idx] / 100.0
                      for d in DRUGS], axis=-1)
    return {
        "past": channels[past_idx].astype(np.float32),
        "exposure": exposure.astype(np.float32),
        "level": level.astype(np.float32),
        "profile": profile.astype(np.float32),
        "calendar": _calendar(series.start_s, future).astype(np.float32),
        "future": future_cov.astype(np.float32),
        "doses": doses.astype(np.float32),
        "target": padded[future].astype(np.float32),
        "naive": padded[future - 24].astype(np.float32),
        "origin": origins,
    }


def concat(batches: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}


def heat_anomaly(batch: dict[str, np.ndarray]) -> np.ndarray:
    """The heat forecast of the target hours minus the same hours' heat over the last 7 days
    (what the 7-day profile has not seen), °C [n, 24] (from ``future``)."""
    heat = batch["future"][..., FUTURE_CHANNELS.index("heat")].astype(float)
    return (heat - batch["future"][..., FUTURE_CHANNELS.index("heat_profile")]) * 10.0


def seasonal_naive(batch: dict[str, np.ndarray]) -> np.ndarray:
    """The baseline: each target hour's value 24 h earlier, in bpm and 1/h [n, 24, 2]."""
    return unscale(batch["naive"])


def _torch():
    import torch

    return torch


def make_net(hidden: int, exposures: int = 4):
    """The level-2 network (built lazily so that importing this module needs no torch)."""
    torch = _torch()
    nn = torch.nn

    class Level2Net(nn.Module):
        """State encoder (GRU over the past + exposures -> z) and horizon decoder."""

        def __init__(self) -> None:
            super().__init__()
            self.gru = nn.GRU(len(PAST_CHANNELS), hidden, batch_first=True)
            self.state = nn.Sequential(nn.Linear(hidden + exposures + 2, hidden), nn.Tanh())
            self.horizon = nn.Embedding(HORIZON_H, 8)
            # Two hidden layers: the response to the known covariates (activity, heat)
            # depends on the subject's state (resting level, drugs), a product to model.
            self.head = nn.Sequential(
                nn.Linear(hidden + 8 + 3 + 2 + len(FUTURE_CHANNELS), hidden), nn.Tanh(),
                nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, 2))

            # Range of each input channel in the training windows (set by ``fit``); inputs
            # are clamped to it, so that in a new regime (a hotter climate) the network
            # answers as at the edge of what it has seen instead of extrapolating wildly,
            # and the subject's level-4 adapter models the rest.
            for name, width in (("past", len(PAST_CHANNELS)), ("exposure", exposures),
                                ("future", len(FUTURE_CHANNELS))):
                self.register_buffer(f"{name}_lo", torch.full((width,), -torch.inf))
                self.register_buffer(f"{name}_hi", torch.full((width,), torch.inf))

        def set_range(self, data: dict[str, np.ndarray]) -> None:
            """Record the channel ranges of training inputs ``data`` (see ``__init__``)."""
            for name in ("past", "exposure", "future"):
                x = data[name].reshape(-1, data[name].shape[-1])
                getattr(self, f"{name}_lo").copy_(torch.from_numpy(x.min(axis=0)))
                getattr(self, f"{name}_hi").copy_(torch.from_numpy(x.max(axis=0)))

        def encode(self, past, exposure, level):
            past = torch.clamp(past, self.past_lo, self.past_hi)
            exposure = torch.clamp(exposure, self.exposure_lo, self.exposure_hi)
            _, h = self.gru(past)
            return self.state(torch.cat([h[-1], exposure, level], dim=1))

        def decode(self, z, profile, calendar, future):
            future = torch.clamp(future, self.future_lo, self.future_hi)
            n = z.shape[0]
            emb = self.horizon.weight[None].expand(n, -1, -1)
            zz = z[:, None, :].expand(-1, HORIZON_H, -1)
            return profile + self.head(torch.cat([zz, emb, calendar, profile, future], dim=2))

        def forward(self, past, exposure, level, profile, calendar, future):
            return self.decode(self.encode(past, exposure, level), profile, calendar, future)

    return Level2Net()


# The encoder's inputs, then the decoder's.
INPUTS = ("past", "exposure", "level", "profile", "calendar", "future")
ENCODER_INPUTS = 3


@dataclass
class Level2Forecaster:
    """The level-2 estimator.

    Args:
        hidden: width of the state vector z.
        epochs: passes over the training windows in ``fit``.
        batch_size: windows per gradient step.
        learning_rate: Adam step size.
        max_windows: windows drawn (at random) from the training series.
        hr_weight: weight of the heart-rate loss against the ectopy loss.
        threads: torch threads (CPU).
        random_state: seed of the initial weights, the window draw and the batch order.
    """

    hidden: int = 32
    epochs: int = 12
    batch_size: int = 128
    learning_rate: float = 3e-3
    max_windows: int = 12_000
    hr_weight: float = 1.0
    threads: int = 1
    random_state: int = 0

    def _windows(self, series: list[Series], rng: np.random.Generator) -> dict[str, np.ndarray]:
        batches = [windows(s, np.arange(FIRST_ORIGIN, s.hours - HORIZON_H + 1))
                   for s in series if s.hours >= FIRST_ORIGIN + HORIZON_H]
        if not batches:
            raise ValueError(f"need series of at least {FIRST_ORIGIN + HORIZON_H} h to fit")
        data = concat(batches)
        n = data["origin"].size
        if n > self.max_windows:
            keep = rng.choice(n, self.max_windows, replace=False)
            data = {k: v[keep] for k, v in data.items()}
        return data

    def fit(self, series: list[Series]) -> Level2Forecaster:
        """Train from scratch on every window of the given series."""
        torch = _torch()
        torch.manual_seed(self.random_state)
        self.net_ = make_net(self.hidden)
        self.history_: list[float] = []
        return self._train(series, self.epochs, self.learning_rate, fresh=True)

    def partial_fit(self, series: list[Series], epochs: int = 1,
                    learning_rate: float | None = None) -> Level2Forecaster:
        """Continue training on new data (a few passes at a small step)."""
        if not hasattr(self, "net_"):
            return self.fit(series)
        return self._train(series, epochs, learning_rate or self.learning_rate / 10)

    def _train(self, series: list[Series], epochs: int, lr: float,
               fresh: bool = False) -> Level2Forecaster:
        """``epochs`` passes of Adam at step ``lr``. A ``fresh`` network also records its
        input ranges and follows a one-cycle schedule (warm up to ``lr``, then down to ~0),
        which converges further in a fixed budget."""
        torch = _torch()
        torch.set_num_threads(self.threads)
        rng = np.random.default_rng(self.random_state + len(self.history_))
        data = self._windows(series, rng)
        if fresh:
            self.net_.set_range(data)
        tensors = {k: torch.from_numpy(data[k]) for k in (*INPUTS, "target")}
        weight = torch.tensor([self.hr_weight, 1.0])
        optimiser = torch.optim.Adam(self.net_.parameters(), lr=lr)
        n = data["origin"].size
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimiser, max_lr=lr, total_steps=epochs * -(-n // self.batch_size)) if fresh \
            else None
        self.net_.train()
        for _ in range(epochs):
            order = rng.permutation(n)
            total = 0.0
            for start in range(0, n, self.batch_size):
                idx = torch.from_numpy(order[start:start + self.batch_size])
                pred = self.net_(*(tensors[k][idx] for k in INPUTS))
                target = tensors["target"][idx]
                loss = ((pred - target).abs() * weight).mean()
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                if schedule is not None:
                    schedule.step()
                total += loss.item() * idx.numel()
            self.history_.append(total / n)
        self.net_.eval()
        return self

    def predict_scaled(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        """Forecasts in model units [n, 24, 2]."""
        torch = _torch()
        with torch.no_grad():
            return self.net_(*(torch.from_numpy(batch[k]) for k in INPUTS)).numpy()

    def predict(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        """Forecasts in bpm and beats per hour [n, 24, 2] for windows (see :func:`windows`)."""
        return unscale(self.predict_scaled(batch))

    def forecast(self, series: Series, origin: int | None = None) -> dict[str, Any]:
        """The 24-h forecast made at ``origin`` (default: right after the last hour)."""
        origin = series.hours if origin is None else origin
        batch = windows(series, np.array([origin]))
        y = self.predict(batch)[0]
        return {"t": (series.start_s + (origin + np.arange(HORIZON_H)) * HOUR_S).tolist(),
                "hr_bpm": y[:, 0].tolist(), "ectopy_per_h": y[:, 1].tolist(),
                "baseline_hr_bpm": seasonal_naive(batch)[0, :, 0].tolist()}

    def save(self, path: str) -> None:
        torch = _torch()
        torch.save({"params": self.params(), "state": self.net_.state_dict(),
                    "history": self.history_}, path)

    def params(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def load(cls, path: str) -> Level2Forecaster:
        torch = _torch()
        saved = torch.load(path, weights_only=True)
        model = cls(**saved["params"])
        model.net_ = make_net(model.hidden)
        model.net_.load_state_dict(saved["state"])
        model.net_.eval()
        model.history_ = list(saved["history"])
        return model


def mae_by_horizon(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Mean absolute error per horizon [24] (NaN targets skipped)."""
    return np.nanmean(np.abs(pred - target), axis=0)

