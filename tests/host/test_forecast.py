"""Level 2: windows, the seasonal-naive baseline, the estimator contract, storage round trip."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from host.cohort import CohortConfig, cohort, simulate, to_events
from host.forecast import (
    FIRST_ORIGIN,
    FUTURE_CHANNELS,
    HISTORY_H,
    HORIZON_H,
    Level2Forecaster,
    Series,
    heat_anomaly,
    seasonal_naive,
    unscale,
    windows,
)
from host.storage import open_repository


@pytest.fixture(scope="module")
def series():
    return [Series.from_trajectory(simulate(s))
            for s in cohort(CohortConfig(subjects=3, days=10, seed=8))]


def test_windows_hold_the_past_and_the_next_24_hours(series):
    s = series[0]
    b = windows(s, np.array([FIRST_ORIGIN, FIRST_ORIGIN + 5]))
    assert b["past"].shape == (2, HISTORY_H, 8) and b["target"].shape == (2, HORIZON_H, 2)
    np.testing.assert_allclose(unscale(b["target"])[1, :, 0],
                               s.hr[FIRST_ORIGIN + 5:FIRST_ORIGIN + 5 + HORIZON_H], rtol=1e-5)
    np.testing.assert_allclose(seasonal_naive(b)[0, :, 0],
                               s.hr[FIRST_ORIGIN - 24:FIRST_ORIGIN], rtol=1e-5)
    with pytest.raises(ValueError, match="168 h"):
        windows(s, np.array([FIRST_ORIGIN - 1]))


def test_forecasts_are_conditioned_on_the_plan_and_weather_of_the_target_hours(series):
    s = series[0]
    plan, temp = FUTURE_CHANNELS.index("activity_plan"), FUTURE_CHANNELS.index("temperature")
    b = windows(s, np.array([FIRST_ORIGIN]))
    hours = np.arange(FIRST_ORIGIN, FIRST_ORIGIN + HORIZON_H)
    np.testing.assert_allclose(b["future"][0, :, plan], s.activity_plan[hours], rtol=1e-6)
    np.testing.assert_allclose(b["future"][0, :, temp] * 10 + 15, s.temperature_c[hours],
                               rtol=1e-5)
    # Beyond the data: the plan of a week before, yesterday's weather at the same hour.
    end = windows(s, np.array([s.hours]))
    later = np.arange(s.hours, s.hours + HORIZON_H)
    np.testing.assert_allclose(end["future"][0, :, plan], s.activity_plan[later - 168],
                               rtol=1e-6)
    np.testing.assert_allclose(end["future"][0, :, temp] * 10 + 15,
                               s.temperature_c[later - 24], rtol=1e-5)
    # Without a stored plan, the activity of a week before stands in for it.
    unplanned = windows(replace(s, activity_plan=None), np.array([FIRST_ORIGIN]))
    np.testing.assert_allclose(unplanned["future"][0, :, plan], s.activity[hours - 168],
                               rtol=1e-6)
    assert heat_anomaly(b).shape == (1, HORIZON_H)


def test_inputs_beyond_the_training_range_are_clamped(series):
    model = Level2Forecaster(hidden=8, epochs=1, max_windows=300).fit(series)
    batch = windows(series[1], np.array([200]))
    hot, edge = ({k: v.copy() for k, v in batch.items()} for _ in range(2))
    temp = FUTURE_CHANNELS.index("temperature")
    hot["future"][..., temp] = 5.0  # 65 °C, far outside the training cohort's climate
    edge["future"][..., temp] = float(model.net_.future_hi[temp])
    assert float(model.net_.future_hi[temp]) < 5.0
    np.testing.assert_array_equal(model.predict(hot), model.predict(edge))


def test_targets_past_the_end_are_nan(series):
    b = windows(series[0], np.array([series[0].hours - 2]))
    assert np.isnan(b["target"][0, 2:]).all() and not np.isnan(b["target"][0, :2]).any()


def test_fit_is_seeded_and_learns(series):
    a = Level2Forecaster(hidden=8, epochs=2, max_windows=300, random_state=1).fit(series)
    b = Level2Forecaster(hidden=8, epochs=2, max_windows=300, random_state=1).fit(series)
    batch = windows(series[1], np.array([200]))
    np.testing.assert_array_equal(a.predict(batch), b.predict(batch))
    assert a.history_[-1] < a.history_[0]


def test_partial_fit_continues_without_starting_over(series):
    model = Level2Forecaster(hidden=8, epochs=1, max_windows=300).fit(series[:2])
    first = [p.detach().clone() for p in model.net_.parameters()]
    model.partial_fit(series[2:])
    assert len(model.history_) == 2
    moved = [float((p.detach() - q).abs().max()) for p, q in zip(model.net_.parameters(), first,
                                                         strict=True)]
    assert 0 < max(moved) < 0.1


def test_save_and_load_give_the_same_forecast(series, tmp_path):
    model = Level2Forecaster(hidden=8, epochs=1, max_windows=200).fit(series)
    model.save(str(tmp_path / "m.pt"))
    again = Level2Forecaster.load(str(tmp_path / "m.pt"))
    assert again.forecast(series[0]) == model.forecast(series[0])


def test_series_from_the_repository_matches_the_simulation(tmp_path):
    subject = cohort(CohortConfig(subjects=1, days=8, treated_fraction=1.0, seed=2))[0]
    tr = simulate(subject)
    with open_repository(tmp_path / "db") as repo:
        repo.set_consent(subject.name, True)
        repo.append(to_events(tr))
        s = Series.from_repository(repo, subject.name)
    direct = Series.from_trajectory(tr)
    np.testing.assert_allclose(s.hr, direct.hr)
    np.testing.assert_allclose(s.pm25, direct.pm25)
    for drug, doses in direct.doses.items():
        np.testing.assert_allclose(s.dose(drug), doses)
    assert s.start_s == direct.start_s
