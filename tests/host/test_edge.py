"""The demo's edge stage: the spiking R-wave detector on the shipped MIT-BIH excerpts."""

from __future__ import annotations

import numpy as np
import pytest

from host.cmd_sense import sample_folder
from host.edge import DELTA_MV, beat_events, beat_samples, heart_rate, rwave_network
from neuro import run
from neuro.qrs import match_beats
from sensors.encoders import DeltaEncoder
from sensors.events import to_raster
from sensors.records import load


@pytest.mark.parametrize(("record", "extra"), [("mitdb:100", 0), ("mitdb:208", 1)])
def test_detector_finds_every_annotated_beat(record, extra):
    r = load(record, sample_folder()).select(["MLII"])
    events = DeltaEncoder(DELTA_MV, r.fs, origin=r.signal[:, 0])(r.signal)
    out = run(rwave_network(r.fs), to_raster(events, r.fs, r.n_samples, 1)).output[:, 0]
    beats = beat_samples(out, r.fs)
    i_ref, _ = match_beats(r.beats["sample"], beats, r.fs)
    assert len(i_ref) == r.beats.size
    assert beats.size == r.beats.size + extra


def test_chunks_give_the_beats_of_one_run():
    rng = np.random.default_rng(0)
    spikes = (rng.random(5000) < 0.01).astype(np.uint8)
    whole = beat_samples(spikes, 360.0)
    parts, last = [], None
    for start in range(0, 5000, 700):
        b = beat_samples(spikes[start:start + 700], 360.0, start, last)
        last = int(b[-1]) if b.size else last
        parts.append(b)
    np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_beats_become_events_and_a_heart_rate():
    samples = np.array([0, 360, 720, 1080])
    events = beat_events("s", samples, 360.0, 1000.0, "edge")
    assert [e.t for e in events] == [1000.0, 1001.0, 1002.0, 1003.0]
    assert [e.seq for e in events] == samples.tolist() and events[0].name == "beat"
    assert heart_rate(samples, 360.0) == pytest.approx(60.0)
    assert np.isnan(heart_rate(samples[:1], 360.0))
