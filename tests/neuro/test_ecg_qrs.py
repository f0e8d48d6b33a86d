"""Streaming QRS detection and AAMI EC57 beat matching."""

import numpy as np
import pytest

from neuro.qrs import QrsDetector, detect_beats, match_beats
from sensors.physiology import ECG
from sensors.records import load


def sensitivity_ppv(reference, detected, fs):
    i, _ = match_beats(reference, detected, fs)
    return i.size / reference.size, i.size / detected.size


# The synthetic AF draws some RR intervals below the 200-ms refractory period (74 samples at
# 360 Hz); a detector with that refractory period misses those by design.
@pytest.mark.parametrize(("rhythm", "min_se"), [("sinus", 1.0), ("pvc", 1.0), ("af", 0.97)])
def test_finds_synthetic_beats_within_150_ms(rhythm, min_se):
    rec = ECG(heart_rate_bpm=80, rhythm=rhythm, pvc_fraction=0.2).generate(60, random_state=1)
    found = detect_beats(rec.signal[0], rec.fs)
    se, ppv = sensitivity_ppv(rec.beats["sample"], found, rec.fs)
    assert se >= min_se and ppv == 1.0
    i, j = match_beats(rec.beats["sample"], found, rec.fs)
    # The R peak itself, not just the QRS complex: within 35 ms.
    assert np.abs(found[j] - rec.beats["sample"][i]).max() <= 0.035 * rec.fs


def test_chunks_sample_by_sample_or_whole_give_the_same_beats():
    x = load("mitdb:208", "host/data").signal[0][:20_000]
    whole = detect_beats(x, 360.0)
    rng = np.random.default_rng(0)
    cuts = np.sort(rng.integers(0, x.size, 40))
    detector = QrsDetector(360.0)
    pieces = [detector(x[a:b]) for a, b in zip(np.r_[0, cuts], np.r_[cuts, x.size],
                                                 strict=True)]
    np.testing.assert_array_equal(np.concatenate([*pieces, detector.finish()]), whole)
    detector.reset()
    single = [detector(x[k:k + 1]) for k in range(3000)]
    rest = [detector(x[3000:]), detector.finish()]
    np.testing.assert_array_equal(np.concatenate(single + rest), whole)
    assert detector.samples_ == x.size and detector.beats_ == whole.size


def test_shipped_excerpts_are_detected():
    for name in ("mitdb:100", "mitdb:208"):
        rec = load(name, "host/data")
        se, ppv = sensitivity_ppv(rec.beats["sample"], detect_beats(rec.signal[0], rec.fs),
                                  rec.fs)
        assert se >= 0.99 and ppv >= 0.99, name


def test_matching_pairs_each_beat_once_within_the_tolerance():
    fs = 100.0
    ref = np.array([100, 200, 300, 400])
    det = np.array([110, 195, 205, 312, 520])  # 312: 120 ms off; 520: nothing near
    i, j = match_beats(ref, det, fs, tolerance_s=0.15)
    assert list(zip(i.tolist(), j.tolist(), strict=True)) == [(0, 0), (1, 1), (2, 3)]
    assert match_beats(ref, np.empty(0, int), fs)[0].size == 0


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="sample rate"):
        QrsDetector(20.0)
    with pytest.raises(ValueError, match="NaN"):
        QrsDetector(360.0)(np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match="1-D"):
        QrsDetector(360.0)(np.zeros((2, 10)))


def test_mitdb_records_meet_the_detection_figures(full_data):
    tp = n_ref = n_det = 0
    for name in ("100", "105", "106", "203", "208", "228"):
        rec = load(f"mitdb:{name}", full_data)
        found = detect_beats(rec.signal[0], rec.fs)
        i, _ = match_beats(rec.beats["sample"], found, rec.fs)
        tp, n_ref, n_det = tp + i.size, n_ref + rec.beats.size, n_det + found.size
    assert tp / n_ref >= 0.99 and tp / n_det >= 0.99
