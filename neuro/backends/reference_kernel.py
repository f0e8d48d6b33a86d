"""Compiled fast path of the reference simulator (numba), bit-identical to the numpy spec.

The numpy implementation in :mod:`neuro.backends.reference` is the readable spec; per time
step it costs a dozen or more array operations, whose fixed overhead dominates for one
stream of a few hundred neurons. This kernel runs the same arithmetic as scalar int64 code
(the words of docs/fixed-point.md, in Lava's own order), compiled, and accumulates synaptic
input event by event: only the columns of neurons that spiked are added. The test suite
checks that both give identical spikes, u and v on the seeded random networks.
"""

from __future__ import annotations

import numba
import numpy as np

from neuro import fixed_point as fp
from neuro.network import FixedNetwork
from neuro.record import Record

_UNITY = fp.DECAY_UNITY
_SHIFT = fp.DECAY_SHIFT
_LIMIT = fp.STATE_LIMIT
_V_MAX = fp.V_MAX
_ACT = fp.ACT_SHIFT
_LSB = fp.WEIGHT_LSB_SHIFT
_DU_OFFSET = fp.DU_OFFSET
_DV_OFFSET = fp.DV_OFFSET


@numba.njit(inline="always")
def _wrap32(x: int) -> int:
    return ((x + 2**31) & (2**32 - 1)) - 2**31


@numba.njit(inline="always")
def _decay(x: int, factor: int) -> int:
    product = x * factor
    if product < 0:
        return -((-product) >> _SHIFT)
    return product >> _SHIFT


@numba.njit(cache=True)
def _kernel(spikes, weights_t, w_offset, n_in, n_out, n_offset, weight_exp, du, dv, vth,
            bias, out_s, out_u, out_v):
    batch, steps, _ = spikes.shape
    layers = n_in.shape[0]
    n_total = out_s.shape[2]
    acc = np.zeros(n_total, np.int32)
    u = np.zeros(n_total, np.int64)
    v = np.zeros(n_total, np.int64)
    for b in range(batch):
        u[:] = 0
        v[:] = 0
        for t in range(steps):
            acc[:] = 0
            if t > 0:
                for layer in range(layers):
                    base = n_offset[layer]
                    for i in range(n_in[layer]):
                        if layer == 0:
                            fired = spikes[b, t - 1, i] != 0
                        else:
                            fired = out_s[b, t - 1, n_offset[layer - 1] + i] != 0
                        if fired:
                            row = w_offset[layer] + i * n_out[layer]
                            acc[base : base + n_out[layer]] += weights_t[row : row + n_out[layer]]
            for layer in range(layers):
                base = n_offset[layer]
                e = weight_exp[layer]
                ku = _UNITY - du[layer] - _DU_OFFSET
                kv = _UNITY - dv[layer] - _DV_OFFSET
                threshold = vth[layer] << fp.VTH_SHIFT
                for j in range(base, base + n_out[layer]):
                    dense = np.int64(acc[j]) << _LSB
                    dense = dense << e if e > 0 else dense >> -e
                    # Dense output and the shifted activation travel in int32 words.
                    a = _wrap32(_wrap32(dense) << _ACT)
                    un = _wrap32(_decay(u[j], ku) + a)
                    if un > _LIMIT:
                        un -= 2 * _LIMIT
                    elif un <= -_LIMIT:
                        un += 2 * _LIMIT
                    vn = _wrap32(_decay(v[j], kv) + un + bias[j])
                    vn = min(max(vn, -_V_MAX), _V_MAX)
                    if vn > threshold:
                        out_s[b, t, j] = 1
                        vn = 0
                    u[j] = un
                    v[j] = vn
                    out_u[b, t, j] = un
                    out_v[b, t, j] = vn


def run(network: FixedNetwork, spikes: np.ndarray) -> Record:
    """Run ``spikes`` (uint8 [batch, steps, inputs]) with the compiled kernel."""
    layers = network.layers
    n_in = np.array([layer.n_inputs for layer in layers], np.int64)
    n_out = np.array([layer.n_neurons for layer in layers], np.int64)
    n_offset = np.concatenate([[0], np.cumsum(n_out)[:-1]]).astype(np.int64)
    sizes = n_in * n_out
    w_offset = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    # Transposed so that one presynaptic neuron's weights are contiguous; 8-bit mantissas keep
    # a 256 x 256 layer in 64 KiB of cache, and int32 sums hold any fan-in below 2**24.
    weights_t = np.concatenate([layer.weights.T.ravel() for layer in layers]).astype(np.int8)
    params = [np.array([getattr(layer, k) for layer in layers], np.int64)
              for k in ("weight_exp", "du", "dv", "vth")]
    bias = np.concatenate([fp.effective_bias(layer.bias_mant, layer.bias_exp)
                           for layer in layers]).astype(np.int64)
    batch, steps, _ = spikes.shape
    total = int(n_out.sum())
    out_s = np.zeros((batch, steps, total), np.uint8)
    out_u = np.zeros((batch, steps, total), np.int32)
    out_v = np.zeros((batch, steps, total), np.int32)
    _kernel(np.ascontiguousarray(spikes, np.uint8), weights_t, w_offset, n_in, n_out,
            n_offset, *params, bias, out_s, out_u, out_v)
    cuts = [slice(int(o), int(o + n)) for o, n in zip(n_offset, n_out, strict=True)]
    return Record(*(tuple(a[:, :, c] for c in cuts) for a in (out_s, out_u, out_v)))
