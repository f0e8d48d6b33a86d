"""The reference fixed-point simulator: the executable spec of the contract.

Vectorised numpy over a batch of independent streams and over neurons. Timing follows Lava's
pipeline: a Dense process sends at step t what it accumulated at step t - 1, so layer i sees
the spikes of layer i - 1 (or of the input) one step late and u, v start at 0.

All layers advance together, each step in one set of array operations over the neurons of
every layer (a wavefront: layer i at step t needs only layer i - 1 at step t - 1), so the
cost per step does not grow with depth. The first layer's input depends on the input spikes
alone and is one matrix product over all steps.

Integer words are held in float64 arrays: every value stays below 2**36 in magnitude, far
inside the 53-bit mantissa, so products, power-of-two scalings, truncation and floor are
exact (see :mod:`neuro.fixed_point`), and float64 is faster than int64 shifts in numpy.
"""

from __future__ import annotations

import numpy as np

from neuro import fixed_point as fp
from neuro.network import FixedLayer, FixedNetwork
from neuro.record import Record

_MAX, _MIN = np.maximum.reduce, np.minimum.reduce
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


def worst_case_drive(layer: FixedLayer) -> float:
    """Largest |input| one step can bring a neuron (every input spiking), in state units."""
    rows = np.abs(layer.weights.astype(np.float64)).sum(axis=1).max()
    return float(rows * 2.0 ** (fp.WEIGHT_LSB_SHIFT + layer.weight_exp + fp.ACT_SHIFT))


class NeuronState:
    """u and v of a population (the neurons of one or more layers) for a batch of streams.

    State is [neurons, batch]; per-neuron parameters broadcast over the batch. Which of the
    int32 wrap, 24-bit wrap and saturation can act is decided from the largest input per step
    ``drive_max`` (per neuron), so that the common case skips them; where they can act they
    are applied exactly (a no-op for the neurons they cannot reach).
    """

    def __init__(self, layers: list[FixedLayer], batch: int, drive_max: np.ndarray) -> None:
        def per_neuron(values) -> np.ndarray:
            return np.concatenate(
                [np.broadcast_to(np.asarray(v, np.float64), (layer.n_neurons,))
                 for v, layer in zip(values, layers, strict=True)]
            )[:, None]

        self.ku = per_neuron([(fp.DECAY_UNITY - layer.du - fp.DU_OFFSET) / fp.DECAY_UNITY
                              for layer in layers])
        self.kv = per_neuron([(fp.DECAY_UNITY - layer.dv - fp.DV_OFFSET) / fp.DECAY_UNITY
                              for layer in layers])
        self.bias = per_neuron([fp.effective_bias(layer.bias_mant, layer.bias_exp)
                                for layer in layers])
        self.vth = per_neuron([fp.effective_threshold(layer.vth) for layer in layers])
        d = np.asarray(drive_max, np.float64).reshape(-1, 1)
        # With |input| <= D < 2**24 per step, |u| <= 2**23 + D after every 24-bit wrap, so
        # the int32 words of Lava cannot wrap; u can pass 2**23 only if D / (1 - ku) can.
        self.int32_safe = bool(np.all(d < 2**24))
        self.u_may_wrap = bool(np.any(d / np.maximum(1 - self.ku, 2.0**-12)
                                      > fp.STATE_LIMIT - 1))
        u_max = fp.STATE_LIMIT + d
        self.v_may_saturate = not self.int32_safe or bool(np.any(
            (self.kv >= 1) | ((u_max + np.abs(self.bias)) / np.maximum(1 - self.kv, 2.0**-12)
                              >= fp.V_MAX)))
        n = self.ku.shape[0]
        self.u = np.zeros((n, batch))
        self.v = np.zeros((n, batch))

    def step(self, drive: np.ndarray, fired: np.ndarray) -> None:
        """Advance one step with ``drive`` [neurons, batch]; writes spikes into ``fired``.

        In place: fp.decay, fp.wrap_int32, fp.wrap_current, fp.clip_voltage, then threshold
        and reset, as in docs/fixed-point.md.
        """
        u, v = self.u, self.v
        np.multiply(u, self.ku, out=u)
        np.trunc(u, out=u)
        u += drive
        if not self.int32_safe:
            u[:] = fp.wrap_int32(u)
        # ufunc reductions directly: ndarray.max/min add wrapper overhead on every step.
        if self.u_may_wrap and (_MAX(u, axis=None) > fp.STATE_LIMIT
                                or _MIN(u, axis=None) <= -fp.STATE_LIMIT):
            u[:] = fp.wrap_current(u)
        np.multiply(v, self.kv, out=v)
        np.trunc(v, out=v)
        v += u
        v += self.bias
        if not self.int32_safe:
            v[:] = fp.wrap_int32(v)
        if self.v_may_saturate:
            np.minimum(v, fp.V_MAX, out=v)
            np.maximum(v, fp.V_MIN, out=v)
        np.greater(v, self.vth, out=fired)
        np.copyto(v, 0.0, where=fired)


