"""NIR files: exact round trip of our networks, import of other tools' graphs, clear errors."""

import h5py
import nir
import numpy as np
import pytest

from neuro import FixedLayer, FixedNetwork, NetworkError, read_network, run, write_network
from neuro.nir_io import to_nir
from neuro.random_networks import random_network, random_spikes


@pytest.mark.parametrize("seed", range(40))
def test_round_trip_through_nir_file_is_identical(tmp_path, seed):
    net = random_network(seed)
    path = tmp_path / "net.nir"
    write_network(path, net)
    assert read_network(path) == net


def test_file_is_a_standard_nir_graph(tmp_path):
    net = random_network(5)
    write_network(tmp_path / "n.nir", net)
    graph = nir.read(str(tmp_path / "n.nir"))
    kinds = {type(n).__name__ for n in graph.nodes.values()}
    assert kinds == {"Input", "Linear", "CubaLIF", "Output"}
    assert graph.nodes["input"].input_type["input"].tolist() == [net.n_inputs]


def foreign_graph(dt: float = 1e-3) -> nir.NIRGraph:
    """A CubaLIF/Affine graph as another tool (e.g. snnTorch's export) writes it."""
    rng = np.random.default_rng(3)
    w1, w2 = rng.normal(0, 1, (20, 10)), rng.normal(0, 1, (3, 20))

    def lif(n):
        return nir.CubaLIF(tau_syn=np.full(n, 5 * dt), tau_mem=np.full(n, 10 * dt),
                           r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.full(n, 0.5))

    nodes = {"in": nir.Input({"input": np.array([10])}), "fc1": nir.Affine(w1, np.zeros(20)),
             "lif1": lif(20), "fc2": nir.Linear(w2), "lif2": lif(3),
             "out": nir.Output({"output": np.array([3])})}
    edges = [("in", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"), ("lif2", "out")]
    return nir.NIRGraph(nodes=nodes, edges=edges)


def test_graph_written_by_nir_from_another_tool_imports_and_runs(tmp_path):
    nir.write(str(tmp_path / "f.nir"), foreign_graph())
    net = read_network(tmp_path / "f.nir", dt=1e-3)
    assert net.sizes == [10, 20, 3]
    # dt / tau_syn = 0.2 -> du = 0.2 * 4096 - 1; dt / tau_mem = 0.1 -> dv = 410
    assert [(layer.du, layer.dv) for layer in net.layers] == [(818, 410), (818, 410)]
    rec = run(net, random_spikes(1, 10, steps=100)[0])
    assert rec.spikes[0].sum() > 0


def test_export_reimports_as_float_when_metadata_is_stripped(tmp_path):
    rng = np.random.default_rng(8)
    net = FixedNetwork((FixedLayer(rng.integers(-128, 128, (6, 5)), 2, du=300, dv=900,
                                   vth=5000),))
    graph = to_nir(net)
    for node in graph.nodes.values():
        node.metadata = {}
    graph.metadata = {"neurotwin_dt": net.dt}
    nir.write(str(tmp_path / "s.nir"), graph)
    back = read_network(tmp_path / "s.nir")
    assert (back.layers[0].du, back.layers[0].dv) == (net.layers[0].du, net.layers[0].dv)


def test_missing_metadata_field_is_named(tmp_path):
    path = tmp_path / "n.nir"
    write_network(path, random_network(1))
    with h5py.File(path, "r+") as f:
        del f["node/nodes/lif_0/metadata/neurotwin_vth"]
    with pytest.raises(NetworkError, match="layer 0: metadata field neurotwin_vth is missing"):
        read_network(path)


def test_out_of_range_metadata_is_named(tmp_path):
    path = tmp_path / "n.nir"
    write_network(path, random_network(1))
    with h5py.File(path, "r+") as f:
        f["node/nodes/lif_0/metadata/neurotwin_du"][()] = 5000
    with pytest.raises(NetworkError, match=r"layer 0: du must lie in \[0, 4095\]"):
        read_network(path)


def test_unreadable_and_missing_files(tmp_path):
    (tmp_path / "junk.nir").write_bytes(b"not hdf5")
    with pytest.raises(NetworkError, match="not a readable NIR file"):
        read_network(tmp_path / "junk.nir")
    with pytest.raises(NetworkError, match="does not exist"):
        read_network(tmp_path / "absent.nir")
