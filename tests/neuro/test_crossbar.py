"""The crossbar backend: bit-exact when ideal, stated tolerances when not, and its checks."""

import dataclasses
import json
import math

import numpy as np
import pytest

from host.cli import main
from neuro import FixedLayer, FixedNetwork, run, write_network
from neuro.backends import available
from neuro.backends.crossbar_sim import simulate
from neuro.crossbar import CrossbarLayer, CrossbarNetwork, DeviceArray, layer_to_crossbar
from neuro.crossbar_presets import (
    MAX_TILE_SIZE,
    PRESETS,
    DevicePreset,
    Periphery,
    PresetError,
    get_preset,
    only,
    preset_from_dict,
    scale_variability,
    without,
)
from neuro.random_networks import random_network, random_spikes

TINY_TILES = dataclasses.replace(
    PRESETS["ideal"], periphery=dataclasses.replace(PRESETS["ideal"].periphery,
                                                    tile_rows=5, tile_cols=3))


def assert_same(a, b):
    for key, arr in a.arrays().items():
        np.testing.assert_array_equal(b.arrays()[key], arr, err_msg=key)


def test_backend_is_registered():
    assert "crossbar" in available()


@pytest.mark.parametrize("seed", range(60))
def test_ideal_preset_reproduces_the_reference_bit_for_bit(seed):
    net = random_network(seed)
    spikes = random_spikes(seed, net.n_inputs, steps=120, batch=2)
    want = run(net, spikes)
    assert_same(want, run(net, spikes, "crossbar", device="ideal", summary=False))
    if seed % 3 == 0:  # layers split over many 5 x 3 tiles
        assert_same(want, run(net, spikes, "crossbar", device=TINY_TILES, summary=False))


@pytest.mark.parametrize("seed", range(60, 70))
def test_ideal_preset_is_exact_with_a_float32_read_path(seed):
    net = random_network(seed)
    spikes = random_spikes(seed, net.n_inputs, steps=100, batch=2)
    got = CrossbarNetwork(net, "ideal", dtype=np.float32).run(spikes).record
    assert_same(run(net, spikes), got)


def test_ideal_is_exact_at_full_fan_in_and_extreme_weights():
    w = np.full((3, 1024), -128)
    w[1] = 127
    net = FixedNetwork((FixedLayer(w, weight_exp=-8, du=0, dv=0, vth=2**17 - 1),))
    spikes = np.ones((1, 6, 1024), np.uint8)
    assert_same(run(net, spikes), run(net, spikes, "crossbar", summary=False))


def test_activations_are_the_integer_dense_outputs_that_drive_the_neuron():
    net = random_network(5)
    spikes = random_spikes(5, net.n_inputs, steps=60, batch=2)
    result = simulate(net, spikes, "ideal")
    for layer, act, layer_in in zip(net.layers, result.activations,
                                    (spikes, *result.record.spikes[:-1]), strict=False):
        acc = np.einsum("bti,ni->btn", layer_in[:, :-1].astype(float), layer.weights)
        want = np.floor(acc * 2.0 ** (1 + layer.weight_exp))
        np.testing.assert_array_equal(act[:, 1:], want)
        assert np.all(act[:, 0] == 0)


def test_cli_crossbar_ideal_equals_reference_and_presets_run(tmp_path, capsys):
    net = random_network(8)
    write_network(tmp_path / "net.nir", net)
    np.savez(tmp_path / "in.npz", spikes=random_spikes(8, net.n_inputs, 80)[0].astype(int))
    common = ["run", "--model", str(tmp_path / "net.nir"), "--input", str(tmp_path / "in.npz")]
    assert main([*common, "--backend", "reference", "--out", str(tmp_path / "ref.npz")]) == 0
    user = tmp_path / "my-device.json"
    user.write_text(json.dumps({"base": "hfox", "name": "mine", "read_noise": 0.03,
                                "periphery": {"adc_bits": 6}}))
    for device in ("ideal", "hfox", "taox", "pcm", str(user)):
        out = tmp_path / "xbar.npz"
        assert main([*common, "--backend", "crossbar", "--device", device,
                     "--out", str(out)]) == 0
        got, ref = np.load(out), np.load(tmp_path / "ref.npz")
        assert sorted(got.files) == sorted(ref.files)
        if device == "ideal":
            for key in ref.files:
                np.testing.assert_array_equal(got[key], ref[key])
    err = capsys.readouterr().err
    assert "crossbar[hfox]" in err and "pJ per synaptic op" in err


