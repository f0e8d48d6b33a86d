"""Floating-point baselines (NLMS, RLS) and the conventions every canceller shares."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from neuro.canceller import NLMSCanceller, PassThrough, RLSCanceller

FS = 125.0


def mixture(seed: int = 0, seconds: float = 60.0, spacing: int = 5):
    """A pulse-like tone plus an artefact that is a known FIR of three references."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FS)
    t = np.arange(n) / FS
    clean = np.sin(2 * np.pi * 1.5 * t)
    sos = scipy.signal.butter(2, [0.5, 8.0], "bandpass", fs=FS, output="sos")
    reference = scipy.signal.sosfilt(sos, rng.standard_normal((3, n)), axis=1)
    reference /= reference.std(axis=1, keepdims=True)
    taps = rng.normal(0, 1, (3, 4))
    artefact = np.zeros(n)
    for r in range(3):
        for k in range(4):
            artefact[k * spacing:] += taps[r, k] * reference[r, : n - k * spacing]
    artefact *= 3 / artefact.std()
    return clean, artefact, reference


def tail_power_db(x: np.ndarray, y: np.ndarray, start: int) -> float:
    """Power of x over the power of y after ``start``, dB."""
    return 10 * np.log10(np.mean(x[start:] ** 2) / np.mean(y[start:] ** 2))


@pytest.mark.parametrize("make", [lambda: NLMSCanceller(step_size=0.05),
                                  lambda: RLSCanceller(forgetting=0.999)])
def test_cancels_an_artefact_the_references_explain(make):
    clean, artefact, reference = mixture()
    cleaned = make().fit_transform(clean + artefact, reference)[0]
    start = int(30 * FS)
    # Once converged the residual (artefact left plus pulse lost) is 15 dB below the artefact;
    # the floor is the misadjustment that the in-band pulse itself drives.
    assert tail_power_db(cleaned - clean, artefact, start) < -15


@pytest.mark.parametrize("make", [NLMSCanceller, RLSCanceller, PassThrough])
def test_chunks_give_the_result_of_one_call(make, rng):
    clean, artefact, reference = mixture(seconds=20)
    primary = np.stack([clean + artefact, clean - artefact])
    whole = make().fit(primary, reference)
    chunked = make()
    cuts = np.sort(rng.choice(np.arange(1, primary.shape[1]), 6, replace=False))
    pieces = []
    for a, b in zip(np.r_[0, cuts], np.r_[cuts, primary.shape[1]], strict=True):
        pieces.append(chunked.partial_fit(primary[:, a:b], reference[:, a:b]).cleaned_)
    np.testing.assert_array_equal(np.concatenate(pieces, axis=1), whole.cleaned_)
    np.testing.assert_array_equal(chunked.coef_, whole.coef_)


def test_hyperparameters_stored_untouched_and_learned_state_after_fit():
    canceller = NLMSCanceller(taps=7, tap_spacing=3, step_size=0.2)
    assert canceller.taps == 7 and canceller.tap_spacing == 3 and canceller.step_size == 0.2
    assert not hasattr(canceller, "coef_")
    clean, artefact, reference = mixture(seconds=5)
    assert canceller.fit(clean + artefact, reference) is canceller
    assert canceller.coef_.shape == (1, 3, 7) and canceller.cleaned_.shape == (1, clean.size)


def test_passthrough_returns_the_primary():
    clean, _, reference = mixture(seconds=5)
    np.testing.assert_array_equal(PassThrough().fit_transform(clean, reference)[0], clean)


@pytest.mark.parametrize(("make", "message"), [
    (lambda: NLMSCanceller(taps=0), "taps must be a positive integer"),
    (lambda: NLMSCanceller(tap_spacing=1.5), "tap_spacing must be a positive integer"),
    (lambda: NLMSCanceller(step_size=2.5), "step_size must lie in"),
    (lambda: RLSCanceller(forgetting=1.2), "forgetting must lie in"),
    (lambda: RLSCanceller(delta=0), "delta must be > 0"),
])
def test_bad_hyperparameters_are_refused_in_fit(make, message):
    clean, _, reference = mixture(seconds=2)
    canceller = make()  # construction stores, fit checks
    with pytest.raises(ValueError, match=message):
        canceller.fit(clean, reference)


@pytest.mark.parametrize(("primary", "reference", "message"), [
    (np.zeros((1, 10)), np.zeros((3, 9)), "10 samples but reference has 9"),
    (np.zeros((1, 10)), np.zeros(10), r"\[references, samples\]"),
    (np.full((1, 10), np.nan), np.zeros((3, 10)), "primary holds NaN"),
])
def test_bad_streams_are_refused(primary, reference, message):
    with pytest.raises(ValueError, match=message):
        NLMSCanceller().fit(primary, reference)


def test_a_stream_keeps_its_channel_counts():
    clean, _, reference = mixture(seconds=2)
    canceller = NLMSCanceller().fit(clean, reference)
    with pytest.raises(ValueError, match="call fit to start a new one"):
        canceller.partial_fit(clean, reference[:2])
