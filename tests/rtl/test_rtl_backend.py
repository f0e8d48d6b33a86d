"""The ``rtl`` backend: the reference's record, and its out.npz, from the simulated core."""

import os

import numpy as np
import pytest

from host.cli import main
from neuro import read_network, run, write_network
from neuro.random_networks import random_network, random_spikes

SIM = os.environ.get("SIM", "icarus")


@pytest.mark.rtl
@pytest.mark.parametrize("batched", [False, True])
def test_record_equals_the_reference_for_single_and_batched_input(batched):
    net = random_network(4)  # three layers on a chain of two cores
    spikes = random_spikes(4, net.n_inputs, steps=40, batch=2)
    spikes = spikes if batched else spikes[0]
    got, want = run(net, spikes, "rtl", sim=SIM), run(net, spikes)
    assert got.batched == want.batched
    for key, array in want.arrays().items():
        np.testing.assert_array_equal(got.arrays()[key], array, err_msg=key)


@pytest.mark.rtl
def test_cli_backend_rtl_writes_the_reference_file(tmp_path):
    net = random_network(21)
    write_network(tmp_path / "net.nir", net)
    spikes = random_spikes(21, net.n_inputs, 60)[0].astype(np.int64)
    np.savez(tmp_path / "in.npz", spikes=spikes)
    assert main(["run", "--model", str(tmp_path / "net.nir"), "--input",
                 str(tmp_path / "in.npz"), "--backend", "rtl", "--sim", SIM,
                 "--out", str(tmp_path / "rtl.npz")]) == 0
    got = np.load(tmp_path / "rtl.npz")
    want = run(read_network(tmp_path / "net.nir"), spikes).arrays()
    assert sorted(got.files) == sorted(want)
    for key, array in want.items():
        np.testing.assert_array_equal(got[key], array, err_msg=key)


def test_an_unknown_simulator_is_refused_by_name():
    net = random_network(2, max_layers=1, max_neurons=4)
    with pytest.raises(ValueError, match="unknown simulator 'modelsim'"):
        run(net, random_spikes(2, net.n_inputs, 5)[0], "rtl", sim="modelsim")
