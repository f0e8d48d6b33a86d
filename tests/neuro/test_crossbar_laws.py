"""Each crossbar non-ideality, switched on alone, against its own law.

Sample sizes make the statistical error of each estimate far smaller than its tolerance
(the standard error of a standard deviation from n samples is sigma / sqrt(2n): 0.2% at
n = 1e5 against a 5% tolerance), so these tests fail only when a law is broken.
"""

import dataclasses
import math

import numpy as np
import pytest
from scipy import signal

from neuro.crossbar import (
    CrossbarLayer,
    DeviceArray,
    adc_convert,
    dac_convert,
    drift_exponent,
    ir_drop_conductance,
    ir_drop_exact,
    programming_sigma,
    pulse_response,
    pulse_step,
    read_sigma,
    telegraph_rates,
    telegraph_sigma,
)
from neuro.crossbar_plots import plot_pulse_response
from neuro.crossbar_presets import PRESETS, only

N = 100_000


def devices(preset, n=N, seed=0):
    return DeviceArray(preset, (n,), np.random.default_rng(seed))


@pytest.mark.parametrize("name", ["pcm", "hfox", "taox"])
@pytest.mark.parametrize("fraction", [0.25, 0.5, 0.8])
def test_programming_noise_sigma_follows_the_state_dependent_law(name, fraction):
    preset = dataclasses.replace(only(PRESETS[name], "programming_noise"),
                                 write_max_iterations=1, write_tolerance=math.inf)
    target = preset.g_min + fraction * preset.unit_range
    arr = devices(preset)
    arr.program(np.full(N, target))
    sigma = float(programming_sigma(preset, target))
    assert np.std(arr.g_ - target) == pytest.approx(sigma, rel=0.05)
    assert np.mean(arr.g_ - target) == pytest.approx(0, abs=4 * sigma / math.sqrt(N))


def test_pcm_programming_noise_is_the_published_polynomial():
    # Joshi et al. 2020: sigma = max(-1.1731 g^2 + 1.9650 g + 0.2635, 0) µS, g = G / 25 µS.
    g = np.array([0.0, 0.5, 1.0]) * 25.0
    want = np.maximum(-1.1731 * (g / 25) ** 2 + 1.9650 * g / 25 + 0.2635, 0)
    np.testing.assert_allclose(programming_sigma(PRESETS["pcm"], g), want)


def test_write_verify_attempts_are_a_truncated_geometric_law_and_land_within_tolerance():
    preset = dataclasses.replace(only(PRESETS["hfox"], "programming_noise"),
                                 write_tolerance=1.0, write_max_iterations=6)
    target = preset.g_min + 0.5 * preset.unit_range
    arr = devices(preset)
    attempts = arr.program(np.full(N, target))
    accept = math.erf(preset.write_tolerance / (programming_sigma(preset, target) * math.sqrt(2)))
    miss = 1 - accept
    m = preset.write_max_iterations
    mean = (1 - miss**m) / accept  # E[min(Geometric(accept), m)]
    probs = np.array([miss**k * accept for k in range(m - 1)] + [miss ** (m - 1)])
    k = np.arange(1, m + 1)
    se = math.sqrt(float((probs * (k - mean) ** 2).sum()) / N)
    assert attempts.mean() == pytest.approx(mean, abs=3 * se)
    converged = attempts < m
    assert np.all(np.abs(arr.g_[converged] - target) <= preset.write_tolerance)


def test_finite_levels_program_onto_the_evenly_spaced_grid():
    preset = only(PRESETS["taox"], "levels")
    arr = devices(preset, 1000)
    targets = np.random.default_rng(1).uniform(preset.g_min, preset.g_max, 1000)
    arr.program(targets)
    step = preset.unit_range / (preset.levels - 1)
    index = (arr.g_ - preset.g_min) / step
    np.testing.assert_allclose(index, np.rint(index), atol=1e-9)
    assert len(np.unique(np.rint(index))) <= preset.levels
    assert np.max(np.abs(arr.g_ - targets)) <= step / 2 + 1e-9


