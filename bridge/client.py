"""The host side of a board: upload a network, stream input spikes, collect output spikes.

The same client drives a virtual board, the RTL under co-simulation and an FPGA board; only
the link URL differs.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from bridge.board import MODEL_WINDOW, event_packets
from bridge.protocol import (
    MAX_PAYLOAD,
    PROTOCOL_VERSION,
    ConfigWrite,
    Control,
    ControlOp,
    Error,
    Events,
    Hello,
    Status,
    StatusRequest,
    Tick,
)
from bridge.transport import Link
from neuro import FixedNetwork, write_network
from neuro.record import as_spike_batch

CHUNK = MAX_PAYLOAD - 4


class BoardError(RuntimeError):
    """The board reported an error or answered out of protocol."""


class BoardClient:
    """Runs networks on the board at the other end of ``link``."""

    def __init__(self, link: Link, timeout: float = 60.0) -> None:
        self.link = link
        self.timeout = timeout
        self.name = ""
        self.network: FixedNetwork | None = None

    def hello(self, attempts: int = 10) -> str:
        """Start a new conversation (both ends restart their sequence numbers); returns the
        board's name. Hello is unacknowledged, so it is repeated until answered."""
        for _ in range(attempts):
            self.link.send(Hello(PROTOCOL_VERSION, MAX_PAYLOAD, "host"))
            try:
                got = self.link.receive(lambda ps: any(isinstance(p, Hello) for p in ps),
                                        min(1.0, self.timeout))
            except TimeoutError:
                continue
            self.name = next(p for p in got if isinstance(p, Hello)).name
            return self.name
        raise TimeoutError(f"no Hello from {self.link.url} after {attempts} attempts")

    def upload(self, network: FixedNetwork) -> None:
        """Send the network file into the model window and load it."""
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.nir"
            write_network(path, network)
            image = path.read_bytes()
        for offset in range(0, len(image), CHUNK):
            self.link.send(ConfigWrite(MODEL_WINDOW + offset, image[offset : offset + CHUNK]))
            self.link.pump()
        self.link.send(Control(ControlOp.LOAD, len(image)))
        self.link.flush(self.timeout)
        self.network = network

    def run(self, spikes: np.ndarray) -> dict[str, np.ndarray]:
        """Run input spikes ([steps, inputs] or [batch, steps, inputs]); returns the ``out.npz``
        arrays that a board reports: ``spikes`` and ``spikes_i`` per layer."""
        if self.network is None:
            raise BoardError("upload a network first")
        net = self.network
        batch, batched = as_spike_batch(spikes, net.n_inputs)
        streams = [self._run_stream(batch[b]) for b in range(batch.shape[0])]
        out = {}
        for i in range(len(net.layers)):
            layer = np.stack([s[i] for s in streams])
            out[f"spikes_{i}"] = layer if batched else layer[0]
        out["spikes"] = out[f"spikes_{len(net.layers) - 1}"]
        return out

    def _run_stream(self, spikes: np.ndarray) -> list[np.ndarray]:
        net = self.network
        steps = spikes.shape[0]
        self.link.send(Control(ControlOp.RESET))
        t, x = np.nonzero(spikes)
        for packet in event_packets(t, x, np.ones(t.size, np.int64)):
            self.link.send(packet)
        self.link.send(Control(ControlOp.RUN, steps))
        got = self.link.receive(
            lambda ps: any(isinstance(p, Tick | Error) for p in ps), self.timeout)
        errors = [p for p in got if isinstance(p, Error)]
        if errors:
            raise BoardError(f"board {self.name!r} reported {errors[0].code.name} "
                             f"(detail {errors[0].detail})")
        offsets = np.cumsum([0] + [layer.n_neurons for layer in net.layers])
        total = np.zeros((steps, int(offsets[-1])), np.uint8)
        for p in got:
            if isinstance(p, Events):
                total[p.t, p.x] = 1
        return [total[:, offsets[i] : offsets[i + 1]] for i in range(len(net.layers))]

    def status(self) -> dict[str, int]:
        self.link.send(StatusRequest())
        got = self.link.receive(lambda ps: any(isinstance(p, Status) for p in ps), self.timeout)
        return next(p for p in got if isinstance(p, Status)).counters
