"""Hardware-aware training: the crossbar's device laws as noise on torch weights.

:func:`attach_crossbar_noise` registers a parametrization on the weight of every
``nn.Linear`` of a model: in training mode each forward pass sees the weights as a freshly
programmed crossbar would hold them at ``t_inference`` (finite levels, write-verify
programming noise, drift with its device-to-device spread, read and telegraph noise,
stuck-at faults, tile calibration), computed with the same law functions as the simulator
(:mod:`neuro.crossbar`); the gradient passes straight through to the clean weights. In
evaluation mode the weights are clean. :class:`HardwareAwareClassifier` trains a spiking
readout this way, with scikit-learn's estimator conventions.

torch is optional (``pip install 'neurotwin[train]'`` installs torch==2.13.0); the rest of
:mod:`neuro` works without it and this module imports it only when used.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from neuro.crossbar import drift_exponent, programming_sigma, read_sigma, telegraph_sigma
from neuro.crossbar_presets import DevicePreset, get_preset
from neuro.network import FixedNetwork, FloatLayer, FloatNetwork
from neuro.quantise import quantise


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise ImportError(
            "hardware-aware training needs torch: pip install 'neurotwin[train]' "
            "(torch==2.13.0)") from exc
    return torch


def crossbar_weights(weight: Any, preset: DevicePreset, t_inference: float | None = None,
                     generator: Any = None) -> Any:
    """One crossbar instance's reading of ``weight`` (a torch tensor), gradient straight through.

    Each weight is a differential pair over [g_min, g_max] scaled by the tensor's largest
    magnitude (as a tile maps its largest weight to the full range). ``t_inference``: s from
    programming to the read (default the drift reference time t0).
    """
    torch = _torch()
    p = preset
    t = p.drift_t0 if t_inference is None else t_inference

    def randn(like: Any) -> Any:
        return torch.randn(like.shape, generator=generator, dtype=like.dtype, device=like.device)

    def program(target: Any) -> Any:
        if p.levels is not None:
            step = p.unit_range / (p.levels - 1)
            target = p.g_min + torch.round((target - p.g_min) / step) * step
        sigma = programming_sigma(p, target, torch)
        g = target + sigma * randn(target)
        if math.isfinite(p.write_tolerance):
            # Write-verify: rewrite what a (noisy) verify read puts outside the tolerance.
            for _ in range(p.write_max_iterations - 1):
                seen = g + read_sigma(p, g, torch) * randn(g)
                redo = (seen - target).abs() > p.write_tolerance
                if not bool(redo.any()):
                    break
                g = torch.where(redo, target + sigma * randn(target), g)
        mean, std = drift_exponent(p, target, torch)
        nu = mean + std * randn(target)
        if t > p.drift_t0:
            g = g * torch.exp(-nu * math.log(t / p.drift_t0))
        noise2 = read_sigma(p, g, torch) ** 2 + telegraph_sigma(p, g, torch) ** 2
        g = g + torch.sqrt(noise2) * randn(g)
        if p.stuck_on or p.stuck_off:
            u = torch.rand(g.shape, generator=generator, dtype=g.dtype, device=g.device)
            g = torch.where(u < p.stuck_on, torch.full_like(g, p.g_max),
                            torch.where(u < p.stuck_on + p.stuck_off,
                                        torch.full_like(g, p.g_min), g))
        return g.clamp(min=0.0)

    with torch.no_grad():
        scale = weight.abs().max().clamp(min=1e-12)
        unit = p.unit_range / scale
        plus = p.g_min + weight.clamp(min=0) * unit
        minus = p.g_min - weight.clamp(max=0) * unit
        g_plus, g_minus = program(plus), program(minus)
        noisy = (g_plus - g_minus) / unit
        if p.periphery.calibration != "none":
            noisy = noisy * (plus.sum() + minus.sum()) / (g_plus.sum() + g_minus.sum())
    return weight + (noisy - weight).detach()


@functools.cache
def _parametrization() -> type:
    torch = _torch()

    class CrossbarNoise(torch.nn.Module):
        """Parametrization: crossbar-read weights in training mode, clean ones in eval."""

        def __init__(self, preset: DevicePreset, t_inference: float | None, generator: Any):
            super().__init__()
            self.preset, self.t_inference, self.generator = preset, t_inference, generator

        def forward(self, weight: Any) -> Any:
            if not self.training:
                return weight
            return crossbar_weights(weight, self.preset, self.t_inference, self.generator)

    return CrossbarNoise


def attach_crossbar_noise(model: Any, device: Any = "pcm", t_inference: float | None = None,
                          random_state: int | None = None) -> Any:
    """Register crossbar noise on the weight of every ``nn.Linear`` in ``model``; returns it.

    Remove with ``torch.nn.utils.parametrize.remove_parametrizations(layer, "weight")``.
    """
    torch = _torch()
    from torch.nn.utils import parametrize

    preset = get_preset(device)
    generator = torch.Generator()
    generator.manual_seed(0 if random_state is None else int(random_state))
    noise = _parametrization()
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            parametrize.register_parametrization(
                module, "weight", noise(preset, t_inference, generator))
    return model


class HardwareAwareClassifier:
    """A spiking readout trained on input spike rates with crossbar noise in the loop.

    A linear layer with softmax cross-entropy on the per-input spike rates of each stream;
    with ``device`` set, every training step sees the weights as a crossbar instance holds
    them (:func:`attach_crossbar_noise`). :meth:`to_network` gives the one-layer CUBA-LIF
    network (du = 1, dv = 0) whose most active neuron is the predicted class.

    Parameters are stored untouched; ``fit`` validates them and sets ``classes_``, ``coef_``
    [classes, inputs], ``intercept_``, ``n_features_in_`` and the score shift and scale of
    the spiking readout (``score_offset_``, ``winner_score_``).
    """

    def __init__(self, device: Any = "pcm", t_inference: float | None = None,
                 epochs: int = 300, learning_rate: float = 0.05, random_state: int | None = None):
        self.device = device
        self.t_inference = t_inference
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.random_state = random_state

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's parameters."""
        return {k: getattr(self, k) for k in
                ("device", "t_inference", "epochs", "learning_rate", "random_state")}

    def set_params(self, **params: Any) -> HardwareAwareClassifier:
        """Set constructor parameters; returns self."""
        for key, value in params.items():
            if key not in self.get_params():
                raise ValueError(f"unknown parameter {key!r}")
            setattr(self, key, value)
        return self

    def fit(self, X: np.ndarray, y: np.ndarray) -> HardwareAwareClassifier:
        """Train on rates ``X`` [samples, inputs] (spikes per step) and labels ``y``."""
        torch = _torch()
        X = np.asarray(X, dtype=np.float32)
        y = np.asarray(y)
        if X.ndim != 2 or len(X) != len(y):
            raise ValueError(f"X must be [samples, inputs] matching y, got {X.shape} and "
                             f"{y.shape}")
        if not (isinstance(self.epochs, int) and self.epochs >= 1):
            raise ValueError(f"epochs must be an integer >= 1, got {self.epochs!r}")
        self.classes_, index = np.unique(y, return_inverse=True)
        self.n_features_in_ = X.shape[1]
        torch.manual_seed(0 if self.random_state is None else int(self.random_state))
        model = torch.nn.Linear(X.shape[1], len(self.classes_))
        if self.device is not None:
            attach_crossbar_noise(model, self.device, self.t_inference, self.random_state)
        optimiser = torch.optim.Adam(model.parameters(), lr=self.learning_rate)
        xs, ys = torch.from_numpy(X), torch.from_numpy(index.astype(np.int64))
        model.train()
        for _ in range(self.epochs):
            optimiser.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(xs), ys)
            loss.backward()
            optimiser.step()
        model.eval()
        with torch.no_grad():
            self.coef_ = model.weight.detach().numpy().astype(float)
            self.intercept_ = model.bias.detach().numpy().astype(float)
        # Softmax ignores a common shift of the scores; a spiking readout does not (only
        # positive drive fires). Shift so that the runner-up class of a typical stream sits
        # at zero and the winner above it.
        ranked = np.sort(self.decision_function(X), axis=1)
        self.score_offset_ = -float(np.median(ranked[:, -2]))
        self.winner_score_ = float(np.median(ranked[:, -1])) + self.score_offset_
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Class scores [samples, classes] of rates ``X``."""
        return np.asarray(X, dtype=float) @ self.coef_.T + self.intercept_

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted classes of rates ``X``."""
        return self.classes_[self.decision_function(X).argmax(axis=1)]

    def to_network(self, steps_per_spike: float = 4.0) -> FixedNetwork:
        """The quantised one-layer spiking network of the trained readout.

        du = 1 passes each step's input straight to v, which integrates the shifted score
        (dv = 0); the threshold lets a typical winner fire every ``steps_per_spike`` steps.
        """
        layer = FloatLayer(self.coef_, du=1.0, dv=0.0,
                           vth=steps_per_spike * max(self.winner_score_, 1e-6),
                           bias=self.intercept_ + self.score_offset_)
        return quantise(FloatNetwork((layer,)))
