"""Reliable delivery: every packet exactly once and in order over a damaged link."""

import numpy as np
import pytest

from bridge.codec import Keys, encode_frame
from bridge.faults import ByteFaults
from bridge.protocol import Events, Tick
from bridge.session import Session


def event_stream(n_events: int, per_packet: int, seed: int = 0) -> list[Events]:
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.integers(0, 3, n_events))
    x = rng.integers(0, 65536, n_events)
    p = rng.choice([-1, 1], n_events)
    return [Events(t[i:i + per_packet], x[i:i + per_packet], p[i:i + per_packet])
            for i in range(0, n_events, per_packet)]


def transfer(packets, a: Session, b: Session, ab=None, ba=None, dt=0.01, limit=1e5):
    """Run both ends on a simulated clock until b has everything and a is acknowledged."""
    got, now, k = [], 0.0, 0
    ab, ba = ab or (lambda d: d), ba or (lambda d: d)
    while len(got) < len(packets) or not a.idle:
        while k < len(packets) and len(a._pending) < 32:
            a.send(packets[k])
            k += 1
        got += b.receive(ab(a.outgoing()), now)
        a.receive(ba(b.outgoing()), now)
        a.poll(now)
        b.poll(now)
        now += dt
        assert now < limit, "link made no progress"
    return got


def test_clean_link_delivers_in_order_without_retransmission():
    packets = event_stream(5000, 100)
    a, b = Session(), Session()
    assert transfer(packets, a, b) == packets
    assert a.counters["retransmits"] == 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_one_percent_faulty_bytes_lose_and_duplicate_nothing(seed):
    """1 % of bytes damaged in each direction: a quarter each dropped, corrupted,
    duplicated and reordered."""
    packets = event_stream(20000, 8, seed)
    faults = {k: 0.0025 for k in ("p_drop", "p_corrupt", "p_duplicate", "p_reorder")}
    ab = ByteFaults(**faults, random_state=seed)
    ba = ByteFaults(**faults, random_state=seed + 100)
    a, b = Session(rto=0.05), Session(rto=0.05)
    got = transfer(packets, a, b, ab, ba)
    assert got == packets
    sent = np.concatenate([p.x for p in packets])
    assert np.array_equal(np.concatenate([p.x for p in got]), sent)
    # The counters say what happened on the way.
    assert min(ab.counters.values()) > 0
    assert b.counters["bad_crc"] + b.counters["bad_cobs"] > 0
    assert a.counters["retransmits"] > 0 and b.counters["out_of_order"] > 0


def test_sender_never_exceeds_the_receivers_credit():
    a, b = Session(window=4), Session(window=4)
    for i in range(20):
        a.send(Tick(i))
    first = a.outgoing()
    assert first.count(b"\x00") == 1  # one frame until the peer's window is known
    assert b.receive(first) == [Tick(0)]
    assert a.receive(b.outgoing()) == []
    assert a.outgoing().count(b"\x00") == 4  # the Ack granted four (dropped here)
    assert transfer([], a, b) == [Tick(i) for i in range(1, 20)]  # resent after the timeout


def test_resend_timeout_follows_the_round_trip():
    """A peer that answers after 0.5 s gets no copies once its round trip is measured,
    and the timeout doubles while nothing is acknowledged."""
    a, b = Session(rto=0.05), Session()
    now = 0.0
    for i in range(6):
        a.send(Tick(i))
        b.receive(a.outgoing(), now)
        now += 0.5
        a.receive(b.outgoing(), now)
    assert a.timeout >= 0.5 and a.counters["retransmits"] == 0
    a.send(Tick(99))
    a.outgoing()
    before = a.timeout
    for k in range(1, 40):
        a.poll(now + 0.1 * k)
    assert a.counters["retransmits"] >= 1 and a.timeout >= 2 * before


def test_authenticated_link_rejects_replays_and_forgeries():
    keys = Keys({1: b"s" * 32}, send_id=1)
    a, b = Session(keys), Session(keys)
    a.send(Tick(1))
    first = a.outgoing()
    assert b.receive(first) == [Tick(1)]
    assert b.receive(first) == []  # the same frame again: a replay
    forged = encode_frame(Tick(2), 1)  # no tag
    wrong_key = encode_frame(Tick(2), 1, Keys({1: b"w" * 32}, send_id=1))
    assert b.receive(forged + wrong_key) == []
    assert b.counters["replayed"] == 1
    assert b.counters["bad_auth"] == 2