@pytest.mark.parametrize("name", ["pcm", "hfox"])
def test_read_noise_sigma_per_read_follows_its_law(name):
    preset = only(PRESETS[name], "read_noise")
    target = preset.g_min + 0.3 * preset.unit_range
    arr = devices(preset)
    arr.program(np.full(N, target))
    reads = arr.read(preset.drift_t0)
    assert np.std(reads - target) == pytest.approx(float(read_sigma(preset, target)), rel=0.05)
    # A second read draws afresh: reads are independent.
    assert abs(np.corrcoef(reads, arr.read(preset.drift_t0))[0, 1]) < 0.02


def test_column_read_noise_is_the_input_weighted_sum_of_device_variances():
    preset = only(PRESETS["hfox"], "read_noise")
    rng = np.random.default_rng(3)
    weights = rng.integers(-128, 128, size=(16, 64))
    layer = CrossbarLayer(weights, preset, np.random.default_rng(4))
    spikes = (rng.random(64) < 0.5).astype(np.uint8)
    frame = layer.frame(preset.drift_t0)
    acc = layer.read(np.repeat(spikes[None], 20_000, axis=0), frame)
    g = layer.devices.g_[0, 0]  # [rows, cols, 2]
    var = ((read_sigma(preset, g) ** 2).sum(axis=-1) * spikes[:, None]).sum(axis=0)
    want = np.sqrt(var) / layer.unit[0, 0]
    np.testing.assert_allclose(acc.std(axis=0), want, rtol=0.05)
    np.testing.assert_allclose(acc.mean(axis=0), spikes @ weights.T, atol=0.05 * want.max())


def test_random_telegraph_noise_has_two_levels_and_exponential_memory():
    preset = dataclasses.replace(only(PRESETS["hfox"], "telegraph_noise"),
                                 telegraph_band=(50.0, 50.0))
    target = preset.g_min + 0.5 * preset.unit_range
    arr = devices(preset, 2000)
    arr.program(np.full(2000, target))
    dt = 2e-3
    series = np.array([arr.conductance(1.0 + k * dt) for k in range(400)])
    amplitude = float(preset.telegraph_noise * target)
    np.testing.assert_allclose(np.abs(series - target), amplitude, rtol=1e-9)
    x = np.sign(series - target)
    rate = telegraph_rates(preset)[0]
    for lag in (1, 3, 8):
        corr = np.mean(x[lag:] * x[:-lag])
        assert corr == pytest.approx(math.exp(-2 * rate * lag * dt), abs=0.02)


def test_flicker_noise_spectrum_falls_as_one_over_f_within_its_band():
    preset = dataclasses.replace(only(PRESETS["pcm"], "telegraph_noise"),
                                 telegraph_band=(0.1, 1e3))
    target = 0.5 * preset.g_max
    arr = devices(preset, 200)
    arr.program(np.full(200, target))
    fs = 1e4
    series = np.array([arr.conductance(20.0 + k / fs) for k in range(2**13)])
    f, psd = signal.welch(series - target, fs=fs, nperseg=2048, axis=0)
    band = (f >= 20) & (f <= 200)
    slope = np.polyfit(np.log(f[band]), np.log(psd[band].mean(axis=1)), 1)[0]
    assert slope == pytest.approx(-1.0, abs=0.1)
    assert np.std(series - target) == pytest.approx(float(telegraph_sigma(preset, target)),
                                                    rel=0.1)


def test_drift_exponent_is_recovered_from_conductance_over_time():
    preset = dataclasses.replace(only(PRESETS["pcm"], "drift"), drift_nu=0.05,
                                 drift_nu_std=0.01, drift_t0=20.0)
    arr = devices(preset)
    arr.program(np.full(N, 10.0))
    t1, t2 = 100.0, 1e5
    nu = -np.log(arr.drifted(t2) / arr.drifted(t1)) / math.log(t2 / t1)
    assert nu.mean() == pytest.approx(0.05, rel=0.05)
    assert nu.std() == pytest.approx(0.01, rel=0.05)
    # Before t0 the device reads its programmed value.
    np.testing.assert_array_equal(arr.drifted(5.0), arr.g_)


