"""Level-1 state indicators: heart rate and HRV, beat counts, activity, respiratory rate."""

import numpy as np
import pytest

from neuro.state import (
    ACTIVITIES,
    STATE_DTYPE,
    ActivityClassifier,
    StateInputs,
    activity_features,
    from_bytes,
    heart_indicators,
    protocol_labels,
    respiratory_rate,
    state_events,
    windows,
)
from sensors.records import available, load


def test_heart_rate_and_hrv_match_their_definitions():
    rng = np.random.default_rng(0)
    rr = 0.8 + 0.05 * rng.standard_normal(200)
    t = np.cumsum(rr)
    classes = np.full(t.size, "N")
    classes[50] = "V"  # intervals touching the V beat are not NN intervals
    spans = np.array([[t[10], t[120]]])
    got = heart_indicators(t, classes, spans)
    inside = (t[1:] >= spans[0, 0]) & (t[1:] < spans[0, 1])
    ends = np.flatnonzero(inside) + 1
    intervals = t[ends] - t[ends - 1]
    nn = (classes[ends] == "N") & (classes[ends - 1] == "N")
    assert got["hr_bpm"][0] == pytest.approx(60 / intervals.mean())
    assert got["sdnn_ms"][0] == pytest.approx(1e3 * intervals[nn].std(ddof=1))
    pairs = nn[1:] & nn[:-1]
    assert got["rmssd_ms"][0] == pytest.approx(1e3 * np.sqrt(np.mean(np.diff(intervals)[pairs]
                                                                      ** 2)))
    assert got["V"][0] == 1 and got["N"][0] == 109


def test_windows_without_enough_beats_are_nan():
    got = heart_indicators(np.array([1.0, 2.0]), None, np.array([[0.0, 10.0], [10.0, 20.0]]))
    assert np.isnan(got["hr_bpm"]).all() and got["N"].tolist() == [2, 0]


def test_records_travel_as_bytes_and_missing_inputs_are_marked():
    beats = np.arange(0, 120, 0.75)
    out = state_events(StateInputs(120.0, beat_s=beats), window_s=60, step_s=60)
    assert out.dtype == STATE_DTYPE and len(out) == 2
    np.testing.assert_allclose(out["hr_bpm"], 80.0)
    assert np.all(out["activity"] == -1) and np.isnan(out["resp_per_min"]).all()
    assert np.isnan(out["artefact_fraction"]).all()
    flags = np.zeros(60, bool)
    flags[30:45] = True  # 2-s windows 60-90 s flagged by an artefact classifier
    flagged = state_events(StateInputs(120.0, artefact=flags), window_s=60, step_s=60)
    np.testing.assert_allclose(flagged["artefact_fraction"], [0.0, 0.5])
    back = from_bytes(out.tobytes())
    assert back.dtype == STATE_DTYPE and back.tobytes() == out.tobytes()  # NaN != NaN
    with pytest.raises(ValueError, match="whole number"):
        from_bytes(b"abc")


@pytest.mark.parametrize("rate", [9.0, 15.0, 24.0])
def test_respiratory_rate_from_ppg_modulation(rate):
    fs, duration = 125.0, 120.0
    t = np.arange(round(duration * fs)) / fs
    breath = np.sin(2 * np.pi * rate / 60 * t)
    # Respiratory sinus arrhythmia (frequency), stroke volume (amplitude), venous return
    # (baseline) modulations of a 72-bpm pulse train, with sensor noise.
    phase = 2 * np.pi * np.cumsum(1.2 * (1 + 0.05 * breath)) / fs
    pulse = (0.5 * (1 + np.cos(phase))) ** 3
    ppg = (1 + 0.2 * breath) * pulse + 0.3 * np.roll(breath, 40)
    ppg += 0.02 * np.random.default_rng(1).standard_normal(t.size)
    got = respiratory_rate(ppg, fs, windows(duration, 32, 8))
    np.testing.assert_allclose(got, rate, atol=0.6)


def test_activity_classifier_conventions_and_shipped_sample():
    rec = load("spc2015:DATA_01_TYPE01", "host/data")  # 90 s: rest 30 s, then 8 km/h
    spans = windows(rec.duration_s, 8, 4)
    feats = activity_features(rec.signal[3:6], rec.fs, spans)
    labels = protocol_labels(spans)
    assert set(labels.tolist()) == {-1, 0, 1}
    clf = ActivityClassifier()
    with pytest.raises(ValueError, match="lack activities"):
        clf.fit(feats, labels)
    # A run class from the same subject's walk windows, shaken harder, completes the set.
    run = feats[labels == 1] + np.array([1.5, 1.5, 0.8])
    clf.fit(np.vstack([feats, run]), np.concatenate([labels, np.full(len(run), 2)]))
    assert clf.get_params() == {"window_s": 8.0}
    assert np.mean(clf.predict(feats)[labels >= 0] == labels[labels >= 0]) >= 0.9
    with pytest.raises(ValueError, match=r"\[3, samples\]"):
        activity_features(rec.signal[:2], rec.fs, spans)


def test_activity_leave_one_subject_out_on_the_sp_cup(full_data):
    names = [s for s in available(full_data) if s.startswith("spc2015:")]
    feats, labels, subject = [], [], []
    for i, name in enumerate(names):
        rec = load(name, full_data)
        spans = windows(rec.duration_s, 8, 4)
        feats.append(activity_features(rec.signal[3:6], rec.fs, spans))
        labels.append(protocol_labels(spans))
        subject.append(np.full(len(spans), i))
    X, y, g = np.concatenate(feats), np.concatenate(labels), np.concatenate(subject)
    correct = total = 0
    for i in range(len(names)):
        test = (g == i) & (y >= 0)
        clf = ActivityClassifier().fit(X[g != i], y[g != i])
        correct += int(np.sum(clf.predict(X[test]) == y[test]))
        total += int(test.sum())
    # Chance is about 1/3; labels come from the protocol's nominal timing.
    assert correct / total >= 0.7
    rec = load(names[0], full_data)
    out = state_events(StateInputs(rec.duration_s, acc=rec.signal[3:6], ppg=rec.signal[1]),
                       activity=ActivityClassifier().fit(X, y))
    assert set(out["activity"].tolist()) <= set(range(len(ACTIVITIES)))
    assert np.isfinite(out["resp_per_min"]).all()
