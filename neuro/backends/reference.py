"""The reference fixed-point simulator: the executable spec of the contract.

Vectorised numpy over a batch of independent streams and over neurons. Timing follows Lava's
pipeline: a Dense process sends at step t what it accumulated at step t - 1, so layer i sees
the spikes of layer i - 1 (or of the input) one step late and u, v start at 0.

Because each layer of a feed-forward chain depends only on the layer before, all synaptic
input of a layer is one matrix product over every step and stream (BLAS, exact: see below);
only the neuron recurrence steps through time.
"""

from __future__ import annotations

import numpy as np

from neuro import fixed_point as fp
from neuro.network import FixedLayer, FixedNetwork
from neuro.record import Record

# float32 sums of 8-bit mantissas are exact while fan-in * 128 < 2**24.
_FLOAT32_FAN_IN = 2**24 // 2**7


def synaptic_drive(layer: FixedLayer, spikes: np.ndarray) -> np.ndarray:
    """Input added to u at every step: [batch, steps, neurons] float64 holding integers."""
    batch, steps, n_in = spikes.shape
    dtype = np.float32 if n_in < _FLOAT32_FAN_IN else np.float64
    drive = np.zeros((batch, steps, layer.n_neurons))
    if steps > 1:
        delayed = spikes[:, :-1].reshape(-1, n_in).astype(dtype)
        accumulated = (delayed @ layer.weights.T.astype(dtype)).astype(np.float64)
        drive[:, 1:] = fp.synaptic_input(accumulated, layer.weight_exp).reshape(
            batch, steps - 1, -1
        )
    return drive


def _never_exceeds(drive_max: float, bias_max: float, kv: float) -> tuple[bool, bool]:
    """Whether u can never leave int32 and whether v can never reach saturation.

    With |input| <= D < 2**24 per step, |u| <= 2**23 + D holds after every 24-bit wrap, so
    sums stay far inside int32. v stays below (|u| + |bias|) / (1 - kv) when it decays.
    """
    int32_safe = drive_max < 2**24
    u_max = fp.STATE_LIMIT + drive_max if int32_safe else float(2**31)
    v_safe = kv < 1 and (u_max + bias_max) / (1 - kv) < fp.V_MAX
    return int32_safe, v_safe


def integrate(layer: FixedLayer, drive: np.ndarray) -> tuple[np.ndarray, ...]:
    """Run the CUBA-LIF recurrence of one layer; returns spikes (uint8), u, v (int32)."""
    batch, steps, n = drive.shape
    ku = (fp.DECAY_UNITY - layer.du - fp.DU_OFFSET) / fp.DECAY_UNITY
    kv = (fp.DECAY_UNITY - layer.dv - fp.DV_OFFSET) / fp.DECAY_UNITY
    bias = fp.effective_bias(layer.bias_mant, layer.bias_exp).astype(np.float64)
    vth = float(fp.effective_threshold(layer.vth))
    drive_max = float(np.abs(drive).max(initial=0.0))
    int32_safe, v_safe = _never_exceeds(drive_max, float(np.abs(bias).max()), kv)
    # The 24-bit wrap needs checking only if a decayed u plus one input can pass 2**23.
    wrap_possible = drive_max > 0 and (not int32_safe or drive_max / max(1 - ku, 1e-12)
                                       > fp.STATE_LIMIT - 1)
    # Records are [steps, batch, neurons] so that each step writes one contiguous block.
    u_rec = np.empty((steps, batch, n))
    v_rec = np.empty((steps, batch, n))
    spikes = np.empty((steps, batch, n), dtype=bool)
    drive_t = np.ascontiguousarray(drive.transpose(1, 0, 2))
    u = np.zeros((batch, n))
    v = np.zeros((batch, n))
    for t in range(steps):
        # fp.decay, wrap_int32, wrap_current and clip_voltage, in place and only where the
        # bounds above allow them to act.
        u_t, v_t = u_rec[t], v_rec[t]
        np.multiply(u, ku, out=u_t)
        np.trunc(u_t, out=u_t)
        u_t += drive_t[t]
        if not int32_safe:
            u_t[:] = fp.wrap_int32(u_t)
        if wrap_possible:
            u_t[:] = fp.wrap_current(u_t)
        np.multiply(v, kv, out=v_t)
        np.trunc(v_t, out=v_t)
        v_t += u_t
        v_t += bias
        if not int32_safe:
            v_t[:] = fp.wrap_int32(v_t)
        if not v_safe:
            np.clip(v_t, fp.V_MIN, fp.V_MAX, out=v_t)
        fired = np.greater(v_t, vth, out=spikes[t])
        np.copyto(v_t, 0.0, where=fired)
        u, v = u_t, v_t
    return (
        spikes.transpose(1, 0, 2).view(np.uint8),
        u_rec.transpose(1, 0, 2).astype(np.int32),
        v_rec.transpose(1, 0, 2).astype(np.int32),
    )


def run(network: FixedNetwork, spikes: np.ndarray) -> Record:
    """Run ``spikes`` (uint8 [batch, steps, inputs]) through the network."""
    layer_in = spikes
    out_s, out_u, out_v = [], [], []
    for layer in network.layers:
        s, u, v = integrate(layer, synaptic_drive(layer, layer_in))
        out_s.append(s)
        out_u.append(u)
        out_v.append(v)
        layer_in = s
    return Record(tuple(out_s), tuple(out_u), tuple(out_v))