def test_cli_reports_a_bad_device_as_an_error(tmp_path, capsys):
    net = random_network(8)
    write_network(tmp_path / "net.nir", net)
    np.savez(tmp_path / "in.npz", spikes=random_spikes(8, net.n_inputs, 10)[0].astype(int))
    code = main(["run", "--model", str(tmp_path / "net.nir"), "--input",
                 str(tmp_path / "in.npz"), "--backend", "crossbar", "--device", "rram9",
                 "--out", str(tmp_path / "o.npz")])
    assert code == 2
    assert "unknown preset 'rram9'" in capsys.readouterr().err


def test_same_seed_same_run_other_seed_other_device_instance():
    net = random_network(3)
    spikes = random_spikes(3, net.n_inputs, steps=100, batch=2)
    a = simulate(net, spikes, "hfox", seed=1)
    b = simulate(net, spikes, "hfox", seed=1)
    c = simulate(net, spikes, "hfox", seed=2)
    assert_same(a.record, b.record)
    assert not np.array_equal(a.activations[0], c.activations[0])


def test_read_path_error_matches_its_noise_budget():
    """Stated tolerance for a non-ideal device: the first layer's Dense output differs
    from the exact sum by the budget of its laws, within 20%.

    Per active input and column: two devices with write-verify error (at most the
    tolerance, near-uniform within it: variance tol^2 / 3) plus the level rounding
    (step^2 / 12) and white read noise, over the tile's unit squared; plus the ADC's
    lsb^2 / 12 per tile.
    """
    preset = only(PRESETS["taox"], "programming_noise", "levels", "read_noise", "adc")
    rng = np.random.default_rng(0)
    w = rng.integers(-128, 128, size=(64, 200))
    net = FixedNetwork((FixedLayer(w, weight_exp=0, du=4095, dv=0, vth=10**5),))
    spikes = random_spikes(1, 200, steps=60, batch=8)
    result = simulate(net, spikes, preset, seed=3)
    acc = result.activations[0][:, 1:] / 2.0  # weight_exp 0: a = floor(2 acc)
    exact = np.einsum("bti,ni->btn", spikes[:, :-1].astype(float), w)
    layer = CrossbarNetwork(net, preset, seed=3).layers[0]
    step = preset.unit_range / (preset.levels - 1)
    g = layer.targets[0, 0]
    device_var = preset.write_tolerance**2 / 3 + step**2 / 12 + (
        preset.read_noise * g) ** 2
    column_var = np.einsum("bti,ic->btc", spikes[:, :-1].astype(float),
                           device_var.sum(axis=-1)) / layer.unit[0, 0] ** 2
    predicted = math.sqrt(column_var.mean() + layer.lsb.max() ** 2 / 12 + 1 / 12)
    measured = float(np.sqrt(np.mean((acc - exact) ** 2)))
    assert measured == pytest.approx(predicted, rel=0.2)


def test_drift_carries_on_between_runs_of_a_programmed_network():
    net = FixedNetwork((FixedLayer(np.full((2, 8), 100), du=4095, dv=4095, vth=10**5),))
    spikes = np.ones((1, 5, 8), np.uint8)
    preset = dataclasses.replace(only(PRESETS["pcm"], "drift"), drift_nu=0.05,
                                 drift_nu_std=0.0)
    xbar = CrossbarNetwork(net, preset)
    early = xbar.run(spikes, t_start=20.0).activations[0][0, -1]
    late = xbar.run(spikes, t_start=20.0 * 10**4).activations[0][0, -1]
    np.testing.assert_allclose(late / early, 10 ** (4 * -0.05), rtol=0.01)


def test_energy_and_latency_follow_the_stated_figures():
    preset = PRESETS["ideal"]
    per = preset.periphery
    w = np.array([[64, -32, 0]])
    net = FixedNetwork((FixedLayer(w, du=4095, dv=0, vth=100),))
    spikes = np.zeros((2, 4, 3), np.uint8)
    spikes[0, 0, :2] = 1  # read at step 1: rows 0 and 1 active
    spikes[1, 2, 0] = 1  # read at step 3: row 0 active
    est = simulate(net, spikes, preset).estimate
    unit = preset.unit_range / 64  # µS per weight unit (tile peak 64)
    g_row = np.array([preset.g_min * 2 + 64 * unit, preset.g_min * 2 + 32 * unit])
    device = per.v_read**2 * per.t_read * 1e-6 * (g_row[0] + g_row[1] + g_row[0])
    assert est.energy["device"] == pytest.approx(device)
    assert est.energy["dac"] == pytest.approx(3 * per.dac_energy)
    assert est.energy["adc"] == pytest.approx(2 * per.adc_energy_8bit)  # 2 reads x 1 column
    assert est.synaptic_ops == 3
    assert est.energy_per_inference == pytest.approx(est.energy_total / 2)
    assert est.energy_per_synaptic_op == pytest.approx(est.energy_total / 3)
    assert est.latency_per_step == pytest.approx(per.t_read + per.adc_time)
    assert est.latency_per_inference == pytest.approx(4 * est.latency_per_step)


