"""The spiking canceller: the fixed-point contract, learning, latency, streams, crossbar."""

from __future__ import annotations

import numpy as np
import pytest

from neuro import run
from neuro.canceller_snn import SpikingCanceller, _limit_rate

FS = 125.0


def mixture(seconds: float = 60.0, seed: int = 0):
    """A unit-rms pulse-like tone plus a 3x larger artefact that is an FIR (taps 5 samples
    apart) of three accelerometer-like references in g, as the PPG front end delivers them."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FS)
    t = np.arange(n) / FS
    clean = np.sqrt(2) * np.sin(2 * np.pi * 1.4 * t)
    phase = 2 * np.pi * 2.6 * t + np.cumsum(rng.normal(0, 0.02, n))
    reference = 0.5 * np.stack([np.sin(phase), np.sin(phase + 1.0), np.sin(0.5 * phase + 0.3)])
    reference += 0.05 * rng.standard_normal((3, n))
    artefact = np.zeros(n)
    for r, (gain, delay) in enumerate(((2.0, 0), (-1.5, 10), (3.0, 5))):
        artefact[delay:] += gain * reference[r, : n - delay]
    artefact *= 3 / artefact.std()
    return clean, artefact, reference


def residual_db(cleaned: np.ndarray, clean: np.ndarray, artefact: np.ndarray,
                start: int) -> float:
    err = cleaned[start:] - clean[start:]
    return float(10 * np.log10(np.mean(err**2) / np.mean(artefact[start:] ** 2)))


def test_frozen_canceller_is_a_network_of_the_contract_word_for_word():
    """With learning off, the canceller is the standard Dense + CUBA-LIF layer of
    ``to_network`` on the thermometer spikes of ``raster``: the reference simulator gives the
    same u, v and spikes, one step later (the Dense delay)."""
    clean, artefact, reference = mixture(seconds=20)
    primary = np.stack([clean + artefact, clean - 0.5 * artefact])
    taps = np.random.default_rng(1).integers(-60, 61, (2, 3, 16))
    canceller = SpikingCanceller(learning=False, coef_init=taps, dead_zone=0.3)
    canceller.fit(primary, reference)
    network = canceller.to_network()
    spikes = canceller.raster(*canceller.events_)
    out = run(network, spikes, "reference").arrays()
    steps = spikes.shape[0]
    for ours, theirs in ((canceller.current_, out["u_0"]), (canceller.voltage_, out["v_0"]),
                         (canceller.spikes_, out["spikes_0"])):
        np.testing.assert_array_equal(theirs[1:], ours.reshape(steps, -1)[:-1])
    assert out["spikes_0"].sum() > 100 and np.abs(out["u_0"]).max() > 2**18


def test_learning_removes_the_artefact():
    clean, artefact, reference = mixture()
    canceller = SpikingCanceller().fit(clean + artefact, reference)
    start = int(40 * FS)
    # The artefact is 3x the pulse; after learning what is left is 10 dB below it.
    assert residual_db(canceller.cleaned_[0], clean, artefact, start) < -10
    assert canceller.pulses_ > 100 and np.abs(canceller.coef_).max() <= 127
    frozen = SpikingCanceller(learning=False).fit(clean + artefact, reference)
    assert residual_db(frozen.cleaned_[0], clean, artefact, start) > -1


def test_cleaned_sample_leaves_one_step_after_its_input():
    """A step in the primary at sample n is in the cleaned output at index n, which the
    neurons compute at step n + 1: one sample period (8 ms at 125 Hz) of latency."""
    n = 200
    primary = np.zeros((1, 400))
    primary[0, n:] = 5.0
    canceller = SpikingCanceller(learning=False).fit(primary, np.zeros((3, 400)))
    cleaned = canceller.cleaned_[0]
    assert np.all(cleaned[:n] == 0) and cleaned[n] > 0
    # ... and the contract's simulator puts it at step n + 1.
    u = run(canceller.to_network(), canceller.raster(*canceller.events_), "reference").u[0][0]
    assert np.all(u[: n + 1] == 0) and u[n + 1, 0] > 0


def test_chunks_give_the_result_of_one_call(rng):
    clean, artefact, reference = mixture(seconds=20)
    primary = (clean + artefact)[None]
    whole = SpikingCanceller().fit(primary, reference)
    chunked = SpikingCanceller()
    cuts = np.sort(rng.choice(np.arange(1, primary.shape[1]), 5, replace=False))
    pieces = [chunked.partial_fit(primary[:, a:b], reference[:, a:b]).cleaned_
              for a, b in zip(np.r_[0, cuts], np.r_[cuts, primary.shape[1]], strict=True)]
    np.testing.assert_array_equal(np.concatenate(pieces, axis=1), whole.cleaned_)
    np.testing.assert_array_equal(chunked.coef_, whole.coef_)
    assert chunked.pulses_ == whole.pulses_


def test_rate_limit_delays_events_but_loses_none():
    counts = np.array([[0, 12, -3, 0, 0, 0, 20, 0, 0, 0]], np.int64)
    carry = np.zeros(1, np.int64)
    out = _limit_rate(counts, 8, carry)
    assert np.abs(out).max() <= 8
    assert out.sum() + carry.sum() == counts.sum()
    np.testing.assert_array_equal(out[0], [0, 8, 1, 0, 0, 0, 8, 8, 4, 0])


def test_crossbar_with_the_ideal_device_reproduces_the_reference_learning_included():
    clean, artefact, reference = mixture(seconds=8)
    primary = (clean + artefact)[None]
    reference_run = SpikingCanceller(update_threshold=8).fit(primary, reference)
    crossbar_run = SpikingCanceller(update_threshold=8, backend="crossbar", device="ideal",
                                    block=1).fit(primary, reference)
    assert reference_run.pulses_ > 50
    np.testing.assert_array_equal(crossbar_run.current_, reference_run.current_)
    np.testing.assert_array_equal(crossbar_run.coef_, reference_run.coef_)
    assert crossbar_run.pulses_ == reference_run.pulses_


def test_crossbar_device_learns_through_pulses():
    """TaOx RRAM (128 nearly linear SET pulses, noisy reads, 8-bit ADC) learns the taps in
    situ: the residual stays within 4 dB of the exact reference's."""
    clean, artefact, reference = mixture(seconds=60)
    primary = (clean + artefact)[None]
    start = int(40 * FS)
    exact = SpikingCanceller().fit(primary, reference)
    device = SpikingCanceller(backend="crossbar", device="taox").fit(primary, reference)
    weights = device.crossbar_.layer.effective_weights(device.crossbar_.t)
    assert device.pulses_ > 100 and np.abs(weights[:, 2:]).max() > 5
    assert (residual_db(device.cleaned_[0], clean, artefact, start)
            < residual_db(exact.cleaned_[0], clean, artefact, start) + 4)
    assert device.estimate_.energy_total > 0 and device.estimate_.steps == primary.shape[1]


