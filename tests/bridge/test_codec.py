"""The wire codec: round trips, any chunking, and corrupt or hostile input never accepted."""

import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.codec import (
    MAX_ENCODED,
    FrameDecoder,
    Keys,
    cobs_decode,
    cobs_encode,
    encode_frame,
)
from bridge.protocol import (
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
    Status,
    StatusRequest,
    Tick,
)

PACKETS = [
    Events(np.array([7, 7, 9, 262]), np.array([0, 65535, 3, 1]), np.array([1, -1, 1, 1])),
    Events(np.array([], int), np.array([], int), np.array([], int)),
    Tick(12345),
    ConfigWrite(0x80000010, b"\x00\x00weights\x00"),
    ConfigRead(16, 256),
    ConfigData(16, bytes(range(256))),
    Control(ControlOp.RUN, 500),
    StatusRequest(),
    Status({"frames_in": 3, "bad_crc": 1}),
    Ack(2**32 - 1, 16),
    Nak(5),
    Error(ErrorCode.OVERFLOW, 9),
    Hello(1, 1024, "virtual:reference"),
]


@given(st.binary(max_size=2000))
def test_cobs_round_trip_has_no_zero_bytes(data):
    encoded = cobs_encode(data)
    assert b"\x00" not in encoded
    assert cobs_decode(encoded) == data


@pytest.mark.parametrize("packet", PACKETS, ids=lambda p: type(p).__name__)
def test_every_packet_type_round_trips(packet):
    (seq, back), = FrameDecoder().feed(encode_frame(packet, 77))
    assert seq == 77
    if isinstance(packet, Status):
        assert {k: back.counters[k] for k in packet.counters} == packet.counters
    else:
        assert back == packet


@settings(max_examples=200)
@given(st.lists(st.integers(1, 64), min_size=1, max_size=400))
def test_any_chunking_gives_the_same_frames(cuts):
    stream = b"".join(encode_frame(p, i) for i, p in enumerate(PACKETS))
    decoder, got, pos = FrameDecoder(), [], 0
    for cut in cuts:
        got += decoder.feed(stream[pos : pos + cut])
        pos += cut
    got += decoder.feed(stream[pos:])
    assert [seq for seq, _ in got] == list(range(len(PACKETS)))


def test_garbage_before_and_between_frames_is_dropped_and_counted():
    frame = encode_frame(Tick(1), 0)
    decoder = FrameDecoder()
    got = decoder.feed(b"\x13\x37garbage\x00" + frame + b"\x05junk\x00" + frame)
    assert [p for _, p in got] == [Tick(1), Tick(1)]
    assert decoder.counters["bad_cobs"] + decoder.counters["bad_crc"] \
        + decoder.counters["bad_header"] == 2


def test_oversized_input_without_delimiter_is_bounded_then_resynchronises():
    decoder = FrameDecoder()
    assert decoder.feed(b"\x01" * (3 * MAX_ENCODED)) == []
    assert decoder.counters["overflow"] == 1
    assert len(decoder._buffer) == 0
    assert decoder.feed(b"\x00" + encode_frame(Tick(3), 1)) == [(1, Tick(3))]


def test_every_single_bit_flip_is_rejected():
    frame = encode_frame(PACKETS[0], 9)
    for i in range(len(frame) - 1):
        for bit in range(8):
            damaged = bytearray(frame)
            damaged[i] ^= 1 << bit
            assert FrameDecoder().feed(bytes(damaged) + b"\x00") == [], (i, bit)


def resealed(frame: bytes, flip_at: int) -> bytes:
    """A frame with one bit changed and a valid CRC again, as an attacker would send it."""
    body = bytearray(cobs_decode(frame[:-1])[:-4])
    body[flip_at] ^= 0x01
    return cobs_encode(bytes(body) + zlib.crc32(body).to_bytes(4, "little")) + b"\x00"


def test_authenticated_frames_reject_tampering_and_missing_tags():
    keys = Keys({3: b"k" * 32}, send_id=3)
    good = encode_frame(Tick(5), 1, keys)
    decoder = FrameDecoder(keys)
    assert decoder.feed(good) == [(1, Tick(5))]
    unauthenticated = encode_frame(Tick(5), 2)
    other_key = encode_frame(Tick(5), 3, Keys({3: b"x" * 32}, send_id=3))
    tampered = resealed(encode_frame(Tick(5), 4, keys), flip_at=9)
    assert decoder.feed(unauthenticated + other_key + tampered) == []
    assert decoder.counters["bad_auth"] == 3
    assert decoder.counters["bad_crc"] == 0
