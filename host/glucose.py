"""External check of levels 2 and 3 on the UVA/Padova type-1 diabetes simulator (simglucose).

The twin's own cohort (:mod:`host.cohort`) is ours; this module checks the same ideas on a
simulator we did not write: the FDA-accepted UVA/Padova model as shipped on PyPI
(``simglucose`` 0.2.11, its virtual adolescents, adults and children).

- :func:`simulate` drives one of simglucose's patients (:class:`T1DPatient`, 1-min steps)
  through a seeded daily scenario — three meals and an optional snack (g of carbohydrate),
  a meal bolus of carbs / CR with dosing error (U), the patient's steady-state basal
  (U/min, from its parameter file) — and reads a noisy 5-min CGM (``GuardianRT`` sensor
  model) as well as the noiseless subcutaneous glucose (mg/dL).
- :class:`GlucoseForecaster` (level 2): a small torch MLP over the last 2 h of CGM, insulin
  and carbs (per kg of body weight, so one model serves children and adults) plus insulin
  and carbs on board, predicting CGM 30 min ahead. Baseline: persistence (the last reading).
- :func:`bolus_effects` (level 3 ground truth): the exact effect of an extra bolus, from
  running the same patient and scenario twice from the same state, with and without it.
  :class:`BolusEditModel` predicts it from at most 20 such examples: an insulin-action
  curve (cumulative gamma kernel) times the dose times the patient's correction factor,
  with a gain, a glucose-level exponent and a time constant fitted to the examples.
  Baseline: no effect (a level-2 model that ignores edits).

simglucose is imported lazily (:func:`_simglucose`), so importing this module needs neither
it nor torch (Python 3.10 installs have neither).
"""

from __future__ import annotations

import copy
import importlib.util
import os
import sys
import types
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SAMPLE_MIN = 5  # CGM sample period (min)
DAY_MIN = 24 * 60
HISTORY = 24  # samples of history fed to the forecaster (2 h)
HORIZON = 6  # samples ahead (30 min)
EFFECT_MIN = 180  # span of a bolus effect (min)
IOB_TAU_MIN = 75.0  # decay of insulin on board (min), a rapid-acting analogue's order
COB_TAU_MIN = 45.0  # decay of carbs on board (min)
GLUCOSE_OFFSET, GLUCOSE_SCALE = 140.0, 50.0  # mg/dL → model units
INSULIN_SCALE = 100.0  # (U/kg)⁻¹: 0.01 U/kg → 1 model unit
CGM_RANGE = (39.0, 600.0)  # the GuardianRT sensor's reading range (mg/dL)

TRAIN_PATIENTS = tuple(f"{group}#{i:03d}" for group in ("adolescent", "adult", "child")
                       for i in (1, 2, 4, 6, 7, 8))
TEST_PATIENTS = ("adolescent#003", "adolescent#005", "adult#003", "adult#005", "child#003",
                 "child#005")

# (hour of day, carbs low, carbs high (g)); times jitter by ±30 min.
MEALS = ((7.0, 40, 70), (12.5, 50, 90), (18.5, 60, 100))
SNACK = (15.5, 10, 30, 0.5)  # hour, carbs low, high (g), probability


def _simglucose() -> types.SimpleNamespace:
    """Import simglucose's patient and sensor modules; raise ImportError if not installed.

    Two shims, neither touching the model: simglucose reads its bundled CSVs through
    ``pkg_resources``, which setuptools ≥ 81 no longer ships, so a stand-in resolving paths
    inside the installed package is registered when it is missing; and the package's
    ``__init__`` only registers a gym environment (gym 0.9.4 needs ``pkg_resources`` too),
    so the package is entered without running it.
    """
    spec = importlib.util.find_spec("simglucose")
    if spec is None or spec.origin is None:
        raise ImportError("simglucose is not installed (pip install simglucose==0.2.11)")
    if "simglucose" not in sys.modules:
        if importlib.util.find_spec("pkg_resources") is None:
            root = os.path.dirname(spec.origin)
            shim = types.ModuleType("pkg_resources")
            shim.resource_filename = lambda _package, path: os.path.join(root, path)  # type: ignore[attr-defined]
            sys.modules["pkg_resources"] = shim
        sys.modules["simglucose"] = importlib.util.module_from_spec(spec)
    from simglucose.patient import t1dpatient
    from simglucose.sensor import cgm

    return types.SimpleNamespace(T1DPatient=t1dpatient.T1DPatient, Action=t1dpatient.Action,
                                 CGMSensor=cgm.CGMSensor,
                                 patient_file=t1dpatient.PATIENT_PARA_FILE,
                                 quest_file=os.path.join(os.path.dirname(spec.origin),
                                                         "params", "Quest.csv"))


