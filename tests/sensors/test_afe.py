"""Front ends: datasheet noise floors, quantisation and saturation, rates, streaming."""

import numpy as np
import pytest

from sensors.afe import (
    PRESETS,
    AnalogFrontEnd,
    Decimator,
    Filter,
    FrontEndSpec,
    band_filter,
    measured_noise,
    quantise,
)
from sensors.noise import GaussianNoise


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_noise_floor_is_the_datasheet_figure_within_10_percent(name):
    spec = PRESETS[name]
    measured = measured_noise(spec, duration_s=60.0 if spec.fs < 1000 else 4.0)
    assert measured == pytest.approx(spec.noise, rel=0.10)


def test_ads1292_noise_follows_its_table_per_data_rate():
    spec = PRESETS["ads1292"].at_rate(250.0)
    assert spec.noise == 1.2e-6
    assert measured_noise(spec, 60.0) == pytest.approx(1.2e-6, rel=0.10)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_quantisation_error_is_uniform_over_one_step(name, rng):
    spec = PRESETS[name]
    lo = 0.0 if spec.unipolar else -spec.full_scale
    v = rng.uniform(lo * 0.9, spec.full_scale * 0.9, 200_000)
    err = quantise(v, spec) * spec.lsb - v
    assert np.abs(err).max() <= spec.lsb / 2 * (1 + 1e-9)
    assert np.var(err) == pytest.approx(spec.lsb**2 / 12, rel=0.02)


def test_saturation_clips_a_sine_as_the_arcsine_law_says():
    spec = PRESETS["adxl362"]
    amplitude = 2.0 * spec.full_scale
    t = np.arange(100_000) / spec.fs
    codes = quantise(amplitude * np.sin(2 * np.pi * 1.234 * t), spec)
    lo, hi = spec.code_range
    assert codes.min() == lo and codes.max() == hi
    clipped = np.mean((codes == lo) | (codes == hi))
    expected = 1 - 2 / np.pi * np.arcsin(spec.full_scale / amplitude)
    assert clipped == pytest.approx(expected, abs=0.005)


def test_electrode_offset_beyond_full_scale_saturates_the_ecg_front_end():
    spec = PRESETS["ads1292"].replace(offset=1.5)
    afe = AnalogFrontEnd(spec, spec.fs, 1, random_state=0)
    codes = afe(np.zeros((1, 2000)))
    assert np.all(codes[0, 500:] == spec.code_range[1])


def test_a_pass_band_tone_keeps_its_amplitude_over_the_noise_floor():
    spec = PRESETS["ads1292"]
    afe = AnalogFrontEnd(spec, 2 * spec.fs, 1, random_state=1)
    t_in = np.arange(40_000) / (2 * spec.fs)
    out = afe.to_units(afe(1e-3 * np.sin(2 * np.pi * 10.0 * t_in)[None]))[0][2000:]
    t = np.arange(2000, 20_000) / spec.fs
    basis = np.stack([np.sin(2 * np.pi * 10.0 * t), np.cos(2 * np.pi * 10.0 * t)], axis=1)
    coef, *_ = np.linalg.lstsq(basis, out, rcond=None)
    assert np.hypot(*coef) == pytest.approx(1e-3, rel=0.005)
    assert np.std(out - basis @ coef) == pytest.approx(spec.noise, rel=0.15)


def test_aliasing_after_decimation_is_limited_by_the_low_pass():
    spec = PRESETS["adxl362"]  # low-pass at fs/4
    fs_in = 4 * spec.fs
    t = np.arange(40_000) / fs_in
    out = AnalogFrontEnd(spec.replace(noise=0.0), fs_in, 1)(np.sin(2 * np.pi * 0.9 * spec.fs
                                                                   * t)[None])
    # 90 Hz at a 100 Hz output aliases to 10 Hz, attenuated by the 25 Hz second-order filter.
    assert np.std(out[0, 1000:] * spec.lsb) < 0.12


@pytest.mark.parametrize(("fs", "message"), [(300.0, "no data rate 300"),
                                             (1e9, "no data rate")])
def test_unsupported_data_rates_are_refused(fs, message):
    with pytest.raises(ValueError, match=message):
        PRESETS["ads1292"].at_rate(fs)


def test_input_rate_must_be_an_integer_multiple():
    with pytest.raises(ValueError, match="360 Hz is unsupported"):
        AnalogFrontEnd(PRESETS["ads1292"], 360.0, 2)


def test_spec_validation():
    with pytest.raises(ValueError, match="bandwidth"):
        FrontEndSpec("x", "part", "V", 100.0, (100.0,), 1.0, 12, 1e-6, "rms", 0.7)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_front_end_streaming_equals_batch(name, rng, random_chunks):
    spec = PRESETS[name]
    fs_in = 2 * spec.fs
    x = spec.full_scale * 0.3 * (rng.standard_normal((2, 5001)) + (1.5 if spec.unipolar else 0))
    afe = AnalogFrontEnd(spec, fs_in, 2, random_state=3)
    whole = afe(x)
    afe.reset()
    parts = [afe(c) for c in random_chunks(x, rng)]
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), whole)


def test_filter_decimator_and_noise_stream_in_chunks(rng, random_chunks):
    x = rng.standard_normal((3, 4001))
    stages = [Filter(band_filter(PRESETS["hearable"], 32000.0)), Decimator(3)]
    for stage in stages:
        whole = stage(x)
        stage.reset()
        np.testing.assert_array_equal(
            np.concatenate([stage(c) for c in random_chunks(x, rng)], axis=1), whole)
    noise = GaussianNoise(3, random_state=9)
    whole = noise(4001)
    noise.reset()
    sizes = [c.shape[1] for c in random_chunks(x, rng)]
    np.testing.assert_array_equal(np.concatenate([noise(n) for n in sizes], axis=1), whole)


def test_noise_stream_is_gaussian_with_unit_variance():
    z = GaussianNoise(1, random_state=2)(400_000)[0]
    assert z.mean() == pytest.approx(0, abs=0.01)
    assert z.std() == pytest.approx(1, rel=0.01)
    assert np.mean(np.abs(z) > 1.96) == pytest.approx(0.05, abs=0.002)


def test_long_inputs_cross_internal_blocks_unchanged(rng, random_chunks):
    spec = PRESETS["ads1292"]
    x = 1e-3 * rng.standard_normal((2, 50_001))
    afe = AnalogFrontEnd(spec, 2 * spec.fs, 2, random_state=4)
    whole = afe(x)
    afe.reset()
    parts = [afe(c) for c in random_chunks(x, rng, pieces=3)]
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), whole)
