"""The wire codec: the only code that knows bytes (sans-I/O, after h11).

``encode_frame(packet, seq)`` gives the bytes of one frame; :class:`FrameDecoder` takes bytes
in any chunking through ``feed`` and returns the frames it completes, counting and dropping
everything corrupt, truncated, oversized or unauthenticated and resynchronising on the next
frame delimiter. Layout (docs/protocol.md)::

    COBS( header(9) | payload(len) | [key_id(1) | tag(16)] | crc32(4) ) | 0x00

    header = version u8 | type u8 | flags u8 | seq u32 | len u16   (little endian)
"""

from __future__ import annotations

import hashlib
import hmac
import struct
import zlib
from collections import Counter
from dataclasses import dataclass

import numpy as np

from bridge.protocol import (
    EVENT_BYTES,
    MAX_PAYLOAD,
    PROTOCOL_VERSION,
    STATUS_FIELDS,
    WIRE_EVENT,
    Ack,
    ConfigData,
    ConfigRead,
    ConfigWrite,
    Control,
    ControlOp,
    Error,
    ErrorCode,
    Events,
    Hello,
    Nak,
    NakReason,
    Packet,
    PacketType,
    Status,
    StatusRequest,
    Tick,
)

HEADER = struct.Struct("<BBBIH")
FLAG_AUTH = 0x01
TAG_BYTES = 16
AUTH_BYTES = 1 + TAG_BYTES
CRC_BYTES = 4
MAX_FRAME = HEADER.size + MAX_PAYLOAD + AUTH_BYTES + CRC_BYTES
# COBS adds one byte per 254 and one in front; the decoder's buffer never holds more.
MAX_ENCODED = MAX_FRAME + MAX_FRAME // 254 + 2


