"""The level-1 beat classifier: features, spike encoding, training, decisions and AAMI scores."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from neuro.ecg import (
    CLASSES,
    N_RR,
    BeatEncoding,
    EcgBeatClassifier,
    EcgError,
    EcgFilter,
    aami_report,
    beat_features,
    decide,
    intra_split,
    lead_signal,
    merge_classifiers,
    record_beats,
    rr_intervals,
    subsample_normal,
)
from sensors.encoders import LevelCrossingEncoder
from sensors.events import to_raster
from sensors.physiology import ECG

FS = 360.0


def synthetic(seed: int, duration_s: float = 90.0, **kw):
    rec = ECG(heart_rate_bpm=75, rhythm="pvc", pvc_fraction=0.25, **kw).generate(
        duration_s, FS, random_state=seed)
    return dataclasses.replace(rec, channels=("MLII",))


def test_filter_is_streaming():
    x = synthetic(0, 20).signal[0]
    whole = EcgFilter(FS)(x)
    f = EcgFilter(FS)
    np.testing.assert_allclose(np.concatenate([f(x[:1000]), f(x[1000:1001]), f(x[1001:])]),
                               whole, rtol=0, atol=1e-12)


def test_rr_features_are_causal_but_for_the_next_interval():
    r = np.cumsum(np.full(40, 300))
    later = r.copy()
    later[30:] += 90  # change the rhythm from beat 30 on
    a, b = rr_intervals(r, FS), rr_intervals(later, FS)
    np.testing.assert_array_equal(a[:29], b[:29])  # beat 29's next interval changed
    assert a[29, 1] != b[29, 1] and np.array_equal(a[29, [0, 2, 3, 4]], b[29, [0, 2, 3, 4]])
    np.testing.assert_allclose(a[5], [300 / FS] * 4 + [0.0])


def test_prematurity_is_relative_to_the_rhythms_irregularity():
    rng = np.random.default_rng(0)
    regular = np.full(60, 0.8)
    regular[40], regular[41] = 0.5, 1.1  # a premature beat and its compensatory pause
    irregular = rng.uniform(0.5, 1.1, 60)  # atrial fibrillation: every RR is different
    irregular[40] = 0.5
    enc = BeatEncoding(rr_irregularity=True)
    codes = [enc.rr_codes(rr_intervals(np.cumsum(np.round(FS * x)), FS))
             for x in (regular, irregular)]
    # Both beats 40 are as short (RR 0.5 s) against a similar local mean; only the one in the
    # regular rhythm is premature in units of the irregularity, and only it has a pause.
    assert codes[0].shape == (60, 8) and enc.n_rr_features == 8
    assert codes[0][40, 6] > 0.6 > 0.3 > codes[1][40, 6]
    assert codes[0][40, 7] > 0.6 and abs(codes[0][20, 6]) < 1e-9
    assert BeatEncoding().rr_codes(rr_intervals(
        np.cumsum(np.full(20, 300)), FS)).shape == (20, 6)


def test_features_hold_window_deviation_and_rr():
    rec = synthetic(1, 60)
    enc = BeatEncoding()
    X, r = beat_features(rec.signal[0], FS, rec.beats["sample"])
    assert X.shape == (rec.beats.size, 2 * enc.window + N_RR) and X.dtype == np.float32
    # The fiducial point is the R peak (the window's largest value, at 250 ms).
    assert np.abs(r - rec.beats["sample"]).max() <= 0.02 * FS
    normal = rec.beats["aami"] == "N"
    peak = X[normal, round(0.25 * FS)]
    np.testing.assert_allclose(np.median(peak), 1.0, atol=0.1)  # in units of recent R
    deviation = np.abs(X[:, enc.window:2 * enc.window]).mean(axis=1)
    assert deviation[~normal].mean() > 3 * deviation[normal][1:].mean()


def test_encoding_is_the_level_crossing_encoders_events_plus_rr_and_phase():
    rec = synthetic(2, 30)
    X, _ = beat_features(rec.signal[0], FS, rec.beats["sample"])
    enc = BeatEncoding()
    spikes = enc(X)
    assert spikes.shape == (len(X), enc.n_steps, enc.n_inputs) and spikes.dtype == np.uint8
    assert set(np.unique(spikes)) <= {0, 1} and spikes[:, -enc.tail:].sum() == 0
    n_levels = len(enc.levels)
    encoder = LevelCrossingEncoder(enc.levels, FS, initial=enc.levels.index(0.0))
    one = to_raster(encoder(X[3:4, :enc.window]), 1 / enc.dt, enc.window_steps, n_levels)
    np.testing.assert_array_equal(spikes[3, :enc.window_steps, :2 * n_levels], one)
    rr = spikes[:, :, 4 * n_levels:4 * n_levels + 60].reshape(len(X), enc.n_steps, 6, 10)
    # Thermometer codes: a level fires only if every level below it does.
    assert np.all(np.diff(rr.astype(int), axis=3) <= 0)
    assert rr[:, 1:enc.rr_period].sum() == 0 and rr[:, 0].sum() > 0
    assert BeatEncoding.from_json(enc.to_json()) == enc
    # Model files from before the irregularity features read without them.
    new = BeatEncoding(rr_irregularity=True)
    assert new.n_inputs == enc.n_inputs + 20 and new(X).shape[2] == new.n_inputs
    old = json.loads(new.to_json())
    del old["rr_irregularity"]
    assert BeatEncoding.from_json(json.dumps(old)) == enc
    with pytest.raises(ValueError, match="feature rows"):
        enc(X[:, :-1])


def test_p_wave_codes_see_the_dominant_p_wave_and_this_beats_match():
    rec = synthetic(3, 40)
    X, _ = beat_features(rec.signal[0], FS, rec.beats["sample"])
    enc = BeatEncoding(p_wave=True)
    codes = enc.p_codes(X.astype(float))
    assert codes.shape == (len(X), 3) and enc.n_rr_features == 9
    normal = rec.beats["aami"] == "N"
    # Sinus beats match their patient's P wave; a beat with its P region flattened does not
    # have one, and the dominant beat's P wave is the same for both.
    assert np.median(codes[normal, 2]) > 0.4
    flat = X.astype(float).copy()
    lo, hi = round((0.25 - 0.23) * FS), round((0.25 - 0.08) * FS)
    flat[:, lo:hi] = 0.0
    flat[:, enc.window + lo:enc.window + hi] = -X[:, lo:hi] + X[:, enc.window + lo:
                                                             enc.window + hi]
    flat_codes = enc.p_codes(flat)
    np.testing.assert_allclose(flat_codes[:, 0], codes[:, 0], atol=1e-5)
    assert np.all(flat_codes[normal, 1] < codes[normal, 1])
    spikes = enc(X)
    assert spikes.shape[2] == enc.n_inputs == BeatEncoding().n_inputs + 30
    old = json.loads(enc.to_json())
    del old["p_wave"]
    assert BeatEncoding.from_json(json.dumps(old)) == BeatEncoding()


def test_merged_classifiers_run_as_one_network_that_averages_their_drives(tmp_path: Path):
    train = record_beats(synthetic(10))
    models = [EcgBeatClassifier(hidden=(8,), epochs=2, quantise_epochs=1,
                                random_state=s).fit(train.X, train.reference) for s in (0, 1)]
    merged = merge_classifiers(models)
    assert merged.network_.sizes == [models[0].encoding_.n_inputs, 16, 5]
    w = [m.float_network_.layers[1].weights / m.float_network_.layers[1].vth for m in models]
    np.testing.assert_allclose(merged.float_network_.layers[1].weights, np.hstack(w) / 2)
    # One model merged alone is that model; files load with their own threshold scale.
    paths = [tmp_path / f"m{k}.nir" for k in range(2)]
    for m, p in zip(models, paths, strict=True):
        m.save(p)
    loaded = [EcgBeatClassifier.load(p) for p in paths]
    np.testing.assert_array_equal(merge_classifiers(loaded[:1]).predict(train.X),
                                  models[0].predict(train.X))
    assert merge_classifiers(loaded).network_.sizes == merged.network_.sizes
    path = tmp_path / "merged.nir"
    merged.save(path)
    again = EcgBeatClassifier.load(path)
    np.testing.assert_array_equal(again.predict(train.X), merged.predict(train.X))
    with pytest.raises(EcgError, match="no models"):
        merge_classifiers([])


def test_decision_takes_most_spikes_then_earliest_then_n():
    out = np.zeros((4, 6, 5), np.uint8)
    out[0, [1, 3], 2] = 1  # V twice
    out[0, 0, 1] = 1
    out[1, 2, 3] = out[1, 1, 4] = 1  # tie: Q fired first
    out[2, 4, 0] = out[2, 4, 1] = 1  # tie at the same step: lower index
    assert decide(out).tolist() == [2, 4, 0, 0]  # the last stream is silent: N


def test_aami_report_counts_extra_and_missed_beats():
    ref = np.array(["N", "N", "V", "V", "S", ""])
    pred = np.array(["N", "V", "V", "N", "S", "V"])
    report = aami_report(ref, pred, missed={"N": 0, "S": 1, "V": 0, "F": 0, "Q": 0})
    assert report["beats"] == 5 and report["confusion"][0] == [1, 0, 1, 0, 0]
    assert report["per_class"]["V"]["se"] == 0.5 and report["per_class"]["V"]["ppv"] == 1 / 3
    assert report["per_class"]["S"]["se"] == 0.5 and report["per_class"]["F"]["se"] is None
    assert report["accuracy"] == 3 / 7
    assert report["detection"] == {"matched": 5, "missed": 1, "extra": 1, "se": 5 / 6,
                                   "ppv": 5 / 6}


def test_protocol_helpers():
    y = np.array(["N"] * 100 + ["V"] * 10)
    test = intra_split(y, 0.5, 0)
    assert test[:100].sum() == 50 and test[100:].sum() == 5
    np.testing.assert_array_equal(test, intra_split(y, 0.5, 0))
    idx = subsample_normal(y, 20, 0)
    assert (y[idx] == "N").sum() == 20 and (y[idx] == "V").sum() == 10


def test_classifier_follows_estimator_conventions_and_learns_pvcs(tmp_path: Path):
    train = [record_beats(synthetic(s)) for s in (10, 11)]
    X = np.concatenate([b.X for b in train])
    y = np.concatenate([b.reference for b in train])
    clf = EcgBeatClassifier(hidden=(16,), epochs=4, quantise_epochs=1, random_state=0)
    assert clf.get_params()["hidden"] == (16,) and not hasattr(clf, "network_")
    with pytest.raises(EcgError, match="not trained"):
        clf.predict(X)
    assert clf.fit(X, y) is clf
    sizes = clf.network_.sizes
    assert sizes == [clf.encoding_.n_inputs, 16, 5]
    test = record_beats(synthetic(12))
    predicted = clf.predict(test.X)
    assert np.mean(predicted == test.reference) >= 0.95
    path = tmp_path / "ecg.nir"
    clf.save(path)
    again = EcgBeatClassifier.load(path)
    assert again.network_ == clf.network_ and again.encoding_ == clf.encoding_
    np.testing.assert_array_equal(again.predict(test.X), predicted)
    with pytest.raises(ValueError, match="labels must be AAMI"):
        EcgBeatClassifier(epochs=1).fit(X[:4], ["N", "X", "N", "N"])


def test_model_files_of_other_networks_and_missing_leads_are_refused():
    with pytest.raises(EcgError, match="not an ECG beat classifier"):
        EcgBeatClassifier.load("models/demo.nir")
    with pytest.raises(EcgError, match="does not exist"):
        EcgBeatClassifier.load("models/none.nir")
    rec = dataclasses.replace(synthetic(3, 10), channels=("V5",))
    with pytest.raises(EcgError, match=r"no lead MLII \(it has V5"):
        lead_signal(rec)
    assert CLASSES == ("N", "S", "V", "F", "Q")