@dataclass(frozen=True)
class Therapy:
    """A virtual patient's therapy settings from simglucose's Quest.csv and parameters.

    cr: carb ratio (g per U); cf: correction factor (mg/dL per U); weight: body weight
    (kg); basal: steady-state basal rate (U/min) = u2ss (pmol/L/kg) × weight / 6000.
    """

    name: str
    cr: float
    cf: float
    weight: float
    basal: float


def therapy(name: str) -> Therapy:
    """Read ``name``'s therapy settings from the CSVs bundled with simglucose."""
    import pandas as pd

    sg = _simglucose()
    quest = pd.read_csv(sg.quest_file).set_index("Name").loc[name]
    params = pd.read_csv(sg.patient_file).set_index("Name").loc[name]
    return Therapy(name, float(quest.CR), float(quest.CF), float(params.BW),
                   float(params.u2ss * params.BW / 6000.0))


def _patient(name: str) -> Any:
    """simglucose's T1DPatient for ``name``, its parameters held as plain attributes.

    The ODE right-hand side reads ~40 parameters per call; on a pandas Series each read
    costs microseconds and doubles the run time. Same values, same model, same solver.
    """
    import pandas as pd

    sg = _simglucose()
    row = pd.read_csv(sg.patient_file).set_index("Name", drop=False).loc[name]
    return sg.T1DPatient(types.SimpleNamespace(**row.to_dict(), iloc=row.iloc))


@dataclass(frozen=True)
class Scenario:
    """One patient's seeded days: meals (minute, g) and meal boluses (minute, U)."""

    meals: tuple[tuple[int, float], ...]
    boluses: tuple[tuple[int, float], ...]


def scenario(t: Therapy, days: int, seed: int) -> Scenario:
    """Draw ``days`` of meals and boluses: bolus = carbs / CR × U(0.7, 1.3) (dosing error),
    given at the meal with probability 0.9 (a missed bolus now and then)."""
    rng = np.random.default_rng(seed)
    meals, boluses = [], []
    for day in range(days):
        plan = [(h, lo, hi) for h, lo, hi in MEALS]
        if rng.random() < SNACK[3]:
            plan.append(SNACK[:3])
        for hour, lo, hi in plan:
            minute = day * DAY_MIN + int(hour * 60 + rng.integers(-30, 31))
            carbs = float(rng.integers(lo, hi + 1))
            meals.append((minute, carbs))
            if rng.random() < 0.9:
                boluses.append((minute, carbs / t.cr * rng.uniform(0.7, 1.3)))
    return Scenario(tuple(sorted(meals)), tuple(sorted(boluses)))


@dataclass
class Trace:
    """A simulated run sampled every 5 min (sample k at the end of minutes 5k .. 5k + 4).

    cgm: CGM reading (mg/dL, sensor noise); glucose: noiseless subcutaneous glucose
    (mg/dL); insulin: bolus insulin above basal given in the 5 min ending at the sample (U);
    carbs: carbohydrate announced in those 5 min (g).
    """

    therapy: Therapy
    cgm: np.ndarray
    glucose: np.ndarray
    insulin: np.ndarray
    carbs: np.ndarray


def _run(patient: Any, sensor: Any, t: Therapy, sc: Scenario, start: int, stop: int,
         extra: dict[int, float] | None = None) -> tuple[list[float], list[float]]:
    """Step ``patient`` from minute ``start`` to ``stop``; return CGM and glucose at each 5-min
    mark. A bolus of B U is one 1-min step at basal + B U/min; a meal is announced whole
    and simglucose eats it at 5 g/min."""
    sg = _simglucose()
    meals, boluses = dict(sc.meals), dict(sc.boluses)
    for minute, units in (extra or {}).items():
        boluses[minute] = boluses.get(minute, 0.0) + units
    cgm, glucose = [], []
    for minute in range(start, stop):
        patient.step(sg.Action(CHO=meals.get(minute, 0.0),
                               insulin=t.basal + boluses.get(minute, 0.0)))
        if (minute + 1) % SAMPLE_MIN == 0:
            glucose.append(float(patient.observation.Gsub))
            cgm.append(float(sensor.measure(patient)) if sensor is not None else np.nan)
    return cgm, glucose


