"""NIR files: networks as standard NIR graphs (HDF5) plus our quantisation metadata.

Export writes ``Input -> Linear -> CubaLIF -> ... -> Output`` with the floating-point
reading of each layer (forward Euler with step ``dt``, see docs/fixed-point.md) so that other
NIR tools can load it, and the exact integer parameters in each node's ``metadata`` under
``neurotwin_*`` keys so that it loads back bit for bit. A graph without our metadata (written
by another tool: CubaLIF with Linear or Affine) is read as floating point and quantised.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import nir
import numpy as np

from neuro.network import FixedLayer, FixedNetwork, FloatLayer, FloatNetwork, NetworkError
from neuro.quantise import quantise

FORMAT_VERSION = 1
_LIF_KEYS = ("du", "dv", "vth", "bias_mant", "bias_exp")


def _safe_div(num: np.ndarray | float, den: float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.divide(num, den)
    return np.nan_to_num(np.asarray(out, dtype=float), nan=0.0)


def to_nir(network: FixedNetwork) -> nir.NIRGraph:
    """The NIR graph of a fixed-point network (float parameters plus exact metadata)."""
    dt = network.dt
    nodes: dict[str, nir.NIRNode] = {
        "input": nir.Input(input_type={"input": np.array([network.n_inputs])})
    }
    edges, prev = [], "input"
    for i, (fixed, flt) in enumerate(zip(network.layers, network.to_float().layers, strict=True)):
        n = fixed.n_neurons
        ones = np.ones(n)
        nodes[f"linear_{i}"] = nir.Linear(
            weight=flt.weights,
            metadata={
                "neurotwin_weight_mant": fixed.weights.astype(np.int8),
                "neurotwin_weight_exp": fixed.weight_exp,
            },
        )
        # Forward Euler with step dt: tau = dt / decay, w_in = 1 / du, r = 1 / dv,
        # v_leak = bias / dv (a perfect integrator, dv = 0, has infinite tau_mem and r).
        nodes[f"lif_{i}"] = nir.CubaLIF(
            tau_syn=ones * dt / flt.du,
            tau_mem=_safe_div(ones * dt, flt.dv) if flt.dv else ones * np.inf,
            r=_safe_div(ones, flt.dv) if flt.dv else ones * np.inf,
            v_leak=_safe_div(flt.bias, flt.dv) if flt.dv else np.where(
                flt.bias == 0, 0.0, np.copysign(np.inf, flt.bias)),
            v_threshold=ones * flt.vth,
            v_reset=np.zeros(n),
            w_in=ones / flt.du,
            # Scalars stay Python ints: NIR compresses arrays and HDF5 cannot compress 0-d.
            metadata={
                "neurotwin_du": fixed.du,
                "neurotwin_dv": fixed.dv,
                "neurotwin_vth": fixed.vth,
                "neurotwin_bias_mant": fixed.bias_mant,
                "neurotwin_bias_exp": fixed.bias_exp,
            },
        )
        edges += [(prev, f"linear_{i}"), (f"linear_{i}", f"lif_{i}")]
        prev = f"lif_{i}"
    nodes["output"] = nir.Output(output_type={"output": np.array([network.layers[-1].n_neurons])})
    edges.append((prev, "output"))
    return nir.NIRGraph(
        nodes=nodes,
        edges=edges,
        metadata={"neurotwin_format": FORMAT_VERSION, "neurotwin_dt": float(dt)},
    )


def write_network(path: str | Path, network: FixedNetwork) -> None:
    """Write a network as a NIR HDF5 file."""
    nir.write(str(path), to_nir(network))


def _chain(graph: nir.NIRGraph) -> list[str]:
    """Node names from the Input to the Output of a sequential graph."""
    succ: dict[str, list[str]] = {}
    for src, dst in graph.edges:
        succ.setdefault(src, []).append(dst)
    inputs = [k for k, v in graph.nodes.items() if isinstance(v, nir.Input)]
    if len(inputs) != 1:
        raise NetworkError(f"network file: needs exactly one Input node, found {len(inputs)}")
    order, node = [], inputs[0]
    while True:
        order.append(node)
        nxt = succ.get(node, [])
        if not nxt:
            break
        if len(nxt) > 1 or nxt[0] in order:
            raise NetworkError(
                f"network file: node {node!r} branches or loops; only chains are supported"
            )
        node = nxt[0]
    if not isinstance(graph.nodes[order[-1]], nir.Output):
        raise NetworkError(f"network file: chain ends at {order[-1]!r}, not at an Output node")
    return order


def _meta(node: nir.NIRNode, key: str, where: str):
    meta = node.metadata or {}
    if f"neurotwin_{key}" not in meta:
        raise NetworkError(f"{where}: metadata field neurotwin_{key} is missing")
    return meta[f"neurotwin_{key}"]


def _fixed_layer(linear: nir.NIRNode, lif: nir.CubaLIF, i: int) -> FixedLayer:
    where = f"layer {i}"
    return FixedLayer(
        weights=_meta(linear, "weight_mant", where),
        weight_exp=_meta(linear, "weight_exp", where),
        **{k: _meta(lif, k, where) for k in _LIF_KEYS},
        name=where,
    )


def _float_layer(linear: nir.NIRNode, lif: nir.CubaLIF, dt: float, i: int) -> FloatLayer:
    where = f"layer {i}"
    n = np.asarray(linear.weight).shape[0]

    def per_neuron(name: str) -> np.ndarray:
        value = np.broadcast_to(np.asarray(getattr(lif, name), float), (n,))
        if not np.all(np.isfinite(value)) or (np.any(value <= 0) and name.startswith("tau")):
            raise NetworkError(f"{where}: CubaLIF {name} must be finite and > 0, got {value}")
        return value

    def single(name: str, value: np.ndarray) -> float:
        if not np.allclose(value, value[0]):
            raise NetworkError(f"{where}: {name} must be equal for all neurons of a layer")
        return float(value[0])

    tau_syn, tau_mem = per_neuron("tau_syn"), per_neuron("tau_mem")
    r, v_leak, w_in = per_neuron("r"), per_neuron("v_leak"), per_neuron("w_in")
    v_reset = getattr(lif, "v_reset", None)
    if v_reset is not None and np.any(np.asarray(v_reset) != 0):
        raise NetworkError(f"{where}: v_reset must be 0 (the contract resets v to 0)")
    du, dv = single("dt / tau_syn", dt / tau_syn), single("dt / tau_mem", dt / tau_mem)
    if not (0 < du <= 1 and 0 < dv <= 1):
        raise NetworkError(
            f"{where}: dt / tau must lie in (0, 1] for a stable Euler step; got du={du}, dv={dv} "
            f"with dt={dt} s (pass the graph's step as dt)"
        )
    # Scale the current by dv * r so that v integrates it with weight 1 (see docs).
    gain = w_in * du * dv * r
    weights = np.asarray(linear.weight, float) * gain[:, None]
    bias = v_leak * dv
    if isinstance(linear, nir.Affine) and np.any(np.asarray(linear.bias) != 0):
        warnings.warn(
            f"{where}: Affine bias feeds the current; it becomes the equivalent constant "
            "voltage bias (exact once the current has settled)",
            stacklevel=3,
        )
        bias = bias + np.asarray(linear.bias, float) * gain / du
    vth = single("v_threshold", per_neuron("v_threshold"))
    return FloatLayer(weights, du=du, dv=dv, vth=vth, bias=bias)


def from_nir(graph: nir.NIRGraph, dt: float | None = None) -> FixedNetwork:
    """The fixed-point network of a NIR graph: exact from our metadata, else quantised.

    ``dt`` (seconds per step) is needed for graphs from other tools; ours carry it.
    """
    order = _chain(graph)
    body = [graph.nodes[k] for k in order[1:-1]]
    if len(body) % 2 or not body:
        raise NetworkError(
            "network file: expected Input, then pairs of Linear/Affine and CubaLIF, then Output"
        )
    gmeta = graph.metadata or {}
    step = float(gmeta.get("neurotwin_dt", dt if dt is not None else 1e-3))
    pairs = list(zip(body[::2], body[1::2], strict=True))
    for i, (syn, lif) in enumerate(pairs):
        if not isinstance(syn, nir.Linear | nir.Affine) or not isinstance(lif, nir.CubaLIF):
            raise NetworkError(
                f"layer {i}: expected Linear/Affine then CubaLIF, got "
                f"{type(syn).__name__} then {type(lif).__name__}"
            )
    if all("neurotwin_weight_mant" in (s.metadata or {}) for s, _ in pairs):
        return FixedNetwork(tuple(_fixed_layer(s, n, i) for i, (s, n) in enumerate(pairs)), step)
    return quantise(
        FloatNetwork(tuple(_float_layer(s, n, step, i) for i, (s, n) in enumerate(pairs)), step)
    )


def read_network(path: str | Path, dt: float | None = None) -> FixedNetwork:
    """Read a NIR HDF5 file (ours or another tool's) as a fixed-point network."""
    path = Path(path)
    if not path.is_file():
        raise NetworkError(f"network file {path} does not exist")
    try:
        graph = nir.read(str(path))
    except Exception as exc:
        raise NetworkError(f"network file {path}: not a readable NIR file ({exc})") from exc
    return from_nir(graph, dt)