def test_pcm_drift_exponent_depends_on_the_programmed_state():
    preset = only(PRESETS["pcm"], "drift")
    arr = devices(preset)
    target = 0.1 * preset.g_max
    arr.program(np.full(N, target))
    nu = -np.log(arr.drifted(2e4) / arr.drifted(200.0)) / math.log(100)
    mean, std = drift_exponent(preset, target)
    assert mean == pytest.approx(-0.0155 * math.log(0.1) + 0.0244)
    assert nu.mean() == pytest.approx(mean, rel=0.05)
    assert nu.std() == pytest.approx(std, rel=0.05)


def test_stuck_at_fractions_within_three_standard_errors():
    preset = dataclasses.replace(only(PRESETS["hfox"], "stuck"), stuck_on=0.02, stuck_off=0.05)
    arr = devices(preset)
    arr.program(np.full(N, preset.g_min + 0.5 * preset.unit_range))
    for value, p in ((preset.g_max, 0.02), (preset.g_min, 0.05)):
        frac = np.mean(arr.g_ == value)
        assert abs(frac - p) <= 3 * math.sqrt(p * (1 - p) / N)
    before = arr.g_.copy()
    arr.apply_pulses(np.full(N, 5))
    np.testing.assert_array_equal(arr.g_[arr.stuck], before[arr.stuck])


def test_device_to_device_spreads_follow_their_sigmas():
    preset = only(PRESETS["hfox"], "d2d")
    arr = devices(preset)
    assert np.std(arr.g_max_dev / preset.g_max) == pytest.approx(preset.d2d_g_max, rel=0.05)
    assert np.std(arr.step_scale) == pytest.approx(preset.d2d_step, rel=0.05)
    # A device cannot be programmed beyond its own maximum.
    arr.program(np.full(N, preset.g_max))
    assert np.all(arr.g_ <= arr.g_max_dev)


def test_cycle_to_cycle_noise_of_a_pulse_step():
    preset = only(PRESETS["hfox"], "c2c")
    arr = devices(preset)
    start = preset.g_min + 0.3 * preset.unit_range
    arr.program(np.full(N, start))
    arr.apply_pulses(np.ones(N, int))
    step = arr.g_ - start
    nominal = float(pulse_step(preset, start, True))
    assert step.mean() == pytest.approx(nominal, rel=0.01)
    assert step.std() / nominal == pytest.approx(preset.c2c_step, rel=0.05)


