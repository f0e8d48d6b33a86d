"""Level 4: exposure accumulators and the incremental subject adapter."""

from __future__ import annotations

import numpy as np
import pytest

from host.exposures import ExposureAccumulator, SubjectAdapter


def test_accumulator_gives_the_same_features_in_chunks_or_whole():
    rng = np.random.default_rng(0)
    t, pm, act = rng.normal(25, 5, 500), rng.lognormal(2, 0.5, 500), rng.random(500)
    whole = ExposureAccumulator().partial_fit(t, pm, act)
    acc = ExposureAccumulator()
    chunks = np.concatenate([acc.partial_fit(t[i:i + 37], pm[i:i + 37], act[i:i + 37])
                             for i in range(0, 500, 37)])
    np.testing.assert_allclose(chunks, whole)
    assert whole.shape == (500, 4)


def test_heat_accumulates_with_its_time_constant():
    hours = 24 * 10
    temperature = np.where(np.arange(hours) >= 48, 34.0, 20.0)  # 10 °C above 24 from h 48
    f = ExposureAccumulator().partial_fit(temperature, np.full(hours, 10.0),
                                          np.zeros(hours))
    assert f[47, 0] == 0 and f[47 + 24, 0] == pytest.approx(10 * (1 - np.exp(-1)), rel=1e-6)
    assert f[47 + 120, 1] == pytest.approx(10 * (1 - np.exp(-1)), rel=1e-6)


def test_adapter_learns_an_exposure_effect_incrementally():
    rng = np.random.default_rng(1)
    n = 400
    exposure = np.column_stack([rng.uniform(0, 8, n), rng.uniform(0, 8, n),
                                rng.uniform(0, 3, n), rng.normal(0, 1, n)])
    hod = rng.integers(0, 24, n)
    residual = 1.5 * exposure[:, :1] + rng.normal(0, 1, (n, 24))
    adapter = SubjectAdapter(forgetting=1.0, ridge=1.0)
    for i in range(0, n, 50):  # day by day
        adapter.partial_fit(exposure[i:i + 50], hod[i:i + 50], residual[i:i + 50])
    whole = SubjectAdapter(forgetting=1.0, ridge=1.0).fit(exposure, hod, residual)
    np.testing.assert_allclose(adapter.coef_, whole.coef_, rtol=1e-8)
    fitted = adapter.predict(exposure, hod)
    assert np.abs(fitted - 1.5 * exposure[:, :1]).mean() < 0.3


def test_adapter_state_round_trips_through_bytes():
    rng = np.random.default_rng(2)
    adapter = SubjectAdapter().fit(rng.random((5, 4)), np.arange(5), rng.random((5, 24)))
    adapter.last_origin_ = 41
    again = SubjectAdapter.from_bytes(adapter.to_bytes())
    np.testing.assert_array_equal(again.coef_, adapter.coef_)
    assert again.last_origin_ == 41 and again.n_samples_ == adapter.n_samples_


def test_unfitted_adapter_corrects_nothing():
    assert not SubjectAdapter().predict(np.zeros((3, 4)), np.zeros(3, int)).any()
