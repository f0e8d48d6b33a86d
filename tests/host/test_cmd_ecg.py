"""``neurotwin train ecg`` and ``neurotwin eval ecg``: the JSON contract, training, errors."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from host.cli import main
from neuro.ecg import CLASSES, EcgBeatClassifier
from sensors.physiology import ECG
from sensors.records import load

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "ecg_aami.nir"
SAMPLES = ROOT / "host" / "data"  # 120-s excerpts of MIT-BIH 100 and 208


def eval_json(capsys, *args: str) -> dict:
    assert main(["eval", "ecg", "--model", str(MODEL), *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_eval_prints_the_aami_json_contract(capsys):
    report = eval_json(capsys, "--data", str(SAMPLES), "--records", "100,208",
                       "--backend", "reference")
    assert report["beats"] == 148 + 207
    assert set(CLASSES) <= set(report["per_class"])
    for c in CLASSES:
        for key in ("se", "ppv"):
            value = report["per_class"][c][key]
            assert value is None or 0.0 <= value <= 1.0
    confusion = np.array(report["confusion"])
    assert confusion.shape == (5, 5) and confusion.sum() == report["beats"]
    # Rows are the reference classes in AAMI order: the excerpts hold 263 N, 1 S, 67 V, 24 F.
    assert confusion.sum(axis=1).tolist() == [263, 1, 67, 24, 0]
    assert report["accuracy"] == pytest.approx(np.trace(confusion) / confusion.sum())
    assert report["accuracy"] >= 0.8 and report["per_class"]["V"]["se"] >= 0.9


def test_eval_on_detected_beats_matches_them_to_the_reference(capsys):
    report = eval_json(capsys, "--data", str(SAMPLES), "--records", "100,208",
                       "--beats", "detected")
    detection = report["detection"]
    assert detection["se"] >= 0.99 and detection["ppv"] >= 0.99
    assert detection["matched"] == report["beats"]


def test_eval_text_output(capsys):
    assert main(["eval", "ecg", "--model", str(MODEL), "--data", str(SAMPLES), "--records",
                 "100"]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "confusion" in out


def test_any_folder_of_wfdb_records(tmp_path, capsys):
    import wfdb

    rec = ECG(heart_rate_bpm=70, rhythm="pvc", pvc_fraction=0.2).generate(
        60, 360.0, random_state=4)
    wfdb.wrsamp("900", fs=360, units=["mV"], sig_name=["MLII"], p_signal=rec.signal.T,
                fmt=["212"], adc_gain=[200.0], baseline=[1024], write_dir=str(tmp_path))
    wfdb.wrann("900", "atr", rec.beats["sample"], symbol=list(rec.beats["symbol"]),
               write_dir=str(tmp_path))
    report = eval_json(capsys, "--data", str(tmp_path), "--records", "900")
    assert report["beats"] == rec.beats.size
    assert report["per_class"]["V"]["reference"] == int(np.sum(rec.beats["aami"] == "V"))


@pytest.mark.parametrize(("args", "message"), [
    (["--records", "999"], "mitdb:999: not found"),
    (["--records", "102"], "paced"),
    (["--records", "555"], "no lead MLII"),
    (["--model", str(ROOT / "models" / "demo.nir")], "not an ECG beat classifier"),
    (["--model", "missing.nir"], "does not exist"),
    (["--data", "/nonexistent"], "no such data folder"),
])
def test_bad_input_gets_a_clear_error(tmp_path, capsys, args, message):
    # A record without the MLII lead (leads V5 and V2, as in the paced records).
    v5 = dataclasses.replace(load("mitdb:100", SAMPLES).excerpt(0, 20), name="mitdb:555",
                             channels=("V5", "V2"))
    v5.save(tmp_path / "mitdb_555.npz")
    base = {"--model": str(MODEL), "--data": str(tmp_path), "--records": "555"}
    given = dict(zip(args[::2], args[1::2], strict=True))
    argv = [x for key, value in {**base, **given}.items() for x in (key, value)]
    assert main(["eval", "ecg", *argv]) == 2
    assert message in capsys.readouterr().err


def test_train_writes_a_model_with_progress_and_seed(tmp_path, capsys):
    out = tmp_path / "ecg.nir"
    args = ["train", "ecg", "--data", str(SAMPLES), "--split", "ds1", "--out", str(out),
            "--epochs", "2", "--hidden", "8", "--max-normal", "60", "--seed", "3"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "epoch 2" in captured.err and str(out) in captured.out
    model = EcgBeatClassifier.load(out)
    assert model.network_.sizes[1:] == [8, 5]
    assert model.training_["split"] == "ds1" and model.training_["records"] == ["208"]
    assert model.training_["seed"] == 3 and model.random_state == 3
    assert not model.encoding_.rr_irregularity  # an opt-in experiment (docs/ecg.md)
    assert not model.encoding_.p_wave  # likewise
    again = tmp_path / "again.nir"
    assert main([*args[:7], str(again), *args[8:]]) == 0  # the same seed, the same network
    assert EcgBeatClassifier.load(again).network_ == model.network_
    with_p = tmp_path / "p_wave.nir"
    assert main([*args[:7], str(with_p), *args[8:], "--p-wave"]) == 0
    loaded = EcgBeatClassifier.load(with_p)
    assert loaded.encoding_.p_wave and loaded.network_.sizes[0] == model.network_.sizes[0] + 30


def test_shipped_model_on_full_records(full_data, capsys):
    report = eval_json(capsys, "--data", str(full_data / "mitdb"), "--records",
                       "100,103,105,111")
    assert report["beats"] > 9000 and report["accuracy"] >= 0.9