class FrameError(ValueError):
    """A frame that cannot be decoded; ``kind`` names the counter it goes to."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def cobs_encode(data: bytes) -> bytes:
    """Consistent Overhead Byte Stuffing: the result has no zero byte."""
    out = bytearray()
    for chunk in data.split(b"\x00"):
        # A run of 254 non-zero bytes gets code 0xFF and no implied zero after it.
        while len(chunk) >= 254:
            out.append(0xFF)
            out += chunk[:254]
            chunk = chunk[254:]
        out.append(len(chunk) + 1)
        out += chunk
    return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    """Inverse of :func:`cobs_encode`; raises FrameError on malformed input."""
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        code = data[i]
        if code == 0:
            raise FrameError("bad_cobs", "zero byte inside a COBS frame")
        end = i + code
        if end > n:
            raise FrameError("bad_cobs", "COBS block runs past the end of the frame")
        out += data[i + 1 : end]
        if code != 0xFF and end < n:
            out.append(0)
        i = end
    return bytes(out)


def _payload(packet: Packet) -> tuple[PacketType, bytes]:
    match packet:
        case Events(t=t, x=x, p=p):
            base = int(t.min()) if t.size else 0
            wire = np.empty(t.size, WIRE_EVENT)
            wire["x"], wire["p"], wire["dt"] = x, p, t - base
            return PacketType.EVENTS, struct.pack("<IH", base, t.size) + wire.tobytes()
        case Tick(step=step):
            return PacketType.TICK, struct.pack("<I", step)
        case ConfigWrite(address=a, data=d):
            return PacketType.CONFIG_WRITE, struct.pack("<I", a) + d
        case ConfigRead(address=a, length=n):
            return PacketType.CONFIG_READ, struct.pack("<IH", a, n)
        case ConfigData(address=a, data=d):
            return PacketType.CONFIG_DATA, struct.pack("<I", a) + d
        case Control(op=op, argument=arg):
            return PacketType.CONTROL, struct.pack("<BI", op, arg)
        case StatusRequest():
            return PacketType.STATUS_REQUEST, b""
        case Status(counters=c):
            return PacketType.STATUS, struct.pack(
                f"<{len(STATUS_FIELDS)}I", *(c.get(k, 0) & 0xFFFFFFFF for k in STATUS_FIELDS))
        case Ack(next_seq=s, credits=c):
            return PacketType.ACK, struct.pack("<IH", s, c)
        case Nak(seq=s, reason=r):
            return PacketType.NAK, struct.pack("<IB", s, r)
        case Error(code=c, detail=d):
            return PacketType.ERROR, struct.pack("<BI", c, d)
        case Hello(version=v, max_payload=m, name=name):
            return PacketType.HELLO, struct.pack("<BH", v, m) + name.encode()
    raise TypeError(f"not a packet: {packet!r}")


def _fixed(fmt: str, payload: bytes) -> tuple:
    if len(payload) != struct.calcsize(fmt):
        raise FrameError("bad_header", f"payload of {len(payload)} bytes, expected "
                                        f"{struct.calcsize(fmt)}")
    return struct.unpack(fmt, payload)


def _prefixed(fmt: str, payload: bytes) -> tuple[tuple, bytes]:
    size = struct.calcsize(fmt)
    if len(payload) < size:
        raise FrameError("bad_header", f"payload of {len(payload)} bytes is too short")
    return struct.unpack(fmt, payload[:size]), payload[size:]


def _packet(kind: int, payload: bytes) -> Packet:
    try:
        ptype = PacketType(kind)
    except ValueError:
        raise FrameError("bad_header", f"unknown packet type 0x{kind:02x}") from None
    try:
        match ptype:
            case PacketType.EVENTS:
                (base, n), rest = _prefixed("<IH", payload)
                if len(rest) != n * EVENT_BYTES:
                    raise FrameError("bad_header", f"{n} events need {n * EVENT_BYTES} bytes")
                wire = np.frombuffer(rest, WIRE_EVENT)
                return Events(base + wire["dt"].astype(np.int64), wire["x"], wire["p"])
            case PacketType.TICK:
                return Tick(*_fixed("<I", payload))
            case PacketType.CONFIG_WRITE:
                (address,), data = _prefixed("<I", payload)
                return ConfigWrite(address, data)
            case PacketType.CONFIG_READ:
                return ConfigRead(*_fixed("<IH", payload))
            case PacketType.CONFIG_DATA:
                (address,), data = _prefixed("<I", payload)
                return ConfigData(address, data)
            case PacketType.CONTROL:
                op, arg = _fixed("<BI", payload)
                return Control(ControlOp(op), arg)
            case PacketType.STATUS_REQUEST:
                _fixed("<", payload)
                return StatusRequest()
            case PacketType.STATUS:
                values = _fixed(f"<{len(STATUS_FIELDS)}I", payload)
                return Status(dict(zip(STATUS_FIELDS, values, strict=True)))
            case PacketType.ACK:
                return Ack(*_fixed("<IH", payload))
            case PacketType.NAK:
                seq, reason = _fixed("<IB", payload)
                return Nak(seq, NakReason(reason))
            case PacketType.ERROR:
                code, detail = _fixed("<BI", payload)
                return Error(ErrorCode(code), detail)
            case PacketType.HELLO:
                (version, max_payload), name = _prefixed("<BH", payload)
                return Hello(version, max_payload, name.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        if isinstance(exc, FrameError):
            raise
        raise FrameError("bad_header", f"bad {ptype.name} payload: {exc}") from exc
    raise AssertionError(ptype)  # every PacketType is matched above


@dataclass(frozen=True)
class Keys:
    """HMAC-SHA256 keys by key id (0..255); ``send_id`` signs outgoing frames."""

    keys: dict[int, bytes]
    send_id: int

    def tag(self, key_id: int, data: bytes) -> bytes:
        return hmac.new(self.keys[key_id], data, hashlib.sha256).digest()[:TAG_BYTES]


def encode_frame(packet: Packet, seq: int, keys: Keys | None = None) -> bytes:
    """The bytes of one frame, delimiter included."""
    kind, payload = _payload(packet)
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    flags = FLAG_AUTH if keys else 0
    frame = HEADER.pack(PROTOCOL_VERSION, kind, flags, seq & 0xFFFFFFFF, len(payload)) + payload
    if keys:
        frame += bytes([keys.send_id])
        frame += keys.tag(keys.send_id, frame)
    frame += struct.pack("<I", zlib.crc32(frame))
    return cobs_encode(frame) + b"\x00"


def decode_frame(frame: bytes, keys: Keys | None = None) -> tuple[int, Packet]:
    """(seq, packet) of one COBS-decoded frame without its delimiter; raises FrameError."""
    if len(frame) < HEADER.size + CRC_BYTES:
        raise FrameError("bad_header", f"frame of {len(frame)} bytes is too short")
    body, crc = frame[:-CRC_BYTES], frame[-CRC_BYTES:]
    if zlib.crc32(body) != int.from_bytes(crc, "little"):
        raise FrameError("bad_crc", "CRC-32 mismatch")
    version, kind, flags, seq, length = HEADER.unpack_from(body)
    if version != PROTOCOL_VERSION:
        raise FrameError("bad_header", f"protocol version {version}, expected {PROTOCOL_VERSION}")
    auth = AUTH_BYTES if flags & FLAG_AUTH else 0
    if flags & ~FLAG_AUTH or len(body) != HEADER.size + length + auth or length > MAX_PAYLOAD:
        raise FrameError("bad_header", "length or flags do not match the frame")
    if keys is not None:
        if not auth:
            raise FrameError("bad_auth", "unauthenticated frame on an authenticated link")
        key_id = body[HEADER.size + length]
        if key_id not in keys.keys:
            raise FrameError("bad_auth", f"unknown key id {key_id}")
        signed = body[: HEADER.size + length + 1]
        if not hmac.compare_digest(keys.tag(key_id, signed), body[-TAG_BYTES:]):
            raise FrameError("bad_auth", "HMAC tag mismatch")
    return seq, _packet(kind, body[HEADER.size : HEADER.size + length])


class FrameDecoder:
    """Incremental decoder: ``feed(bytes) -> [(seq, packet), ...]``, bounded buffer.

    Everything that fails is dropped and counted in :attr:`counters` (``bad_cobs``,
    ``bad_crc``, ``bad_header``, ``bad_auth``, ``overflow``); decoding resumes at the next
    delimiter, so nothing after a bad frame is lost.
    """

    def __init__(self, keys: Keys | None = None) -> None:
        self.keys = keys
        self.counters: Counter[str] = Counter()
        self._buffer = bytearray()
        self._discarding = False

    def feed(self, data: bytes) -> list[tuple[int, Packet]]:
        out = []
        start = 0
        while True:
            end = data.find(b"\x00", start)
            if end < 0:
                self._append(data[start:])
                return out
            self._append(data[start:end])
            if self._discarding:
                self._discarding = False
            elif self._buffer:
                try:
                    out.append(decode_frame(cobs_decode(bytes(self._buffer)), self.keys))
                    self.counters["frames_in"] += 1
                except FrameError as exc:
                    self.counters[exc.kind] += 1
            self._buffer.clear()
            start = end + 1

    def _append(self, chunk: bytes) -> None:
        if self._discarding:
            return
        self._buffer += chunk
        if len(self._buffer) > MAX_ENCODED:
            # No frame is this long: drop it all and wait for the next delimiter.
            self.counters["overflow"] += 1
            self._buffer.clear()
            self._discarding = True
