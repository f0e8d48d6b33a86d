"""Packets of the NeuroTwin wire protocol, version 1 (docs/protocol.md is the spec).

Packets are frozen dataclasses; :mod:`bridge.codec` is the only code that turns them into
bytes and back. Event payloads are numpy arrays so that a batch of thousands of events is
encoded and decoded without a Python loop.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np

PROTOCOL_VERSION = 1
# Largest payload a frame may carry; bounds every buffer on both ends (an iCE40 holds a
# 1 KiB frame buffer in two EBRs).
MAX_PAYLOAD = 1024
# Events ride as 4 bytes each: address (u16), polarity (i8), step offset from the batch's
# base step (u8).
EVENT_BYTES = 4
MAX_EVENTS_PER_FRAME = (MAX_PAYLOAD - 6) // EVENT_BYTES
WIRE_EVENT = np.dtype([("x", "<u2"), ("p", "i1"), ("dt", "u1")])


class PacketType(enum.IntEnum):
    EVENTS = 0x01
    TICK = 0x02
    CONFIG_WRITE = 0x10
    CONFIG_READ = 0x11
    CONFIG_DATA = 0x12
    CONTROL = 0x20
    STATUS_REQUEST = 0x30
    STATUS = 0x31
    ACK = 0x40
    NAK = 0x41
    ERROR = 0x50
    HELLO = 0x60


class ControlOp(enum.IntEnum):
    RESET = 0
    RUN = 1
    STREAM = 2
    LOAD = 3


class ErrorCode(enum.IntEnum):
    OVERFLOW = 1
    BAD_FRAME = 2
    BAD_CONFIG = 3
    BAD_STATE = 4


class NakReason(enum.IntEnum):
    GAP = 1
    NO_CREDIT = 2


@dataclass(frozen=True)
class Events:
    """Spike events of steps ``t`` (>= 0) at addresses ``x`` with polarity ``p`` (+1/-1)."""

    t: np.ndarray
    x: np.ndarray
    p: np.ndarray

    def __post_init__(self) -> None:
        t, x, p = (np.asarray(a) for a in (self.t, self.x, self.p))
        if not (t.shape == x.shape == p.shape and t.ndim == 1):
            raise ValueError("Events: t, x and p must be 1-D arrays of one length")
        if t.size and (t.min() < 0 or t.max() - t.min() > 255):
            raise ValueError("Events: one packet spans at most 256 steps, t >= 0")
        if x.size and (x.min() < 0 or x.max() > 0xFFFF):
            raise ValueError("Events: addresses x must lie in [0, 65535]")
        if t.size > MAX_EVENTS_PER_FRAME:
            raise ValueError(f"Events: at most {MAX_EVENTS_PER_FRAME} events per packet")
        object.__setattr__(self, "t", t.astype(np.int64))
        object.__setattr__(self, "x", x.astype(np.int64))
        object.__setattr__(self, "p", p.astype(np.int64))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Events) and all(
            np.array_equal(getattr(self, k), getattr(other, k)) for k in "txp")

    __hash__ = None


@dataclass(frozen=True)
class Tick:
    """All events of steps before ``step`` have been sent."""

    step: int


@dataclass(frozen=True)
class ConfigWrite:
    address: int
    data: bytes


@dataclass(frozen=True)
class ConfigRead:
    address: int
    length: int


@dataclass(frozen=True)
class ConfigData:
    address: int
    data: bytes


@dataclass(frozen=True)
class Control:
    op: ControlOp
    argument: int = 0


@dataclass(frozen=True)
class StatusRequest:
    pass


STATUS_FIELDS = (
    "frames_in", "frames_out", "bad_crc", "bad_cobs", "bad_header", "bad_auth",
    "replayed", "duplicates", "out_of_order", "overflow", "retransmits", "events_in",
    "events_out",
)


@dataclass(frozen=True)
class Status:
    """Counters of the sender (see :data:`STATUS_FIELDS`)."""

    counters: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Ack:
    """Cumulative acknowledgement: every sequence number below ``next_seq`` has arrived;
    ``credits`` more frames may be in flight beyond it."""

    next_seq: int
    credits: int


@dataclass(frozen=True)
class Nak:
    """Frame ``seq`` is missing (or was refused for ``reason``)."""

    seq: int
    reason: NakReason = NakReason.GAP


@dataclass(frozen=True)
class Error:
    code: ErrorCode
    detail: int = 0


@dataclass(frozen=True)
class Hello:
    version: int
    max_payload: int
    name: str


Packet = (Events | Tick | ConfigWrite | ConfigRead | ConfigData | Control | StatusRequest
          | Status | Ack | Nak | Error | Hello)

# Link-control packets are not sequenced or acknowledged themselves. A Hello starts a new
# conversation: both ends restart their sequence numbers from 0 when they receive one.
UNSEQUENCED = (Ack, Nak, Hello)
