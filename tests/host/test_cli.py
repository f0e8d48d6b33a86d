"""The ``neurotwin`` command: file contracts and errors that say what to fix."""

import json
from pathlib import Path

import numpy as np
import pytest

from host.cli import main
from host.demo import DEMO_MODEL, build_demo_network
from neuro import read_network, run, write_network
from neuro.random_networks import random_network, random_spikes


@pytest.fixture
def model(tmp_path) -> tuple[Path, object]:
    net = random_network(4)
    write_network(tmp_path / "net.nir", net)
    return tmp_path / "net.nir", net


@pytest.mark.parametrize("batched", [False, True])
def test_run_writes_output_and_per_layer_arrays(tmp_path, model, batched):
    path, net = model
    spikes = random_spikes(4, net.n_inputs, 80, batch=3)
    spikes = spikes if batched else spikes[0]
    np.savez(tmp_path / "in.npz", spikes=spikes.astype(np.int64))
    assert main(["run", "--model", str(path), "--input", str(tmp_path / "in.npz"),
                 "--backend", "reference", "--out", str(tmp_path / "out.npz")]) == 0
    out = np.load(tmp_path / "out.npz")
    want = run(net, spikes).arrays()
    assert sorted(out.files) == sorted(want)
    for key in want:
        np.testing.assert_array_equal(out[key], want[key])


@pytest.mark.parametrize(
    ("spikes", "message"),
    [
        (np.full((10, 3), 0.5), "must be an integer array"),
        (np.zeros((10, 999), int), "999 inputs"),
    ],
)
def test_bad_input_file_is_reported_not_raised(tmp_path, model, capsys, spikes, message):
    np.savez(tmp_path / "in.npz", spikes=spikes)
    code = main(["run", "--model", str(model[0]), "--input", str(tmp_path / "in.npz"),
                 "--out", str(tmp_path / "o.npz")])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o.npz").exists()


def test_input_without_spikes_array(tmp_path, model, capsys):
    np.savez(tmp_path / "in.npz", other=np.zeros(3))
    assert main(["run", "--model", str(model[0]), "--input", str(tmp_path / "in.npz"),
                 "--out", str(tmp_path / "o.npz")]) == 2
    assert "no array named 'spikes'" in capsys.readouterr().err


def test_truncated_input_file_is_named(tmp_path, model, capsys):
    np.savez(tmp_path / "in.npz", spikes=np.zeros((10, 4), np.int64))
    (tmp_path / "in.npz").write_bytes((tmp_path / "in.npz").read_bytes()[:100])
    assert main(["run", "--model", str(model[0]), "--input", str(tmp_path / "in.npz"),
                 "--out", str(tmp_path / "o.npz")]) == 2
    assert "in.npz: not a readable .npz file" in capsys.readouterr().err


def test_shipped_demo_model_is_the_built_one():
    assert read_network(DEMO_MODEL) == build_demo_network()


@pytest.mark.slow
def test_demo_writes_report_with_plots(tmp_path):
    assert main(["demo", "--out", str(tmp_path), "--backends", "reference", "brian2"]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [r["backend"] for r in summary["results"]] == ["reference", "brian2"]
    assert (tmp_path / "index.html").exists()
    assert len(list(tmp_path.glob("raster_*.png"))) == 2
