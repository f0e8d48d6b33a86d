"""Quantisation of floating-point networks to the contract."""

import numpy as np
import pytest

from neuro import FloatLayer, FloatNetwork, NetworkError, quantise, run
from neuro.random_networks import random_spikes


def test_quantised_network_uses_full_weight_range_and_keeps_decays():
    rng = np.random.default_rng(0)
    net = FloatNetwork((FloatLayer(rng.normal(size=(8, 4)), du=0.25, dv=0.125, vth=2.0,
                                   bias=0.1),))
    q = quantise(net).layers[0]
    assert np.abs(q.weights).max() == 127
    assert (q.du, q.dv) == (1023, 512)
    # threshold relative to the largest weight survives quantisation to 1 %
    ratio = q.vth * 64 / (127 * 2 ** (1 + q.weight_exp + 6))
    assert ratio == pytest.approx(2.0 / np.abs(net.layers[0].weights).max(), rel=1e-2)


def test_fixed_reading_of_float_network_spikes_like_the_float_one():
    """Quantise, read back as float, run both in Brian2-free numpy: spike counts agree."""
    rng = np.random.default_rng(1)
    flt = FloatNetwork((FloatLayer(rng.normal(0.3, 1, (16, 8)), du=0.2, dv=0.1, vth=1.0),))
    fixed = quantise(flt)
    spikes = random_spikes(4, 8, steps=400)
    counts = run(fixed, spikes).spikes[0].sum()
    assert counts > 0
    # the float reading of the quantised network is the float network up to a scale
    back = fixed.to_float().layers[0]
    scale = back.vth / flt.layers[0].vth
    np.testing.assert_allclose(back.weights / scale, flt.layers[0].weights, atol=0.02)


def test_unrepresentable_threshold_is_reported():
    with pytest.raises(NetworkError, match="threshold"):
        quantise(FloatNetwork((FloatLayer(np.full((1, 1), 1e-9), vth=1e6),)))
