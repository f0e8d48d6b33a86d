"""Levels 2-5 validated on the virtual cohort, against the simulator's known ground truth.

:func:`validate` trains the level-2 forecaster on some virtual subjects, the level-3 edit
channels on a few intervention examples, and measures on held-out subjects:

- level 2: mean absolute error of the heart-rate (bpm) and ectopy (1/h) forecasts per horizon
  against the seasonal-naive baseline (same hour yesterday). The forecast is conditioned on
  the known covariates of the forecast hours (host.forecast): the weather, taken as forecast
  perfectly (the simulated values), and the subject's activity plan (the simulator's
  schedule: routine and planned exercise, not the activity that then happens); it is also
  measured with the plan unknown;
- level 3: error of the predicted effect of a dose (bpm; ectopy per hour) against the true
  effect (the simulator run with and without the dose, same noise), and against the level-2
  model, which ignores edits (predicts no effect);
- level 4: subjects whose climate shifts (12 °C warmer for good, heat the training cohort
  never had); the per-subject adapter is updated once a day from the day's completed forecast
  residuals; days until the daily error stays within 110% of the frozen model's error on
  the same day had the climate not shifted (the simulator's counterfactual run; also, as a
  second reference, of its mean error in the week before the shift), and the change of error
  on the pre-shift weeks (adapter after all updates vs the frozen model);
- level 5: Spearman correlation between the attribution of each driver (captum Shapley
  values over driver groups, host.explain) and the simulator's effect of neutralising that
  driver over the same window; error of the twin's counterfactual forecasts against the
  simulator's counterfactuals, and how often the signs agree.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from host.cohort import DRUGS, CohortConfig, Subject, cohort, simulate
from host.explain import DRIVERS, Explainer, simulated_counterfactual
from host.exposures import SubjectAdapter
from host.forecast import (
    FIRST_ORIGIN,
    HORIZON_H,
    Level2Forecaster,
    Series,
    concat,
    heat_anomaly,
    mae_by_horizon,
    seasonal_naive,
    unscale,
    windows,
)
from host.interventions import EditModel, intervention_examples

REPORTED_HORIZONS = (1, 6, 24)


@dataclass(frozen=True)
class ValidationConfig:
    """Sizes of the validation (the defaults are the benchmark's; tests use small ones)."""

    train_subjects: int = 30
    test_subjects: int = 10
    days: int = 42
    epochs: int = 12
    max_windows: int = 12_000
    hidden: int = 32
    edit_examples: int = 20
    edit_tests: int = 60
    shift_subjects: int = 6
    shift_days: int = 35
    explain_queries: int = 40
    seed: int = 0


def untreated(subjects: list[Subject]) -> list[Subject]:
    return [s for s in subjects if not any(v.any() for v in s.plan.doses.values())]


def level2(model: Level2Forecaster, test: list[Series], step: int = 3) -> dict[str, Any]:
    """Forecast error per horizon against the seasonal-naive baseline; ``without_plan``:
    the same windows with the activity plan unknown (the week-before activity instead)."""
    def batch_of(series: list[Series]) -> dict[str, np.ndarray]:
        return concat([windows(s, np.arange(FIRST_ORIGIN, s.hours - HORIZON_H + 1, step))
                       for s in series])

    batch = batch_of(test)
    unplanned = batch_of([replace(s, activity_plan=None) for s in test])
    target, naive = unscale(batch["target"]), seasonal_naive(batch)
    out: dict[str, Any] = {"windows": int(batch["origin"].size)}
    for key, b in (("", batch), ("without_plan_", unplanned)):
        pred = model.predict(b)
        for j, name in enumerate(("hr_bpm", "ectopy_per_h")):
            m = mae_by_horizon(pred[..., j], target[..., j])
            q = mae_by_horizon(naive[..., j], target[..., j])
            out[key + name] = {str(h): {"model_mae": float(m[h - 1]),
                                        "naive_mae": float(q[h - 1]),
                                        "reduction": float(1 - m[h - 1] / q[h - 1])}
                               for h in REPORTED_HORIZONS}
    return out


def level3(model: Level2Forecaster, train: list[Subject], test: list[Subject],
           config: ValidationConfig) -> tuple[EditModel, dict[str, Any]]:
    examples, _ = intervention_examples(untreated(train), config.edit_examples, config.seed)
    edit = EditModel(random_state=config.seed).fit(model, examples)
    factual, counterfactual = intervention_examples(untreated(test), config.edit_tests,
                                                    config.seed + 1)
    true = unscale(factual["target"]) - unscale(counterfactual["target"])
    base, edited = edit.predict(factual)
    predicted = edited - base
    drug = factual["doses"].sum(axis=1).argmax(axis=1)
    out: dict[str, Any] = {"examples": edit.n_examples_, "tests": int(true.shape[0])}
    for j, name in enumerate(("hr_bpm", "ectopy_per_h")):
        rows = drug == (0 if j == 0 else 1)  # HR: metoprolol doses; ectopy: flecainide
        err = float(np.abs(predicted[rows, :, j] - true[rows, :, j]).mean())
        ignore = float(np.abs(true[rows, :, j]).mean())
        out[name] = {"drug": DRUGS[0 if j == 0 else 1], "doses": int(rows.sum()),
                     "effect_mae_level3": err, "effect_mae_level2": ignore,
                     "reduction": 1 - err / ignore if ignore else float("nan"),
                     "outcome_mae_level3": float(np.abs(edited[rows, :, j]
                                                        - unscale(factual["target"])[rows, :, j]
                                                        ).mean()),
                     "outcome_mae_level2": float(np.abs(base[rows, :, j]
                                                        - unscale(factual["target"])[rows, :, j]
                                                        ).mean())}
    return edit, out


def _daily_mae(pred: np.ndarray, target: np.ndarray, origins: np.ndarray) -> dict[int, float]:
    err = np.abs(pred - target).mean(axis=1)
    days = origins // 24
    return {int(d): float(err[days == d].mean()) for d in np.unique(days)}


def _days_to_recover(daily: dict[int, float], reference: dict[int, float],
                     shift_day: int) -> int | None:
    """Days after the shift from which every day's error stays within 110% of the reference
    for that day; None if that never holds to the end of the span."""
    later = [d for d in sorted(daily) if d >= shift_day + 1]
    return next((d - shift_day for d in later
                 if all(daily[e] <= 1.1 * reference[e] for e in later if e >= d)), None)


def level4(model: Level2Forecaster, config: ValidationConfig) -> dict[str, Any]:
    """Heat-wave subjects; the adapter folds in each completed day of forecasts."""
    hours = config.shift_days * 24
    shift_day = config.shift_days - 14
    subjects = cohort(CohortConfig(subjects=config.shift_subjects, days=config.shift_days,
                                   treated_fraction=0.0, heat_wave_fraction=0.0,
                                   pollution_fraction=0.0, seed=config.seed + 100))
    rows = []
    for subject in subjects:
        env = subject.environment
        ramp = np.clip((np.arange(hours) - shift_day * 24) / 24, 0, 1)
        shifted = env.replace(temperature_c=env.temperature_c + 12.0 * ramp)
        series = Series.from_trajectory(simulate(subject, environment=shifted))
        origins = np.arange(FIRST_ORIGIN, hours - HORIZON_H + 1)
        batch = windows(series, origins)
        target = unscale(batch["target"])[..., 0]
        base = model.predict(batch)[..., 0]
        exposure, hod = batch["exposure"], series.hour_of_day()[origins]
        heat = heat_anomaly(batch)
        adapter = SubjectAdapter()
        adapted = base.copy()
        for day in range(FIRST_ORIGIN // 24, config.shift_days):
            today = (origins >= day * 24) & (origins < (day + 1) * 24)
            adapted[today] = base[today] + adapter.predict(exposure[today], hod[today],
                                                           heat[today])
            # Forecasts whose 24 h ended by the end of today are complete: fold them in.
            done = (origins + HORIZON_H <= (day + 1) * 24) & (origins + HORIZON_H
                                                              > day * 24)
            adapter.partial_fit(exposure[done], hod[done], heat[done],
                                target[done] - base[done])
        daily_base = _daily_mae(base, target, origins)
        daily = _daily_mae(adapted, target, origins)
        # The accuracy to restore, day by day: the frozen model's on the same subject and
        # days had the climate not shifted (the simulator's counterfactual: same noise,
        # same activity), so that a day that is hard anyway (a busy day) is not counted as
        # unrecovered. The week-before mean is kept as a second, noise-limited reference.
        unshifted = windows(Series.from_trajectory(simulate(subject)), origins)
        daily_ref = _daily_mae(model.predict(unshifted)[..., 0],
                               unscale(unshifted["target"])[..., 0], origins)
        pre_days = [d for d in daily if shift_day - 7 <= d < shift_day]
        pre = float(np.mean([daily_base[d] for d in pre_days]))
        recovered = _days_to_recover(daily, daily_ref, shift_day)
        recovered_pre_week = _days_to_recover(daily, {d: pre for d in daily}, shift_day)
        early = origins < shift_day * 24
        after = adapter.predict(exposure[early], hod[early], heat[early])
        mae_before = float(np.abs(base[early] - target[early]).mean())
        mae_after = float(np.abs(base[early] + after - target[early]).mean())
        shift_days = [d for d in daily if d >= shift_day]
        rows.append({"subject": subject.name, "pre_shift_mae": pre,
                     "shift_mae_frozen": float(np.mean([daily_base[d] for d in shift_days])),
                     "shift_mae_updated": float(np.mean([daily[d] for d in shift_days])),
                     "days_to_recover": recovered,
                     "days_to_recover_vs_pre_week": recovered_pre_week,
                     "earlier_mae_before_updates": mae_before,
                     "earlier_mae_after_updates": mae_after,
                     "earlier_mae_growth": mae_after / mae_before - 1,
                     "daily_mae_frozen": daily_base, "daily_mae_updated": daily,
                     "daily_mae_unshifted": daily_ref})
    recovered = [r["days_to_recover"] for r in rows]
    return {"subjects": rows, "shift_day": shift_day, "span_days": config.shift_days - shift_day,
            "max_days_to_recover": None if None in recovered else int(max(recovered)),
            "median_days_to_recover": None if None in recovered else float(np.median(recovered)),
            "max_earlier_mae_growth": float(max(r["earlier_mae_growth"] for r in rows))}


def level5(model: Level2Forecaster, edit: EditModel, config: ValidationConfig) -> dict[str, Any]:
    """Queries at random origins of subjects with varied exposures and treatments."""
    from scipy.stats import spearmanr

    explainer = Explainer(model, edit)
    subjects = cohort(CohortConfig(subjects=config.explain_queries, days=21,
                                   treated_fraction=0.5, heat_wave_fraction=0.5,
                                   pollution_fraction=0.5, seed=config.seed + 200))
    rng = np.random.default_rng(config.seed + 5)
    rhos, cf_errors, effects, queries, signs = [], [], [], [], []
    for subject in subjects:
        series = Series.from_trajectory(simulate(subject))
        origin = int(rng.integers(FIRST_ORIGIN + 48, series.hours - HORIZON_H))
        factual = series.hr[origin:origin + HORIZON_H]
        attribution = explainer.attribute(series, origin)
        truth, answer_means = {}, {}
        for driver in DRIVERS:
            cf = simulated_counterfactual(subject, origin, (driver,))
            truth[driver] = float(np.mean(factual - cf))
            answer = explainer.counterfactual(series, origin, (driver,))
            answer_means[driver] = float(np.mean(answer["effect_hr_bpm"]))
            cf_errors.append(float(np.mean(np.abs(np.array(answer["effect_hr_bpm"])
                                                  - (factual - cf)))))
            effects.append(abs(truth[driver]))
        signs += [(np.sign(attribution["drivers"][d]) == np.sign(truth[d]),
                   np.sign(answer_means[d]) == np.sign(truth[d]))
                  for d in DRIVERS if abs(truth[d]) >= 0.2]
        a = np.array([abs(attribution["drivers"][d]) for d in DRIVERS])
        t = np.array([abs(truth[d]) for d in DRIVERS])
        rho = float(spearmanr(a, t).statistic) if np.ptp(t) > 0 and np.ptp(a) > 0 else \
            float("nan")
        rhos.append(rho)
        queries.append({"subject": subject.name, "origin": origin, "spearman": rho,
                        "attribution_bpm": attribution["drivers"], "true_effect_bpm": truth})
    rhos_arr = np.array(rhos)
    return {"queries": queries, "mean_spearman": float(np.nanmean(rhos_arr)),
            "median_spearman": float(np.nanmedian(rhos_arr)),
            "fraction_at_least_0.8": float(np.nanmean(rhos_arr >= 0.8)),
            "counterfactual_mae_bpm": float(np.mean(cf_errors)),
            "mean_true_effect_bpm": float(np.mean(effects)),
            # Of the (query, driver) pairs whose true effect is at least 0.2 bpm: how often
            # the attribution and the twin's counterfactual have the simulator's sign.
            "sign_agreement_attribution": float(np.mean([a for a, _ in signs])),
            "sign_agreement_counterfactual": float(np.mean([c for _, c in signs])),
            "sign_pairs": len(signs)}


def validate(config: ValidationConfig = ValidationConfig()) -> dict[str, Any]:
    """Run the whole validation; returns every figure (JSON-ready)."""
    started = time.perf_counter()
    subjects = cohort(CohortConfig(subjects=config.train_subjects + config.test_subjects,
                                   days=config.days, heat_wave_fraction=0.0,
                                   seed=config.seed))
    train, test = subjects[:config.train_subjects], subjects[config.train_subjects:]
    series = {s.name: Series.from_trajectory(simulate(s)) for s in subjects}
    model = Level2Forecaster(hidden=config.hidden, epochs=config.epochs,
                             max_windows=config.max_windows, random_state=config.seed)
    model.fit([series[s.name] for s in train])
    out: dict[str, Any] = {"config": asdict(config), "level2_training_loss": model.history_}
    out["level2"] = level2(model, [series[s.name] for s in test])
    edit, out["level3"] = level3(model, train, test, config)
    out["level4"] = level4(model, config)
    out["level5"] = level5(model, edit, config)
    out["seconds"] = time.perf_counter() - started
    out["models"] = (model, edit)
    return out