def _inputs(sc: Scenario, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Bolus insulin (U) and carbs (g) per 5-min sample, ``n`` samples."""
    out = []
    for events in (sc.boluses, sc.meals):
        x = np.zeros(n)
        for minute, amount in events:
            # given during minute m, first seen by the sample at the end of its 5 min
            k = minute // SAMPLE_MIN
            if k < n:
                x[k] += amount
        out.append(x)
    return out[0], out[1]


def simulate(name: str, days: int = 2, seed: int = 0) -> Trace:
    """Simulate ``name`` (e.g. ``'adult#003'``) for ``days`` from midnight, fasting at basal."""
    sg = _simglucose()
    t = therapy(name)
    sc = scenario(t, days, seed)
    sensor = sg.CGMSensor.withName("GuardianRT", seed=seed)  # 5-min sample period
    cgm, glucose = _run(_patient(name), sensor, t, sc, 0, days * DAY_MIN)
    insulin, carbs = _inputs(sc, len(cgm))
    return Trace(t, np.array(cgm), np.array(glucose), insulin, carbs)


@dataclass
class BolusExample:
    """The simulator's effect of an extra bolus of ``units`` U at ``minute``.

    cgm: the CGM reading at the bolus (mg/dL), what the twin knows of the state then;
    effect: glucose with the bolus minus without (mg/dL) at 5, 10, ... 180 min after it.
    """

    patient: str
    cf: float
    minute: int
    units: float
    cgm: float
    effect: np.ndarray


def bolus_effects(name: str, requests: list[tuple[int, float]], days: int = 2,
                  seed: int = 0) -> list[BolusExample]:
    """Exact counterfactual effects of extra boluses ``[(minute, U), ...]`` in ``name``'s
    seeded scenario.

    The scenario runs once (with the same CGM as :func:`simulate`); at each requested
    minute (a multiple of 5) the patient (ODE state, solver, meal in progress) is
    deep-copied twice and both copies run 3 h, one with the bolus: the model is
    deterministic, so their difference is the bolus's effect and nothing else.
    """
    t = therapy(name)
    sc = scenario(t, days, seed)
    patient = _patient(name)
    sensor = _simglucose().CGMSensor.withName("GuardianRT", seed=seed)
    out, now, reading = [], 0, np.nan
    for minute, units in sorted(requests):
        if minute % SAMPLE_MIN:
            raise ValueError(f"bolus minute {minute} is not on the 5-min CGM grid")
        cgm = _run(patient, sensor, t, sc, now, minute)[0]
        reading, now = (cgm[-1] if cgm else reading), minute
        branches = [_run(copy.deepcopy(patient), None, t, sc, minute, minute + EFFECT_MIN,
                         extra)[1] for extra in ({}, {minute: units})]
        out.append(BolusExample(name, t.cf, minute, units, reading,
                                np.array(branches[1]) - np.array(branches[0])))
    return out


def draw_requests(days: int, count: int, seed: int, units: tuple[float, float] = (1.0, 3.0)
                  ) -> list[tuple[int, float]]:
    """``count`` random (minute, U) boluses, at least 3 h before the end of the run."""
    rng = np.random.default_rng(seed)
    minutes = rng.choice(np.arange(60, days * DAY_MIN - EFFECT_MIN, SAMPLE_MIN), count,
                         replace=False)
    return [(int(m), float(rng.uniform(*units))) for m in minutes]


# ----------------------------------------------------------------------------- level 2

def _on_board(x: np.ndarray, tau_min: float) -> np.ndarray:
    """Exponentially decaying amount on board after the per-sample inputs ``x``."""
    a = np.exp(-SAMPLE_MIN / tau_min)
    out = np.zeros_like(x)
    acc = 0.0
    for k, v in enumerate(x):
        acc = acc * a + v
        out[k] = acc
    return out


def windows(trace: Trace) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Forecaster inputs, targets and persistence at every origin with 2 h behind and 30 min
    ahead.

    Returns X [n, 3·24 + 2] (CGM, insulin per kg, carbs in g/kg over 2 h, then insulin and
    carbs on board, all in model units), y [n] (CGM 30 min ahead, mg/dL) and last [n] (the
    CGM at the origin, mg/dL). Doses go per kg of body weight rather than through the
    patient's CF and CR: those are clinical estimates (Quest.csv), and on patients whose
    CR is far off (child#005) CF/CR-scaled carbs led the model astray.
    """
    weight = trace.therapy.weight
    g = (trace.cgm - GLUCOSE_OFFSET) / GLUCOSE_SCALE
    ins = trace.insulin / weight * INSULIN_SCALE
    cho = trace.carbs / weight
    iob, cob = _on_board(ins, IOB_TAU_MIN), _on_board(cho, COB_TAU_MIN)
    origins = np.arange(HISTORY - 1, len(g) - HORIZON)
    idx = origins[:, None] + np.arange(-HISTORY + 1, 1)[None, :]
    x = np.concatenate([g[idx], ins[idx], cho[idx], iob[origins, None], cob[origins, None]],
                       axis=1).astype(np.float32)
    return x, trace.cgm[origins + HORIZON], trace.cgm[origins]


@dataclass
class GlucoseForecaster:
    """Level 2: MLP predicting the 30-min CGM change from :func:`windows`' inputs.

    hidden: units per hidden layer; epochs: full passes (mini-batches of ``batch``);
    random_state seeds torch; threads: torch CPU threads.
    """

    hidden: int = 64
    epochs: int = 60
    batch: int = 256
    lr: float = 2e-3
    random_state: int = 0
    threads: int = 1
    net_: Any = field(default=None, repr=False)

    def fit(self, traces: list[Trace]) -> GlucoseForecaster:
        """Train on every window of ``traces`` (MSE on the scaled change)."""
        import torch

        torch.manual_seed(self.random_state)
        torch.set_num_threads(self.threads)
        parts = [windows(t) for t in traces]
        x = torch.from_numpy(np.concatenate([p[0] for p in parts]))
        # predict the change, so that a net outputting 0 is persistence
        y = torch.from_numpy(np.concatenate([(p[1] - p[2]) / GLUCOSE_SCALE for p in parts])
                             .astype(np.float32))
        nn = torch.nn
        self.net_ = nn.Sequential(nn.Linear(x.shape[1], self.hidden), nn.ReLU(),
                                  nn.Linear(self.hidden, self.hidden), nn.ReLU(),
                                  nn.Linear(self.hidden, 1))
        optimiser = torch.optim.Adam(self.net_.parameters(), lr=self.lr, weight_decay=1e-4)
        generator = torch.Generator().manual_seed(self.random_state)
        for _ in range(self.epochs):
            order = torch.randperm(len(x), generator=generator)
            for start in range(0, len(x), self.batch):
                i = order[start:start + self.batch]
                loss = ((self.net_(x[i])[:, 0] - y[i]) ** 2).mean()
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
        return self

    def predict(self, trace: Trace) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Forecast, truth and persistence (mg/dL) at every origin of ``trace``."""
        import torch

        x, y, last = windows(trace)
        with torch.no_grad():
            change = self.net_(torch.from_numpy(x))[:, 0].numpy().astype(float)
        # the sensor reads nothing outside its range, so neither does a forecast of it
        return np.clip(last + change * GLUCOSE_SCALE, *CGM_RANGE), y, last


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    """Root mean square of ``a - b`` (mg/dL)."""
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


# ----------------------------------------------------------------------------- level 3

def action_curve(minutes: np.ndarray, tau_min: float) -> np.ndarray:
    """Fraction of a bolus's glucose-lowering action done ``minutes`` after it: the integral
    of a gamma(2) activity peaking at ``tau_min``, 1 - (1 + t/τ) e^(-t/τ)."""
    s = np.asarray(minutes, dtype=float) / tau_min
    return 1.0 - (1.0 + s) * np.exp(-s)


EFFECT_MINUTES = np.arange(1, EFFECT_MIN // SAMPLE_MIN + 1) * SAMPLE_MIN


@dataclass
class BolusEditModel:
    """Level 3 edit for an extra bolus (mg/dL):

        effect(t) = -gain × U × CF × (CGM / 140 mg/dL)^exponent × curve(t; τ)

    Three parameters fitted by least squares to a few :class:`BolusExample` (at most 20 by
    the issue): ``gain`` (how much of the patient's stated CF the simulator realises),
    ``exponent`` (insulin-driven glucose uptake is saturable in glucose, so a bolus lowers
    a high glucose more than a low one) and ``tau_min`` (peak insulin action, min).
    """

    gain: float = 1.0
    exponent: float = 0.0
    tau_min: float = 60.0

    def fit(self, examples: list[BolusExample]) -> BolusEditModel:
        """Fit gain and τ to ``examples`` (≤ 20 intervention examples)."""
        from scipy.optimize import least_squares

        if not 0 < len(examples) <= 20:
            raise ValueError("the edit model is fitted on 1 to 20 intervention examples")
        dose = np.array([e.units * e.cf for e in examples])[:, None]
        level = np.array([e.cgm / GLUCOSE_OFFSET for e in examples])[:, None]
        truth = np.stack([e.effect for e in examples])

        def residual(p: np.ndarray) -> np.ndarray:
            effect = -p[0] * dose * level ** p[1] * action_curve(EFFECT_MINUTES, p[2])
            return (effect - truth).ravel()

        fit = least_squares(residual, x0=[1.0, 0.0, 60.0],
                            bounds=([0.0, -3.0, 5.0], [10.0, 3.0, 600.0]))
        self.gain, self.exponent, self.tau_min = (float(v) for v in fit.x)
        return self

    def predict(self, units: float, cf: float, cgm: float) -> np.ndarray:
        """Predicted glucose change (mg/dL) 5, 10, ... 180 min after ``units`` U given when
        the CGM read ``cgm`` mg/dL."""
        return (-self.gain * units * cf * (cgm / GLUCOSE_OFFSET) ** self.exponent
                * action_curve(EFFECT_MINUTES, self.tau_min))


# ----------------------------------------------------------------------------- the check

@dataclass(frozen=True)
class CheckConfig:
    """What :func:`external_check` runs: patients, simulated days, edit examples, seed."""

    train: tuple[str, ...] = TRAIN_PATIENTS
    test: tuple[str, ...] = TEST_PATIENTS
    days: int = 2
    edit_examples: int = 18  # ≤ 20 intervention examples, spread over the training patients
    edit_tests: int = 4  # held-out boluses per test patient
    epochs: int = 60
    seed: int = 0


def external_check(config: CheckConfig = CheckConfig()) -> dict[str, Any]:
    """Level 2 and level 3 on simglucose, trained on ``config.train``, scored on
    ``config.test`` (held-out patients, their own seeded days and bolus times).

    Returns figures (mg/dL) plus the fitted models and one held-out trace for plots.
    """
    seeds = {name: config.seed * 1000 + i for i, name in
             enumerate(config.train + config.test)}
    train = [simulate(n, config.days, seeds[n]) for n in config.train]
    test = [simulate(n, config.days, seeds[n]) for n in config.test]
    forecaster = GlucoseForecaster(epochs=config.epochs, random_state=config.seed).fit(train)
    per_patient, pred, truth, last = {}, [], [], []
    for trace in test:
        p, y, x = forecaster.predict(trace)
        per_patient[trace.therapy.name] = {"model_rmse": rmse(p, y),
                                           "persistence_rmse": rmse(x, y)}
        pred.append(p), truth.append(y), last.append(x)
    pred, truth, last = (np.concatenate(v) for v in (pred, truth, last))

    per_train = -(-config.edit_examples // len(config.train))
    examples: list[BolusExample] = []
    for name in config.train:
        examples += bolus_effects(name, draw_requests(config.days, per_train, seeds[name] + 7),
                                  config.days, seeds[name])
    examples = examples[:config.edit_examples]
    edit = BolusEditModel().fit(examples)
    held_out = [e for name in config.test for e in bolus_effects(
        name, draw_requests(config.days, config.edit_tests, seeds[name] + 7),
        config.days, seeds[name])]
    true = np.stack([e.effect for e in held_out])
    predicted = np.stack([edit.predict(e.units, e.cf, e.cgm) for e in held_out])
    return {
        "config": config,
        "level2": {"model_rmse": rmse(pred, truth), "persistence_rmse": rmse(last, truth),
                   "ratio": rmse(pred, truth) / rmse(last, truth), "windows": len(truth),
                   "patients": per_patient},
        "level3": {"examples": len(examples), "tests": len(held_out),
                   "gain": edit.gain, "exponent": edit.exponent,
                   "tau_min": edit.tau_min,
                   "effect_mae": float(np.mean(np.abs(predicted - true))),
                   "no_effect_mae": float(np.mean(np.abs(true))),
                   "effect_at_180_mae": float(np.mean(np.abs(predicted[:, -1] - true[:, -1]))),
                   "mean_true_at_180": float(np.mean(true[:, -1]))},
        "forecaster": forecaster, "edit": edit, "trace": test[0], "bolus": held_out[0],
    }
