"""The reference simulator: hand-worked traces and the properties the contract promises."""

import numpy as np
import pytest

from neuro import FixedLayer, FixedNetwork, InputError, run
from neuro.random_networks import random_network, random_spikes


def one_neuron(**kw) -> FixedNetwork:
    params = {"weights": np.array([[10]]), "du": 4095, "dv": 0, "vth": 100} | kw
    return FixedNetwork((FixedLayer(**params),))


def test_dense_input_arrives_one_step_late_and_integrates():
    # mantissa 10 -> Dense weight 20 -> 20 << 6 = 1280 per spike; du=4095 clears u each step.
    out = run(one_neuron(), np.array([[1], [0], [1], [0]])).arrays()
    assert out["u_0"][:, 0].tolist() == [0, 1280, 0, 1280]
    assert out["v_0"][:, 0].tolist() == [0, 1280, 1280, 2560]


def test_spike_when_strictly_above_threshold_then_reset_to_zero():
    # vth 20 -> 1280: v = 1280 does not spike, v = 2560 does and resets.
    out = run(one_neuron(vth=20), np.array([[1], [0], [1], [0]])).arrays()
    assert out["spikes"][:, 0].tolist() == [0, 0, 0, 1]
    assert out["v_0"][:, 0].tolist() == [0, 1280, 1280, 0]


def test_voltage_saturates_and_bias_drives_it():
    # A positive v would spike first (vth << 6 < 2**23 - 1), so saturate downwards.
    out = run(one_neuron(bias_mant=-4096, bias_exp=7), np.zeros((40, 1), int))
    v = out.arrays()["v_0"][:, 0]
    assert v[0] == -4096 << 7
    assert v[-1] == -(2**23) + 1


def test_each_layer_adds_one_step_of_delay():
    net = FixedNetwork((FixedLayer(np.array([[127]]), du=4095, dv=4095, vth=0),
                        FixedLayer(np.array([[127]]), du=4095, dv=4095, vth=0)))
    out = run(net, np.array([[1], [0], [0], [0]])).arrays()
    assert out["spikes_0"][:, 0].tolist() == [0, 1, 0, 0]
    assert out["spikes_1"][:, 0].tolist() == [0, 0, 1, 0]


def test_batch_streams_are_independent():
    net = random_network(11)
    batch = random_spikes(11, net.n_inputs, steps=200, batch=3)
    together = run(net, batch)
    for b in range(3):
        alone = run(net, batch[b])
        for key, arr in alone.arrays().items():
            np.testing.assert_array_equal(together.arrays()[key][b], arr, err_msg=key)


def test_output_arrays_follow_the_file_contract():
    net = random_network(2)
    rec = run(net, random_spikes(2, net.n_inputs, steps=50)[0])
    arrays = rec.arrays()
    assert set(arrays) == {"spikes"} | {f"{k}_{i}" for k in ("spikes", "u", "v")
                                        for i in range(len(net.layers))}
    assert arrays["spikes"].shape == (50, net.layers[-1].n_neurons)
    assert arrays["u_0"].dtype == np.int32


@pytest.mark.parametrize(
    ("spikes", "message"),
    [
        (np.full((5, 1), 0.5), "integer array"),
        (np.full((5, 2), 1), "2 inputs on the last axis but the network takes 1"),
        (np.full((5, 1), 3), r"0 or 1, got values in \[3, 3\]"),
        (np.ones(5, int), r"shape \[steps, inputs\]"),
    ],
)
def test_bad_spikes_name_the_problem(spikes, message):
    with pytest.raises(InputError, match=message):
        run(one_neuron(), spikes)


@pytest.mark.parametrize("seed", range(60))
def test_compiled_engine_equals_the_numpy_spec(seed):
    net = random_network(seed)
    spikes = random_spikes(seed, net.n_inputs, steps=300, batch=1 + seed % 3)
    numpy_rec = run(net, spikes, "reference", engine="numpy").arrays()
    compiled = run(net, spikes, "reference", engine="compiled").arrays()
    for key, arr in numpy_rec.items():
        np.testing.assert_array_equal(compiled[key], arr, err_msg=f"seed {seed}: {key}")


def test_unknown_engine_is_refused():
    with pytest.raises(ValueError, match="engine must be 'compiled' or 'numpy'"):
        run(one_neuron(), np.zeros((3, 1), int), "reference", engine="gpu")
