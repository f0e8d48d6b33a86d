"""Adaptive noise cancellers: a primary signal minus what its reference channels explain.

A wearable's primary signal (PPG, ECG, EEG) carries an artefact that its reference channels
(3-axis accelerometer, in-ear microphone) also see. An adaptive FIR filter on the references
estimates the artefact; the cleaned signal is the primary minus that estimate, which is also
the error that drives the adaptation (Widrow et al., Proc. IEEE 63(12), 1975). Every canceller
here works sample by sample and causally, so that the cleaned sample is ready one sample after
its input, and handles several primaries at once (e.g. two PPG channels) that share the
references.

- :class:`NLMSCanceller` — normalised least mean squares, floating point (a baseline).
- :class:`RLSCanceller` — exponentially weighted recursive least squares, floating point (a
  baseline); one inverse correlation matrix serves every primary because it depends on the
  references only.
- :class:`PassThrough` — no cancellation (the "none" method), same interface.
- :class:`neuro.canceller_snn.SpikingCanceller` — the spiking canceller in the fixed-point
  contract, with on-chip learning (reference and crossbar backends).

The filter taps are ``taps`` delays spaced ``tap_spacing`` samples apart: at 125 Hz, 16 taps 5
samples apart span 0.6 s (one stride or arm-swing period) with the conditioning of a 25-Hz
filter, without decimating and so without adding latency.

Estimator conventions (scikit-learn): hyperparameters stored untouched by ``__init__`` and
checked in ``fit``; ``fit(primary, reference)`` starts a new stream and returns ``self``;
``partial_fit`` continues it (chunks give exactly the result of one call over the whole
stream); learned state ends in ``_``: ``coef_`` (taps [primaries, references, taps]) and
``cleaned_`` (the cleaned samples of the last call, [primaries, samples]).

The adaptive loops are sequential by nature (each sample's error updates the taps that filter
the next), so they run compiled with numba rather than as Python loops.
"""

from __future__ import annotations

import numba
import numpy as np


