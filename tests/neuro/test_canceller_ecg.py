"""The cancellers on ECG with modelled electrode motion (shipped MIT-BIH 100 excerpt)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from neuro.canceller_ecg import (
    beat_scores,
    detect_beats,
    make_ecg_canceller,
    motion_mixture,
    output_snr_db,
)
from sensors.records import load


@pytest.fixture(scope="module")
def record():
    return load("mitdb:100", Path(str(resources.files("host.data"))))


@pytest.mark.parametrize(("method", "gain_db"), [("snn", 3.0), ("nlms", 6.0), ("rls", 8.0)])
def test_cancellers_raise_the_snr_of_ecg_at_0_db(record, method, gain_db):
    """At 0 dB input SNR each canceller gains at least ``gain_db`` (measured: snn +5.5,
    nlms +8.6, rls +10.5 dB on this excerpt); see docs/ppg.md for the high-SNR limit."""
    mix = motion_mixture(record, 0.0, random_state=0)
    start = round(10 * mix.fs)
    before = output_snr_db(mix.clean, mix.primary[0], start)
    after = make_ecg_canceller(method, fs=mix.fs).fit_transform(mix.primary, mix.reference)
    assert output_snr_db(mix.clean, after[0], start) - before > gain_db


def test_mixture_is_at_the_requested_snr_and_keeps_the_beats(record):
    mix = motion_mixture(record, 6.0, random_state=1)
    assert mix.primary.shape == (1, record.n_samples) and mix.reference.shape[0] == 3
    # The front end's band limits shift the SNR a little from the mixing SNR.
    assert output_snr_db(mix.clean, mix.primary[0]) == pytest.approx(6.0, abs=1.5)
    se, pp = beat_scores(detect_beats(mix.clean, mix.fs), mix.beats, round(0.15 * mix.fs))
    assert se > 0.98 and pp > 0.98


def test_beat_scores_match_each_annotation_once():
    se, pp = beat_scores(np.array([10, 12, 100, 300]), np.array([11, 100, 200]), 5)
    assert se == pytest.approx(2 / 3) and pp == pytest.approx(2 / 4)
    assert beat_scores(np.array([50]), np.array([50, 500]), 5) == (0.5, 1.0)
    assert beat_scores(np.array([], int), np.array([1]), 5)[0] == 0.0
    with pytest.raises(ValueError, match="no annotated beats"):
        beat_scores(np.array([1]), np.array([], int), 5)