def test_in_situ_pulses_move_the_weights_an_on_chip_learner_reads_back():
    layer = FixedLayer(np.zeros((2, 3), int), du=4095)
    xbar = layer_to_crossbar(layer, only(PRESETS["hfox"]), seed=0)
    before = xbar.effective_weights(1.0)
    plus = np.array([[5, 0, 0], [0, 0, 0]])
    minus = np.array([[0, 0, 0], [0, 5, 0]])
    xbar.update(plus, minus, t=1.0)
    after = xbar.effective_weights(1.0)
    delta = after - before
    assert delta[0, 0] > 0 and delta[1, 1] < 0
    assert np.count_nonzero(delta) == 2


@pytest.mark.parametrize(("change", "message"), [
    (dict(g_min=30.0, g_max=20.0), "g_max must be finite and above g_min"),
    (dict(g_min=1.0, g_max=40.0, on_off_ratio=4.43), "on_off_ratio = 4.43 contradicts"),
    (dict(stuck_on=0.6, stuck_off=0.5), r"stuck_on \+ stuck_off = 1.1 exceeds 1"),
    (dict(write_max_iterations=5), "write_max_iterations = 5 needs a finite write_tolerance"),
    (dict(telegraph_noise=0.01), "telegraph_noise = 0.01 contradicts read_noise_kind 'white'"),
    (dict(levels=1), "levels must be None"),
    (dict(drift_nu=(0.1, 0.0, 0.2, 0.1)), "drift_nu has lo > hi"),
    (dict(read_noise_kind="pink"), "read_noise_kind must be one of"),
    (dict(telegraph_band=(10.0, 1.0)), "telegraph_band must be"),
])
def test_contradictory_presets_name_the_parameter(change, message):
    base = dict(name="x", g_min=1.0, g_max=10.0)
    with pytest.raises(PresetError, match=message):
        DevicePreset(**{**base, **change})


@pytest.mark.parametrize(("change", "message"), [
    (dict(tile_rows=MAX_TILE_SIZE + 1), "tile_rows must be an integer in"),
    (dict(tile_cols=0), "tile_cols must be an integer in"),
    (dict(adc_bits=1), "adc_bits must be None"),
    (dict(calibration="magic"), "calibration must be one of"),
    (dict(r_row=-1.0), "r_row must be a number >= 0"),
])
def test_bad_periphery_names_the_parameter(change, message):
    with pytest.raises(PresetError, match=message):
        Periphery(**change)


def test_conductances_outside_the_device_range_name_the_parameter():
    preset = PRESETS["pcm"]
    arr = DeviceArray(preset, (3,), np.random.default_rng(0))
    with pytest.raises(PresetError, match=r"targets: conductances must lie in the device "
                       r"range \[0.1, 25\] µS of preset 'pcm', got values in \[0.1, 30\]"):
        arr.program(np.array([0.1, 5.0, 30.0]))
    with pytest.raises(PresetError, match="targets: shape"):
        arr.program(np.ones(4))


def test_weights_outside_the_mantissa_range_are_refused():
    with pytest.raises(PresetError, match="weights: must be integer mantissas"):
        CrossbarLayer(np.array([[300]]), PRESETS["ideal"], np.random.default_rng(0))


def test_presets_by_name_file_and_dict_round_trip(tmp_path):
    for name, preset in PRESETS.items():
        assert get_preset(name) is preset
        assert preset_from_dict(json.loads(json.dumps(preset.to_dict()))) == preset
        assert preset.citations
    path = tmp_path / "dev.json"
    path.write_text(json.dumps({"base": "taox", "levels": 64, "periphery": {"tile_rows": 64}}))
    user = get_preset(path)
    assert user.levels == 64 and user.periphery.tile_rows == 64 and user.g_max == 100.0
    with pytest.raises(PresetError, match="unknown parameter"):
        preset_from_dict({"base": "taox", "colour": "red"})
    path.write_text("{not json")
    with pytest.raises(PresetError, match="cannot read preset file"):
        get_preset(path)


def test_switches_turn_each_non_ideality_off():
    assert without(PRESETS["pcm"]) == PRESETS["pcm"]
    off = only(PRESETS["pcm"])
    net = random_network(12)
    spikes = random_spikes(12, net.n_inputs, steps=80)
    # With every switch off only the device range remains, which the mapping absorbs.
    ideal_range = dataclasses.replace(off, periphery=dataclasses.replace(
        off.periphery, calibration="none"))
    assert_same(run(net, spikes), run(net, spikes, "crossbar", device=ideal_range,
                                      summary=False))
    with pytest.raises(PresetError, match="unknown"):
        only(PRESETS["pcm"], "gremlins")
    assert scale_variability(PRESETS["hfox"], 0).prog_noise == (0.0, 0.0)
