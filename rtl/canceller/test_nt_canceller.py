"""nt_canceller, the spiking canceller's step and learning unit, against the reference.

The shipped SP Cup 2015 recording (90 s of wrist PPG and acceleration, rest then running)
goes through the PPG front end and the reference SpikingCanceller; the RTL gets the same
delivered event counts, sample by sample, and must give the same u, v and spikes of both
error neurons of both PPG channels at every step, the same programming pulses, and the same
learned mantissas and counters at the end (learning on all the way).
"""

from __future__ import annotations

import cocotb
import numpy as np
import pytest
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge

from host.cmd_sense import sample_folder
from neuro.canceller_ppg import PPGFrontEnd, ppg_channels
from neuro.canceller_snn import SpikingCanceller
from sensors.records import load

RECORD = "spc2015:DATA_01_TYPE01"
TAPS, SPACING = 16, 5


def packed(values: np.ndarray) -> int:
    """Signed 8-bit values, the first in the low byte."""
    return int.from_bytes(np.asarray(values, np.int8).tobytes(), "little")


def words(value: int, n: int) -> np.ndarray:
    """n signed 32-bit words of a flat vector, the first in the low bits."""
    return np.frombuffer(value.to_bytes(4 * n, "little"), "<i4").astype(np.int64)


def reference_run(seconds: float) -> tuple[SpikingCanceller, np.ndarray, np.ndarray]:
    recording = load(RECORD, sample_folder()).excerpt(0.0, seconds)
    primary, reference = PPGFrontEnd()(*ppg_channels(recording), recording.fs)
    canceller = SpikingCanceller(fs=recording.fs).fit(primary, reference)
    return canceller, *canceller.events_


@cocotb.test()
async def matches_the_reference_with_learning(dut) -> None:
    canceller, cp, cr = reference_run(90.0)
    n_p, n = cp.shape
    assert np.abs(cp).max() < 128 and np.abs(cr).max() < 128
    Clock(dut.clk, 10, unit="ns", impl="gpi").start()
    threshold, limit = canceller._step_size()
    dut.primary_weight.value = int(canceller.primary_weight)
    dut.weight_exp.value = int(canceller.weight_exp) & 0xF
    dut.du.value = int(canceller.du)
    dut.vth.value = int(canceller.vth)
    dut.threshold.value = threshold
    dut.limit.value = limit
    dut.rule.value = 0
    dut.learning.value = 1
    dut.m_we.value = 0
    dut.m_addr.value = 0
    dut.m_wdata.value = 0
    dut.step_valid.value = 0
    dut.cp.value = 0
    dut.cr.value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    pulses = np.zeros(n_p * 3 * TAPS, np.int64)

    async def count_pulses() -> None:
        while True:
            await RisingEdge(dut.clk)
            if int(dut.pulse_valid.value):
                pulses[int(dut.pulse_addr.value)] += 1

    cocotb.start_soon(count_pulses())
    u = np.zeros((n, n_p, 2), np.int64)
    v = np.zeros((n, n_p, 2), np.int64)
    s = np.zeros((n, n_p, 2), np.int64)
    cycles = []
    for t in range(n):
        await FallingEdge(dut.clk)
        dut.cp.value = packed(cp[:, t])
        dut.cr.value = packed(cr[:, t])
        dut.step_valid.value = 1
        await FallingEdge(dut.clk)
        dut.step_valid.value = 0
        start = cocotb.utils.get_sim_time("ns")
        await RisingEdge(dut.out_valid)
        cycles.append((cocotb.utils.get_sim_time("ns") - start) / 10)
        await FallingEdge(dut.clk)
        u[t] = words(int(dut.u_out.value), 2 * n_p).reshape(n_p, 2)
        v[t] = words(int(dut.v_out.value), 2 * n_p).reshape(n_p, 2)
        bits = int(dut.s_out.value)
        s[t] = np.array([(bits >> i) & 1 for i in range(2 * n_p)]).reshape(n_p, 2)
    for name, got, want in (("u", u, canceller.current_), ("v", v, canceller.voltage_),
                            ("spikes", s, canceller.spikes_)):
        bad = np.argwhere(got != want)
        assert bad.size == 0, f"{name} differs first at step {bad[0][0]}: " \
                              f"{got[bad[0][0]]} != {want[bad[0][0]]}"
    m = np.zeros(n_p * 3 * TAPS, np.int64)
    acc = np.zeros_like(m)
    for i in range(m.size):
        dut.m_addr.value = i
        await FallingEdge(dut.clk)
        m[i] = dut.m_rdata.value.to_signed()
        acc[i] = dut.acc_rdata.value.to_signed()
    assert np.array_equal(m, canceller.coef_.ravel())
    assert np.array_equal(acc, canceller.accumulator_.ravel())
    assert np.array_equal(pulses, canceller.pulse_counts_.ravel())
    assert canceller.pulse_counts_.sum() > 100  # it did learn, many times over
    dut._log.info(f"{n} steps, {int(s.sum())} error spikes, {int(pulses.sum())} pulses; "
                  f"clocks per step: mean {np.mean(cycles):.1f}, max {max(cycles):.0f}")


@pytest.mark.rtl
def test_canceller_rtl_equals_the_reference(bench):
    bench.run("nt_canceller", "matches_the_reference_with_learning", {})
