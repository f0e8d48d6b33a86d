"""The virtual board: a network on any backend behind the wire protocol (edge side).

It speaks exactly what a hardware board speaks, so host code, tests and demos can run
without hardware: the network arrives as configuration writes into the model window and a
LOAD, input spikes as Events, and ``Control(RUN, steps)`` runs them and answers with the
spikes of every layer as Events (address = neuron's global index, layer by layer) followed
by ``Tick(steps)``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from bridge.codec import Keys
from bridge.protocol import (
    MAX_EVENTS_PER_FRAME,
    MAX_PAYLOAD,
    PROTOCOL_VERSION,
    ConfigWrite,
    Control,
    ControlOp,
    Error,
    ErrorCode,
    Events,
    Hello,
    Packet,
    Status,
    StatusRequest,
    Tick,
)
from bridge.session import Session
from neuro import FixedNetwork, NetworkError, read_network, run

# Configuration addresses from here up hold the network file (NIR) being uploaded.
MODEL_WINDOW = 0x8000_0000
MODEL_MAX_BYTES = 64 << 20


def event_packets(t: np.ndarray, x: np.ndarray, p: np.ndarray) -> list[Events]:
    """Split time-sorted events into packets of at most 254 events spanning < 256 steps."""
    packets = []
    start, n = 0, t.size
    while start < n:
        # Last index whose step lies within 255 of this packet's first step.
        span_end = int(np.searchsorted(t, t[start] + 255, side="right"))
        end = min(span_end, start + MAX_EVENTS_PER_FRAME)
        packets.append(Events(t[start:end], x[start:end], p[start:end]))
        start = end
    return packets


class VirtualBoard:
    """Edge side of the protocol over a :class:`Session`; feed it bytes, send what it returns."""

    def __init__(self, backend: str = "reference", keys: Keys | None = None,
                 **backend_options) -> None:
        self.backend = backend
        self.backend_options = backend_options
        self.session = Session(keys)
        self.network: FixedNetwork | None = None
        self._image = bytearray()
        self._events: list[Events] = []
        self.counters = self.session.counters

    def feed(self, data: bytes) -> bytes:
        """Bytes from the link in, bytes for the link out."""
        now = time.monotonic()
        for packet in self.session.receive(data, now):
            self._handle(packet)
        self.session.poll(now)
        return self.session.outgoing()

    def _error(self, code: ErrorCode, detail: int = 0) -> None:
        self.session.send(Error(code, detail))

    def _handle(self, packet: Packet) -> None:
        match packet:
            case Hello():
                self.session.send(Hello(PROTOCOL_VERSION, MAX_PAYLOAD, f"virtual:{self.backend}"))
            case ConfigWrite(address=a, data=d) if a >= MODEL_WINDOW:
                offset = a - MODEL_WINDOW
                if offset + len(d) > MODEL_MAX_BYTES:
                    self._error(ErrorCode.OVERFLOW, offset)
                    return
                if len(self._image) < offset + len(d):
                    self._image.extend(bytes(offset + len(d) - len(self._image)))
                self._image[offset : offset + len(d)] = d
            case Control(op=ControlOp.LOAD, argument=length):
                self._load(length)
            case Control(op=ControlOp.RESET):
                self._events.clear()
            case Events():
                self._events.append(packet)
            case Control(op=ControlOp.RUN, argument=steps):
                self._run(steps)
            case StatusRequest():
                self.session.send(Status(dict(self.counters)))
            case _:
                self._error(ErrorCode.BAD_CONFIG, 0)

    def _load(self, length: int) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.nir"
            path.write_bytes(bytes(self._image[:length]))
            try:
                self.network = read_network(path)
            except NetworkError:
                self.network = None
                self._error(ErrorCode.BAD_CONFIG, length)
        self._image.clear()

    def _run(self, steps: int) -> None:
        net = self.network
        if net is None:
            self._error(ErrorCode.BAD_STATE, 0)
            return
        spikes = np.zeros((steps, net.n_inputs), np.uint8)
        for ev in self._events:
            keep = (ev.t < steps) & (ev.x < net.n_inputs)
            spikes[ev.t[keep], ev.x[keep]] = 1
        self._events.clear()
        record = run(net, spikes, self.backend, **self.backend_options)
        offsets = np.cumsum([0] + [layer.n_neurons for layer in net.layers])
        t_all, x_all = [], []
        for offset, layer_spikes in zip(offsets, record.spikes, strict=False):
            t, n = np.nonzero(layer_spikes[0])
            t_all.append(t)
            x_all.append(n + offset)
        t, x = np.concatenate(t_all), np.concatenate(x_all)
        order = np.argsort(t, kind="stable")
        for packet in event_packets(t[order], x[order], np.ones(t.size, np.int64)):
            self.session.send(packet)
        self.session.send(Tick(steps))
