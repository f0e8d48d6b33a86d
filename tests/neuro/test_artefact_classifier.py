"""Per-window artefact identification: features, labels, the spiking classifier."""

from __future__ import annotations

import numpy as np
import pytest

from neuro.artefact_classifier import (
    CLASSES,
    FEATURES,
    ArtefactClassifier,
    class_report,
    labelled_mixtures,
    protocol_labels,
    window_features,
)
from neuro.network import FixedNetwork
from sensors.events import EVENT_DTYPE

FS = 125.0


def resting(seconds: float, rng: np.random.Generator):
    n = int(seconds * FS)
    t = np.arange(n) / FS
    ppg = np.sin(2 * np.pi * 1.2 * t) + 0.01 * rng.standard_normal(n)
    acc = np.stack([np.zeros(n), np.zeros(n), np.ones(n)]) + 0.002 * rng.standard_normal((3, n))
    return t, ppg, acc


def test_features_respond_to_their_channels(rng):
    t, ppg, acc = resting(20, rng)
    swing = acc.copy()
    swing[2, t >= 10] += 0.8 * np.sin(2 * np.pi * 2.5 * t[t >= 10])
    mic = 1e-3 * rng.standard_normal(20 * 16000)
    mic[16000 * 4: 16000 * 5] += 0.3 * rng.standard_normal(16000)
    f = window_features(ppg, FS, swing, FS, mic, 16000.0)
    assert f.shape == (10, len(FEATURES)) and np.all((f >= 0) & (f <= 1))
    assert f[5:, 0].min() > f[:5, 0].max() + 0.3  # motion from 10 s
    assert f[2, 1] > f[[0, 1, 3, 4], 1].max() + 0.3  # the microphone burst at 4-5 s
    # No reference channel: its feature is 0.
    assert np.all(window_features(ppg, FS)[:, :2] == 0)


def test_impulsive_noise_raises_the_spiky_feature(rng):
    _, ppg, _ = resting(20, rng)
    noisy = ppg.copy()
    noisy[1250:1500] += 0.5 * rng.standard_normal(250) ** 3
    f = window_features(noisy, FS)
    assert f[5, 5] > np.delete(f[:, 5], 5).max() + 0.2
    assert f[5, 4] > np.delete(f[:, 4], 5).max()


def test_short_input_is_refused():
    with pytest.raises(ValueError, match="hold no 2-s window"):
        window_features(np.zeros(100), FS)


def test_protocol_labels_of_the_sp_cup_recordings():
    labels = protocol_labels("spc2015:DATA_02_TYPE02", 300.0)
    assert labels.size == 150
    assert set(labels[:13]) == {"clean"} and set(labels[17:133]) == {"motion"}
    assert set(labels[137:]) == {"clean"} and set(labels[13:17]) == {""}
    with pytest.raises(ValueError, match="TYPE01/02"):
        protocol_labels("spc2015test:TEST_S01_T01", 300.0)


def test_labelled_mixtures_hold_every_class():
    X, y = labelled_mixtures(records=1, duration_s=40.0, random_state=3)
    assert X.shape == (4 * 20, len(FEATURES)) and set(y) == set(CLASSES)
    assert X[y == "motion", 0].mean() > X[y == "clean", 0].mean() + 0.3
    assert X[y == "friction", 1].mean() > X[y == "clean", 1].mean() + 0.3


def clusters(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Separable features: each artefact class lights up its own channels."""
    rng = np.random.default_rng(seed)
    centres = {"clean": [0, 0, .4, .5, .3, .2], "motion": [.8, 0, .5, .5, .3, .2],
               "friction": [0, .7, .4, .5, .7, .7], "other": [0, 0, .4, .9, .7, .2]}
    y = np.repeat(CLASSES, n)
    X = np.array([centres[c] for c in y]) + 0.05 * rng.standard_normal((y.size, 6))
    return np.clip(X, 0, 1), y


def test_spiking_classifier_separates_the_classes_and_emits_events():
    X, y = clusters(40, 0)
    clf = ArtefactClassifier(steps=100, random_state=0)
    assert clf.steps == 100 and not hasattr(clf, "network_")
    assert clf.fit(X, y) is clf
    assert isinstance(clf.network_, FixedNetwork) and clf.network_.sizes == [6, 4]
    Xt, yt = clusters(20, 1)
    report = class_report(yt, clf.predict(Xt))
    assert all(report[c]["sensitivity"] > 0.9 and report[c]["precision"] > 0.9
               for c in CLASSES)
    events = clf.events(Xt[:3])
    assert events.dtype == EVENT_DTYPE and events.size > 0
    assert events["x"].max() < 4 and events["t"].max() < 3 * 2e6


def test_class_report_counts():
    report = class_report(np.array(["clean", "motion", "motion"]),
                          np.array(["clean", "clean", "motion"]))
    assert report["motion"] == {"sensitivity": 0.5, "precision": 1.0, "support": 2}
    assert report["clean"]["precision"] == 0.5 and np.isnan(report["other"]["sensitivity"])


def test_bad_training_data_is_refused():
    X, y = clusters(2, 0)
    with pytest.raises(ValueError, match="labels must be among"):
        ArtefactClassifier().fit(X, np.where(y == "other", "noise", y))
    with pytest.raises(ValueError, match=r"X must be \[windows, 6\]"):
        ArtefactClassifier().fit(X[:, :5], y)
