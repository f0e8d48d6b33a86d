"""The simulator side of co-simulation: UART pins driven and sampled by cocotb.

:class:`UartSource` drives the RTL's receive pin from bytes and :class:`UartSink` rebuilds the
bytes on its transmit pin, bit by bit at ``CLKS_PER_BIT`` clocks per bit, as a USB-serial
bridge would on a board. :func:`relay` is the cocotb test that ``neurotwin cosim`` runs: it
connects to the relay socket of :mod:`bridge.cosim` and moves bytes between it and the pins, so
the host speaks to the simulated UART exactly as it would to a board's serial port.
"""

from __future__ import annotations

import collections
import os
import select
import socket

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge

CLOCK_NS = 84  # about 12 MHz, the oscillator of common UP5K boards
CLKS_PER_BIT = 4  # 3 Mbaud at 12 MHz (up5k_link_top's default)
POLL_CYCLES = 256  # clocks between looks at the relay socket while the link is busy


class UartSource:
    """Drives an 8N1 receive pin from a byte queue."""

    def __init__(self, clk, pin, clks_per_bit: int = CLKS_PER_BIT) -> None:
        self.clk = clk
        self.pin = pin
        self.clks = clks_per_bit
        self.queue: collections.deque[int] = collections.deque()
        self.busy = False
        pin.value = 1

    def write(self, data: bytes) -> None:
        self.queue.extend(data)

    async def run(self) -> None:
        while True:
            if not self.queue:
                self.busy = False
                await RisingEdge(self.clk)
                continue
            self.busy = True
            byte = self.queue.popleft()
            for bit in (0, *((byte >> i) & 1 for i in range(8)), 1):
                self.pin.value = bit
                await ClockCycles(self.clk, self.clks)


class UartSink:
    """Rebuilds the bytes of an 8N1 transmit pin, sampled in the middle of each bit."""

    def __init__(self, clk, pin, clks_per_bit: int = CLKS_PER_BIT) -> None:
        self.clk = clk
        self.pin = pin
        self.clks = clks_per_bit
        self.received = bytearray()
        self.busy = False
        self.framing_errors = 0

    def take(self) -> bytes:
        data = bytes(self.received)
        self.received.clear()
        return data

    async def run(self) -> None:
        while True:
            await FallingEdge(self.pin)
            self.busy = True
            await ClockCycles(self.clk, self.clks // 2)
            byte = 0
            for i in range(8):
                await ClockCycles(self.clk, self.clks)
                byte |= int(self.pin.value) << i
            await ClockCycles(self.clk, self.clks)
            if int(self.pin.value):
                self.received.append(byte)
            else:
                self.framing_errors += 1
            self.busy = False


async def start(dut) -> tuple[UartSource, UartSink]:
    """Clock the top, hold the line idle through the power-on reset, start the pins."""
    Clock(dut.clk, CLOCK_NS, unit="ns", impl="gpi").start()
    source = UartSource(dut.clk, dut.uart_rx)
    sink = UartSink(dut.clk, dut.uart_tx)
    await ClockCycles(dut.clk, 32)
    cocotb.start_soon(source.run())
    cocotb.start_soon(sink.run())
    return source, sink


@cocotb.test()
async def relay(dut) -> None:
    """Serve the top's UART on the relay socket named by ``NEUROTWIN_COSIM_SOCKET``.

    While the link is busy (``led_busy``) or bytes are moving the simulation runs freely and
    looks at the socket every POLL_CYCLES clocks; when everything is quiet it blocks on the
    socket, so an idle co-simulation costs no CPU. Returns when the relay closes.
    """
    source, sink = await start(dut)
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(os.environ["NEUROTWIN_COSIM_SOCKET"])
    conn.setblocking(False)
    quiet = 0
    while True:
        busy = bool(int(dut.led_busy.value)) or source.busy or source.queue or sink.busy
        quiet = 0 if busy else quiet + 1
        ready, _, _ = select.select([conn], [], [], 0.05 if quiet > 4 else 0)
        if ready:
            data = conn.recv(1 << 16)
            if not data:
                break
            source.write(data)
        out = sink.take()
        if out:
            conn.setblocking(True)
            conn.sendall(out)
            conn.setblocking(False)
        await ClockCycles(dut.clk, POLL_CYCLES)
    conn.close()