def integrate(layer: FixedLayer, drive: np.ndarray) -> tuple[np.ndarray, ...]:
    """Run one layer's neurons on a given input ([batch, steps, neurons] state units).

    For backends that compute synaptic input their own way (e.g. the crossbar); returns
    spikes (uint8), u and v (int32), each [batch, steps, neurons].
    """
    batch, steps, n = drive.shape
    state = NeuronState([layer], batch, np.abs(drive).max(axis=(0, 1), initial=0.0))
    drive_t = np.ascontiguousarray(drive.transpose(1, 2, 0))
    spikes = np.empty((steps, n, batch), bool)
    u_rec = np.empty((steps, n, batch), np.int32)
    v_rec = np.empty((steps, n, batch), np.int32)
    for t in range(steps):
        state.step(drive_t[t], spikes[t])
        u_rec[t] = state.u
        v_rec[t] = state.v
    return tuple(a.transpose(2, 0, 1) for a in (spikes.view(np.uint8), u_rec, v_rec))


def run(network: FixedNetwork, spikes: np.ndarray, engine: str = "compiled") -> Record:
    """Run ``spikes`` (uint8 [batch, steps, inputs]) through the network.

    ``engine="numpy"`` runs this module's array code; ``"compiled"`` (the default) runs the
    same arithmetic compiled with numba (:mod:`neuro.backends.reference_kernel`), several
    times faster for few streams; both give identical records.
    """
    if engine == "compiled":
        from neuro.backends import reference_kernel

        return reference_kernel.run(network, spikes)
    if engine != "numpy":
        raise ValueError(f"engine must be 'compiled' or 'numpy', got {engine!r}")
    batch, steps, _ = spikes.shape
    layers = list(network.layers)
    bounds = np.cumsum([0] + [layer.n_neurons for layer in layers])
    first = synaptic_drive(layers[0], spikes)
    drive_max = [np.abs(first).max(axis=(0, 1), initial=0.0)]
    drive_max += [np.full(layer.n_neurons, worst_case_drive(layer)) for layer in layers[1:]]
    state = NeuronState(layers, batch, np.concatenate(drive_max))
    # Deeper layers: Dense weights pre-scaled to state units when the Dense shift is exact
    # (weight_exp >= -1); otherwise mantissa sums, then fp.synaptic_input's floor.
    deep = []
    for i, layer in enumerate(layers[1:], start=1):
        exact = layer.weight_exp >= -fp.WEIGHT_LSB_SHIFT and state.int32_safe
        scale = 2.0 ** (fp.WEIGHT_LSB_SHIFT + layer.weight_exp + fp.ACT_SHIFT) if exact else 1.0
        deep.append((slice(bounds[i - 1], bounds[i]), slice(bounds[i], bounds[i + 1]),
                     layer.weights.astype(np.float64) * scale, exact, layer.weight_exp))
    first_t = np.ascontiguousarray(first.transpose(1, 2, 0))
    n_total = int(bounds[-1])
    fired = np.zeros((steps, n_total, batch), bool)
    u_rec = np.empty((steps, n_total, batch), np.int32)
    v_rec = np.empty((steps, n_total, batch), np.int32)
    drive = np.zeros((n_total, batch))
    for t in range(steps):
        drive[: bounds[1]] = first_t[t]
        if t > 0:
            for pre, post, weights, exact, weight_exp in deep:
                if exact:
                    np.dot(weights, fired[t - 1, pre], out=drive[post])
                else:
                    drive[post] = fp.synaptic_input(weights @ fired[t - 1, pre], weight_exp)
        state.step(drive, fired[t])
        u_rec[t] = state.u
        v_rec[t] = state.v
    per_layer = [slice(bounds[i], bounds[i + 1]) for i in range(len(layers))]
    out = [tuple(a[:, sl].transpose(2, 0, 1) for sl in per_layer)
           for a in (fired.view(np.uint8), u_rec, v_rec)]
    return Record(*out)
