"""TLS on the TCP transport: a verified server certificate, or no link at all."""

import ssl
import subprocess
import threading

import numpy as np
import pytest

from bridge.board import VirtualBoard
from bridge.client import BoardClient
from bridge.transport import Link, LinkError, serve_tcp
from neuro import run
from neuro.random_networks import random_network, random_spikes


def self_signed(tmp_path, name: str) -> tuple[str, str]:
    cert, key = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True)
    return str(cert), str(key)


@pytest.fixture
def tls_board(tmp_path):
    cert, key = self_signed(tmp_path, "server")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    board, stop, ready = VirtualBoard(), threading.Event(), threading.Event()
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    thread = threading.Thread(target=serve_tcp, args=(board.feed, port), daemon=True,
                              kwargs={"ready": ready, "stop": stop, "tls": context})
    thread.start()
    ready.wait(5)
    yield port, cert
    stop.set()
    thread.join(5)


def test_board_over_tls_matches_reference(tls_board):
    port, cert = tls_board
    net = random_network(6)
    spikes = random_spikes(6, net.n_inputs, 200)[0]
    client = BoardClient(Link(f"tls://127.0.0.1:{port}?cafile={cert}", retries=2))
    client.hello()
    client.upload(net)
    out = client.run(spikes)
    np.testing.assert_array_equal(out["spikes"], run(net, spikes).arrays()["spikes"])


def test_server_with_an_unknown_certificate_is_refused(tls_board, tmp_path):
    port, _ = tls_board
    other, _ = self_signed(tmp_path, "other")
    with pytest.raises(LinkError, match="certificate verify failed"):
        Link(f"tls://127.0.0.1:{port}?cafile={other}", retries=1)
