"""Fuzzing the decoder: a million random and mutated frames, none accepted, nothing raised.

Sized by NEUROTWIN_FUZZ_FRAMES (default 1 000 000); seeded, so a failure reproduces.
"""

import os

import numpy as np
import pytest

from bridge.codec import FrameDecoder, encode_frame
from bridge.protocol import ConfigWrite, Events, Tick

N_FRAMES = int(os.environ.get("NEUROTWIN_FUZZ_FRAMES", "1000000"))


def mutate(rng: np.random.Generator, body: bytes, other: bytes) -> bytes:
    """One of: bit flips, byte overwrite, truncation, insertion, splice, random bytes."""
    b = bytearray(body)
    kind = rng.integers(6)
    if kind == 0:
        for _ in range(rng.integers(1, 9)):
            b[rng.integers(len(b))] ^= 1 << int(rng.integers(8))
    elif kind == 1:
        b[rng.integers(len(b))] = int(rng.integers(256))
    elif kind == 2:
        del b[rng.integers(1, len(b)):]
    elif kind == 3:
        at = int(rng.integers(len(b) + 1))
        b[at:at] = rng.bytes(int(rng.integers(1, 16)))
    elif kind == 4:
        cut = int(rng.integers(1, min(len(b), len(other))))
        b = b[:cut] + bytearray(other[cut:])
    else:
        b = bytearray(rng.bytes(int(rng.integers(1, 1200))))
    return bytes(b)


@pytest.mark.slow
def test_a_million_hostile_frames_are_all_rejected_and_valid_ones_all_kept():
    rng = np.random.default_rng(2024)
    bases = [
        encode_frame(Events(np.arange(50) // 3, np.arange(50) * 7, np.ones(50, int)), 1),
        encode_frame(Tick(99), 2),
        encode_frame(ConfigWrite(0x80000000, bytes(range(200))), 3),
    ]
    decoder = FrameDecoder()
    accepted = expected = 0
    batch = bytearray()
    for i in range(N_FRAMES):
        base = bases[i % 3]
        if i % 10 == 0:  # every tenth frame is sent intact and must survive its neighbours
            batch += base
            expected += 1
            continue
        damaged = mutate(rng, base[:-1], bases[(i + 1) % 3][:-1])
        batch += damaged + b"\x00"
        # Garbage that ends in a delimiter right before an intact frame, or a splice of two
        # frames sharing a prefix, leaves an intact frame: that one must be accepted.
        expected += sum(piece + b"\x00" in bases for piece in damaged.split(b"\x00"))
        if len(batch) > 1 << 16:
            accepted += len(decoder.feed(bytes(batch)))
            batch.clear()
    accepted += len(decoder.feed(bytes(batch)))
    assert accepted == expected
    rejected = sum(decoder.counters[k] for k in ("bad_cobs", "bad_crc", "bad_header"))
    assert rejected >= N_FRAMES - expected
