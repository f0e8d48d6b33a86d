"""``neurotwin sense``: the event file contract, --list, --plot, and errors."""


import numpy as np
import pytest

from host.cli import main


def test_sense_writes_one_structured_event_array(tmp_path, capsys):
    out = tmp_path / "ev.npz"
    assert main(["sense", "--source", "mitdb:100", "--afe", "ads1292", "--encoder", "delta",
                 "--out", str(out)]) == 0
    with np.load(out) as data:
        structured = [k for k in data.files if data[k].dtype.names]
        assert structured == ["events"]
        events = data["events"]
    assert {"t", "x", "p"} <= set(events.dtype.names)
    assert events.size > 1000 and set(np.unique(events["x"])) == {0, 1}
    assert "mitdb:100" in capsys.readouterr().out


def test_list_names_sources_presets_and_encoders(capsys):
    assert main(["sense", "--list"]) == 0
    text = capsys.readouterr().out
    for word in ("mitdb", "spc2015", "ads1292", "max30102", "adxl362", "hearable", "delta",
                 "level", "rate", "mitdb:208"):
        assert word in text


def test_plot_and_artefacts(tmp_path):
    out = tmp_path / "ev.npz"
    assert main(["sense", "--source", "sim:ecg", "--artefact", "emg", "--artefact", "baseline",
                 "--snr", "6", "--duration", "12", "--out", str(out), "--plot"]) == 0
    assert out.with_suffix(".png").stat().st_size > 10_000


@pytest.mark.parametrize(("args", "message"), [
    (["--source", "mitdb:999"], "mitdb:999: not found"),
    (["--source", "spc2015:DATA_01_TYPE01", "--afe", "ads1292"], "is in a.u."),
    (["--source", "mitdb:100", "--data", "/nonexistent"], "no such data folder"),
])
def test_errors_are_reported_with_status_2(tmp_path, capsys, args, message):
    assert main(["sense", *args, "--out", str(tmp_path / "x.npz")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()


def test_full_set_via_data(tmp_path, full_data):
    mitdb = full_data / "mitdb"
    assert main(["sense", "--source", "mitdb:208", "--data", str(mitdb),
                 "--duration", "60", "--out", str(tmp_path / "ev.npz")]) == 0
