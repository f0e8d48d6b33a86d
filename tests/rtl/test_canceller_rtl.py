"""``SpikingCanceller(backend="rtl")``: the Verilog unit, chunk by chunk, equals the reference.

On an excerpt of the shipped SP Cup 2015 recording around the onset of running (where the
taps learn), streamed through the RTL in chunks cut at random points: every cleaned sample,
u, v and error spike, and the learned taps, counters and pulses are the reference's over the
whole excerpt in one call. ``SIM`` picks the simulator (``nox -s rtl`` runs both).
"""

from __future__ import annotations

import itertools
import json
import os

import numpy as np
import pytest

from host.cli import main
from host.cmd_sense import sample_folder
from neuro.canceller_ppg import PPGFrontEnd, ppg_channels
from neuro.canceller_snn import SpikingCanceller
from sensors.records import load

SIM = os.environ.get("SIM", "icarus")
RECORD = "spc2015:DATA_01_TYPE01"


def excerpt(start_s: float, stop_s: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Front-end output (primaries [2, n], references [3, n]) of the shipped recording."""
    recording = load(RECORD, sample_folder()).excerpt(start_s, stop_s)
    return *PPGFrontEnd()(*ppg_channels(recording), recording.fs), recording.fs


@pytest.mark.rtl
def test_rtl_streamed_in_chunks_equals_the_reference_in_one_call():
    primary, reference, fs = excerpt(24.0, 44.0)  # 2500 samples: rest, then running
    whole = SpikingCanceller(fs=fs).fit(primary, reference)
    rtl = SpikingCanceller(fs=fs, backend="rtl", sim=SIM)
    n = primary.shape[1]
    cuts = np.r_[0, np.sort(np.random.default_rng(7).choice(np.arange(2, n), 3, False)), n]
    cuts = np.unique(np.r_[cuts, cuts[1] + 1])  # and a chunk of one sample
    pieces = []
    for a, b in itertools.pairwise(cuts):
        rtl.partial_fit(primary[:, a:b], reference[:, a:b])
        pieces.append((rtl.cleaned_, rtl.current_, rtl.voltage_, rtl.spikes_))
    np.testing.assert_array_equal(np.concatenate([p[0] for p in pieces], axis=1),
                                  whole.cleaned_)
    for i, name in enumerate(("current_", "voltage_", "spikes_"), start=1):
        np.testing.assert_array_equal(np.concatenate([p[i] for p in pieces]),
                                      getattr(whole, name), err_msg=name)
    for name in ("coef_", "accumulator_", "pulse_counts_"):
        np.testing.assert_array_equal(getattr(rtl, name), getattr(whole, name), err_msg=name)
    assert whole.pulses_ > 50  # the excerpt does learn
    # One sample period at 125 Hz is 96 000 clocks at 12 MHz; a step takes 210 with learning.
    assert rtl.cycles_.max() <= 210


@pytest.mark.rtl
def test_eval_ppg_on_the_rtl_reports_the_reference_figures(tmp_path, capsys):
    """The CLI's JSON with --backend rtl: the reference's numbers, the backend named."""
    recording = load(RECORD, sample_folder()).excerpt(30.0, 50.0)
    recording.save(tmp_path / "spc2015_DATA_01_TYPE01.npz")
    reports = {}
    for backend in ("reference", "rtl"):
        assert main(["eval", "ppg", "--data", str(tmp_path), "--backend", backend, "--sim",
                     SIM, "--json"]) == 0
        reports[backend] = json.loads(capsys.readouterr().out)
    assert reports["rtl"].pop("backend") == "rtl"
    assert reports["reference"].pop("backend") == "reference"
    assert reports["rtl"] == reports["reference"]
    assert reports["rtl"]["windows"] == 7


@pytest.mark.rtl
def test_rtl_equals_the_reference_in_another_geometry_and_rule():
    """One primary, 2 references, 8 taps 3 apart (the state port's widest memory is then a
    delay line, not the taps), the sign-error rule, a dead zone and a negative weight
    exponent; two chunks."""
    rng = np.random.default_rng(3)
    n = 1500
    t = np.arange(n) / 125.0
    reference = np.cumsum(rng.normal(0, 0.01, (2, n)), axis=1)  # g
    primary = (np.sin(2 * np.pi * 1.2 * t) + 8 * reference[0]
               - 5 * np.roll(reference[1], 6))[None]
    params = {"taps": 8, "tap_spacing": 3, "rule": "sign-error", "update_threshold": 256,
              "dead_zone": 0.05, "weight_exp": -1, "primary_weight": 100}
    whole = SpikingCanceller(**params).fit(primary, reference)
    rtl = SpikingCanceller(backend="rtl", sim=SIM, **params)
    first = rtl.partial_fit(primary[:, :700], reference[:, :700]).current_
    second = rtl.partial_fit(primary[:, 700:], reference[:, 700:]).current_
    np.testing.assert_array_equal(np.concatenate([first, second]), whole.current_)
    np.testing.assert_array_equal(rtl.coef_, whole.coef_)
    np.testing.assert_array_equal(rtl.pulse_counts_, whole.pulse_counts_)
    assert whole.pulses_ > 10
