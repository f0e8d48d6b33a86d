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
    heat = rng.uniform(0, 8, (n, 24))
    residual = 1.5 * heat + rng.normal(0, 1, (n, 24))
    adapter = SubjectAdapter(forgetting=1.0, ridge=1.0)
    for i in range(0, n, 50):  # day by day
        adapter.partial_fit(exposure[i:i + 50], hod[i:i + 50], heat[i:i + 50],
                            residual[i:i + 50])
    whole = SubjectAdapter(forgetting=1.0, ridge=1.0).fit(exposure, hod, heat, residual)
    np.testing.assert_allclose(adapter.coef_, whole.coef_, rtol=1e-8)
    fitted = adapter.predict(exposure, hod, heat)
    assert np.abs(fitted - 1.5 * heat).mean() < 0.3


def test_adapter_recovers_from_a_climate_shift_without_hurting_earlier_data():
    """Level 4 on its own: a forecaster that knows no heat meets a 12 °C warmer climate from
    day 21; its residual is the heat strain (lessened by acclimatisation) plus 2 bpm of
    noise it cannot know. Updated daily, the adapter brings the daily error back within 110%
    of the noise's within four days, and leaves the error on the earlier weeks as it was."""
    rng = np.random.default_rng(3)
    days, shift = 35, 21
    hours = np.arange(days * 24)
    temperature = (16 + rng.normal(0, 1.0, days)[hours // 24]
                   + 5 * np.cos(2 * np.pi * (hours % 24 - 15) / 24)
                   + 12 * np.clip((hours - shift * 24) / 24, 0, 1))
    features = ExposureAccumulator().partial_fit(temperature, np.full(hours.size, 10.0),
                                                 np.full(hours.size, 0.3))
    origins = np.arange(7 * 24, hours.size - 23)
    targets = origins[:, None] + np.arange(24)
    heat = np.maximum(temperature[targets] - 24, 0)
    exposure = features[origins - 1]
    acclimatised = 0.5 * np.clip(features[targets, 1] / 6, 0, 1)
    noise = rng.normal(0, 2, targets.shape)
    residual = 1.2 * heat * (1 - acclimatised) + noise
    hod = origins % 24
    adapter = SubjectAdapter()
    corrected = np.empty_like(residual)
    for day in range(7, days):
        today = origins // 24 == day
        corrected[today] = residual[today] - adapter.predict(exposure[today], hod[today],
                                                             heat[today])
        done = (origins + 24 <= (day + 1) * 24) & (origins + 24 > day * 24)
        adapter.partial_fit(exposure[done], hod[done], heat[done], residual[done])
    day_of = origins // 24
    later = [d for d in range(shift + 1, days) if (day_of == d).any()]
    ratio = {d: np.abs(corrected[day_of == d]).mean() / np.abs(noise[day_of == d]).mean()
             for d in later}
    frozen = {d: np.abs(residual[day_of == d]).mean() / np.abs(noise[day_of == d]).mean()
              for d in later}
    assert max(frozen.values()) > 1.5  # the shift matters
    assert all(ratio[d] <= 1.1 for d in later if d >= shift + 4)
    early = origins < shift * 24
    before = np.abs(residual[early]).mean()
    after = np.abs(residual[early] - adapter.predict(exposure[early], hod[early],
                                                     heat[early])).mean()
    assert after <= 1.1 * before


def test_adapter_state_round_trips_through_bytes():
    rng = np.random.default_rng(2)
    adapter = SubjectAdapter().fit(rng.random((5, 4)), np.arange(5), rng.random((5, 24)),
                                   rng.random((5, 24)))
    adapter.last_origin_ = 41
    again = SubjectAdapter.from_bytes(adapter.to_bytes())
    np.testing.assert_array_equal(again.coef_, adapter.coef_)
    assert again.last_origin_ == 41 and again.n_samples_ == adapter.n_samples_


def test_unfitted_adapter_corrects_nothing():
    assert not SubjectAdapter().predict(np.zeros((3, 4)), np.zeros(3, int),
                                        np.ones((3, 24))).any()


def test_an_adapter_with_other_regressors_is_refused():
    import io

    buf = io.BytesIO()
    np.savez(buf, gram=np.eye(8), moment=np.zeros(8), coef=np.zeros(8), n=5, last_origin=3,
             params=np.array([1.0, 1.0, 24]))
    with pytest.raises(ValueError, match="8 regressors"):
        SubjectAdapter.from_bytes(buf.getvalue())
