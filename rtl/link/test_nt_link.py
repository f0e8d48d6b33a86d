"""nt_link, the wire protocol on a UART in front of the core, against the Python codec.

The host end is bridge's own sans-I/O Session and codec; the UART pins are driven and
sampled bit by bit (bridge.cosim_bench). Every answer the RTL gives is decoded by the Python
decoder, and every frame the RTL accepts was encoded by the Python encoder.
"""

from __future__ import annotations

import struct
import zlib

import cocotb
import numpy as np
import pytest
from cocotb.triggers import ClockCycles
from cocotb.utils import get_sim_time

from bridge.board import event_packets
from bridge.codec import HEADER, FrameDecoder, Keys, cobs_decode, cobs_encode, encode_frame
from bridge.cosim_bench import start
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
    NakReason,
    Status,
    StatusRequest,
    Tick,
)
from bridge.rtl_board import PARAMETER_READ, config_packets, geometry_from, words_of
from bridge.session import Session
from neuro import run
from neuro.random_networks import random_network, random_spikes
from neuro.rtl_compile import compile_network

RTO_CYCLES = 40_000  # the bench's resend timeout, short so that a test can wait for it
PARAMETERS = {"RTO_CYCLES": RTO_CYCLES}


class Host:
    """A host end over the simulated UART: a Session, pumped every few hundred clocks."""

    def __init__(self, dut, source, sink) -> None:
        self.dut = dut
        self.source = source
        self.sink = sink
        self.session = Session(window=16, rto=1e9)
        self.raw: list = []  # (seq, packet) that raw_until saw
        self.raw_decoder = FrameDecoder()  # one for the whole run: frames span calls

    def now(self) -> float:
        return get_sim_time("ns") * 1e-9

    def send(self, packet) -> None:
        self.session.send(packet)

    def write_raw(self, data: bytes) -> None:
        self.source.write(data)

    async def pump(self, cycles: int = 256) -> list:
        self.source.write(self.session.outgoing())
        await ClockCycles(self.dut.clk, cycles)
        return self.session.receive(self.sink.take(), self.now())

    async def raw_until(self, done, limit: int = 40_000) -> list:
        """Packets the edge sends, decoded apart from the session (nothing is ACK'ed)."""
        self.source.write(self.session.outgoing())
        self.raw, got = [], []
        for _ in range(limit // 256):
            await ClockCycles(self.dut.clk, 256)
            self.raw += self.raw_decoder.feed(self.sink.take())
            got = [p for _, p in self.raw]
            if done(got):
                return got
        raise AssertionError(f"no answer within {limit} clocks; got {got}; {self.state()}")

    def state(self) -> str:
        link = self.dut.link
        return ", ".join(f"{k}={getattr(link, k).value}" for k in (
            "ds", "es", "ps", "tb_state", "p_active", "out_steps", "p_target", "p_count",
            "in_steps", "rx_expected", "tb_seq", "buf_full"))

    async def until(self, done, limit: int = 400_000) -> list:
        got = []
        for _ in range(limit // 256):
            got += await self.pump()
            if done(got):
                return got
        raise AssertionError(f"no answer within {limit} clocks; got {got}; {self.state()}")

    async def hello(self) -> str:
        self.send(Hello(1, 1024, "host"))
        got = await self.until(lambda ps: any(isinstance(p, Hello) for p in ps))
        return next(p for p in got if isinstance(p, Hello)).name

    async def read(self, address: int, words: int) -> np.ndarray:
        self.send(ConfigRead(address, 4 * words))
        got = await self.until(lambda ps: any(isinstance(p, ConfigData | Error) for p in ps))
        data = next(p for p in got if isinstance(p, ConfigData | Error))
        assert isinstance(data, ConfigData), data
        assert data.address == address
        return words_of(data.data)

    async def status(self) -> dict[str, int]:
        self.send(StatusRequest())
        got = await self.until(lambda ps: any(isinstance(p, Status) for p in ps))
        return next(p for p in got if isinstance(p, Status)).counters

    async def idle(self) -> None:
        for _ in range(2000):
            await self.pump()
            if self.session.idle:
                return
        raise AssertionError(f"frames left unacknowledged: {list(self.session._in_flight)}, "
                             f"{len(self.session._pending)} pending; raw {self.raw}; "
                             f"{self.state()}")


async def host(dut) -> Host:
    source, sink = await start(dut)
    h = Host(dut, source, sink)
    assert await h.hello() == "neurotwin-rtl"
    return h


@cocotb.test()
async def hello_config_and_status(dut) -> None:
    """Hello answers with the board's name; CONFIG_WRITE lands, CONFIG_READ reads it back;
    STATUS counts the frames exactly."""
    h = await host(dut)
    params = await h.read(PARAMETER_READ.address, 6)
    assert params.tolist() == [256, 256, 4, 4, 256 * 256 // 4, 0]
    layer = [0, 37, 200, 123, 0xE, 4095, 1, 131071, 0]
    h.send(ConfigWrite(0x110, np.array(layer, "<u4").tobytes()))
    rng = np.random.default_rng(1)
    mant, exp = rng.integers(-4096, 4096, 40), rng.integers(0, 8, 40)
    bias = (exp << 16) | (mant & 0xFFFF)  # 13-bit mantissa, read back sign-extended
    h.send(ConfigWrite(0x1000, bias.astype("<u4").tobytes()))
    assert (await h.read(0x110, 9)).tolist() == layer
    assert (await h.read(0x1000, 40)).tolist() == bias.tolist()
    await h.idle()
    sent = h.session.counters["frames_out"]
    received = h.session.decoder.counters["frames_in"]
    counters = await h.status()
    # every frame we sent (ACKs included) and the status request; every frame we received
    assert counters["frames_in"] == sent + 1, (counters, sent)
    assert counters["frames_out"] == received, (counters, received)
    assert {k: v for k, v in counters.items()
            if k not in ("frames_in", "frames_out") and v} == {}


@cocotb.test()
async def bad_frames_are_counted_and_dropped(dut) -> None:
    """Corrupt, truncated, malformed, foreign-version, oversized and garbage frames are counted
    exactly as the Python decoder counts them, and the link goes on; an authenticated frame,
    which this end cannot check, is bad_auth."""
    h = await host(dut)
    good = encode_frame(ConfigRead(0x004, 4), 1)
    rng = np.random.default_rng(5)
    flipped = bytearray(good)
    flipped[12] ^= 0x10
    foreign = bytearray(cobs_decode(good[:-1]))
    foreign[0] = 2
    foreign[-4:] = zlib.crc32(bytes(foreign[:-4])).to_bytes(4, "little")
    bad = [bytes(flipped),                                   # bad_crc
           bytes([0x09, 1, 2, 3, 0]),                        # bad_cobs: block past the end
           cobs_encode(b"\x01\x11\x00\x00") + b"\x00",  # bad_header: too short
           cobs_encode(bytes(foreign)) + b"\x00",           # bad_header: version 2
           bytes([0x7F] * 1500) + b"\x00",                  # overflow
           *(bytes(rng.integers(0, 256, int(n), dtype=np.uint8)) + b"\x00"
             for n in rng.integers(1, 80, 20))]              # garbage
    python = FrameDecoder()
    for frame in bad:
        assert python.feed(frame) == []
        h.write_raw(frame)
    h.write_raw(encode_frame(ConfigRead(0x004, 4), 1, Keys({1: b"k" * 16}, 1)))
    await ClockCycles(dut.clk, 45 * sum(len(f) for f in bad) + 3000)
    assert (await h.read(0x004, 2)).tolist() == [256, 256]
    counters = await h.status()
    for kind in ("bad_crc", "bad_cobs", "bad_header", "overflow"):
        assert counters[kind] == python.counters[kind], (kind, counters, python.counters)
    assert counters["bad_auth"] == 1


@cocotb.test()
async def lost_frames_are_recovered(dut) -> None:
    """A frame after a gap is NAK'ed and dropped; a repeated one is a duplicate, answered
    with an ACK; an answer whose ACK is lost comes again after RTO_CYCLES."""
    h = await host(dut)
    h.write_raw(encode_frame(ConfigRead(0x004, 4), 1))  # seq 0 never came
    answers = await h.raw_until(lambda ps: Ack(0, 1) in ps)
    assert Nak(0, NakReason.GAP) in answers and Ack(0, 1) in answers, answers
    h.send(ConfigRead(0x005, 4))  # seq 0
    await h.until(lambda ps: any(isinstance(p, ConfigData) for p in ps))
    await h.idle()
    h.write_raw(encode_frame(ConfigRead(0x005, 4), 0))  # seq 0 again
    assert Ack(1, 1) in await h.raw_until(lambda ps: Ack(1, 1) in ps)
    # Seq 1, and no ACK from us for the answer: it must come again after the timeout.
    h.session.send(ConfigRead(0x004, 4))
    first = await h.raw_until(lambda ps: any(isinstance(p, ConfigData) for p in ps))
    seen = list(h.raw)
    again = await h.raw_until(lambda ps: any(isinstance(p, ConfigData) for p in ps),
                              RTO_CYCLES + 20_000)
    assert [p for p in again if isinstance(p, ConfigData)] == \
           [p for p in first if isinstance(p, ConfigData)]
    h.session.receive(b"".join(encode_frame(p, seq) for seq, p in seen + h.raw))
    await h.idle()
    counters = await h.status()
    assert counters["out_of_order"] == 1 and counters["duplicates"] == 1, counters
    assert counters["retransmits"] == 1, counters


@cocotb.test()
async def a_network_runs_like_the_reference(dut) -> None:
    """Compiled configuration in, events in, RUN: the output EVENTS and TICK give the
    reference's last-layer spikes, and u and v read back equal the reference's."""
    h = await host(dut)
    geometry = geometry_from(await h.read(PARAMETER_READ.address, 4))
    for seed in (3, 11):
        net = random_network(seed, max_layers=2, max_neurons=24)
        spikes = random_spikes(seed, net.n_inputs, steps=40)
        image = compile_network(net, geometry)
        for packet in config_packets(image.writes):
            h.send(packet)
        h.send(Control(ControlOp.RESET, 0))
        t, x = np.nonzero(spikes[0])
        for packet in event_packets(t, x, np.ones(t.size, np.int64)):
            h.send(packet)
        h.send(Control(ControlOp.RUN, spikes.shape[1]))
        got = await h.until(lambda ps: any(isinstance(p, Tick | Error) for p in ps),
                            4_000_000)
        assert not [p for p in got if isinstance(p, Error)], got
        out = np.zeros((spikes.shape[1], net.layers[-1].n_neurons), np.uint8)
        for p in got:
            if isinstance(p, Events):
                out[p.t, p.x] = 1
        want = run(net, spikes)
        assert np.array_equal(out, want.spikes[-1][0]), f"seed {seed}"
        u_addr, v_addr = image.state_addresses(len(net.layers) - 1)
        u = (await h.read(int(u_addr[0]), len(u_addr))).view(np.int32)
        v = (await h.read(int(v_addr[0]), len(v_addr))).view(np.int32)
        assert np.array_equal(u, want.u[-1][0, -1]) and np.array_equal(v, want.v[-1][0, -1])


@cocotb.test()
async def an_event_for_a_step_already_run_is_an_error(dut) -> None:
    h = await host(dut)
    h.send(Control(ControlOp.RESET, 0))
    h.send(Tick(5))
    h.send(Events(np.array([2]), np.array([0]), np.array([1])))
    got = await h.until(lambda ps: any(isinstance(p, Error) for p in ps))
    error = next(p for p in got if isinstance(p, Error))
    assert error.code == ErrorCode.BAD_STATE and error.detail == 2


@cocotb.test()
async def bad_requests_are_answered_with_errors(dut) -> None:
    """ERROR(bad config) names what a check found: the address of a write or read that runs
    past the memory map, the CONTROL op the board does not take, the length of an EVENTS
    frame whose count disagrees with it."""
    h = await host(dut)
    h.send(ConfigWrite(0x1FFFF, np.zeros(2, "<u4").tobytes()))
    h.send(ConfigRead(0x1FFFE, 12))
    h.send(Control(ControlOp.STREAM, 1))
    got = await h.until(lambda ps: sum(isinstance(p, Error) for p in ps) == 3)
    await h.idle()
    # EVENTS with a count of 2 and one event, past the session: its encoder keeps them apart
    payload = struct.pack("<IH", 0, 2) + bytes([5, 0, 1, 0])
    frame = HEADER.pack(1, 0x01, 0, h.session._next_seq, len(payload)) + payload
    h.write_raw(cobs_encode(frame + struct.pack("<I", zlib.crc32(frame))) + b"\x00")
    h.session._next_seq += 1
    got += await h.until(lambda ps: any(isinstance(p, Error) for p in ps))
    assert [(p.code, p.detail) for p in got if isinstance(p, Error)] == [
        (ErrorCode.BAD_CONFIG, 0x1FFFF), (ErrorCode.BAD_CONFIG, 0x1FFFE),
        (ErrorCode.BAD_CONFIG, ControlOp.STREAM), (ErrorCode.BAD_CONFIG, len(payload))]


TESTS = ["hello_config_and_status", "bad_frames_are_counted_and_dropped",
         "lost_frames_are_recovered", "a_network_runs_like_the_reference",
         "an_event_for_a_step_already_run_is_an_error", "bad_requests_are_answered_with_errors"]


@pytest.mark.rtl
@pytest.mark.parametrize("case", TESTS)
def test_nt_link(bench, case):
    bench.run("up5k_link_top", case, PARAMETERS)
