"""Artefacts: SNR mixing, labels, and the reference channels a wearable records."""

import numpy as np
import pytest
import scipy.signal

from sensors.artefacts import (
    ACTIVITIES,
    ARTEFACTS,
    BaselineWander,
    EMGNoise,
    FrictionBurst,
    MainsInterference,
    MotionArtefact,
    artefact,
    corrupt,
    mix_at_snr,
)
from sensors.physiology import ECG, EEG, PPG
from sensors.signals import snr_db


@pytest.fixture(scope="module")
def ecg():
    return ECG().generate(60.0, 360.0, 11)


@pytest.mark.parametrize("snr", [-10.0, 0.0, 6.0, 24.0])
def test_mixing_hits_the_requested_snr_per_channel(rng, snr):
    signal = rng.normal(size=(3, 5000)) * [[1.0], [5.0], [0.1]]
    noise = rng.standard_t(3, size=(3, 5000)) + 2.0
    scaled = mix_at_snr(signal, noise, snr)
    for c in range(3):
        assert abs(snr_db(signal[c], scaled[c]) - snr) < 0.1


@pytest.mark.parametrize("name", sorted(ARTEFACTS))
def test_every_artefact_mixes_within_0_1_db_and_is_labelled(ecg, name):
    out = corrupt(ecg, [artefact(name, "ecg")], 3.0, random_state=1)
    assert abs(out.snr_db() - 3.0) < 0.1
    np.testing.assert_allclose(out.recording.signal, ecg.signal + out.noise)
    labels = out.recording.labels
    assert labels.size and np.all(labels["onset"] < labels["offset"])
    assert np.all((labels["onset"] >= 0) & (labels["offset"] <= ecg.duration_s))
    # The artefact lives where its labels say.
    inside = np.zeros(ecg.n_samples, bool)
    for label in labels:
        inside[round(label["onset"] * ecg.fs):round(label["offset"] * ecg.fs)] = True
    assert not np.any(out.noise[:, ~inside])


@pytest.mark.parametrize("activity", sorted(ACTIVITIES))
def test_motion_comes_with_its_accelerometer(activity):
    ppg = PPG().generate(120.0, 125.0, 3)
    made = MotionArtefact(activity, "ppg", episodes=1, episode_s=(40.0, 40.0)).generate(ppg, 4)
    (acc,) = made.references
    assert acc.channels == ("ACC_X", "ACC_Y", "ACC_Z") and acc.units == ("g",) * 3
    assert acc.fs == 100.0 and acc.duration_s == pytest.approx(120.0)
    onset, offset = made.labels["onset"][0], made.labels["offset"][0]
    rest = np.ones(acc.n_samples, bool)
    rest[round((onset - 2) * 100):round((offset + 2) * 100)] = False
    assert np.median(acc.signal[2, rest]) == pytest.approx(1.0, abs=0.02)
    moving = acc.signal[2, round((onset + 2) * 100):round((offset - 2) * 100)]
    f, psd = scipy.signal.welch(moving - moving.mean(), fs=100.0, nperseg=1024)
    assert f[np.argmax(psd)] == pytest.approx(ACTIVITIES[activity][0], abs=0.15)
    # The PPG artefact follows the motion in the 0.5-5 Hz band.
    assert np.corrcoef(made.waveform[0], np.interp(
        np.arange(ppg.n_samples) / 125.0, np.arange(acc.n_samples) / 100.0,
        acc.signal[2]))[0, 1] < -0.3


@pytest.mark.parametrize("coupling", ["ppg", "ecg", "ear_eeg"])
def test_each_coupling_shapes_its_own_band(coupling):
    host = EEG(channels=1).generate(60.0, 250.0, 1) if coupling == "ear_eeg" else \
        ECG().generate(60.0, 250.0, 1)
    wave = MotionArtefact("running", coupling, episodes=1,
                          episode_s=(30.0, 30.0)).generate(host, 2).waveform[0]
    f, psd = scipy.signal.welch(wave, fs=250.0, nperseg=2048)
    high = psd[f > 20].sum() / psd.sum()
    # Only ear-EEG carries jaw (EMG-band) activity besides the low-band motion.
    assert (high > 0.01) == (coupling == "ear_eeg")


def test_friction_bursts_in_the_microphone_band():
    made = FrictionBurst(bursts_per_min=20).generate(ECG().generate(30.0, 360.0, 1), 5)
    (mic,) = made.references
    assert mic.fs == 16000.0 and mic.units == ("Pa",)
    f, psd = scipy.signal.welch(mic.signal[0], fs=mic.fs, nperseg=4096)
    assert psd[(f > 1000) & (f < 6000)].sum() / psd.sum() > 0.9
    assert made.labels.size == round(20 * 30 / 60)


def test_mains_and_wander_spectra(ecg):
    mains = MainsInterference(60.0).generate(ecg, 1).waveform[0]
    f, psd = scipy.signal.welch(mains, fs=360.0, nperseg=3600)
    assert f[np.argmax(psd)] == pytest.approx(60.0, abs=0.2)
    wander = BaselineWander().generate(ecg, 1).waveform[0]
    f, psd = scipy.signal.welch(wander, fs=360.0, nperseg=360 * 40)
    assert f[np.argmax(psd)] < 0.5
    with pytest.raises(ValueError, match="Nyquist"):
        MainsInterference(250.0, (1.0,)).generate(ecg, 1)


def test_emg_noise_band(ecg):
    wave = EMGNoise(band_hz=(20.0, 150.0)).generate(ecg, 3).waveform[0]
    f, psd = scipy.signal.welch(wave, fs=360.0, nperseg=1024)
    assert psd[(f > 15) & (f < 160)].sum() / psd.sum() > 0.95


def test_corruption_is_seeded(ecg):
    a = corrupt(ecg, [artefact("emg"), artefact("motion:walking", "ecg")], 0.0, 3)
    b = corrupt(ecg, [artefact("emg"), artefact("motion:walking", "ecg")], 0.0, 3)
    np.testing.assert_array_equal(a.recording.signal, b.recording.signal)
    np.testing.assert_array_equal(a.recording.labels, b.recording.labels)
