"""Hardware-aware training: torch weights see the crossbar's own device laws."""

import dataclasses

import numpy as np
import pytest

from neuro import run
from neuro.crossbar import programming_sigma
from neuro.crossbar_presets import PRESETS, only
from neuro.crossbar_sweep import accuracy, rate_task

torch = pytest.importorskip("torch")

from neuro.crossbar_training import (  # noqa: E402  (needs torch)
    HardwareAwareClassifier,
    attach_crossbar_noise,
    crossbar_weights,
)


def samples(weight, preset, n=5_000, t=None):
    gen = torch.Generator().manual_seed(0)
    return torch.stack([crossbar_weights(weight, preset, t, gen) for _ in range(n)]).numpy()


def test_weight_noise_follows_the_programming_noise_law():
    # g_min raised so that no device sits near 0 µS, where conductance clips.
    preset = dataclasses.replace(only(PRESETS["pcm"], "programming_noise"), g_min=5.0)
    weight = torch.tensor([1.0, 0.5, -0.25, 0.0])
    got = samples(weight, preset)
    unit = preset.unit_range / 1.0
    g_plus = preset.g_min + np.maximum(weight.numpy(), 0) * unit
    g_minus = preset.g_min + np.maximum(-weight.numpy(), 0) * unit
    sigma = np.hypot(programming_sigma(preset, g_plus), programming_sigma(preset, g_minus))
    np.testing.assert_allclose(got.std(axis=0), sigma / unit, rtol=0.05)
    np.testing.assert_allclose(got.mean(axis=0), weight.numpy(), atol=0.01)


def test_weights_drift_by_the_power_law_when_uncompensated():
    preset = dataclasses.replace(only(PRESETS["pcm"], "drift"), drift_nu=0.05,
                                 drift_nu_std=0.0)
    weight = torch.tensor([1.0, -0.5])
    got = samples(weight, preset, n=3, t=20.0 * 1e3)
    np.testing.assert_allclose(got, np.tile(weight.numpy() * 1e3**-0.05, (3, 1)), rtol=1e-5)


def test_parametrization_is_noisy_in_training_clean_in_eval_and_passes_gradients():
    # Seeded: with an unlucky draw every hidden ReLU is off for this input and no gradient
    # reaches the first layer, whichever parametrisation.
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    clean = [m.weight.detach().clone() for m in model if isinstance(m, torch.nn.Linear)]
    attach_crossbar_noise(model, "hfox", random_state=0)
    model.train()
    noisy = [m.weight.detach().clone() for m in model if isinstance(m, torch.nn.Linear)]
    assert all(not torch.equal(a, b) for a, b in zip(clean, noisy, strict=True))
    loss = model(torch.ones(3, 6)).sum()
    loss.backward()
    grad = model[0].parametrizations.weight.original.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
    model.eval()
    assert torch.equal(model[0].weight, clean[0])


def test_classifier_follows_estimator_conventions_and_trains_a_spiking_readout():
    task = rate_task(random_state=2)
    train = rate_task(random_state=2, samples=240)  # same classes, other streams
    rates = train.spikes.mean(axis=1)
    clf = HardwareAwareClassifier(device="pcm", epochs=100, random_state=0)
    assert clf.get_params()["device"] == "pcm" and not hasattr(clf, "coef_")
    assert clf.fit(rates, train.labels) is clf
    assert clf.coef_.shape == (4, 32) and list(clf.classes_) == [0, 1, 2, 3]
    assert np.mean(clf.predict(task.spikes.mean(axis=1)) == task.labels) >= 0.9
    again = HardwareAwareClassifier(device="pcm", epochs=100, random_state=0).fit(
        rates, train.labels)
    np.testing.assert_array_equal(again.coef_, clf.coef_)
    network = clf.to_network()
    assert accuracy(run(network, task.spikes).spikes[-1], task.labels) >= 0.9
    with pytest.raises(ValueError, match="epochs"):
        HardwareAwareClassifier(epochs=0).fit(rates, train.labels)
