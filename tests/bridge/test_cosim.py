"""End to end: ``neurotwin board`` against ``neurotwin cosim``, the RTL behind its UART.

The co-simulation server is started here (on the simulator ``$SIM`` names, Icarus by
default) and the ordinary BoardClient drives it over TCP: Hello, the compiled configuration,
input events and RUN, output EVENTS and TICK. Outputs must equal the reference backend's.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading

import numpy as np
import pytest

from bridge.client import BoardClient, BoardError
from bridge.cosim import CosimServer
from bridge.transport import Link
from neuro import FixedNetwork, run, write_network
from neuro.random_networks import random_layer, random_network, random_spikes

pytestmark = pytest.mark.rtl


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cosim():
    server = CosimServer(free_port(), sim=os.environ.get("SIM", "icarus"), log=lambda _: None)
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    yield f"socket://127.0.0.1:{server.port}"
    server.stop.set()
    thread.join(timeout=60)


@pytest.fixture(scope="module")
def client(cosim):
    link = Link(cosim)
    board = BoardClient(link, timeout=600)
    assert board.hello() == "neurotwin-rtl"
    yield board
    link.close()


@pytest.mark.parametrize("seed", [2, 7, 19])
def test_board_over_cosim_equals_the_reference(client, seed):
    net = random_network(seed, max_layers=3, max_neurons=40)
    spikes = random_spikes(seed, net.n_inputs, steps=120, batch=2)
    client.upload(net)
    got = client.run(spikes)
    want = run(net, spikes).arrays()
    last = f"spikes_{len(net.layers) - 1}"
    assert sorted(got) == sorted(["spikes", last])
    assert np.array_equal(got["spikes"], want["spikes"]), f"seed {seed}"
    assert np.array_equal(got[last], want[last]), f"seed {seed}"


def test_a_network_too_big_for_the_core_is_refused_by_name(client):
    rng = np.random.default_rng(0)
    net = FixedNetwork((random_layer(rng, 300, 8, False),))
    with pytest.raises(BoardError, match="does not fit"):
        client.upload(net)


def test_the_command_line_pair(tmp_path):
    """``neurotwin cosim`` in the background, ``neurotwin board`` against it."""
    net = random_network(4, max_layers=2, max_neurons=16)
    write_network(tmp_path / "net.nir", net)
    spikes = random_spikes(4, net.n_inputs, steps=60)[0]
    np.savez(tmp_path / "in.npz", spikes=spikes)
    port = free_port()
    cli = [sys.executable, "-m", "host.cli"]
    server = subprocess.Popen([*cli, "cosim", "--model", str(tmp_path / "net.nir"),
                               "--port", str(port), "--sim", os.environ.get("SIM", "icarus")],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        done = subprocess.run(
            [*cli, "board", "--url", f"socket://127.0.0.1:{port}", "--model",
             str(tmp_path / "net.nir"), "--input", str(tmp_path / "in.npz"), "--out",
             str(tmp_path / "out.npz")], capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stderr
    finally:
        server.terminate()
        server.wait(timeout=60)
    out = np.load(tmp_path / "out.npz")
    assert np.array_equal(out["spikes"], run(net, spikes).arrays()["spikes"])
