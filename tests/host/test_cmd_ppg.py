"""``neurotwin eval ppg``: the JSON contract on both SP Cup 2015 layouts, the shared ``eval``
command, and errors."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import scipy.io

from host.cli import build_parser, main
from host.cmd_ppg import eval_subcommands

FS = 125.0


def synthetic(seconds: float, bpm: float, rows: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """A PPG-like recording at a constant heart rate: ``rows`` 5 (test layout: 2 PPG + 3
    acc) or 6 (training layout: ECG first), and its BPM0 per 8-s window (2-s step)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FS)
    t = np.arange(n) / FS
    pulse = 500 + 30 * np.sin(2 * np.pi * bpm / 60 * t)
    ppg = np.stack([pulse, 0.8 * pulse]) + rng.normal(0, 2, (2, n))
    acc = np.stack([np.zeros(n), np.zeros(n), np.ones(n)]) + rng.normal(0, 0.01, (3, n))
    sig = np.concatenate([ppg, acc]) if rows == 5 else np.concatenate(
        [rng.standard_normal((1, n)), ppg, acc])
    windows = (n - 1000) // 250 + 1
    return sig, np.full((windows, 1), bpm)


def write_test_layout(folder, name="S01_T01", seconds=40.0, bpm=75.0, extra_bpm=0):
    sig, bpm0 = synthetic(seconds, bpm, 5)
    scipy.io.savemat(folder / f"TEST_{name}.mat", {"sig": sig})
    scipy.io.savemat(folder / f"True_{name}.mat", {"BPM0": np.vstack([bpm0] + [bpm0[:1]] *
                                                                       extra_bpm)})
    return bpm0.size


def run_json(capsys, *args: str) -> dict:
    assert main(["eval", "ppg", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_reports_overall_and_per_recording_error_on_the_shipped_sample(capsys):
    """The 90-s excerpt of DATA_01_TYPE01 in host/data: 42 windows."""
    from host.cmd_sense import sample_folder

    report = run_json(capsys, "--data", str(sample_folder()), "--method", "nlms")
    assert set(report) >= {"mae_bpm", "recordings"}
    assert report["recordings"] == {"DATA_01_TYPE01": {"mae_bpm": report["mae_bpm"],
                                                       "windows": 42}}
    assert 0 <= report["mae_bpm"] < 20


@pytest.mark.parametrize("method", ["snn", "nlms", "rls", "none"])
def test_test_set_layout(tmp_path, capsys, method):
    windows = [write_test_layout(tmp_path, name, bpm=bpm)
               for name, bpm in (("S01_T01", 75.0), ("S02_T01", 110.0))]
    report = run_json(capsys, "--data", str(tmp_path), "--method", method)
    assert report["recordings"].keys() == {"TEST_S01_T01", "TEST_S02_T01"}
    assert [r["windows"] for r in report["recordings"].values()] == windows
    assert report["mae_bpm"] < 1.0
    # Overall error is over all windows of all recordings.
    per = report["recordings"].values()
    assert report["mae_bpm"] == pytest.approx(
        sum(r["mae_bpm"] * r["windows"] for r in per) / sum(windows), abs=1e-3)


def test_training_layout_and_crossbar_backend(tmp_path, capsys):
    sig, bpm0 = synthetic(30.0, 90.0, 6)
    scipy.io.savemat(tmp_path / "DATA_01_TYPE01.mat", {"sig": sig})
    scipy.io.savemat(tmp_path / "DATA_01_TYPE01_BPMtrace.mat", {"BPM0": bpm0})
    report = run_json(capsys, "--data", str(tmp_path), "--backend", "crossbar", "--device",
                      "taox")
    assert report["backend"] == "crossbar" and report["device"] == "taox"
    assert report["recordings"]["DATA_01_TYPE01"]["windows"] == bpm0.size
    assert report["mae_bpm"] < 1.0


def test_table_without_json(tmp_path, capsys):
    write_test_layout(tmp_path)
    assert main(["eval", "ppg", "--data", str(tmp_path), "--method", "none"]) == 0
    out = capsys.readouterr().out
    assert "TEST_S01_T01" in out and "all" in out


@pytest.mark.parametrize(("setup", "args", "message"), [
    (lambda d: None, [], "no SP Cup 2015 recordings"),
    (lambda d: write_test_layout(d, extra_bpm=2), [], "heart-rate values, but"),
    (lambda d: (d / "TEST_S01_T01.mat").write_bytes(b"x"), [], "True_S01_T01.mat: no such"),
    (lambda d: write_test_layout(d), ["--method", "nlms", "--backend", "crossbar"],
     "applies to the spiking canceller only"),
])
def test_errors_name_the_problem(tmp_path, capsys, setup, args, message):
    setup(tmp_path)
    assert main(["eval", "ppg", "--data", str(tmp_path), *args]) == 2
    assert message in capsys.readouterr().err


def test_missing_folder(capsys):
    assert main(["eval", "ppg", "--data", "/no/such/folder"]) == 2
    assert "no such data folder" in capsys.readouterr().err


def test_eval_is_shared_with_other_targets():
    """Another module's target (``eval ecg`` and the like) lands in the same ``eval`` command,
    whichever module registered first."""
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    targets = eval_subcommands(sub)
    assert eval_subcommands(sub) is targets and "ppg" in targets.choices
    targets.add_parser("other").set_defaults(func=lambda args: 0)
    assert parser.parse_args(["eval", "other"]).func(None) == 0
    assert parser.parse_args(["eval", "ppg", "--data", "x"]).method == "snn"
    # A fresh command table: ppg creates eval itself.
    fresh = argparse.ArgumentParser().add_subparsers()
    eval_subcommands(fresh).add_parser("x")
    assert set(eval_subcommands(fresh).choices) == {"x"}


@pytest.mark.slow
def test_full_training_set_contract(full_data, capsys):
    report = run_json(capsys, "--data", str(full_data / "spc2015" / "Training_data"))
    assert len(report["recordings"]) == 9 and report["windows"] == 1316
    assert report["mae_bpm"] < 3.0
