"""Compile a :class:`~neuro.network.FixedNetwork` for the RTL LIF core (rtl/lif_core).

The core's configuration port is a word-addressed memory map (docs/rtl.md); this module is the
only Python code that knows it. A network becomes a placement of its layers on a chain of
cores (several layers per core, a new core when one is full) and a list of configuration
writes ``(address, data)``: layer registers, per-neuron bias words, weight words, the number of
layers in use, then a flag clear and a CLEAR per core. The same words are available per core
as memory images.

Weights are stored in groups of ``lanes`` neurons: word ``wbase + g * fan_in + j`` holds the
weights from input ``j`` to neurons ``base + g * lanes ... + lanes - 1``, one byte per lane in
offset binary (mantissa + 128, so that the core's lane sums are unsigned), and the port writes
them 32 bits (four lanes) at a time.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from neuro.network import FixedLayer, FixedNetwork, NetworkError

# Memory map of one core (word addresses, 17 bits); the chain puts the core number above.
CORE_SHIFT = 17
REG_CTRL = 0x000  # W: bit 0 CLEAR (zero u, v, event lists, step and cycle counters)
REG_STATUS = 0x001  # R: [5:0] flags, [7] busy, [9:8] ticks pending; W: 1s clear flags
REG_STEP = 0x002  # R: time steps completed
REG_N_USED = 0x003  # RW: layers in use (0: pass events through)
REG_N_NEURONS = 0x004  # R: parameters of the core, for the host to check
REG_N_INPUTS = 0x005
REG_N_LAYERS = 0x006
REG_LANES = 0x007
REG_WDEPTH = 0x008
REG_ACT_PORT = 0x009
REG_FIFO = 0x00A  # R: [31:16] output FIFO free words, [15:0] input FIFO free words
REG_CYCLES = 0x00B  # R: clock cycles spent running steps since CLEAR
LAYER_REGS = 0x100  # + 16 * layer + field
LAYER_FIELDS = ("base", "count", "fan_in", "wbase", "weight_exp", "du", "dv", "vth", "mode")
BIAS_BASE = 0x1000  # + neuron: (bias_exp << 16) | (bias_mant & 0xFFFF)
U_BASE = 0x2000  # + neuron: u, 32-bit two's complement
V_BASE = 0x3000  # + neuron: v, 24-bit, read back sign-extended
WEIGHT_BASE = 0x10000  # + word * lanes / 4 + chunk: four weights, lane 4c in the low byte
WEIGHT_OFFSET = 128  # weights are stored in offset binary: mantissa + 128

# STATUS flag bits.
FLAGS = {
    "addr_error": 0,  # an input address at or beyond layer 0's fan-in (event dropped)
    "list_overflow": 1,  # more input events in one step than the core has inputs
    "config_error": 2,  # a configuration access to an unmapped address
    "u_wrap": 3,  # the 24-bit current wrap acted
    "v_saturated": 4,  # the voltage saturated
    "int32_wrap": 5,  # a 32-bit state sum wrapped
}
ALL_FLAGS = (1 << len(FLAGS)) - 1
STATUS_BUSY = 1 << 7

MODE_ACTIVATION = 1  # layer register `mode`: drive from the activation port, not weights

# AER words: bit 15 marks a time-step tick, bits 7..0 carry the address.
AER_TICK = 1 << 15


class CompileError(NetworkError):
    """A network does not fit the cores it is compiled for."""


@dataclass(frozen=True)
class CoreGeometry:
    """Parameters of the cores in a chain (the HDL parameters of ``lif_chain``).

    Attributes:
        n_neurons: neurons per core (state words), at most 256.
        n_inputs: AER input addresses of the first core, at most 256.
        n_layers: layers one core can hold, 2..8.
        lanes: weights per weight word (neurons accumulated per cycle), a power of two >= 4.
        n_cores: cores in the chain, 1..8.
    """

    n_neurons: int = 256
    n_inputs: int = 256
    n_layers: int = 4
    lanes: int = 4
    n_cores: int = 1

    def __post_init__(self) -> None:
        checks = (
            (2 <= self.n_neurons <= 256, "n_neurons must lie in [2, 256]"),
            (2 <= self.n_inputs <= 256, "n_inputs must lie in [2, 256]"),
            (2 <= self.n_layers <= 8, "n_layers must lie in [2, 8]"),
            (self.lanes >= 4 and self.lanes & (self.lanes - 1) == 0,
             "lanes must be a power of two >= 4"),
            (1 <= self.n_cores <= 8, "n_cores must lie in [1, 8]"),
        )
        for ok, message in checks:
            if not ok:
                raise CompileError(f"core geometry: {message}, got {self}")

    def fan_in_max(self, core: int) -> int:
        """Largest fan-in of a core's layers (the first core's first layer reads AER inputs)."""
        return max(self.inputs_of(core), self.n_neurons)

    def inputs_of(self, core: int) -> int:
        """AER addresses of a core: the chain's inputs, or the previous core's neurons."""
        return self.n_inputs if core == 0 else self.n_neurons

    def weight_depth(self, core: int) -> int:
        """Weight words of a core: enough for n_neurons neurons of the largest fan-in."""
        return self.n_neurons * self.fan_in_max(core) // self.lanes

    def parameters(self) -> dict[str, int]:
        """HDL parameters of ``lif_chain`` / ``lif_chain_sim``."""
        return {"N_CORES": self.n_cores, "N_NEURONS": self.n_neurons,
                "N_INPUTS": self.n_inputs, "N_LAYERS": self.n_layers, "LANES": self.lanes}


@dataclass(frozen=True)
class LayerPlacement:
    """Where one network layer lives: core, slot on the core, neurons and weight words."""

    layer: int
    core: int
    slot: int
    base: int
    count: int
    fan_in: int
    wbase: int
    activation: bool

    def groups(self, lanes: int) -> int:
        return -(-self.count // lanes)


@dataclass(frozen=True)
class ChainImage:
    """A compiled network: placements and the configuration writes that load it.

    ``writes`` is uint32 [n, 2] of (chain address, data) in the order they must be issued.
    """

    geometry: CoreGeometry
    placements: tuple[LayerPlacement, ...]
    writes: np.ndarray

    @property
    def cores_used(self) -> int:
        return self.placements[-1].core + 1

    def clear_writes(self) -> np.ndarray:
        """Writes that clear the flags and zero the state of every used core (between
        independent runs)."""
        cores = np.arange(self.cores_used, dtype=np.uint32)
        flags = np.full_like(cores, ALL_FLAGS)
        return np.concatenate([np.stack([address(cores, REG_STATUS), flags], axis=1),
                               np.stack([address(cores, REG_CTRL), np.ones_like(cores)], axis=1)])

    def state_addresses(self, layer: int) -> tuple[np.ndarray, np.ndarray]:
        """Chain addresses of u and of v of every neuron of one network layer."""
        p = self.placements[layer]
        neurons = p.base + np.arange(p.count)
        return address(p.core, U_BASE + neurons), address(p.core, V_BASE + neurons)

    def memory_images(self) -> list[dict[str, np.ndarray]]:
        """Per core, the words the writes put in each memory.

        Keys: ``registers`` (uint32 [n, 2]: core address, data), ``bias`` (uint32 per neuron)
        and ``weights`` (uint32 per 32-bit chunk), to preload memories from a boot image.
        """
        images = []
        for core in range(self.cores_used):
            mine = self.writes[(self.writes[:, 0] >> CORE_SHIFT) == core]
            local = mine[:, 0] & ((1 << CORE_SHIFT) - 1)
            bias = np.zeros(self.geometry.n_neurons, np.uint32)
            is_bias = (local >= BIAS_BASE) & (local < U_BASE)
            bias[local[is_bias] - BIAS_BASE] = mine[is_bias, 1]
            weights = np.zeros(self.geometry.weight_depth(core) * self.geometry.lanes // 4,
                               np.uint32)
            is_weight = local >= WEIGHT_BASE
            weights[local[is_weight] - WEIGHT_BASE] = mine[is_weight, 1]
            registers = np.stack([local, mine[:, 1]], axis=1)[local < BIAS_BASE]
            images.append({"registers": registers, "bias": bias, "weights": weights})
        return images

    def write_hex(self, folder: str | Path) -> list[Path]:
        """Write the memory images as ``$readmemh`` files: core<c>_<memory>.hex."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for core, image in enumerate(self.memory_images()):
            for name in ("bias", "weights"):
                path = folder / f"core{core}_{name}.hex"
                path.write_text("".join(f"{w:08x}\n" for w in image[name].tolist()))
                paths.append(path)
        return paths


