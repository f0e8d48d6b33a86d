"""Seeded random networks and inputs that exercise the whole fixed-point contract.

Used by the backend-equivalence suites (reference, Lava, RTL) and by anyone fuzzing a new
backend: the same seed gives the same network and input everywhere.
"""

from __future__ import annotations

import itertools

import numpy as np

from neuro import fixed_point as fp
from neuro.network import FixedLayer, FixedNetwork

_DECAY_EDGES = (0, 1, fp.DECAY_MAX - 1, fp.DECAY_MAX)


def _decay(rng: np.random.Generator) -> int:
    return int(rng.choice(_DECAY_EDGES) if rng.random() < 0.4 else rng.integers(0, 4096))


def random_layer(rng: np.random.Generator, n_in: int, n_out: int, extreme: bool) -> FixedLayer:
    """One layer; ``extreme`` drives u into its wrap and v into saturation."""
    weights = rng.integers(fp.WEIGHT_MIN, fp.WEIGHT_MAX + 1, size=(n_out, n_in))
    sign = rng.choice(["mixed", "positive", "negative"], p=[0.7, 0.15, 0.15])
    if sign == "positive":
        weights = np.abs(weights).clip(max=fp.WEIGHT_MAX)
    elif sign == "negative":
        weights = -np.abs(weights)
    weights = weights * (rng.random(weights.shape) < rng.uniform(0.1, 1.0))
    if extreme:
        weight_exp = int(rng.integers(4, fp.WEIGHT_EXP_MAX + 1))
        du = int(rng.choice([0, 1, int(rng.integers(0, 64))]))
        dv = int(rng.choice([0, 1, int(rng.integers(0, 64))]))
        vth = int(rng.choice([fp.VTH_MAX, int(rng.integers(fp.VTH_MAX // 2, fp.VTH_MAX))]))
        bias_exp = rng.integers(5, fp.BIAS_EXP_MAX + 1, size=n_out)
    else:
        weight_exp = int(rng.integers(fp.WEIGHT_EXP_MIN, fp.WEIGHT_EXP_MAX + 1))
        du, dv = _decay(rng), _decay(rng)
        vth = int(rng.choice([0, 1, int(rng.integers(0, 2**10)), int(rng.integers(0, 2**17))]))
        bias_exp = rng.integers(0, fp.BIAS_EXP_MAX + 1, size=n_out)
    bias_mant = rng.integers(fp.BIAS_MANT_MIN, fp.BIAS_MANT_MAX + 1, size=n_out)
    bias_mant = bias_mant * (rng.random(n_out) < rng.uniform(0.0, 1.0))
    return FixedLayer(weights, weight_exp, du, dv, vth, bias_mant, bias_exp)


def random_network(
    seed: int, max_layers: int = 3, max_neurons: int = 128
) -> FixedNetwork:
    """A network of 1..max_layers layers of 1..max_neurons neurons from ``seed``."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, max_neurons + 1, size=int(rng.integers(1, max_layers + 1)) + 1)
    extreme = rng.random() < 0.3
    layers = [
        random_layer(rng, int(n_in), int(n_out), extreme and rng.random() < 0.7)
        for n_in, n_out in itertools.pairwise(sizes)
    ]
    return FixedNetwork(tuple(layers))


def random_spikes(seed: int, n_inputs: int, steps: int = 500, batch: int = 1) -> np.ndarray:
    """Bernoulli input trains [batch, steps, inputs] at a rate drawn per input (0..0.9)."""
    rng = np.random.default_rng([seed, 1])
    rates = rng.uniform(0.0, 0.9, size=n_inputs) * (rng.random(n_inputs) < 0.9)
    return (rng.random((batch, steps, n_inputs)) < rates).astype(np.uint8)
