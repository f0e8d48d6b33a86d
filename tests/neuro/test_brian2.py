"""Brian2 (floating point) against the reference (fixed point), within stated tolerances.

The only difference between the two is rounding: each fixed-point decay truncates toward
zero, losing less than one state unit per step, and a negative weight exponent floors the
Dense sum, losing less than one Dense unit (2**6 state units) per step. The first layer's
current depends only on the (identical) input, so its error obeys
e[t] <= (1 - du) e[t-1] + r with r = 1 (+ 64 when weight_exp < -1), i.e. stays below r / du
(du as a fraction per step). Voltage errors are bounded likewise until the
first spike that one side emits a step apart; after that, trains may drift apart, so spikes
are compared by agreement: at least 97 % of (step, neuron) cells equal in every layer of
networks whose thresholds are not within rounding noise of the drive.
"""

import itertools

import numpy as np
import pytest

from neuro import FixedLayer, FixedNetwork, run
from neuro.random_networks import random_spikes


def moderate_network(seed: int) -> FixedNetwork:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(4, 40, size=int(rng.integers(2, 4)))
    layers = tuple(
        FixedLayer(rng.integers(-128, 128, (n_out, n_in)), int(rng.integers(-2, 3)),
                   du=int(rng.integers(200, 4096)), dv=int(rng.integers(100, 2000)),
                   vth=int(rng.integers(200, 3000)), bias_mant=rng.integers(-200, 200, n_out),
                   bias_exp=2)
        for n_in, n_out in itertools.pairwise(sizes)
    )
    return FixedNetwork(layers)


@pytest.mark.parametrize("seed", range(6))
def test_brian2_matches_reference_within_rounding(seed):
    net = moderate_network(seed)
    spikes = random_spikes(seed, net.n_inputs, steps=300, batch=2)
    ref, b2 = run(net, spikes), run(net, spikes, "brian2")
    first = net.layers[0]
    per_step = 1 + (64 if first.weight_exp < -1 else 0)
    assert np.abs(b2.u[0] - ref.u[0]).max() <= per_step / ((first.du + 1) / 4096)
    for i, (a, b) in enumerate(zip(ref.spikes, b2.spikes, strict=True)):
        assert (a == b).mean() >= 0.97, f"layer {i}: spike agreement {(a == b).mean():.3f}"


def test_brian2_output_has_the_reference_shapes():
    net = moderate_network(99)
    spikes = random_spikes(1, net.n_inputs, steps=50)[0]
    ref, b2 = run(net, spikes).arrays(), run(net, spikes, "brian2").arrays()
    assert {k: v.shape for k, v in ref.items()} == {k: v.shape for k, v in b2.items()}
