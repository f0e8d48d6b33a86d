"""The host side of a board: upload a network, stream input spikes, collect output spikes.

The same client drives a virtual board, the RTL under co-simulation and an FPGA board; only
the link URL differs.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from bridge.board import MODEL_WINDOW, event_packets
from bridge.protocol import (
    MAX_PAYLOAD,
    PROTOCOL_VERSION,
    ConfigData,
    ConfigRead,
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
from bridge.rtl_board import PARAMETER_READ, config_packets, geometry_from, is_rtl_board, words_of
from bridge.transport import Link
from neuro import FixedNetwork, write_network
from neuro.record import as_spike_batch
from neuro.rtl_compile import CompileError, compile_network

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

    def hello(self) -> str:
        """Start a new conversation (both ends restart their sequence numbers); returns the
        board's name. Hello is unacknowledged, so it is repeated each second until answered
        (a co-simulated board may still be building) or the client's timeout passes."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            self.link.send(Hello(PROTOCOL_VERSION, MAX_PAYLOAD, "host"))
            try:
                got = self.link.receive(lambda ps: any(isinstance(p, Hello) for p in ps),
                                        min(1.0, self.timeout))
            except TimeoutError:
                continue
            self.name = next(p for p in got if isinstance(p, Hello)).name
            return self.name
        raise TimeoutError(f"no Hello from {self.link.url} within {self.timeout} s")

    @property
    def rtl(self) -> bool:
        """The board is the RTL core behind nt_link (configured word by word)."""
        return is_rtl_board(self.name)

    def read_config(self, address: int, words: int) -> np.ndarray:
        """``words`` 32-bit configuration words from ``address`` (RTL boards)."""
        self.link.send(ConfigRead(address, 4 * words))
        got = self.link.receive(lambda ps: any(isinstance(p, ConfigData | Error) for p in ps),
                                self.timeout)
        self._raise_errors(got)
        return words_of(next(p for p in got if isinstance(p, ConfigData)).data)

    def _raise_errors(self, got: list) -> None:
        errors = [p for p in got if isinstance(p, Error)]
        if errors:
            raise BoardError(f"board {self.name!r} reported {errors[0].code.name} "
                             f"(detail {errors[0].detail})")

    def upload(self, network: FixedNetwork) -> None:
        """Load the network: an RTL board gets its core's configuration words, compiled for
        the geometry it reports; other boards get the network file in the model window."""
        if self.rtl:
            geometry = geometry_from(self.read_config(PARAMETER_READ.address, 4))
            try:
                image = compile_network(network, geometry)
            except CompileError as exc:
                raise BoardError(f"the network does not fit board {self.name!r}: {exc}") from exc
            for packet in config_packets(image.writes):
                self.link.send(packet)
            self.link.flush(self.timeout)
            self.network = network
            return
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
        arrays that a board reports: ``spikes`` and ``spikes_i`` per layer it reports (an RTL
        board reports its last layer only)."""
        if self.network is None:
            raise BoardError("upload a network first")
        net = self.network
        batch, batched = as_spike_batch(spikes, net.n_inputs)
        streams = [self._run_stream(batch[b]) for b in range(batch.shape[0])]
        out = {}
        for i in streams[0]:
            layer = np.stack([s[i] for s in streams])
            out[f"spikes_{i}"] = layer if batched else layer[0]
        out["spikes"] = out[f"spikes_{len(net.layers) - 1}"]
        return out

    def _run_stream(self, spikes: np.ndarray) -> dict[int, np.ndarray]:
        net = self.network
        steps = spikes.shape[0]
        self.link.send(Control(ControlOp.RESET))
        t, x = np.nonzero(spikes)
        for packet in event_packets(t, x, np.ones(t.size, np.int64)):
            self.link.send(packet)
        self.link.send(Control(ControlOp.RUN, steps))
        got = self.link.receive(
            lambda ps: any(isinstance(p, Tick | Error) for p in ps), self.timeout)
        self._raise_errors(got)
        sizes = [layer.n_neurons for layer in net.layers]
        # An RTL board sends its last layer's neurons; other boards every layer's, in order.
        reported = [len(sizes) - 1] if self.rtl else list(range(len(sizes)))
        offsets = np.cumsum([0] + [sizes[i] for i in reported])
        total = np.zeros((steps, int(offsets[-1])), np.uint8)
        for p in got:
            if isinstance(p, Events):
                total[p.t, p.x] = 1
        return {layer: total[:, offsets[k] : offsets[k + 1]] for k, layer in enumerate(reported)}

    def status(self) -> dict[str, int]:
        self.link.send(StatusRequest())
        got = self.link.receive(lambda ps: any(isinstance(p, Status) for p in ps), self.timeout)
        return next(p for p in got if isinstance(p, Status)).counters
