"""up5k_top, the FPGA build's top: a network loaded and run through the byte-wide host bus.

Everything goes through the 8-bit bus the UART framer will drive: configuration writes from
neuro.rtl_compile, AER events and ticks in, output events out, and u and v read back at the
end; the reference simulator gives the expected spikes and state.
"""

from __future__ import annotations

import cocotb
import numpy as np
import pytest
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from neuro import run
from neuro.random_networks import random_network, random_spikes
from neuro.rtl_compile import AER_TICK, CoreGeometry, aer_words, compile_network

# The core up5k_top instantiates.
GEOMETRY = CoreGeometry(n_neurons=256, n_inputs=256, n_layers=4, lanes=4, n_cores=1)
DATA, ADDR, CMD = 0, 4, 7
CFG_WRITE, CFG_READ, AER_PUSH, AER_POP = 1, 2, 4, 8
BUSY, OUT_WAITING = 1, 2


class HostBus:
    """Driver of the byte-wide host bus: register writes and reads, then commands."""

    def __init__(self, dut) -> None:
        self.dut = dut

    async def put(self, reg: int, byte: int) -> None:
        dut = self.dut
        dut.host_a.value = reg
        dut.host_d.value = byte
        dut.host_wr.value = 1
        await FallingEdge(dut.clk)
        dut.host_wr.value = 0

    async def get(self, reg: int) -> int:
        self.dut.host_a.value = reg
        await FallingEdge(self.dut.clk)  # host_q is registered: one cycle to show the register
        await FallingEdge(self.dut.clk)
        return self.dut.host_q.value.to_unsigned()

    async def command(self, cmd: int, data: int | None = None, addr: int | None = None) -> None:
        if data is not None:
            for i in range(4):
                await self.put(DATA + i, data >> (8 * i) & 0xFF)
        if addr is not None:
            for i in range(3):
                await self.put(ADDR + i, addr >> (8 * i) & 0xFF)
        await self.put(CMD, cmd)
        while await self.get(CMD) & BUSY:
            pass

    async def read_word(self, addr: int) -> int:
        await self.command(CFG_READ, addr=addr)
        return sum([await self.get(DATA + i) << (8 * i) for i in range(4)])


@cocotb.test()
async def network_runs_through_the_host_bus(dut):
    Clock(dut.clk, 10, unit="ns", impl="gpi").start()
    dut.rst_n.value = 1
    dut.host_wr.value = 0
    dut.host_a.value = 0
    dut.host_d.value = 0
    for _ in range(20):  # the power-on reset
        await FallingEdge(dut.clk)
    bus = HostBus(dut)
    net = random_network(9, max_layers=2, max_neurons=12)
    steps = 25
    spikes = random_spikes(9, net.n_inputs, steps)[0]
    image = compile_network(net, GEOMETRY)
    for addr, data in image.writes.tolist():
        await bus.command(CFG_WRITE, data=data, addr=addr)
    events: list[list[int]] = []
    for words in aer_words(spikes):
        for word in words.tolist():
            await bus.command(AER_PUSH, data=word)
        step: list[int] = []
        while True:
            while not await bus.get(CMD) & OUT_WAITING:
                pass
            await bus.command(AER_POP)
            word = await bus.get(DATA) | await bus.get(DATA + 1) << 8
            if word & AER_TICK:
                break
            step.append(word & 0xFF)
        events.append(step)
    want = run(net, spikes)
    got = np.zeros((steps, net.layers[-1].n_neurons), np.uint8)
    for t, idx in enumerate(events):
        got[t, idx] = 1
    assert np.array_equal(got, want.output), "output events differ from the reference"
    for i in range(len(net.layers)):
        u_addr, v_addr = image.state_addresses(i)
        u = [await bus.read_word(int(a)) for a in u_addr]
        v = [await bus.read_word(int(a)) for a in v_addr]
        last = {k: want.arrays()[f"{k}_{i}"][-1] for k in ("u", "v")}
        assert np.array_equal(np.array(u, np.uint32).view(np.int32), last["u"]), i
        assert np.array_equal(np.array(v, np.uint32).view(np.int32), last["v"]), i


@pytest.mark.rtl
def test_up5k_top_runs_a_network(bench):
    bench.run("up5k_top", "network_runs_through_the_host_bus", {})