@pytest.mark.parametrize("name", ["hfox", "taox", "pcm"])
def test_in_situ_pulses_follow_the_pulse_response_curve_up_and_down(name, tmp_path):
    ideal = only(PRESETS[name])
    up, down = ideal.set_pulses, ideal.reset_pulses
    curve = pulse_response(ideal, up, down)
    # Noise-free devices trace the curve exactly, pulse by pulse.
    arr = devices(ideal, 4)
    arr.program(np.full(4, ideal.g_min))
    trace = [arr.g_[0]]
    for i in range(up + down):
        arr.apply_pulses(np.full(4, 1 if i < up else -1))
        trace.append(arr.g_[0])
    np.testing.assert_allclose(trace, curve, atol=1e-9 * ideal.g_max)
    assert curve[up] == pytest.approx(ideal.g_max)
    assert curve[-1] == pytest.approx(ideal.g_min)
    # Nonlinear and asymmetric: steps shrink towards the bound they approach.
    steps = np.diff(curve)
    if ideal.set_a is not None and up > 2:
        assert steps[0] > steps[up - 1] > 0
    # With cycle-to-cycle noise the mean over devices follows the same curve: each step is
    # linear in G with zero-mean noise, so expectations obey the noise-free recurrence
    # until the bounds clip it.
    noisy = only(PRESETS[name], "c2c")
    arr = devices(noisy, 20_000)
    arr.program(np.full(20_000, noisy.g_min))
    mean = [noisy.g_min]
    for _ in range(up // 2):
        arr.apply_pulses(np.ones(20_000, int))
        mean.append(arr.g_.mean())
    np.testing.assert_allclose(mean, curve[: up // 2 + 1], rtol=0.01)
    path = plot_pulse_response(PRESETS[name], tmp_path / "pulses.png", devices=8)
    assert path.stat().st_size > 10_000


def test_endurance_stops_a_device_from_switching():
    preset = dataclasses.replace(only(PRESETS["hfox"]), endurance=10)
    arr = devices(preset, 8)
    arr.program(np.full(8, preset.g_min))  # one attempt: one pulse used
    arr.apply_pulses(np.full(8, 30))
    np.testing.assert_array_equal(arr.pulses_, 10)
    np.testing.assert_allclose(arr.g_, pulse_response(preset, 9, 0)[-1])


@pytest.mark.parametrize(("r", "size"), [(1.0, (32, 64)), (2.5, (48, 48)), (5.0, (16, 32))])
def test_ir_drop_fast_model_matches_exact_nodal_solve_within_one_percent(r, size):
    rng = np.random.default_rng(7)
    g = rng.uniform(5.0, 100.0, size)
    v = 0.2 * (rng.random(size[0]) < 0.6)
    exact = ir_drop_exact(g, v, r, r)
    fast = v @ ir_drop_conductance(g, r, r)
    ideal = v @ g
    drop = np.max(np.abs(ideal - exact) / exact)
    assert drop > 0.1  # the drop is large enough to matter (13-29% here)
    assert np.max(np.abs(fast - exact) / exact) < 0.01


def test_adc_quantisation_error_is_uniform_and_saturates():
    rng = np.random.default_rng(8)
    lsb = 4.0
    current = rng.uniform(-700, 700, N)
    code = adc_convert(current, lsb, 8)
    err = code * lsb - current
    inside = np.abs(current) < 127 * lsb
    assert np.std(err[inside]) == pytest.approx(lsb / math.sqrt(12), rel=0.05)
    assert code.max() == 127 and code.min() == -127
    assert np.all(np.abs(err[inside]) <= lsb / 2)


def test_dac_quantises_graded_inputs_and_passes_spikes_exactly():
    x = np.linspace(-1, 1, 1001)
    q = dac_convert(x, 4)
    assert len(np.unique(q)) == 15 and np.max(np.abs(q - x)) <= 1 / 14 + 1e-12
    spikes = np.array([0, 1, 1, 0], np.uint8)
    assert dac_convert(spikes, 2) is spikes


def test_adc_output_lands_on_integer_weight_units_for_a_finite_converter():
    preset = only(PRESETS["hfox"], "adc")
    rng = np.random.default_rng(9)
    weights = rng.integers(-128, 128, size=(10, 300))
    layer = CrossbarLayer(weights, preset, np.random.default_rng(1))
    spikes = (rng.random((50, 300)) < 0.2).astype(np.uint8)
    acc = layer.read(spikes, layer.frame(1.0))
    # Power-of-two steps: every partial sum is a whole number of weight units, within half
    # a step of each tile's exact sum.
    np.testing.assert_array_equal(acc, np.rint(acc))
    assert np.all(layer.lsb >= 1) and np.all(np.log2(layer.lsb) == np.rint(np.log2(layer.lsb)))
    exact = spikes @ weights.T
    assert np.max(np.abs(acc - exact)) <= layer.tiles[0] * layer.lsb.max() / 2


def test_tile_calibration_compensates_mean_drift():
    preset = dataclasses.replace(only(PRESETS["pcm"], "drift", "adc"),
                                 drift_nu=0.06, drift_nu_std=0.0)
    calibrated = dataclasses.replace(
        preset, periphery=dataclasses.replace(preset.periphery, adc_bits=None,
                                              calibration="tile"))
    raw = dataclasses.replace(
        preset, periphery=dataclasses.replace(preset.periphery, adc_bits=None,
                                              calibration="none"))
    rng = np.random.default_rng(2)
    weights = rng.integers(0, 128, size=(8, 32))
    spikes = np.ones((1, 32), np.uint8)
    exact = spikes @ weights.T
    t = 20.0 * 1e4
    for p, want in ((raw, exact * 1e4 ** -0.06), (calibrated, exact)):
        layer = CrossbarLayer(weights, p, np.random.default_rng(0))
        np.testing.assert_allclose(layer.read(spikes, layer.frame(t)), want, rtol=0.01,
                                   atol=1.0)
