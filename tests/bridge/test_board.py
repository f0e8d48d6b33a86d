"""Boards behind the protocol: the same client over an in-process link, over TCP and from the
command line gives the reference backend's spikes."""

import os
import select
import threading
import tty

import numpy as np
import pytest

from bridge.board import VirtualBoard
from bridge.client import BoardClient
from bridge.transport import Link, serve_tcp
from host.cli import main
from neuro import run, write_network
from neuro.random_networks import random_network, random_spikes


def check_same_spikes(out: dict, ref: dict) -> None:
    assert sorted(out) == sorted(k for k in ref if k.startswith("spikes"))
    for key, arr in out.items():
        np.testing.assert_array_equal(arr, ref[key], err_msg=key)


@pytest.mark.parametrize("seed", range(5))
def test_virtual_board_in_process_matches_reference(seed):
    net = random_network(seed)
    spikes = random_spikes(seed, net.n_inputs, 300, batch=2)
    client = BoardClient(Link("virtual://reference"))
    assert client.hello() == "virtual:reference"
    client.upload(net)
    check_same_spikes(client.run(spikes), run(net, spikes).arrays())


@pytest.fixture
def tcp_board():
    board, stop, ready = VirtualBoard(), threading.Event(), threading.Event()
    with socket_port() as port:
        thread = threading.Thread(target=serve_tcp, args=(board.feed, port),
                                  kwargs={"ready": ready, "stop": stop}, daemon=True)
        thread.start()
        ready.wait(5)
        yield f"socket://127.0.0.1:{port}"
        stop.set()
        thread.join(5)


class socket_port:
    """A free TCP port on loopback."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def __exit__(self, *exc) -> None:
        return None


def check_board_command(tmp_path, url: str, seed: int, steps: int) -> None:
    """``neurotwin board --url URL`` on a seeded network gives the reference's spikes."""
    net = random_network(seed)
    write_network(tmp_path / "net.nir", net)
    spikes = random_spikes(seed, net.n_inputs, steps)[0]
    np.savez(tmp_path / "in.npz", spikes=spikes.astype(np.int32))
    assert main(["board", "--url", url, "--model", str(tmp_path / "net.nir"),
                 "--input", str(tmp_path / "in.npz"), "--out", str(tmp_path / "out.npz")]) == 0
    check_same_spikes(dict(np.load(tmp_path / "out.npz")), run(net, spikes).arrays())


def test_board_command_over_tcp_matches_reference(tmp_path, tcp_board):
    check_board_command(tmp_path, tcp_board, 12, 400)


@pytest.fixture
def pty_board():
    """A virtual board on the far side of a pseudo-terminal: its device path (/dev/pts/N) is
    what a USB-serial board's (/dev/ttyUSB1) would be, with the kernel's tty layer between."""
    board, stop = VirtualBoard(), threading.Event()
    master, slave = os.openpty()
    tty.setraw(slave)

    def serve() -> None:
        while not stop.is_set():
            if select.select([master], [], [], 0.05)[0]:
                reply = memoryview(board.feed(os.read(master, 4096)))
                while reply:
                    reply = reply[os.write(master, reply):]

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield os.ttyname(slave)
    stop.set()
    thread.join(5)
    os.close(master)
    os.close(slave)


def test_board_command_on_a_serial_device_matches_reference(tmp_path, pty_board):
    check_board_command(tmp_path, pty_board, 7, 300)


def test_unreachable_board_is_reported(tmp_path, capsys):
    net = random_network(1)
    write_network(tmp_path / "net.nir", net)
    np.savez(tmp_path / "in.npz", spikes=np.zeros((5, net.n_inputs), int))
    with socket_port() as port:
        code = main(["board", "--url", f"socket://127.0.0.1:{port}", "--model",
                     str(tmp_path / "net.nir"), "--input", str(tmp_path / "in.npz"),
                     "--out", str(tmp_path / "o.npz"), "--timeout", "2"])
    assert code == 2
    assert "cannot open socket://127.0.0.1" in capsys.readouterr().err


def test_url_of_an_unknown_protocol_names_the_forms_that_work(tmp_path, capsys):
    net = random_network(1)
    write_network(tmp_path / "net.nir", net)
    np.savez(tmp_path / "in.npz", spikes=np.zeros((5, net.n_inputs), int))
    code = main(["board", "--url", "tcp://127.0.0.1:5555", "--model", str(tmp_path / "net.nir"),
                 "--input", str(tmp_path / "in.npz"), "--out", str(tmp_path / "o.npz")])
    assert code == 2
    err = capsys.readouterr().err
    assert "cannot open tcp://127.0.0.1:5555" in err and "socket://HOST:PORT" in err


def test_client_reconnects_after_the_link_drops_and_loses_nothing():
    board = VirtualBoard()
    with socket_port() as port:
        def serve() -> tuple[threading.Thread, threading.Event]:
            stop, ready = threading.Event(), threading.Event()
            thread = threading.Thread(target=serve_tcp, args=(board.feed, port), daemon=True,
                                      kwargs={"ready": ready, "stop": stop})
            thread.start()
            ready.wait(5)
            return thread, stop

        thread, stop = serve()
        link = Link(f"socket://127.0.0.1:{port}")
        client = BoardClient(link)
        client.hello()
        net = random_network(9)
        client.upload(net)
        stop.set()  # the server goes away with the connection ...
        thread.join(5)
        thread, stop = serve()  # ... and comes back with the board's state intact
        spikes = random_spikes(9, net.n_inputs, 300)[0]
        out = client.run(spikes)
        stop.set()
        thread.join(5)
    assert link.reconnects >= 1
    check_same_spikes(out, run(net, spikes).arrays())
