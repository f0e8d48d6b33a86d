"""neuro.rtl_compile: placement of layers on cores and the configuration it writes."""

import itertools

import numpy as np
import pytest

from neuro import FixedLayer, FixedNetwork
from neuro.random_networks import random_network, random_spikes
from neuro.rtl_compile import (
    AER_TICK,
    BIAS_BASE,
    CORE_SHIFT,
    REG_CTRL,
    REG_N_USED,
    REG_STATUS,
    WEIGHT_BASE,
    WEIGHT_OFFSET,
    CompileError,
    CoreGeometry,
    aer_words,
    compile_network,
    layer_register,
    place,
    weight_chunks,
)


def net_of(*sizes: int, seed: int = 0) -> FixedNetwork:
    rng = np.random.default_rng(seed)
    return FixedNetwork(tuple(
        FixedLayer(rng.integers(-128, 128, (n_out, n_in)), weight_exp=-3,
                   bias_mant=rng.integers(-4096, 4096, n_out), bias_exp=rng.integers(0, 8, n_out))
        for n_in, n_out in itertools.pairwise(sizes)))


@pytest.mark.parametrize("bad", [dict(n_neurons=300), dict(n_inputs=1), dict(n_layers=1),
                                 dict(lanes=6), dict(lanes=2), dict(n_cores=9)])
def test_geometry_outside_the_cores_range_is_refused(bad):
    with pytest.raises(CompileError, match="core geometry"):
        CoreGeometry(**bad)


def test_layers_share_a_core_until_it_is_full():
    geometry = CoreGeometry(n_neurons=64, lanes=16, n_layers=3, n_cores=3)
    placements = place(net_of(10, 20, 30, 40, 5), geometry)
    assert [(p.core, p.slot, p.base) for p in placements] == [
        (0, 0, 0), (0, 1, 32),       # 20 and 30 neurons round up to 32 each: core 0 is full
        (1, 0, 0), (1, 1, 48),       # 40 -> 48, then 5 -> 16
    ]
    assert [p.wbase for p in placements] == [0, 2 * 10, 0, 3 * 30]


def test_a_network_larger_than_the_chain_is_refused_with_the_layer():
    with pytest.raises(CompileError, match=r"layer 1: .* more than the 1 core\(s\)"):
        compile_network(net_of(8, 200, 200), CoreGeometry(n_neurons=256, n_cores=1))
    with pytest.raises(CompileError, match="layer 0: 300 neurons"):
        compile_network(net_of(8, 300), CoreGeometry(n_cores=8))
    with pytest.raises(CompileError, match="fan-in 300"):
        compile_network(net_of(300, 8), CoreGeometry(n_cores=8))


@pytest.mark.parametrize("lanes", [4, 8, 16])
def test_weight_words_hold_a_group_of_neurons_per_input(lanes):
    layer = net_of(7, 21, seed=lanes).layers[0]
    chunks = weight_chunks(layer, lanes)
    # Word g * fan_in + j, lane l, in offset binary.
    words = chunks.view(np.uint8).reshape(-1, lanes).astype(int) - WEIGHT_OFFSET
    groups = -(-21 // lanes)
    assert words.shape == (groups * 7, lanes)
    for g in range(groups):
        for lane in range(lanes):
            n = g * lanes + lane
            want = layer.weights[n] if n < 21 else np.zeros(7)
            assert words[g * 7: g * 7 + 7, lane].tolist() == list(want)


def test_writes_load_registers_bias_weights_then_clear():
    net = net_of(9, 6, 3)
    geometry = CoreGeometry(lanes=4, n_cores=2)
    image = compile_network(net, geometry)
    writes = dict(zip(image.writes[:, 0].tolist(), image.writes[:, 1].tolist(), strict=True))
    assert writes[layer_register(1, "base")] == 8  # 6 neurons round up to 8
    assert writes[layer_register(1, "fan_in")] == 6
    assert writes[layer_register(0, "weight_exp")] == -3 & 0xF
    layer = net.layers[0]
    bias = [writes[BIAS_BASE + i] for i in range(6)]
    assert bias == [(int(e) << 16) | (int(m) & 0xFFFF)
                    for m, e in zip(layer.bias_mant, layer.bias_exp, strict=True)]
    assert writes[REG_N_USED] == 2 and writes[(1 << CORE_SHIFT) | REG_N_USED] == 0
    # The used core (one: the second stays a pass-through) ends with flags and state cleared.
    assert image.writes[-3:].tolist() == [[REG_N_USED | 1 << CORE_SHIFT, 0], [REG_STATUS, 0x3F],
                                          [REG_CTRL, 1]]
    local = image.writes[:, 0] & ((1 << CORE_SHIFT) - 1)
    assert (local >= WEIGHT_BASE).sum() == 2 * 9 + 1 * 6  # groups x fan-in, one chunk each


def test_activation_layers_get_the_mode_and_no_weights():
    image = compile_network(net_of(9, 6, 3), CoreGeometry(lanes=4), activation_layers={0})
    writes = dict(zip(image.writes[:, 0].tolist(), image.writes[:, 1].tolist(), strict=True))
    assert writes[layer_register(0, "mode")] == 1 and writes[layer_register(1, "mode")] == 0
    assert (image.writes[:, 0] >= WEIGHT_BASE).sum() == 1 * 6  # layer 1: one group, fan-in 6


def test_memory_images_hold_what_the_writes_load(tmp_path):
    image = compile_network(random_network(3), CoreGeometry(lanes=16, n_cores=2))
    images = image.memory_images()
    assert len(images) == image.cores_used
    weights = image.writes[(image.writes[:, 0] & ((1 << CORE_SHIFT) - 1)) >= WEIGHT_BASE]
    core0 = weights[(weights[:, 0] >> CORE_SHIFT) == 0]
    assert images[0]["weights"][(core0[:, 0] & 0xFFFF)].tolist() == core0[:, 1].tolist()
    paths = image.write_hex(tmp_path)
    assert len(paths) == 2 * image.cores_used
    assert len(paths[1].read_text().split()) == images[0]["weights"].size


def test_aer_words_list_each_steps_inputs_then_a_tick():
    spikes = random_spikes(2, 10, steps=5)[0]
    words = aer_words(spikes)
    assert len(words) == 5
    for t, w in enumerate(words):
        assert w[-1] == AER_TICK and (w[:-1] < AER_TICK).all()
        assert w[:-1].tolist() == np.flatnonzero(spikes[t]).tolist()
