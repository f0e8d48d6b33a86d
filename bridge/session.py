"""Reliable, flow-controlled delivery over a lossy byte stream (sans-I/O).

A :class:`Session` sits on one end of a link. ``send(packet)`` queues a sequenced frame;
``receive(data, now)`` takes whatever bytes arrived and returns the packets delivered in
order, exactly once; ``poll(now)`` retransmits what timed out; ``outgoing()`` hands over the
bytes to write. No I/O happens here, so the same object serves a serial port, a socket, a
simulator or a test that injects faults.

Mechanism (docs/protocol.md): every non-link packet carries a 32-bit sequence number. The
receiver delivers seq == expected, holds later frames inside its window, drops earlier ones
as duplicates (replays, on an authenticated link), and answers with a cumulative Ack
(``next_seq`` = expected, ``credits`` = window) and a Nak for the first missing frame. The
sender keeps at most ``credits`` frames beyond the peer's ``next_seq`` in flight (one until the
peer's first Ack says its window: an edge may hold a single frame), resends a Nak'ed frame at
once and the oldest unacknowledged one after a timeout that follows the measured round trip
(RFC 6298: smoothed RTT plus four deviations, samples only from frames sent once, doubled on
each timeout), so a slow peer such as the RTL under simulation is not flooded with copies.
"""

from __future__ import annotations

from collections import Counter, OrderedDict

from bridge.codec import FrameDecoder, Keys, encode_frame
from bridge.protocol import UNSEQUENCED, Ack, Hello, Nak, NakReason, Packet

DEFAULT_WINDOW = 16
MAX_RTO = 60.0  # seconds: the longest the resend timeout grows to


