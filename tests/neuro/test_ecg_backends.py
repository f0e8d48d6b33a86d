"""The shipped ECG model: one network on every backend, and small enough for one iCE40 core.

The reference (numpy spec and compiled engine), Lava and the RTL must agree spike for spike;
the ideal crossbar too. Brian2 runs the floating-point reading, which differs by rounding
only (docs/fixed-point.md): its beat labels must agree on at least 97 % of the beats.
"""

from pathlib import Path

import numpy as np
import pytest

from neuro import run
from neuro.ecg import CLASSES, EcgBeatClassifier, assemble, decide, load_beats
from neuro.rtl_compile import CoreGeometry, place
from neuro.training import simulate_float

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "ecg_aami.nir"


@pytest.fixture(scope="module")
def model() -> EcgBeatClassifier:
    return EcgBeatClassifier.load(MODEL)


@pytest.fixture(scope="module")
def beats(model):
    # Both shipped excerpts: N, S, V and F beats (record 208 is rich in V and F).
    return assemble(load_beats(ROOT / "host" / "data", ["100", "208"],
                               encoding=model.encoding_))


def spikes_of(model, beats, n):
    # Every class present: the first n beats of each class, then the rest in order.
    order = np.argsort(beats.reference != "N", kind="stable")[::-1]
    return model.encoding_(beats.X[np.sort(order[:n])])


def same_record(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a.spikes, b.spikes, strict=True)) and all(
        np.array_equal(x, y) for x, y in zip(a.v, b.v, strict=True))


def test_fits_one_ice40_core(model):
    net = model.network_
    assert all(layer.n_neurons <= 256 and layer.n_inputs <= 256 for layer in net.layers)
    placement = place(net, CoreGeometry(n_cores=1))  # raises if it does not fit
    assert {p.core for p in placement} == {0}
    assert sum(layer.weights.size for layer in net.layers) <= 256 * 256


def test_compiled_and_numpy_reference_agree(model, beats):
    spikes = model.encoding_(beats.X)
    assert same_record(run(model.network_, spikes, "reference"),
                       run(model.network_, spikes, "reference", engine="numpy"))


def test_quantised_network_keeps_the_trained_decisions(model, beats):
    spikes = model.encoding_(beats.X)
    fixed = decide(run(model.network_, spikes).spikes[-1])
    trained = decide(simulate_float(model.network_.to_float(), spikes)[-1])
    assert np.mean(fixed == trained) >= 0.99


def test_brian2_labels_agree(model, beats):
    spikes = spikes_of(model, beats, 60)
    ref = decide(run(model.network_, spikes).spikes[-1])
    got = decide(run(model.network_, spikes, "brian2").spikes[-1])
    assert np.mean(got == ref) >= 0.97


def test_ideal_crossbar_is_the_reference(model, beats):
    spikes = spikes_of(model, beats, 40)
    assert same_record(run(model.network_, spikes),
                       run(model.network_, spikes, "crossbar", device="ideal", summary=False))


@pytest.mark.lava
def test_lava_is_identical(model, beats):
    spikes = spikes_of(model, beats, 40)
    assert same_record(run(model.network_, spikes), run(model.network_, spikes, "lava"))


@pytest.mark.rtl
@pytest.mark.slow
def test_rtl_is_identical(model, beats):
    spikes = spikes_of(model, beats, 4)
    assert same_record(run(model.network_, spikes), run(model.network_, spikes, "rtl"))


def test_classes_are_the_aami_ones(model):
    assert tuple(model.classes_) == CLASSES
