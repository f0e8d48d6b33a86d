"""Loaders: ground truth against the published tables, the sample, and errors that name files."""

import re
import shutil

import numpy as np
import pytest
import scipy.io

from sensors.records import (
    AAMI_CLASSES,
    DataError,
    Recording,
    available,
    load,
    read_mitdb,
    read_spc2015,
    resample,
)


def provenance_table(mitdb):
    """The per-record AAMI counts of PROVENANCE.md: {record: (N, S, V, F, Q)}."""
    text = (mitdb / "PROVENANCE.md").read_text()
    rows = re.findall(r"^\| (\d{3}) \|[^|]*\|[^|]*\| (\d+) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \|",
                      text, re.M)
    return {r[0]: tuple(map(int, r[1:])) for r in rows}


def test_aami_counts_equal_the_published_table_for_every_record(full_data):
    table = provenance_table(full_data / "mitdb")
    present = sorted(p.stem for p in (full_data / "mitdb").glob("*.hea"))
    assert present and set(present) == set(table)
    for record in present:
        counts = read_mitdb(full_data / "mitdb", record).aami_counts()
        assert tuple(counts[c] for c in AAMI_CLASSES) == table[record], record


def test_mitdb_record_shape_units_and_rate(full_data):
    rec = load("mitdb:100", full_data)
    assert rec.signal.shape == (2, 650_000) and rec.fs == 360.0
    assert rec.channels == ("MLII", "V5") and rec.units == ("mV", "mV")
    # First samples 995 and 1011 adu, baseline 1024, 200 adu/mV (the header).
    np.testing.assert_array_equal(rec.signal[:, 0], [(995 - 1024) / 200, (1011 - 1024) / 200])


def test_spc2015_files_give_125_hz_six_channels_and_one_hr_per_8_s_window(full_data):
    names = [s for s in available(full_data) if s.startswith("spc2015:")]
    assert len(names) == 9
    for name in names:
        rec = load(name, full_data)
        assert rec.fs == 125.0 and rec.signal.shape[0] == 6
        assert rec.channels == ("ECG", "PPG1", "PPG2", "ACC_X", "ACC_Y", "ACC_Z")
        assert rec.hr.size == (rec.n_samples - 1000) // 250 + 1
        np.testing.assert_allclose(rec.hr["offset"] - rec.hr["onset"], 8.0)
        np.testing.assert_allclose(np.diff(rec.hr["onset"]), 2.0)
        assert rec.hr["offset"][-1] <= rec.duration_s
        assert 40 < rec.hr["bpm"].min() and rec.hr["bpm"].max() < 220
        # The wrist accelerometer reads about 1 g.
        assert 0.7 < np.median(np.linalg.norm(rec.signal[3:], axis=0)) < 1.3


def test_nstdb_noise_span_is_labelled_and_equals_118_before_it(full_data):
    noisy = load("nstdb:118e06", full_data)
    clean = load("mitdb:118", full_data)
    assert noisy.labels["kind"].tolist() == ["electrode_motion"]
    assert noisy.labels["onset"][0] == 300.0
    n = 300 * 360
    np.testing.assert_allclose(noisy.signal[:, :n], clean.signal[:, :n], atol=1e-12)
    assert np.std(noisy.signal[:, n:] - clean.signal[:, n:]) > 0.05
    np.testing.assert_array_equal(noisy.beats, clean.beats)


def test_emg_and_eeg_sets(full_data):
    emg = load("emgdb:neuropathy", full_data)
    assert emg.fs == 4000.0 and emg.n_samples == 147_858 and emg.units == ("mV",)
    eeg = load("eeglab:sample", full_data)
    assert eeg.signal.shape == (32, 30_504) and eeg.fs == 128.0
    assert "EOG1" in eeg.channels and eeg.units[0] == "µV"


@pytest.mark.parametrize("source", ["mitdb:100", "mitdb:208", "nstdb:118e06",
                                    "spc2015:DATA_01_TYPE01", "emgdb:healthy",
                                    "eeglab:sample"])
def test_shipped_sample_is_an_exact_excerpt_of_the_set(sample_dir, full_data, source):
    sample = load(source, sample_dir)
    start, stop = map(float, sample.info["excerpt_s"].split("-"))
    full = load(source, full_data)
    if sample.channels != full.channels:
        full = full.select(sample.channels)
    ref = full.excerpt(start, stop)
    np.testing.assert_array_equal(sample.signal, ref.signal)
    np.testing.assert_array_equal(sample.beats, ref.beats)
    np.testing.assert_array_equal(sample.hr, ref.hr)
    np.testing.assert_array_equal(sample.labels, ref.labels)


def test_sample_holds_a_few_minutes_with_ground_truth(sample_dir):
    rec = load("mitdb:208", sample_dir)
    assert rec.fs == 360.0 and rec.duration_s == 120.0
    assert rec.aami_counts() == {"N": 116, "S": 0, "V": 67, "F": 24, "Q": 0}
    spc = load("spc2015:DATA_01_TYPE01", sample_dir)
    assert spc.hr.size == (spc.n_samples - 1000) // 250 + 1
    assert "mitdb:100" in available(sample_dir)


def test_save_load_round_trip(tmp_path, sample_dir):
    rec = load("nstdb:118e06", sample_dir).excerpt(20.0, 40.0)
    rec.save(tmp_path / "x.npz")
    back = Recording.load(tmp_path / "x.npz")
    np.testing.assert_array_equal(back.signal, rec.signal)
    np.testing.assert_array_equal(back.labels, rec.labels)
    assert back.labels["onset"][0] == 10.0 and back.channels == rec.channels