class Session:
    """One end of a reliable link; see the module docstring.

    Args:
        keys: HMAC keys for an authenticated link (both ends need them), or None.
        window: frames this end accepts beyond the next expected one (its credit).
        rto: the least time (s) without acknowledgement before the oldest frame is sent
            again; the timeout adapts to the measured round trip above it.
    """

    def __init__(self, keys: Keys | None = None, window: int = DEFAULT_WINDOW,
                 rto: float = 0.2) -> None:
        if not 1 <= window <= 0xFFFF:
            raise ValueError(f"window must lie in [1, 65535], got {window}")
        self.keys = keys
        self.window = window
        self.rto = rto
        self.timeout = rto
        self._now = 0.0
        self._srtt: float | None = None
        self._rttvar = 0.0
        self.decoder = FrameDecoder(keys)
        self.counters: Counter[str] = Counter()
        self._out = bytearray()
        self.restart()

    def restart(self) -> None:
        """Forget both directions' sequence state: a new conversation (see Hello)."""
        self._next_seq = 0
        self._pending: list[tuple[int, bytes]] = []  # waiting for credit
        self._in_flight: OrderedDict[int, bytes] = OrderedDict()
        self._sent_at: dict[int, float] = {}  # first transmissions, for RTT samples
        self._peer_next = 0
        self._peer_credits = 1  # until the peer's first Ack tells its window
        self._last_progress: float | None = None  # when the oldest frame was last heard of
        self._expected = 0
        self._held: dict[int, Packet] = {}
        self._nak_sent: int | None = None

    # -- sending ---------------------------------------------------------------------------

    def send(self, packet: Packet) -> None:
        """Queue a packet for reliable, in-order delivery (Ack, Nak and Hello go at once,
        unsequenced; sending a Hello restarts this end's sequence numbers)."""
        if isinstance(packet, UNSEQUENCED):
            if isinstance(packet, Hello):
                self.restart()
            self._control(packet)
            return
        frame = encode_frame(packet, self._next_seq, self.keys)
        self._pending.append((self._next_seq, frame))
        self._next_seq = (self._next_seq + 1) & 0xFFFFFFFF
        self._release()

    def _release(self) -> None:
        limit = self._peer_next + self._peer_credits
        while self._pending and self._pending[0][0] < limit:
            seq, frame = self._pending.pop(0)
            self._in_flight[seq] = frame
            self._sent_at[seq] = self._now
            self._write(frame)

    def _write(self, frame: bytes) -> None:
        self._out += frame
        self.counters["frames_out"] += 1

    def _control(self, packet: Packet) -> None:
        self._write(encode_frame(packet, 0, self.keys))

    @property
    def idle(self) -> bool:
        """True when everything sent has been acknowledged."""
        return not self._pending and not self._in_flight

    def outgoing(self) -> bytes:
        """Bytes to write to the link now (and forget)."""
        data = bytes(self._out)
        self._out.clear()
        return data

    def poll(self, now: float) -> None:
        """Resend the oldest unacknowledged frame if nothing was acknowledged for the
        timeout (:attr:`timeout`, s), and double the timeout."""
        self._now = now
        if not self._in_flight:
            self._last_progress = None
        elif self._last_progress is None:
            self._last_progress = now
        elif now - self._last_progress >= self.timeout:
            seq, frame = next(iter(self._in_flight.items()))
            self._resend(seq, frame)
            self.timeout = min(2 * self.timeout, MAX_RTO)
            self._last_progress = now

    def _resend(self, seq: int, frame: bytes) -> None:
        self._sent_at.pop(seq, None)  # Karn: a resent frame's Ack says nothing of the RTT
        self._write(frame)
        self.counters["retransmits"] += 1

    def _sample_rtt(self, rtt: float) -> None:
        if self._srtt is None:
            self._srtt, self._rttvar = rtt, rtt / 2
        else:
            self._rttvar = 0.75 * self._rttvar + 0.25 * abs(self._srtt - rtt)
            self._srtt = 0.875 * self._srtt + 0.125 * rtt
        self.timeout = min(max(self._srtt + 4 * self._rttvar, self.rto), MAX_RTO)

    # -- receiving -------------------------------------------------------------------------

    def receive(self, data: bytes, now: float = 0.0) -> list[Packet]:
        """Take bytes from the link; return the packets now deliverable, in order."""
        self._now = now
        delivered: list[Packet] = []
        answer = False
        for seq, packet in self.decoder.feed(data):
            if isinstance(packet, Hello):
                # The peer starts a new conversation; earlier frames belong to the old one.
                self.restart()
                delivered.clear()
                answer = False
                delivered.append(packet)
            elif isinstance(packet, UNSEQUENCED):
                self._link_packet(packet, now)
            else:
                answer = True
                self._sequenced(seq, packet, delivered)
        if answer:
            self._control(Ack(self._expected, self.window))
            if self._held and self._nak_sent != self._expected:
                self._control(Nak(self._expected, NakReason.GAP))
                self._nak_sent = self._expected
        for key, value in self.decoder.counters.items():
            self.counters[key] = value
        return delivered

    def _sequenced(self, seq: int, packet: Packet, delivered: list[Packet]) -> None:
        ahead = (seq - self._expected) & 0xFFFFFFFF
        if ahead == 0:
            delivered.append(packet)
            self._expected = (self._expected + 1) & 0xFFFFFFFF
            while self._expected in self._held:
                delivered.append(self._held.pop(self._expected))
                self._expected = (self._expected + 1) & 0xFFFFFFFF
        elif ahead < self.window:
            self.counters["out_of_order"] += 1
            self._held.setdefault(seq, packet)
        elif ahead >= 0x80000000:
            # Behind the window: already delivered. On an authenticated link a frame with
            # a valid tag and an old sequence number is a replay.
            self.counters["replayed" if self.keys else "duplicates"] += 1
        else:
            self.counters["beyond_window"] += 1

    def _link_packet(self, packet: Packet, now: float) -> None:
        if isinstance(packet, Ack):
            acked = (packet.next_seq - self._peer_next) & 0xFFFFFFFF
            if acked < 0x80000000:
                for seq in list(self._in_flight):
                    if (packet.next_seq - seq - 1) & 0xFFFFFFFF < 0x80000000:
                        del self._in_flight[seq]
                        sent = self._sent_at.pop(seq, None)
                        if sent is not None:
                            self._sample_rtt(now - sent)
                if acked:
                    self._last_progress = now
                self._peer_next = packet.next_seq
            self._peer_credits = packet.credits
            self._release()
        elif isinstance(packet, Nak) and packet.seq in self._in_flight:
            self._resend(packet.seq, self._in_flight[packet.seq])
