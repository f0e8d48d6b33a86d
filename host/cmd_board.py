"""``neurotwin board`` and ``neurotwin serve-board``: run networks on a board over the bridge."""

from __future__ import annotations

import argparse
import ssl
import threading

import numpy as np

from bridge.board import VirtualBoard
from bridge.client import BoardClient
from bridge.cosim import CosimServer, check_fits
from bridge.transport import DEFAULT_BAUD, Link, serve_tcp
from neuro import read_network
from neuro.record import load_spikes


def _board(args: argparse.Namespace) -> int:
    network = read_network(args.model)
    spikes = load_spikes(args.input)
    link = Link(args.url, baudrate=args.baud)
    try:
        client = BoardClient(link, timeout=args.timeout)
        name = client.hello()
        client.upload(network)
        out = client.run(spikes)
    finally:
        link.close()
    np.savez_compressed(args.out, **out)
    print(f"{name}: {int(out['spikes'].sum())} output spikes -> {args.out}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    board = VirtualBoard(args.backend)
    tls = None
    if args.tls_cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
    scheme = "tls" if tls else "socket"
    print(f"virtual board ({args.backend}) on {scheme}://{args.host}:{args.port}", flush=True)
    try:
        serve_tcp(board.feed, args.port, args.host, stop=threading.Event(), tls=tls)
    except KeyboardInterrupt:
        pass
    return 0


def _cosim(args: argparse.Namespace) -> int:
    if args.model:
        check_fits(read_network(args.model))  # say now, not after the upload, if it cannot
    server = CosimServer(args.port, args.host, args.sim, waves=args.waves)
    try:
        server.serve()
    except KeyboardInterrupt:
        server.stop.set()
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    b = sub.add_parser("board", help="run a network on a board (serial, TCP or virtual)")
    b.add_argument("--url", required=True, help="pyserial URL: /dev/ttyUSB1, "
                   "socket://127.0.0.1:5555, virtual://reference")
    b.add_argument("--model", required=True, help="network file (NIR HDF5)")
    b.add_argument("--input", required=True, help=".npz with integer 'spikes'")
    b.add_argument("--out", required=True, help="output .npz (spikes, spikes_i)")
    b.add_argument("--baud", type=int, default=DEFAULT_BAUD, help="serial line rate (baud)")
    b.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for answers")
    b.set_defaults(func=_board)
    s = sub.add_parser("serve-board", help="serve a virtual board on TCP")
    s.add_argument("--port", type=int, default=5556)
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--backend", default="reference", help="backend that runs the network")
    s.add_argument("--tls-cert", help="PEM certificate: serve TLS (clients use tls://)")
    s.add_argument("--tls-key", help="PEM private key of --tls-cert")
    s.set_defaults(func=_serve)
    c = sub.add_parser("cosim", help="simulate the RTL board (core + UART link) and serve "
                       "its UART on TCP")
    c.add_argument("--model", help="network file (NIR) to check against the core's size")
    c.add_argument("--port", type=int, default=5555)
    c.add_argument("--host", default="127.0.0.1")
    c.add_argument("--sim", choices=("icarus", "verilator"), default="icarus",
                   help="HDL simulator (Verilator is built on first use, then cached)")
    c.add_argument("--waves", action="store_true", help="record an FST waveform")
    c.set_defaults(func=_cosim)
