"""The cocotb side of the spiking canceller on the RTL: a driver for ``nt_canceller``.

Runs inside the HDL simulator (Icarus or Verilator), started by
:mod:`neuro.backends.canceller_rtl` or by the bench in ``rtl/canceller``. The
:class:`CancellerDriver` configures the unit, loads and reads its state through the state port,
steps it one sample at a time and collects what it produced; it computes no expected values
(callers compare with the reference :class:`~neuro.canceller_snn.SpikingCanceller`).

Reset, configuration and state-port words are applied at falling clock edges, where the DUT's
registered outputs are settled, so they read the same on every simulator; a step's counts go
in at the out_valid of the step before (:meth:`CancellerDriver.run`).
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.simtime import get_sim_time
from cocotb.triggers import FallingEdge, RisingEdge

from neuro.backends.canceller_rtl import CONFIG, STATE

CLOCK_NS = 10


def packed(values: np.ndarray) -> int:
    """Signed 8-bit values as one vector, the first in the low byte."""
    return int.from_bytes(np.asarray(values, np.int8).tobytes(), "little")


def words(value: int, n: int) -> np.ndarray:
    """n signed 32-bit words of a flat vector, the first in the low bits."""
    return np.frombuffer(value.to_bytes(4 * n, "little"), "<i4").astype(np.int64)


@dataclass
class StepRecords:
    """What the unit produced over a run of steps."""

    u: np.ndarray        # [steps, primaries, 2] (e+, e-), int64
    v: np.ndarray        # likewise
    spikes: np.ndarray   # likewise, uint8
    pulses: np.ndarray   # programming pulses per mantissa address [N_P N_R TAPS], int64
    cycles: np.ndarray   # clocks from accepting each step to its out_valid [steps], int64


class CancellerDriver:
    """nt_canceller under test: clock, reset, configuration, the state port and steps."""

    def __init__(self, dut, n_synapses: int) -> None:
        self.dut = dut
        self.pulses = np.zeros(n_synapses, np.int64)

    async def start(self, config: Mapping[str, int]) -> None:
        """Start the clock, apply the configuration, reset (all state zero), start the pulse
        monitor."""
        dut = self.dut
        Clock(dut.clk, CLOCK_NS, unit="ns", impl="gpi").start()
        for name in CONFIG:
            value = int(config[name])
            # weight_exp is a 4-bit two's-complement port
            getattr(dut, name).value = value & 0xF if name == "weight_exp" else value
        for sig in (dut.st_we, dut.st_sel, dut.st_addr, dut.st_wdata, dut.step_valid, dut.cp,
                    dut.cr):
            sig.value = 0
        dut.rst.value = 1
        for _ in range(3):
            await FallingEdge(dut.clk)
        dut.rst.value = 0
        cocotb.start_soon(self._count_pulses())

    async def _count_pulses(self) -> None:
        # Woken per burst of pulses rather than per clock: a learning sweep may pulse on
        # consecutive clocks (pulse_valid stays high), so the burst is followed clock by clock.
        dut = self.dut
        while True:
            await RisingEdge(dut.pulse_valid)
            await FallingEdge(dut.clk)
            while int(dut.pulse_valid.value):
                self.pulses[int(dut.pulse_addr.value)] += 1
                await FallingEdge(dut.clk)

    async def load_state(self, state: Mapping[str, np.ndarray]) -> None:
        """Write the nonzero words of ``state`` (flat int arrays by :data:`STATE` name) through
        the state port; after reset the others are zero already."""
        dut = self.dut
        dut.st_we.value = 1
        for sel, name in enumerate(STATE):
            values = np.asarray(state[name], np.int64).ravel()
            for addr in np.flatnonzero(values).tolist():
                dut.st_sel.value = sel
                dut.st_addr.value = addr
                dut.st_wdata.value = int(values[addr]) & 0xFFFFFFFF
                await FallingEdge(dut.clk)
        dut.st_we.value = 0

    async def read_state(self, sizes: Mapping[str, int]) -> dict[str, np.ndarray]:
        """Read ``sizes[name]`` words of each memory back (int64 arrays)."""
        dut = self.dut
        out = {}
        for sel, name in enumerate(STATE):
            values = np.zeros(sizes[name], np.int64)
            for addr in range(sizes[name]):
                dut.st_sel.value = sel
                dut.st_addr.value = addr
                await FallingEdge(dut.clk)  # st_rdata is registered: one clock per word
                values[addr] = dut.st_rdata.value.to_signed()
            out[name] = values
        return out

    async def run(self, cp: np.ndarray, cr: np.ndarray) -> StepRecords:
        """Step the unit once per column of the delivered counts cp [P, n], cr [R, n].

        step_valid stays high and the next step's counts go in at each out_valid: the unit
        is idle from that edge and accepts them at the next, so steps run back to back and
        the simulator wakes Python once per step.
        """
        dut = self.dut
        n_p, n = cp.shape
        u = np.zeros((n, n_p, 2), np.int64)
        v = np.zeros((n, n_p, 2), np.int64)
        s = np.zeros((n, n_p, 2), np.uint8)
        cycles = np.zeros(n, np.int64)
        first = self.pulses.copy()
        cp_words = [packed(cp[:, t]) for t in range(n)]
        cr_words = [packed(cr[:, t]) for t in range(n)]
        accepted = get_sim_time("ns") + CLOCK_NS / 2  # called at a falling edge, unit idle
        dut.step_valid.value = 1
        for t in range(n):
            dut.cp.value = cp_words[t]
            dut.cr.value = cr_words[t]
            await RisingEdge(dut.out_valid)
            now = get_sim_time("ns")
            cycles[t] = round((now - accepted) / CLOCK_NS)
            accepted = now + CLOCK_NS
            # The records were registered clocks before out_valid: settled now.
            u[t] = words(int(dut.u_out.value), 2 * n_p).reshape(n_p, 2)
            v[t] = words(int(dut.v_out.value), 2 * n_p).reshape(n_p, 2)
            bits = int(dut.s_out.value)
            s[t] = [[(bits >> (2 * p + j)) & 1 for j in range(2)] for p in range(n_p)]
        dut.step_valid.value = 0
        await FallingEdge(dut.clk)  # the state port's reads start at a falling edge
        return StepRecords(u, v, s, self.pulses - first, cycles)


@cocotb.test()
async def run_job(dut) -> None:
    """Entry point of ``SpikingCanceller(backend="rtl")``: one chunk from the job file (the
    configuration, the stream's state and the delivered counts), its records and the state it
    leaves into the result file."""
    job = pickle.loads(Path(os.environ["NEUROTWIN_RTL_JOB"]).read_bytes())
    state = job["state"]
    driver = CancellerDriver(dut, state["m"].size)
    await driver.start(job["config"])
    await driver.load_state(state)
    records = await driver.run(job["cp"], job["cr"])
    after = await driver.read_state({name: np.asarray(state[name]).size for name in STATE})
    np.savez(os.environ["NEUROTWIN_RTL_RESULT"], u=records.u, v=records.v,
             spikes=records.spikes, pulses=records.pulses, cycles=records.cycles,
             **{f"state_{name}": value for name, value in after.items()})