def address(core: int | np.ndarray, local: int | np.ndarray) -> np.ndarray:
    """Chain address of a core-local configuration address."""
    return (np.asarray(core, np.uint32) << CORE_SHIFT) | np.asarray(local, np.uint32)


def layer_register(slot: int, field: str) -> int:
    """Core-local address of a layer register."""
    return LAYER_REGS + 16 * slot + LAYER_FIELDS.index(field)


def weight_chunks(layer: FixedLayer, lanes: int) -> np.ndarray:
    """The layer's weights as 32-bit chunks in weight-memory order (see the module doc)."""
    groups = -(-layer.n_neurons // lanes)
    padded = np.full((groups * lanes, layer.n_inputs), WEIGHT_OFFSET, np.uint8)
    padded[: layer.n_neurons] = layer.weights + WEIGHT_OFFSET
    words = padded.reshape(groups, lanes, layer.n_inputs).transpose(0, 2, 1)
    return np.ascontiguousarray(words).reshape(-1, lanes).view("<u4").reshape(-1)


def place(network: FixedNetwork, geometry: CoreGeometry,
          activation_layers: frozenset[int] = frozenset()) -> tuple[LayerPlacement, ...]:
    """Pack layers in order onto cores, starting a new core when the current one is full."""
    placements: list[LayerPlacement] = []
    core, slot, base, wbase = 0, 0, 0, 0
    for i, layer in enumerate(network.layers):
        lanes = geometry.lanes
        aligned = -(-layer.n_neurons // lanes) * lanes
        words = aligned // lanes * layer.n_inputs
        if layer.n_neurons > geometry.n_neurons or aligned > geometry.n_neurons:
            raise CompileError(
                f"layer {i}: {layer.n_neurons} neurons (rounded up to {aligned} for "
                f"{lanes} lanes) do not fit a core of {geometry.n_neurons}")
        fits = (slot < geometry.n_layers and base + aligned <= geometry.n_neurons
                and wbase + words <= geometry.weight_depth(core)
                and (slot > 0 or layer.n_inputs <= geometry.inputs_of(core)))
        if not fits and slot > 0:
            core, slot, base, wbase = core + 1, 0, 0, 0
        if core >= geometry.n_cores:
            raise CompileError(
                f"layer {i}: the network needs more than the {geometry.n_cores} core(s) "
                f"of the chain ({geometry})")
        if layer.n_inputs > geometry.inputs_of(core) or words > geometry.weight_depth(core):
            raise CompileError(
                f"layer {i}: fan-in {layer.n_inputs} exceeds the {geometry.inputs_of(core)} "
                f"inputs of core {core}")
        placements.append(LayerPlacement(i, core, slot, base, layer.n_neurons, layer.n_inputs,
                                         wbase, i in activation_layers))
        slot, base, wbase = slot + 1, base + aligned, wbase + words
    return tuple(placements)


def compile_network(network: FixedNetwork, geometry: CoreGeometry,
                    activation_layers: frozenset[int] | set[int] = frozenset()) -> ChainImage:
    """Placement and configuration writes for ``network`` on a chain of ``geometry`` cores.

    Layers in ``activation_layers`` take their input from the activation port (crossbar
    co-simulation) instead of the weight memory; their weights are not written.
    """
    acts = frozenset(activation_layers)
    placements = place(network, geometry, acts)
    lanes = geometry.lanes
    addrs: list[np.ndarray] = []
    data: list[np.ndarray] = []

    def put(core: int, local: int | np.ndarray, value: int | np.ndarray) -> None:
        local = np.atleast_1d(np.asarray(local, np.uint32))
        addrs.append(address(core, local))
        data.append(np.broadcast_to(np.asarray(value).astype(np.int64) & 0xFFFFFFFF,
                                    local.shape).astype(np.uint32))

    for p in placements:
        layer = network.layers[p.layer]
        fields = {"base": p.base, "count": p.count, "fan_in": p.fan_in, "wbase": p.wbase,
                  "weight_exp": layer.weight_exp & 0xF, "du": layer.du, "dv": layer.dv,
                  "vth": layer.vth, "mode": MODE_ACTIVATION if p.activation else 0}
        for field, value in fields.items():
            put(p.core, layer_register(p.slot, field), value)
        bias = (layer.bias_exp.astype(np.int64) << 16) | (layer.bias_mant.astype(np.int64)
                                                           & 0xFFFF)
        put(p.core, BIAS_BASE + p.base + np.arange(p.count), bias)
        if not p.activation:
            chunks = weight_chunks(layer, lanes)
            first = p.wbase * lanes // 4
            put(p.core, WEIGHT_BASE + first + np.arange(chunks.size), chunks)
    for core in range(geometry.n_cores):
        put(core, REG_N_USED, sum(p.core == core for p in placements))
    writes = np.stack([np.concatenate(addrs), np.concatenate(data)], axis=1)
    image = ChainImage(geometry, placements, writes)
    return replace(image, writes=np.concatenate([writes, image.clear_writes()]))


def aer_words(spikes: np.ndarray) -> list[np.ndarray]:
    """Per time step, the AER words of one input train [steps, inputs]: addresses, then tick."""
    steps, _ = spikes.shape
    t, i = np.nonzero(spikes)
    bounds = np.searchsorted(t, np.arange(steps + 1))
    return [np.append(i[a:b].astype(np.uint32), AER_TICK)
            for a, b in itertools.pairwise(bounds)]
