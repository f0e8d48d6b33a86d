"""nt_canceller, the spiking canceller's step and learning unit, against the reference.

The shipped SP Cup 2015 recording (90 s of wrist PPG and acceleration, rest then running)
goes through the PPG front end and the reference SpikingCanceller; the RTL gets the same
delivered event counts, sample by sample, and must give the same u, v and spikes of both
error neurons of both PPG channels at every step, the same programming pulses, and the same
state at the end, read back through its state port: learned mantissas and counters, delay
lines, traces, u, v and the ring position (learning on all the way). The driver is the one
``SpikingCanceller(backend="rtl")`` uses (:mod:`neuro.backends.canceller_rtl_bench`).
"""

from __future__ import annotations

import cocotb
import numpy as np
import pytest

from host.cmd_sense import sample_folder
from neuro.backends.canceller_rtl import STATE
from neuro.backends.canceller_rtl_bench import CancellerDriver
from neuro.canceller_ppg import PPGFrontEnd, ppg_channels
from neuro.canceller_snn import SpikingCanceller
from sensors.records import load

RECORD = "spc2015:DATA_01_TYPE01"


def reference_run(seconds: float) -> SpikingCanceller:
    recording = load(RECORD, sample_folder()).excerpt(0.0, seconds)
    primary, reference = PPGFrontEnd()(*ppg_channels(recording), recording.fs)
    return SpikingCanceller(fs=recording.fs).fit(primary, reference)


@cocotb.test()
async def matches_the_reference_with_learning(dut) -> None:
    canceller = reference_run(90.0)
    cp, cr = canceller.events_
    assert np.abs(cp).max() < 128 and np.abs(cr).max() < 128
    threshold, limit = canceller._step_size()
    driver = CancellerDriver(dut, canceller.coef_.size)
    await driver.start({"primary_weight": canceller.primary_weight,
                        "weight_exp": canceller.weight_exp, "du": canceller.du,
                        "vth": canceller.vth, "threshold": threshold, "limit": limit,
                        "rule": 0, "learning": 1})
    got = await driver.run(cp, cr)
    for name, rtl, want in (("u", got.u, canceller.current_), ("v", got.v, canceller.voltage_),
                            ("spikes", got.spikes, canceller.spikes_)):
        bad = np.argwhere(rtl != want)
        assert bad.size == 0, f"{name} differs first at step {bad[0][0]}: " \
                              f"{rtl[bad[0][0]]} != {want[bad[0][0]]}"
    assert np.array_equal(got.pulses, canceller.pulse_counts_.ravel())
    want = {"m": canceller.coef_, "acc": canceller.accumulator_, "hc": canceller.hist_c_,
            "ht": canceller.hist_tr_, "tr": canceller.trace_, "u": canceller.u_,
            "v": canceller.v_, "pos": canceller.ring_}
    state = await driver.read_state({name: want[name].size for name in STATE})
    for name in STATE:
        assert np.array_equal(state[name], want[name].ravel()), f"state {name} differs"
    assert canceller.pulse_counts_.sum() > 100  # it did learn, many times over
    dut._log.info(f"{cp.shape[1]} steps, {int(got.spikes.sum())} error spikes, "
                  f"{int(got.pulses.sum())} pulses; clocks per step: mean "
                  f"{got.cycles.mean():.1f}, max {got.cycles.max()}")


@pytest.mark.rtl
def test_canceller_rtl_equals_the_reference(bench):
    bench.run("nt_canceller", "matches_the_reference_with_learning", {})