def check_streams(primary: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate [primaries, samples] and [references, samples] float signals of one length."""
    p = np.asarray(primary, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    if p.ndim == 1:
        p = p[None]
    if p.ndim != 2 or r.ndim != 2:
        raise ValueError(f"primary must be [primaries, samples] and reference [references, "
                         f"samples], got shapes {p.shape} and {r.shape}")
    if p.shape[1] != r.shape[1]:
        raise ValueError(f"primary has {p.shape[1]} samples but reference has {r.shape[1]}")
    if r.shape[0] < 1:
        raise ValueError("reference needs at least one channel")
    for name, x in (("primary", p), ("reference", r)):
        if not np.all(np.isfinite(x)):
            raise ValueError(f"{name} holds NaN or infinite samples")
    return p, r


def check_taps(taps: int, tap_spacing: int) -> None:
    """Refuse tap counts and spacings that are not positive integers."""
    for name, value in (("taps", taps), ("tap_spacing", tap_spacing)):
        if not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


class _StreamCanceller:
    """Shared stream handling: validation, the reference history between chunks."""

    taps: int
    tap_spacing: int

    def _history_length(self) -> int:
        return (self.taps - 1) * self.tap_spacing

    def _start(self, n_primary: int, n_reference: int) -> None:
        raise NotImplementedError

    def _run(self, primary: np.ndarray, extended: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _validate(self) -> None:
        check_taps(self.taps, self.tap_spacing)

    def fit(self, primary: np.ndarray, reference: np.ndarray) -> _StreamCanceller:
        """Start a new stream and adapt over it; the cleaned samples go to ``cleaned_``."""
        self._validate()
        p, r = check_streams(primary, reference)
        self._start(p.shape[0], r.shape[0])
        return self.partial_fit(p, r)

    def partial_fit(self, primary: np.ndarray, reference: np.ndarray) -> _StreamCanceller:
        """Continue the stream with the next chunk (``fit`` first starts one if none is on)."""
        p, r = check_streams(primary, reference)
        if not hasattr(self, "coef_"):
            return self.fit(p, r)
        if (p.shape[0], r.shape[0]) != self.coef_.shape[:2]:
            raise ValueError(f"this stream has {self.coef_.shape[0]} primaries and "
                             f"{self.coef_.shape[1]} references, got {p.shape[0]} and "
                             f"{r.shape[0]}; call fit to start a new one")
        extended = np.concatenate([self.history_, r], axis=1)
        self.cleaned_ = self._run(p, extended)
        self.history_ = extended[:, extended.shape[1] - self._history_length():]
        self.n_samples_ += p.shape[1]
        return self

    def fit_transform(self, primary: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """The cleaned primaries [primaries, samples] of a new stream."""
        return self.fit(primary, reference).cleaned_


@numba.njit(cache=True)
def _nlms_kernel(primary, extended, coef, taps, spacing, mu, eps):
    """NLMS over a chunk; ``extended`` is the reference with its history in front."""
    n_p, n = primary.shape
    n_r = extended.shape[0]
    offset = (taps - 1) * spacing
    cleaned = np.empty((n_p, n))
    for t in range(n):
        i0 = t + offset
        power = eps
        for r in range(n_r):
            for k in range(taps):
                x = extended[r, i0 - k * spacing]
                power += x * x
        for p in range(n_p):
            y = 0.0
            for r in range(n_r):
                for k in range(taps):
                    y += coef[p, r, k] * extended[r, i0 - k * spacing]
            e = primary[p, t] - y
            cleaned[p, t] = e
            g = mu * e / power
            for r in range(n_r):
                for k in range(taps):
                    coef[p, r, k] += g * extended[r, i0 - k * spacing]
    return cleaned


class NLMSCanceller(_StreamCanceller):
    """Normalised LMS: ``w += mu e x / (eps + |x|^2)`` per sample, floating point.

    Args:
        taps: filter taps per reference channel.
        tap_spacing: samples between taps.
        step_size: mu, in (0, 2) for stability; small values track slowly but leave the
            wanted signal alone (a fast filter also cancels the pulse).
        eps: regulariser of the reference power, in squared reference units (g² for
            acceleration).
    """

    def __init__(self, taps: int = 16, tap_spacing: int = 5, step_size: float = 0.01,
                 eps: float = 1e-3):
        self.taps = taps
        self.tap_spacing = tap_spacing
        self.step_size = step_size
        self.eps = eps

    def _validate(self) -> None:
        super()._validate()
        if not 0 < self.step_size < 2:
            raise ValueError(f"step_size must lie in (0, 2), got {self.step_size!r}")
        if not self.eps > 0:
            raise ValueError(f"eps must be > 0, got {self.eps!r}")

    def _start(self, n_primary: int, n_reference: int) -> None:
        self.coef_ = np.zeros((n_primary, n_reference, self.taps))
        self.history_ = np.zeros((n_reference, self._history_length()))
        self.n_samples_ = 0

    def _run(self, primary: np.ndarray, extended: np.ndarray) -> np.ndarray:
        return _nlms_kernel(primary, extended, self.coef_, self.taps, self.tap_spacing,
                            float(self.step_size), float(self.eps))


@numba.njit(cache=True)
def _rls_kernel(primary, extended, coef, inverse, taps, spacing, lam):
    """RLS over a chunk; one inverse correlation matrix and gain serve every primary."""
    n_p, n = primary.shape
    n_r = extended.shape[0]
    m = n_r * taps
    offset = (taps - 1) * spacing
    cleaned = np.empty((n_p, n))
    x = np.empty(m)
    for t in range(n):
        i0 = t + offset
        for r in range(n_r):
            for k in range(taps):
                x[r * taps + k] = extended[r, i0 - k * spacing]
        px = inverse @ x
        gain = px / (lam + x @ px)
        for p in range(n_p):
            e = primary[p, t] - coef[p] @ x
            cleaned[p, t] = e
            coef[p] += gain * e
        # P <- (P - k (P x)^T) / lambda, kept symmetric against round-off growth.
        for i in range(m):
            for j in range(i, m):
                value = (inverse[i, j] - gain[i] * px[j]) / lam
                inverse[i, j] = value
                inverse[j, i] = value
    return cleaned


class RLSCanceller(_StreamCanceller):
    """Exponentially weighted RLS, floating point.

    Args:
        taps: filter taps per reference channel.
        tap_spacing: samples between taps.
        forgetting: lambda in (0, 1]; the memory is about 1 / (1 - lambda) samples. At 125 Hz,
            0.9995 remembers 16 s: shorter memories let the filter cancel the pulse itself
            (its few cycles in the memory are explained by the references by chance).
        delta: initial inverse correlation matrix I / delta (squared reference units).
    """

    def __init__(self, taps: int = 16, tap_spacing: int = 5, forgetting: float = 0.9995,
                 delta: float = 1e-2):
        self.taps = taps
        self.tap_spacing = tap_spacing
        self.forgetting = forgetting
        self.delta = delta

    def _validate(self) -> None:
        super()._validate()
        if not 0 < self.forgetting <= 1:
            raise ValueError(f"forgetting must lie in (0, 1], got {self.forgetting!r}")
        if not self.delta > 0:
            raise ValueError(f"delta must be > 0, got {self.delta!r}")

    def _start(self, n_primary: int, n_reference: int) -> None:
        m = n_reference * self.taps
        self.coef_ = np.zeros((n_primary, n_reference, self.taps))
        self.inverse_ = np.eye(m) / self.delta
        self.history_ = np.zeros((n_reference, self._history_length()))
        self.n_samples_ = 0

    def _run(self, primary: np.ndarray, extended: np.ndarray) -> np.ndarray:
        n_p, n_r, taps = self.coef_.shape
        flat = self.coef_.reshape(n_p, n_r * taps)
        cleaned = _rls_kernel(primary, extended, flat, self.inverse_, taps, self.tap_spacing,
                              float(self.forgetting))
        self.coef_ = flat.reshape(n_p, n_r, taps)
        return cleaned


class PassThrough(_StreamCanceller):
    """No cancellation: the cleaned signal is the primary (the "none" method)."""

    def __init__(self, taps: int = 1, tap_spacing: int = 1):
        self.taps = taps
        self.tap_spacing = tap_spacing

    def _start(self, n_primary: int, n_reference: int) -> None:
        self.coef_ = np.zeros((n_primary, n_reference, self.taps))
        self.history_ = np.zeros((n_reference, self._history_length()))
        self.n_samples_ = 0

    def _run(self, primary: np.ndarray, extended: np.ndarray) -> np.ndarray:
        return primary.copy()
