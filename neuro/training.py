"""Surrogate-gradient training of CUBA-LIF chains in torch, in the contract's own dynamics.

The forward pass is exactly the floating-point reading of the contract
(:class:`~neuro.network.FloatLayer`, Lava's ``floating_pt`` LIF), one step per sample of the
input raster, including the one-step delay of every Dense:

    a[t] = W s_in[t - 1]            (a[0] = 0)
    u[t] = u[t - 1] (1 - du) + a[t]
    v[t] = v[t - 1] (1 - dv) + u[t] + bias
    s[t] = v[t] > vth,  then v[t] = 0 where s[t]

so a trained :class:`~neuro.network.FloatNetwork` runs unchanged on Brian2 and, after
:func:`~neuro.quantise.quantise`, on the fixed-point backends. The spike's gradient is a fast
sigmoid (Zenke & Ganguli, Neural Comput 30(6), 2018); the reset is not differentiated.
Output spike counts are the class scores (softmax cross-entropy, class weighted). In the last
epochs the weights are fake-quantised to the 8-bit grid :func:`quantise` will use (the largest
|w| of a layer becomes mantissa 127; straight-through gradient), so that the fixed-point
network sees the weights it was trained with. Optionally every step also sees the weights as
a memristive crossbar holds them (:func:`neuro.crossbar_training.attach_crossbar_noise`).

torch is imported only here (``pip install 'neurotwin[train]'``, torch==2.13.0): inference
never needs it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from neuro import fixed_point as fp
from neuro.network import FloatLayer, FloatNetwork


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise ImportError("training needs torch: pip install 'neurotwin[train]' "
                          "(torch==2.13.0)") from exc
    return torch


def representable_decay(value: float, offset: int) -> float:
    """The 12-bit decay nearest ``value`` (a fraction lost per step), as a float.

    ``offset`` is the contract's decay offset: 1 for the current (du), 0 for the voltage (dv).
    Training with representable decays removes one source of float/fixed difference.
    """
    d = int(np.clip(round(value * fp.DECAY_UNITY) - offset, 0, fp.DECAY_MAX))
    return (d + offset) / fp.DECAY_UNITY


def _modules() -> tuple[type, type]:
    """The torch classes (built on first use so that importing this module needs no torch)."""
    torch = _torch()

    class LifFn(torch.autograd.Function):
        """One layer's CUBA-LIF recurrence over all steps, with a hand-written backward pass.

        Forward: the contract's float dynamics from the synaptic drive [batch, steps, n].
        Backward: backpropagation through time with the fast-sigmoid surrogate for the spike
        and no gradient through the reset; in one loop instead of an autograd graph of a
        dozen small operations per step (several times faster on a CPU).
        """

        @staticmethod
        def forward(ctx: Any, drive: Any, bias: Any, ku: float, kv: float, vth: float,
                    slope: float) -> Any:
            # Time-major inside: each step reads and writes contiguous [batch, n] blocks.
            drive = drive.transpose(0, 1).contiguous()
            u = torch.zeros_like(drive[0])
            v = torch.zeros_like(u)
            v_pre = torch.empty_like(drive)
            spikes = torch.empty_like(drive)
            for t in range(drive.shape[0]):
                u = u * ku + drive[t]
                v = v * kv + u + bias
                v_pre[t] = v
                s = (v > vth).to(v.dtype)
                spikes[t] = s
                v = v * (1.0 - s)
            ctx.save_for_backward(v_pre, spikes)
            ctx.params = (ku, kv, vth, slope)
            return spikes.transpose(0, 1)

        @staticmethod
        def backward(ctx: Any, grad: Any) -> tuple[Any, ...]:
            v_pre, spikes = ctx.saved_tensors
            ku, kv, vth, slope = ctx.params
            surrogate = grad.transpose(0, 1) / (1.0 + slope * (v_pre - vth).abs()) ** 2
            keep = (1.0 - spikes) * kv
            grad_drive = torch.empty_like(surrogate)
            grad_v = torch.empty_like(surrogate)
            a = torch.zeros_like(surrogate[0])  # dL/dv before the reset
            c = torch.zeros_like(a)  # dL/du
            for t in range(surrogate.shape[0] - 1, -1, -1):
                a = surrogate[t] + keep[t] * a
                c = a + ku * c
                grad_v[t] = a
                grad_drive[t] = c
            return (grad_drive.transpose(0, 1), grad_v.sum(dim=(0, 1)), None, None, None,
                    None)

    class LifChain(torch.nn.Module):
        """Dense + CUBA-LIF layers with the contract's dynamics (see the module docstring).

        Thresholds are fixed per layer; weights and per-neuron biases are trained.
        """

        def __init__(self, sizes: Sequence[int], du: Sequence[float], dv: Sequence[float],
                     vth: float, slope: float) -> None:
            super().__init__()
            self.linears = torch.nn.ModuleList(
                torch.nn.Linear(n_in, n_out, bias=False)
                for n_in, n_out in itertools.pairwise(sizes))
            self.biases = torch.nn.ParameterList(
                torch.nn.Parameter(torch.zeros(n)) for n in sizes[1:])
            self.du, self.dv, self.vth, self.slope = list(du), list(dv), float(vth), slope
            self.quantised = False

        def weight(self, k: int) -> Any:
            w = self.linears[k].weight
            if not self.quantised:
                return w
            # The grid quantise() uses: largest |w| of the layer -> mantissa 127.
            step = w.detach().abs().max().clamp(min=1e-12) / fp.WEIGHT_MAX
            return w + (torch.round(w / step) * step - w).detach()

        def forward(self, spikes: Any) -> list[Any]:
            """Spikes of every layer, each [batch, steps, neurons], from input [b, t, in]."""
            out, s_in = [], spikes
            for k in range(len(self.linears)):
                drive = torch.nn.functional.pad(s_in[:, :-1] @ self.weight(k).T,
                                                (0, 0, 1, 0))  # the Dense's one-step delay
                s_in = LifFn.apply(drive, self.biases[k], 1.0 - self.du[k], 1.0 - self.dv[k],
                                   self.vth, self.slope)
                out.append(s_in)
            return out

    return LifFn, LifChain


def balanced_weights(y: np.ndarray, n_classes: int, power: float = 1.0) -> np.ndarray:
    """Per-class loss weights (n / (classes * count)) ** power, for classes 0..n_classes - 1;
    absent classes get weight 0, and the weights are scaled to a mean of 1 over the samples."""
    counts = np.bincount(y, minlength=n_classes).astype(float)
    w = np.where(counts > 0, (y.size / (n_classes * np.maximum(counts, 1))) ** power, 0.0)
    return w / (w[y].mean() if y.size else 1.0)


class SurrogateGradientTrainer:
    """Train a CUBA-LIF chain on spike rasters; the result is a :class:`FloatNetwork`.

    Scikit-learn conventions: parameters are stored untouched, ``fit`` validates them and
    returns ``self``; learned state: ``network_`` (FloatNetwork), ``classes_`` (0..n-1),
    ``loss_curve_`` (mean loss per epoch), ``n_features_in_``.

    Args:
        hidden: neurons per hidden layer.
        du, dv: fractions of current and voltage lost per step, per layer (hidden layers then
            output) or one value for all; rounded to representable 12-bit decays.
        vth: threshold of every layer (weights and biases scale freely against it).
        epochs: passes over the training set.
        batch_size: streams per gradient step.
        learning_rate: Adam step size (cosine-annealed to 0).
        class_weight: "balanced" (inverse class frequency to ``balance_power``), None, or
            one weight per class.
        balance_power: exponent of the balanced weights (1: fully balanced).
        count_scale: output spikes -> logits factor of the cross-entropy.
        rate_penalty: loss per hidden spike per step and neuron (fewer synaptic operations).
        quantise_epochs: final epochs with weights fake-quantised to 8 bits.
        surrogate_slope: steepness of the fast-sigmoid surrogate, per unit of ``vth``.
        crossbar: None, or a crossbar device preset name (e.g. "hfox") whose programming,
            drift and read noise every training step sees (hardware-aware training).
        threads: torch CPU threads.
        random_state: seed of initialisation, batch order and crossbar noise.
    """

    def __init__(self, hidden: Sequence[int] = (64,), du: float | Sequence[float] = 0.25,
                 dv: float | Sequence[float] = 0.125, vth: float = 1.0, epochs: int = 20,
                 batch_size: int = 128, learning_rate: float = 3e-3,
                 class_weight: str | Sequence[float] | None = "balanced",
                 balance_power: float = 1.0, count_scale: float = 0.5,
                 rate_penalty: float = 0.0, quantise_epochs: int = 3,
                 surrogate_slope: float = 5.0, crossbar: str | None = None, threads: int = 1,
                 random_state: int | None = None) -> None:
        self.hidden = hidden
        self.du = du
        self.dv = dv
        self.vth = vth
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.class_weight = class_weight
        self.balance_power = balance_power
        self.count_scale = count_scale
        self.rate_penalty = rate_penalty
        self.quantise_epochs = quantise_epochs
        self.surrogate_slope = surrogate_slope
        self.crossbar = crossbar
        self.threads = threads
        self.random_state = random_state

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's parameters."""
        return {k: getattr(self, k) for k in (
            "hidden", "du", "dv", "vth", "epochs", "batch_size", "learning_rate",
            "class_weight", "balance_power", "count_scale", "rate_penalty", "quantise_epochs",
            "surrogate_slope", "crossbar", "threads", "random_state")}

    def _per_layer(self, name: str, n_layers: int) -> list[float]:
        value = getattr(self, name)
        values = [value] * n_layers if np.ndim(value) == 0 else list(value)
        if len(values) != n_layers or not all(0 < float(x) <= 1 for x in values):
            raise ValueError(f"{name} must be one value in (0, 1] or one per layer "
                             f"({n_layers}), got {value!r}")
        return [representable_decay(float(x), fp.DU_OFFSET if name == "du" else fp.DV_OFFSET)
                for x in values]

    def fit(self, spikes: np.ndarray, y: np.ndarray, n_classes: int | None = None,
            dt: float = 1e-3,
            progress: Callable[[int, float], None] | None = None) -> SurrogateGradientTrainer:
        """Train on uint8 spikes [samples, steps, inputs] and integer labels ``y`` (0..C-1).

        ``n_classes`` output neurons (default max(y) + 1; a class absent from ``y`` gets its
        neuron and no loss weight); ``dt`` (s) is the step length stored in the network;
        ``progress(epoch, loss)`` is called after every epoch.
        """
        torch = _torch()
        spikes = np.asarray(spikes)
        y = np.asarray(y)
        if spikes.ndim != 3 or spikes.shape[0] != y.shape[0] or spikes.shape[1] < 2:
            raise ValueError(f"spikes must be [samples, steps >= 2, inputs] matching y, got "
                             f"{spikes.shape} and {y.shape}")
        if y.dtype.kind not in "iu" or y.size == 0 or y.min() < 0:
            raise ValueError("y must be non-negative integer class indices")
        if not (isinstance(self.epochs, int) and self.epochs >= 1):
            raise ValueError(f"epochs must be an integer >= 1, got {self.epochs!r}")
        if not 0 <= self.quantise_epochs <= self.epochs:
            raise ValueError(f"quantise_epochs must lie in [0, epochs], got "
                             f"{self.quantise_epochs!r}")
        hidden = [int(h) for h in self.hidden]
        if any(h < 1 for h in hidden):
            raise ValueError(f"hidden sizes must be >= 1, got {self.hidden!r}")
        n_classes = int(y.max()) + 1 if n_classes is None else int(n_classes)
        if n_classes <= y.max():
            raise ValueError(f"n_classes={n_classes} but y holds class {y.max()}")
        self.classes_ = np.arange(n_classes)
        self.n_features_in_ = spikes.shape[2]
        sizes = [spikes.shape[2], *hidden, n_classes]
        du = self._per_layer("du", len(sizes) - 1)
        dv = self._per_layer("dv", len(sizes) - 1)
        if self.class_weight == "balanced":
            weights = balanced_weights(y, n_classes, self.balance_power)
        elif self.class_weight is None:
            weights = np.ones(n_classes)
        else:
            weights = np.asarray(self.class_weight, dtype=float)
            if weights.shape != (n_classes,):
                raise ValueError(f"class_weight needs {n_classes} values, got {weights.shape}")

        torch.set_num_threads(int(self.threads))
        # LIF states decay towards 0; denormal floats would slow every step many times.
        torch.set_flush_denormal(True)
        seed = 0 if self.random_state is None else int(self.random_state)
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        _, chain_cls = _modules()
        model = chain_cls(sizes, du, dv, self.vth, self.surrogate_slope / self.vth)
        with torch.no_grad():
            for k, linear in enumerate(model.linears):
                # Enough drive that a layer's neurons reach threshold at the start: the
                # steady current of a rate-r input is r W / du.
                fan_in = linear.weight.shape[1]
                linear.weight.normal_(0.0, 2.0 * self.vth * du[k] / math.sqrt(fan_in))
        if self.crossbar is not None:
            from neuro.crossbar_training import attach_crossbar_noise

            attach_crossbar_noise(model, self.crossbar, random_state=seed)
        optimiser = torch.optim.Adam(model.parameters(), lr=self.learning_rate)
        n_batches = math.ceil(len(y) / self.batch_size)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser,
                                                              self.epochs * n_batches)
        class_w = torch.tensor(weights, dtype=torch.float32)
        data = torch.from_numpy(spikes.astype(np.uint8))
        target = torch.from_numpy(y.astype(np.int64))
        self.loss_curve_ = []
        model.train()
        for epoch in range(self.epochs):
            model.quantised = epoch >= self.epochs - self.quantise_epochs
            order = torch.from_numpy(rng.permutation(len(y)))
            total = 0.0
            for b in range(n_batches):
                idx = order[b * self.batch_size:(b + 1) * self.batch_size]
                layers = model(data[idx].float())
                logits = layers[-1].sum(dim=1) * self.count_scale
                loss = torch.nn.functional.cross_entropy(logits, target[idx], weight=class_w)
                if self.rate_penalty and len(layers) > 1:
                    loss = loss + self.rate_penalty * sum(s.mean() for s in layers[:-1])
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                schedule.step()
                total += float(loss.detach()) * len(idx)
            self.loss_curve_.append(total / len(y))
            if progress is not None:
                progress(epoch, self.loss_curve_[-1])
        self.network_ = self._export(model, du, dv, dt)
        return self

    def _export(self, model: Any, du: list[float], dv: list[float], dt: float) -> FloatNetwork:
        torch = _torch()
        model.eval()
        layers = []
        with torch.no_grad():
            for k in range(len(model.linears)):
                layers.append(FloatLayer(model.weight(k).detach().double().numpy(), du=du[k],
                                         dv=dv[k], vth=self.vth,
                                         bias=model.biases[k].detach().double().numpy()))
        return FloatNetwork(tuple(layers), dt=dt)


def simulate_float(network: FloatNetwork, spikes: np.ndarray) -> list[np.ndarray]:
    """The float reading of a network in numpy: spikes of every layer [batch, steps, n].

    The same recurrences as the torch forward pass and Brian2 (without v's saturation, which a
    trained network does not reach), for tests and for checking training against export.
    """
    s_in = np.asarray(spikes, dtype=np.float64)
    out = []
    for layer in network.layers:
        drive = np.zeros((*s_in.shape[:2], layer.n_neurons))
        drive[:, 1:] = s_in[:, :-1] @ layer.weights.T
        u = np.zeros((s_in.shape[0], layer.n_neurons))
        v = np.zeros_like(u)
        fired = np.zeros_like(drive, dtype=np.uint8)
        for t in range(drive.shape[1]):
            u = u * (1.0 - layer.du) + drive[:, t]
            v = v * (1.0 - layer.dv) + u + layer.bias
            fired[:, t] = v > layer.vth
            v[fired[:, t] == 1] = 0.0
        out.append(fired)
        s_in = fired.astype(np.float64)
    return out