def test_truncated_recording_file_is_named(tmp_path, sample_dir):
    load("mitdb:100", sample_dir).excerpt(0.0, 10.0).save(tmp_path / "x.npz")
    (tmp_path / "x.npz").write_bytes((tmp_path / "x.npz").read_bytes()[:500])
    with pytest.raises(DataError, match=r"x\.npz: not a recording file"):
        Recording.load(tmp_path / "x.npz")


def test_resample_moves_beats_and_keeps_the_signal(sample_dir):
    rec = load("mitdb:100", sample_dir).excerpt(0, 20)
    up = resample(rec, 500.0)
    assert up.fs == 500.0 and up.n_samples == 10_000
    np.testing.assert_allclose(up.beats["sample"], np.rint(rec.beats["sample"] * 500 / 360))
    np.testing.assert_allclose(up.signal[:, ::25][:, 10:-10], rec.signal[:, ::18][:, 10:-10],
                               atol=0.02)


def wfdb_record(folder, fs=360, annotate=True):
    import wfdb

    signal = np.round(np.random.default_rng(0).normal(0, 50, (720, 2))).astype(int) + 1024
    wfdb.wrsamp("900", fs=fs, units=["mV", "mV"], sig_name=["MLII", "V1"], d_signal=signal,
                fmt=["212", "212"], adc_gain=[200, 200], baseline=[1024, 1024],
                write_dir=str(folder))
    if annotate:
        wfdb.wrann("900", "atr", np.array([100, 400, 600]), np.array(["N", "V", "+"]),
                   write_dir=str(folder))


def test_reader_on_a_written_record(tmp_path):
    wfdb_record(tmp_path)
    rec = read_mitdb(tmp_path, "900")
    assert rec.aami_counts() == {"N": 1, "S": 0, "V": 1, "F": 0, "Q": 0}
    assert rec.beats["sample"].tolist() == [100, 400]


def test_header_without_annotations_is_named(tmp_path):
    wfdb_record(tmp_path, annotate=False)
    with pytest.raises(DataError, match=r"900\.atr.*no beat annotation file"):
        load("mitdb:900", tmp_path)


def test_wrong_sampling_rate_is_named(tmp_path):
    wfdb_record(tmp_path, fs=250)
    with pytest.raises(DataError, match=r"900\.hea: sampled at 250 Hz, this set is 360 Hz"):
        load("mitdb:900", tmp_path)


def test_truncated_signal_file_is_named(tmp_path):
    wfdb_record(tmp_path)
    dat = tmp_path / "900.dat"
    dat.write_bytes(dat.read_bytes()[:301])
    with pytest.raises(DataError, match=r"900\.dat: holds 301 bytes, but 900\.hea needs 2160 "
                                        r"\(720 samples x 2 signals in format 212\).*truncated"):
        load("mitdb:900", tmp_path)


def test_missing_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"mitdb:100: not found in .*100\.hea"):
        load("mitdb:100", tmp_path)
    wfdb_record(tmp_path)
    (tmp_path / "900.dat").unlink()
    with pytest.raises(FileNotFoundError, match=r"900\.hea: the header names a signal file"):
        load("mitdb:900", tmp_path)
    with pytest.raises(FileNotFoundError, match="no such data folder"):
        load("mitdb:100", tmp_path / "nowhere")


def spc_file(folder, n=2000, bpm_values=5, nan=False):
    sig = np.random.default_rng(1).normal(size=(6, n))
    if nan:
        sig[2, 77] = np.nan
    scipy.io.savemat(folder / "DATA_99_TYPE01.mat", {"sig": sig})
    scipy.io.savemat(folder / "DATA_99_TYPE01_BPMtrace.mat",
                     {"BPM0": np.full((bpm_values, 1), 80.0)})


def test_spc2015_reader_and_its_errors(tmp_path):
    spc_file(tmp_path)
    rec = read_spc2015(tmp_path, "99")
    assert rec.name == "spc2015:DATA_99_TYPE01" and rec.hr.size == 5
    spc_file(tmp_path, bpm_values=7)
    with pytest.raises(DataError, match=r"BPMtrace\.mat: 7 heart-rate values.*5 windows"):
        read_spc2015(tmp_path, "DATA_99_TYPE01")
    spc_file(tmp_path, nan=True)
    with pytest.raises(DataError, match=r"DATA_99_TYPE01\.mat: NaN .*'PPG2' at sample 77"):
        read_spc2015(tmp_path, "DATA_99_TYPE01")
    (tmp_path / "DATA_99_TYPE01_BPMtrace.mat").unlink()
    with pytest.raises(FileNotFoundError, match="its reference heart rate"):
        read_spc2015(tmp_path, "DATA_99_TYPE01")


def test_a_copied_record_reads_like_the_original(tmp_path, full_data):
    for ext in ("hea", "dat", "atr"):
        shutil.copy(full_data / "mitdb" / f"231.{ext}", tmp_path)
    assert load("mitdb:231", tmp_path).aami_counts()["V"] == 2


def test_unknown_sets_and_bad_names():
    with pytest.raises(ValueError, match="unknown set 'xyz'"):
        load("xyz:1", ".")
    with pytest.raises(ValueError, match="set:record"):
        load("mitdb", ".")
