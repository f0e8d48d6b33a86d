"""The whole chain: source, artefacts, front end, encoder, decoder, event file, plot."""

import numpy as np
import pytest

from sensors.events import load_events
from sensors.pipeline import SenseConfig, sense
from sensors.plot import plot_sensed


def test_mitdb_through_the_ecg_front_end(sample_dir, tmp_path):
    sensed = sense(SenseConfig("mitdb:100", sample_dir, afe="ads1292", encoder="delta"))
    assert sensed.fs == 500.0 and sensed.units == ("V", "V")
    assert sensed.signal.shape == (2, 60_000)
    assert sensed.notes == ("resampled 360 Hz -> 500 Hz for ads1292",)
    # The decoded level stays within one step of the encoder input.
    assert np.all(np.abs(sensed.decoded - sensed.signal)
                  < sensed.parameters["threshold"][:, None] * (1 + 1e-9))
    sensed.save(tmp_path / "ev.npz")
    events, meta = load_events(tmp_path / "ev.npz")
    np.testing.assert_array_equal(events, sensed.events)
    assert float(meta["fs_hz"]) == 500.0 and str(meta["afe"]) == "ads1292"


@pytest.mark.parametrize("encoder", ["delta", "graded", "interp", "knots", "level", "rate",
                                     "threshold"])
def test_every_encoder_on_a_synthetic_ppg_with_motion(encoder):
    sensed = sense(SenseConfig("sim:ppg", artefacts=("motion:running",), snr_db=0.0,
                               afe="max30102", encoder=encoder, duration_s=20.0, seed=2))
    assert sensed.units == ("A",) and sensed.fs == 100.0
    assert sensed.events.size > 0
    assert "motion_running" in set(sensed.recording.labels["kind"])
    assert sensed.references[0].channels == ("ACC_X", "ACC_Y", "ACC_Z")


def test_units_that_the_front_end_cannot_take_are_named(sample_dir):
    with pytest.raises(ValueError, match=r"channel 'PPG1' is in a\.u\.; max30102 takes A"):
        sense(SenseConfig("spc2015:DATA_01_TYPE01", sample_dir, channels=("PPG1",),
                          afe="max30102"))


def test_accelerometer_channels_through_the_adxl362(sample_dir):
    sensed = sense(SenseConfig("spc2015:DATA_01_TYPE01", sample_dir,
                               channels=("ACC_X", "ACC_Y", "ACC_Z"), afe="adxl362",
                               encoder="level", duration_s=30.0))
    assert sensed.signal.shape == (3, 3000)
    # 12-bit, 1 mg codes.
    np.testing.assert_allclose(sensed.signal * 1000, np.rint(sensed.signal * 1000), atol=1e-9)


def test_plot_writes_a_png(sample_dir, tmp_path):
    sensed = sense(SenseConfig("nstdb:118e06", sample_dir, start_s=25.0, duration_s=10.0))
    assert sensed.recording.labels["onset"][0] == pytest.approx(5.0)
    plot_sensed(sensed, tmp_path / "p.png")
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
