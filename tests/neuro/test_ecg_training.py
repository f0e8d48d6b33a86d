"""Surrogate-gradient training: the torch forward pass is the contract's float dynamics."""

import numpy as np
import pytest

from neuro import FloatLayer, FloatNetwork, quantise, run
from neuro.training import (
    SurrogateGradientTrainer,
    balanced_weights,
    representable_decay,
    simulate_float,
)

torch = pytest.importorskip("torch")

from neuro.training import _modules  # noqa: E402  (needs torch)


def chain(seed=0):
    torch.manual_seed(seed)
    _, lif_chain = _modules()
    model = lif_chain([12, 9, 4], [0.25, 0.5], [0.125, 0.0625], 1.0, 5.0).double()
    with torch.no_grad():
        for linear, bias in zip(model.linears, model.biases, strict=True):
            linear.weight.normal_(0.0, 0.6)
            bias.normal_(0.0, 0.05)
    return model


def exported(model) -> FloatNetwork:
    return FloatNetwork(tuple(
        FloatLayer(model.linears[k].weight.detach().numpy(), du=model.du[k], dv=model.dv[k],
                   vth=model.vth, bias=model.biases[k].detach().numpy())
        for k in range(len(model.linears))))


def test_forward_pass_is_the_float_layer_dynamics_with_one_step_delay_per_layer():
    model = chain()
    spikes = (np.random.default_rng(0).random((5, 40, 12)) < 0.3).astype(np.uint8)
    got = [s.detach().numpy() for s in model(torch.from_numpy(spikes).double())]
    want = simulate_float(exported(model), spikes)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
    assert got[0][:, 0].sum() == 0 and got[1][:, :2].sum() == 0  # one step of delay per layer


def test_float_simulation_is_brians_and_quantisation_keeps_the_spikes():
    spikes = (np.random.default_rng(1).random((3, 60, 12)) < 0.3).astype(np.uint8)
    fixed = quantise(exported(chain(1)))
    float_spikes = simulate_float(fixed.to_float(), spikes)
    brian = run(fixed, spikes, "brian2")
    reference = run(fixed, spikes)
    for k in range(2):
        np.testing.assert_array_equal(float_spikes[k], brian.spikes[k])
        assert np.mean(float_spikes[k] == reference.spikes[k]) >= 0.97


def test_hand_written_backward_is_autograds():
    lif_fn, _ = _modules()

    class Step(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return (x > 0).double()

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad / (1 + 5.0 * x.abs()) ** 2

    def unrolled(drive, bias):
        u = torch.zeros_like(drive[:, 0])
        v = torch.zeros_like(u)
        out = []
        for t in range(drive.shape[1]):
            u = u * 0.75 + drive[:, t]
            v = v * 0.9 + u + bias
            s = Step.apply(v - 1.0)
            v = v * (1 - s.detach())
            out.append(s)
        return torch.stack(out, 1)

    gen = torch.Generator().manual_seed(0)
    drive = torch.randn(4, 30, 6, generator=gen, dtype=torch.float64) * 0.8
    bias = torch.randn(6, generator=gen, dtype=torch.float64) * 0.1
    weight = torch.randn(4, 30, 6, generator=gen, dtype=torch.float64)
    grads = []
    for fn in (unrolled, lambda d, b: lif_fn.apply(d, b, 0.75, 0.9, 1.0, 5.0)):
        d, b = drive.clone().requires_grad_(), bias.clone().requires_grad_()
        (fn(d, b) * weight).sum().backward()
        grads.append((d.grad, b.grad))
    torch.testing.assert_close(grads[0][0], grads[1][0])
    torch.testing.assert_close(grads[0][1], grads[1][1])


def task(seed=0, n=240):
    """Two classes told apart by which half of the inputs fires more."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    rate = np.where(y[:, None] == np.arange(8)[None] // 4, 0.5, 0.05)
    return (rng.random((n, 20, 8)) < rate[:, None, :]).astype(np.uint8), y


def test_trainer_conventions_reproducibility_and_learning():
    spikes, y = task()
    trainer = SurrogateGradientTrainer(hidden=(6,), epochs=6, batch_size=32,
                                       learning_rate=1e-2, random_state=0)
    assert trainer.get_params()["hidden"] == (6,) and not hasattr(trainer, "network_")
    assert trainer.fit(spikes, y, n_classes=3, dt=0.01) is trainer
    net = trainer.network_
    assert [layer.n_neurons for layer in net.layers] == [6, 3] and net.dt == 0.01
    assert trainer.loss_curve_[-1] < trainer.loss_curve_[0]
    test, y_test = task(1)
    counts = simulate_float(net, test)[-1].sum(axis=1)
    assert np.mean(counts[:, :2].argmax(axis=1) == y_test) >= 0.9
    again = SurrogateGradientTrainer(hidden=(6,), epochs=6, batch_size=32,
                                     learning_rate=1e-2, random_state=0).fit(
        spikes, y, n_classes=3, dt=0.01)
    np.testing.assert_array_equal(again.network_.layers[0].weights, net.layers[0].weights)
    # Fake quantisation in the last epoch: the exported weights sit on the 8-bit grid.
    w = net.layers[1].weights
    np.testing.assert_allclose(w / (np.abs(w).max() / 127), np.round(w / (np.abs(w).max()
                                                                          / 127)), atol=1e-4)


def test_hardware_aware_training_runs_with_crossbar_noise():
    spikes, y = task(n=64)
    trainer = SurrogateGradientTrainer(hidden=(4,), epochs=1, quantise_epochs=0,
                                       crossbar="hfox", random_state=0).fit(spikes, y)
    assert np.all(np.isfinite(trainer.network_.layers[0].weights))


def test_validation_and_helpers():
    spikes, y = task(n=16)
    with pytest.raises(ValueError, match="epochs"):
        SurrogateGradientTrainer(epochs=0).fit(spikes, y)
    with pytest.raises(ValueError, match="quantise_epochs"):
        SurrogateGradientTrainer(epochs=1, quantise_epochs=2).fit(spikes, y)
    with pytest.raises(ValueError, match="du must be"):
        SurrogateGradientTrainer(du=(0.5, 0.5, 0.5), epochs=1, quantise_epochs=0).fit(
            spikes, y)
    with pytest.raises(ValueError, match="n_classes"):
        SurrogateGradientTrainer(epochs=1, quantise_epochs=0).fit(spikes, y, n_classes=1)
    w = balanced_weights(np.array([0, 0, 0, 1]), 3)
    assert w[2] == 0 and w[1] == pytest.approx(3 * w[0])
    assert representable_decay(0.25, 1) == 0.25 and representable_decay(1e-9, 0) == 0.0
