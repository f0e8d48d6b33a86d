"""Physiological models: heart rate, rhythm and morphology as asked, ground truth that fits."""

import numpy as np
import pytest
import scipy.signal

from sensors.physiology import ECG, EEG, EMG, PPG, Respiration


@pytest.mark.parametrize("bpm", [50.0, 75.0, 140.0])
def test_ecg_heart_rate_and_beats_on_r_peaks(bpm):
    rec = ECG(heart_rate_bpm=bpm).generate(60.0, 360.0, random_state=1)
    rr = np.diff(rec.beats["sample"]) / rec.fs
    assert 60 / rr.mean() == pytest.approx(bpm, rel=0.03)
    assert np.nanmean(rec.hr["bpm"]) == pytest.approx(bpm, rel=0.03)
    x = rec.signal[0]
    for s in rec.beats["sample"][1:-1]:
        assert abs(int(np.argmax(x[s - 20:s + 21])) - 20) <= 1
    assert rec.units == ("mV",) and x.max() == pytest.approx(1.0, abs=0.1)


def test_ecg_rhythms():
    sinus = ECG(rhythm="sinus").generate(120.0, 360.0, 2)
    af = ECG(rhythm="af").generate(120.0, 360.0, 2)
    pvc = ECG(rhythm="pvc", pvc_fraction=0.15).generate(120.0, 360.0, 2)

    def cv(rec):
        rr = np.diff(rec.beats["sample"])
        return rr.std() / rr.mean()

    assert cv(af) > 2 * cv(sinus)
    v = np.flatnonzero(pvc.beats["symbol"] == "V")
    assert 0.05 < v.size / pvc.beats.size < 0.25
    assert set(pvc.beats["aami"][v]) == {"V"}
    # Premature, then a compensatory pause: the two intervals add to about two normal ones.
    rr = np.diff(pvc.beats["sample"]) / pvc.fs
    v = v[(v > 0) & (v < rr.size)]
    np.testing.assert_allclose(rr[v - 1] + rr[v], 2 * 60 / 70, rtol=0.15)
    assert np.all(rr[v - 1] < 0.8 * 60 / 70)


def test_ecg_morphology_controls():
    base = ECG(heart_rate_std_bpm=0).generate(10.0, 360.0, 3).signal[0]
    wide = ECG(heart_rate_std_bpm=0, qrs_width=1.8).generate(10.0, 360.0, 3).signal[0]
    flat_t = ECG(heart_rate_std_bpm=0, t_amplitude=0.0).generate(10.0, 360.0, 3).signal[0]
    assert np.sum(wide > 0.5) > 1.5 * np.sum(base > 0.5)
    assert flat_t.max() == pytest.approx(base.max(), abs=0.02)
    assert np.percentile(flat_t, 90) < np.percentile(base, 90)


def test_models_are_seeded():
    a = ECG(rhythm="af").generate(10.0, 360.0, 7).signal
    np.testing.assert_array_equal(a, ECG(rhythm="af").generate(10.0, 360.0, 7).signal)
    assert not np.array_equal(a, ECG(rhythm="af").generate(10.0, 360.0, 8).signal)
    np.testing.assert_array_equal(PPG().generate(10.0, 125.0, 7).signal,
                                  PPG().generate(10.0, 125.0, 7).signal)


def test_ppg_is_a_photocurrent_with_the_asked_rate_and_perfusion():
    rec = PPG(heart_rate_bpm=90.0, dc_current_a=3e-6,
              perfusion_index=0.02).generate(60.0, 125.0, 4)
    assert rec.units == ("A",) and rec.fs == 125.0
    x = rec.signal[0]
    assert x.max() <= 3e-6 and x.min() == pytest.approx(3e-6 * 0.98, rel=1e-6)
    assert np.nanmedian(rec.hr["bpm"]) == pytest.approx(90.0, rel=0.05)


def test_eeg_alpha_peak_and_levels():
    rec = EEG(channels=3, alpha_hz=10.0).generate(60.0, 128.0, 5)
    f, psd = scipy.signal.welch(rec.signal, fs=128.0, nperseg=512)
    band = (f > 5) & (f < 20)
    assert np.all(f[band][np.argmax(psd[:, band], axis=1)] == pytest.approx(10.0, abs=0.3))
    assert rec.units == ("µV",) * 3 and 5 < rec.signal.std() < 30


def test_emg_and_respiration():
    emg = EMG(bursts=3, amplitude_mv=0.5).generate(10.0, 1000.0, 6)
    assert emg.units == ("mV",) and emg.signal.shape == (1, 10_000)
    resp = Respiration(rate_per_min=12.0).generate(60.0, 50.0, 6)
    f, psd = scipy.signal.welch(resp.signal[0], fs=50.0, nperseg=1024)
    assert f[np.argmax(psd)] == pytest.approx(0.2, abs=0.05)


def test_bad_parameters():
    with pytest.raises(ValueError, match="rhythm"):
        ECG(rhythm="vf")
    with pytest.raises(ValueError, match="heart_rate_bpm"):
        ECG(heart_rate_bpm=400.0)
