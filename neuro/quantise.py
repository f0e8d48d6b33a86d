"""Quantise a floating-point network to the fixed-point contract.

A LIF layer with reset to zero is unchanged when its weights, bias and threshold are all
scaled by one positive factor, so each layer is scaled to use the full 8-bit weight range;
the weight exponent is then chosen as large as the threshold, bias and state headroom allow,
which gives the threshold and bias the finest resolution relative to the weights.
"""

from __future__ import annotations

import numpy as np

from neuro import fixed_point as fp
from neuro.network import FixedLayer, FixedNetwork, FloatLayer, FloatNetwork, NetworkError

# One step's synaptic input may use at most half of the 24-bit current word.
_INPUT_HEADROOM = 2 ** (fp.STATE_BITS - 2)
_BIAS_LIMIT = fp.BIAS_MANT_MAX << fp.BIAS_EXP_MAX


def _decays(layer: FloatLayer) -> tuple[int, int]:
    du = int(np.clip(round(layer.du * fp.DECAY_UNITY) - fp.DU_OFFSET, 0, fp.DECAY_MAX))
    dv = int(np.clip(round(layer.dv * fp.DECAY_UNITY) - fp.DV_OFFSET, 0, fp.DECAY_MAX))
    return du, dv


def _bias(bias: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    mant = np.zeros(bias.shape, np.int64)
    exp = np.zeros(bias.shape, np.int64)
    todo = np.ones(bias.shape, bool)
    for e in range(fp.BIAS_EXP_MAX + 1):
        m = np.round(bias / 2**e)
        fits = todo & (np.abs(m) <= fp.BIAS_MANT_MAX)
        mant[fits], exp[fits] = m[fits], e
        todo &= ~fits
    if todo.any():
        raise NetworkError(f"{name}: bias too large for 13-bit mantissa << 7 after scaling")
    return mant, exp


def quantise_layer(layer: FloatLayer, name: str = "layer") -> FixedLayer:
    """The fixed-point layer closest to ``layer`` (same spikes up to rounding)."""
    du, dv = _decays(layer)
    w = layer.weights
    w_max = float(np.abs(w).max())
    row_sum = float(np.abs(w).sum(axis=1).max())
    b_max = float(np.abs(layer.bias).max())
    for weight_exp in range(fp.WEIGHT_EXP_MAX, fp.WEIGHT_EXP_MIN - 1, -1):
        unit = 2.0 ** (fp.WEIGHT_LSB_SHIFT + weight_exp + fp.ACT_SHIFT)  # state units per mantissa
        # Scale so that the largest weight becomes mantissa 127 (or vth fills its range).
        k = fp.WEIGHT_MAX * unit / w_max if w_max > 0 else fp.VTH_MAX * 2**fp.VTH_SHIFT / max(
            layer.vth, 1e-300)
        if (
            layer.vth * k / 2**fp.VTH_SHIFT <= fp.VTH_MAX
            and b_max * k <= _BIAS_LIMIT
            and row_sum * k <= _INPUT_HEADROOM
        ):
            break
    else:
        raise NetworkError(
            f"{name}: threshold {layer.vth} or bias {b_max} is too large relative to the "
            f"weights (max |w| {w_max}) to fit the 17-bit threshold and 16-bit bias"
        )
    mant = np.clip(np.round(w * k / unit), fp.WEIGHT_MIN, fp.WEIGHT_MAX)
    vth = int(np.clip(round(layer.vth * k / 2**fp.VTH_SHIFT), 0, fp.VTH_MAX))
    bias_mant, bias_exp = _bias(layer.bias * k, name)
    return FixedLayer(mant, weight_exp, du, dv, vth, bias_mant, bias_exp, name=name)


def quantise(network: FloatNetwork) -> FixedNetwork:
    """Quantise every layer of a floating-point network (see module docstring)."""
    return FixedNetwork(
        tuple(quantise_layer(layer, f"layer {i}") for i, layer in enumerate(network.layers)),
        dt=network.dt,
    )
