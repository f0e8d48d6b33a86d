"""Network specifications: plain data, no behaviour (after NIR's IR).

A network is a chain input -> Dense -> CUBA-LIF -> Dense -> CUBA-LIF ... -> output. Two forms:

* :class:`FixedNetwork` -- the integer contract that every backend runs (docs/fixed-point.md);
* :class:`FloatNetwork` -- the same dynamics in floating point, as Lava's ``floating_pt`` LIF:
  ``u <- u (1 - du) + W s``, ``v <- v (1 - dv) + u + bias``, spike when ``v > vth``, reset to 0.

Both validate on construction and name the offending field and its allowed range.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from neuro import fixed_point as fp


class NetworkError(ValueError):
    """A network parameter is missing, mis-shaped or out of its allowed range."""


def _int_array(where: str, name: str, value, lo: int, hi: int, shape=None) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise NetworkError(f"{where}: {name} must be integers in [{lo}, {hi}], got {arr.dtype}")
    if shape is not None and arr.shape != shape:
        raise NetworkError(f"{where}: {name} must have shape {shape}, got {arr.shape}")
    if arr.size and (arr.min() < lo or arr.max() > hi):
        raise NetworkError(
            f"{where}: {name} must lie in [{lo}, {hi}], got values in [{arr.min()}, {arr.max()}]"
        )
    return arr.astype(np.int32)


def _int_scalar(where: str, name: str, value, lo: int, hi: int) -> int:
    return int(_int_array(where, name, value, lo, hi, shape=()))


@dataclass(frozen=True, eq=False)
class FixedLayer:
    """One Dense + CUBA-LIF layer in the fixed-point contract.

    Attributes:
        weights: int8 mantissas, shape [neurons, inputs]; the Dense weight is 2 * mantissa.
        weight_exp: shared weight exponent in [-8, 7].
        du, dv: 12-bit current and voltage decays in [0, 4095].
        vth: 17-bit threshold in [0, 131071] (compared as vth << 6).
        bias_mant: per-neuron 13-bit signed bias mantissa in [-4096, 4095].
        bias_exp: per-neuron bias exponent in [0, 7].
    """

    weights: np.ndarray
    weight_exp: int = 0
    du: int = 0
    dv: int = 0
    vth: int = 10
    bias_mant: np.ndarray | int = 0
    bias_exp: np.ndarray | int = 0
    name: str = "layer"

    def __post_init__(self) -> None:
        w = np.asarray(self.weights)
        if w.ndim != 2 or 0 in w.shape:
            raise NetworkError(f"{self.name}: weights must be a 2-D [neurons, inputs] array")
        n = w.shape[0]
        put = object.__setattr__
        put(self, "weights", _int_array(self.name, "weights", w, fp.WEIGHT_MIN, fp.WEIGHT_MAX))
        put(self, "weight_exp", _int_scalar(
            self.name, "weight_exp", self.weight_exp, fp.WEIGHT_EXP_MIN, fp.WEIGHT_EXP_MAX))
        put(self, "du", _int_scalar(self.name, "du", self.du, 0, fp.DECAY_MAX))
        put(self, "dv", _int_scalar(self.name, "dv", self.dv, 0, fp.DECAY_MAX))
        put(self, "vth", _int_scalar(self.name, "vth", self.vth, 0, fp.VTH_MAX))
        put(self, "bias_mant", _int_array(
            self.name, "bias_mant", np.broadcast_to(self.bias_mant, (n,)) if np.ndim(
                self.bias_mant) == 0 else self.bias_mant,
            fp.BIAS_MANT_MIN, fp.BIAS_MANT_MAX, shape=(n,)))
        put(self, "bias_exp", _int_array(
            self.name, "bias_exp", np.broadcast_to(self.bias_exp, (n,)) if np.ndim(
                self.bias_exp) == 0 else self.bias_exp,
            0, fp.BIAS_EXP_MAX, shape=(n,)))

    @property
    def n_inputs(self) -> int:
        return int(self.weights.shape[1])

    @property
    def n_neurons(self) -> int:
        return int(self.weights.shape[0])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FixedLayer):
            return NotImplemented
        return all(
            np.array_equal(getattr(self, f), getattr(other, f))
            for f in ("weights", "weight_exp", "du", "dv", "vth", "bias_mant", "bias_exp")
        )


@dataclass(frozen=True, eq=False)
class FixedNetwork:
    """A feed-forward chain of :class:`FixedLayer`; ``dt`` is the step length in seconds."""

    layers: tuple[FixedLayer, ...]
    dt: float = 1e-3

    def __post_init__(self) -> None:
        layers = tuple(self.layers)
        if not layers:
            raise NetworkError("network: needs at least one layer")
        for i, (prev, nxt) in enumerate(itertools.pairwise(layers)):
            if nxt.n_inputs != prev.n_neurons:
                raise NetworkError(
                    f"layer {i + 1}: weights have {nxt.n_inputs} inputs but layer {i} has "
                    f"{prev.n_neurons} neurons"
                )
        if not (np.isfinite(self.dt) and self.dt > 0):
            raise NetworkError(f"network: dt must be a positive number of seconds, got {self.dt}")
        object.__setattr__(self, "layers", layers)

    @property
    def n_inputs(self) -> int:
        return self.layers[0].n_inputs

    @property
    def sizes(self) -> list[int]:
        """[inputs, neurons of layer 0, neurons of layer 1, ...]."""
        return [self.n_inputs, *(layer.n_neurons for layer in self.layers)]

    def to_float(self) -> FloatNetwork:
        """The floating-point network with the same dynamics in the same state units."""
        layers = []
        for layer in self.layers:
            scale = float(2.0 ** (fp.WEIGHT_LSB_SHIFT + layer.weight_exp + fp.ACT_SHIFT))
            layers.append(
                FloatLayer(
                    weights=layer.weights * scale,
                    du=(layer.du + fp.DU_OFFSET) / fp.DECAY_UNITY,
                    dv=(layer.dv + fp.DV_OFFSET) / fp.DECAY_UNITY,
                    vth=float(fp.effective_threshold(layer.vth)),
                    bias=fp.effective_bias(layer.bias_mant, layer.bias_exp).astype(float),
                )
            )
        return FloatNetwork(tuple(layers), dt=self.dt)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FixedNetwork):
            return NotImplemented
        return self.dt == other.dt and len(self.layers) == len(other.layers) and all(
            a == b for a, b in zip(self.layers, other.layers, strict=True)
        )


@dataclass(frozen=True, eq=False)
class FloatLayer:
    """One Dense + CUBA-LIF layer in floating point (Lava ``floating_pt`` semantics).

    Attributes:
        weights: [neurons, inputs], added to u per input spike.
        du, dv: fractions of u and v lost per step, in [0, 1].
        vth: threshold on v (v > vth spikes).
        bias: per-neuron constant added to v each step.
    """

    weights: np.ndarray
    du: float = 0.0
    dv: float = 0.0
    vth: float = 1.0
    bias: np.ndarray | float = 0.0

    def __post_init__(self) -> None:
        w = np.asarray(self.weights, dtype=float)
        if w.ndim != 2 or 0 in w.shape:
            raise NetworkError("float layer: weights must be a 2-D [neurons, inputs] array")
        if not np.all(np.isfinite(w)):
            raise NetworkError("float layer: weights must be finite")
        for name in ("du", "dv"):
            value = float(getattr(self, name))
            if not 0.0 <= value <= 1.0:
                raise NetworkError(f"float layer: {name} must lie in [0, 1], got {value}")
            object.__setattr__(self, name, value)
        if not (np.isfinite(self.vth) and self.vth >= 0):
            raise NetworkError(f"float layer: vth must be finite and >= 0, got {self.vth}")
        bias = np.broadcast_to(np.asarray(self.bias, dtype=float), (w.shape[0],)).copy()
        if not np.all(np.isfinite(bias)):
            raise NetworkError("float layer: bias must be finite")
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "vth", float(self.vth))
        object.__setattr__(self, "bias", bias)

    @property
    def n_neurons(self) -> int:
        return int(self.weights.shape[0])


@dataclass(frozen=True, eq=False)
class FloatNetwork:
    """A feed-forward chain of :class:`FloatLayer`; ``dt`` is the step length in seconds."""

    layers: tuple[FloatLayer, ...]
    dt: float = 1e-3
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        layers = tuple(self.layers)
        if not layers:
            raise NetworkError("network: needs at least one layer")
        for i, (prev, nxt) in enumerate(itertools.pairwise(layers)):
            if nxt.weights.shape[1] != prev.n_neurons:
                raise NetworkError(
                    f"layer {i + 1}: weights have {nxt.weights.shape[1]} inputs but layer {i} "
                    f"has {prev.n_neurons} neurons"
                )
        object.__setattr__(self, "layers", layers)

    @property
    def n_inputs(self) -> int:
        return int(self.layers[0].weights.shape[1])