def test_hyperparameters_stored_untouched():
    canceller = SpikingCanceller(taps=8, rule="sign-error", device="hfox")
    assert (canceller.taps, canceller.rule, canceller.device) == (8, "sign-error", "hfox")
    assert not hasattr(canceller, "coef_")


@pytest.mark.parametrize(("params", "message"), [
    ({"backend": "loihi"}, "runs on reference, crossbar, rtl, not 'loihi'"),
    ({"backend": "rtl", "sim": "modelsim"}, "unknown simulator 'modelsim'"),
    ({"backend": "rtl", "update_threshold": 2**15}, "update_threshold must be <= 32767"),
    ({"backend": "rtl", "primary_events": 128}, "primary_events must be <= 127"),
    ({"rule": "hebb"}, "rule must be one of"),
    ({"primary_weight": 128}, "primary_weight must be an integer in"),
    ({"du": 4096}, "du must lie in"),
    ({"update_threshold": 0}, "update_threshold must be a positive integer"),
    ({"dead_zone": 1e6}, "dead_zone must be >= 0"),
    ({"coef_init": np.zeros((1, 3, 5), int)}, "coef_init must be integers"),
    ({"coef_init": np.full((1, 3, 16), 128)}, "coef_init must be integers"),
])
def test_bad_hyperparameters_are_refused(params, message):
    clean, _, reference = mixture(seconds=2)
    with pytest.raises(ValueError, match=message):
        SpikingCanceller(**params).fit(clean, reference)
