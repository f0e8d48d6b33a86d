"""Spike encoders and their decoders: sampled signals to address-events and back.

Every encoder and decoder is a small dataclass of parameters that carries its stream state in
``_``-suffixed attributes: call it on consecutive chunks of a [channels, samples] signal and
the events are exactly those of one call over the whole signal; ``reset()`` starts a new stream.
None has a per-sample Python loop: all are vectorised over channels and samples, except the
graded delta tracker, a sequential recurrence compiled with numba.

- :class:`DeltaEncoder` — delta modulation / send-on-delta: an UP (DOWN) event each time the
  signal has risen (fallen) by ``threshold`` from the tracked level, which then steps by
  ``threshold``; a jump of k thresholds in one sample gives k events with the same timestamp.
  The decoded level stays within one threshold of the signal.
- :class:`GradedDeltaEncoder` — graded delta modulation (multi-bit send-on-delta): an event
  each time the signal is ``threshold`` or more from the tracked level, which then moves to the
  signal in one step of k ``resolution`` units; k travels in the address
  (``channel * levels + k - 1``) and the polarity gives the direction. One event per move
  instead of one per threshold crossed: about 25 dB on MIT-BIH ECG at 0.2 events per sample
  where :class:`DeltaEncoder` gives 18 dB (docs/sensors.md).
- ``sensors.interp`` — send-on-delta of the knots of a piecewise-linear signal, whose decoder
  draws lines between knots with a fixed delay (``interp``, ``knots``).
- :class:`LevelCrossingEncoder` — multi-level level-crossing sampling on a fixed ladder of
  levels (uniform or not, e.g. companded): one address per (channel, level), UP when the
  tracked level rises to that level, DOWN when it falls to it.
- :class:`RateEncoder` — Bernoulli rate coding: per sample an event with probability
  proportional to the signal between ``low`` and ``high`` (seeded).
- :class:`ThresholdEncoder` — threshold coding with hysteresis (a Schmitt trigger): ON when the
  signal reaches ``high``, OFF when it falls to ``low``.

The delta and level-crossing trackers share one closed form. With y the signal in level units,
the tracked level index follows n[t] = clip(n[t-1], floor(y[t]), ceil(y[t])). Writing
q = floor(y) + ceil(y), n is q/2 where q is even (y on a level) and otherwise
(q - s)/2, where s = ±1 is the sign of the last change of q: a level is left only by moving
past it, in the direction of travel. So n follows from a running "last change" index, a
cumulative maximum, with no sequential loop.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Protocol

import numba
import numpy as np
import scipy.signal

from sensors.events import DOWN, EVENT_DTYPE, UP, make_events, sample_index, sample_times_us
from sensors.signals import as_signal


class Encoder(Protocol):
    """A streaming encoder: chunks [channels, samples] in, events out."""

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        """Events of the next chunk."""
        ...

    def reset(self) -> Encoder:
        """Start a new stream."""
        ...


class Decoder(Protocol):
    """A streaming decoder: the events of the next ``n_samples`` in, [channels, n] out."""

    def __call__(self, events: np.ndarray, n_samples: int) -> np.ndarray:
        """The next ``n_samples`` of the signal."""
        ...

    def reset(self) -> Decoder:
        """Start a new stream."""
        ...


# Samples per internal block: keeps the working arrays of a long input in cache.
_BLOCK = 1 << 14


def check_address_space(n_channels: int, levels: int) -> None:
    """Refuse channel and level counts whose addresses (channel * levels + level) do not fit
    the events' 16-bit address field."""
    if n_channels * levels - 1 > np.iinfo(np.uint16).max:
        raise ValueError(f"{n_channels} channels x {levels} levels exceed the 16-bit address "
                         "space")


def _per_channel(value: float | np.ndarray, n_channels: int, name: str) -> np.ndarray:
    """A scalar or per-channel parameter as a float array [n_channels]."""
    if np.ndim(value) > 1 or np.size(value) not in (1, n_channels):
        raise ValueError(f"{name} must be a scalar or one value per channel ({n_channels}), "
                         f"got shape {np.shape(value)}")
    return np.broadcast_to(np.asarray(value, dtype=np.float64), (n_channels,)).copy()


def _check_fs(fs: float) -> None:
    if not (np.isfinite(fs) and fs > 0):
        raise ValueError(f"fs must be a positive sample rate in Hz, got {fs}")


@dataclass
class TrackerState:
    """State of the level tracker per channel between blocks: the last q (see
    :func:`level_changes`), whether its last change was downward, and the level index."""

    q: np.ndarray
    down: np.ndarray
    level: np.ndarray

    @classmethod
    def start(cls, n_channels: int, level: int = 0) -> TrackerState:
        """Every channel resting on ``level``."""
        return cls(np.full(n_channels, 2 * level, np.int64), np.zeros(n_channels, bool),
                   np.full(n_channels, level, np.int64))


def level_changes(y: np.ndarray, state: TrackerState) -> tuple[np.ndarray, ...]:
    """The hysteresis tracker in closed form (see the module docstring), evaluated only
    where it can move.

    Args:
        y: [channels, samples] signal in level units (level k at y = k).
        state: the tracker before the block; updated in place.

    Returns:
        sample, channel and signed level step of every move, ordered by sample then channel.
    """
    n_ch, n_t = y.shape
    q = np.floor(y)
    q += np.ceil(y)
    change = np.empty_like(q)
    np.subtract(q[:, 0], state.q, out=change[:, 0])
    np.subtract(q[:, 1:], q[:, :-1], out=change[:, 1:])
    # The tracked level can only move where q moves; there it is set by this move.
    flat = np.flatnonzero(change)
    c, t = np.divmod(flat, n_t)
    q_at = q.ravel()[flat].astype(np.int64)
    down = change.ravel()[flat] < 0
    # Off a level (q odd) the tracker sits on the level below after a rise and above after a
    # fall: n = (q - 1) / 2 + down; on a level (q even), n = q / 2.
    after = (q_at >> 1) + (q_at & down)
    first = np.ones(flat.size, bool)
    first[1:] = c[1:] != c[:-1]
    before = np.empty_like(after)
    before[1:] = after[:-1]
    before[first] = state.level[c[first]]
    last = np.ones(flat.size, bool)
    last[:-1] = c[:-1] != c[1:]
    state.q = q[:, -1].astype(np.int64) if n_t else state.q
    state.down[c[last]] = down[last]
    state.level[c[last]] = after[last]
    step = after - before
    moved = step != 0
    t, c, step = t[moved], c[moved], step[moved]
    order = np.argsort(t * n_ch + c, kind="stable")
    return t[order], c[order], step[order]


@dataclass
class DeltaEncoder:
    """Delta modulation (send-on-delta) with UP/DOWN events on address = channel.

    Args:
        threshold: step in the signal's unit (> 0), scalar or one per channel.
        fs: sample rate in Hz (for the timestamps).
        origin: the level the tracker starts from, in the signal's unit (scalar or per
            channel); the decoder starts from it too.
    """

    threshold: float | np.ndarray
    fs: float
    origin: float | np.ndarray = 0.0

    def __post_init__(self) -> None:
        _check_fs(self.fs)
        if not np.all(np.asarray(self.threshold) > 0):
            raise ValueError(f"threshold must be > 0, got {self.threshold}")
        self.reset()

    def reset(self) -> DeltaEncoder:
        """Forget the stream: the next call starts at sample 0 from ``origin``."""
        self.n_channels_ = None
        self.samples_ = 0
        self.tracker_ = None
        return self

    def _start(self, n_channels: int) -> None:
        self.n_channels_ = n_channels
        self.threshold_ = _per_channel(self.threshold, n_channels, "threshold")
        self.origin_ = _per_channel(self.origin, n_channels, "origin")
        self.tracker_ = TrackerState.start(n_channels)

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        """Events (``EVENT_DTYPE``) of the next chunk [channels, samples] of the stream."""
        x = as_signal(signal, self.n_channels_)
        if self.n_channels_ is None:
            self._start(x.shape[0])
        out = []
        for s0 in range(0, x.shape[1], _BLOCK):
            y = x[:, s0:s0 + _BLOCK] - self.origin_[:, None]
            y /= self.threshold_[:, None]
            t, c, step = level_changes(y, self.tracker_)
            k = np.abs(step)
            out.append(make_events(sample_times_us(np.repeat(t + self.samples_ + s0, k), self.fs),
                                   np.repeat(c, k), np.repeat(np.where(step > 0, UP, DOWN), k)))
        self.samples_ += x.shape[1]
        return np.concatenate(out) if out else np.empty(0, EVENT_DTYPE)


@dataclass
class DeltaDecoder:
    """Reconstruct a :class:`DeltaEncoder` stream: zero-order hold of the tracked level."""

    threshold: float | np.ndarray
    fs: float
    n_channels: int
    origin: float | np.ndarray = 0.0

    def __post_init__(self) -> None:
        _check_fs(self.fs)
        self.reset()

    def reset(self) -> DeltaDecoder:
        """Start a new stream at sample 0, level ``origin``."""
        self.samples_ = 0
        self.level_ = np.zeros(self.n_channels, np.int64)
        return self

    def __call__(self, events: np.ndarray, n_samples: int) -> np.ndarray:
        """The next ``n_samples`` of the signal [channels, n_samples] from their events."""
        net = _net_steps(events, self.fs, self.samples_, n_samples, self.n_channels,
                         events["x"].astype(np.int64))
        level = np.cumsum(net, axis=1) + self.level_[:, None]
        if n_samples:
            self.level_ = level[:, -1].copy()
        self.samples_ += n_samples
        threshold = _per_channel(self.threshold, self.n_channels, "threshold")
        origin = _per_channel(self.origin, self.n_channels, "origin")
        return origin[:, None] + threshold[:, None] * level


def _net_steps(events: np.ndarray, fs: float, start: int, n_samples: int, n_rows: int,
               row: np.ndarray, size: np.ndarray | int = 1) -> np.ndarray:
    """Sum of +size (UP) / -size (DOWN) per (row, sample) of a chunk, as int64
    [n_rows, n_samples]; ``size`` is each event's step in units (1 for one-step coders)."""
    idx = sample_index(events, fs) - start
    if idx.size and (idx.min() < 0 or idx.max() >= n_samples):
        raise ValueError(f"events fall on samples {idx.min() + start}..{idx.max() + start}, "
                         f"outside this chunk's {start}..{start + n_samples - 1}")
    if row.size and (row.min() < 0 or row.max() >= n_rows):
        raise ValueError(f"event addresses map to channel {row.max()}, the decoder has {n_rows}")
    sign = np.where(events["p"] == UP, size, -size)
    # float64 weights hold integer sums exactly up to 2**53.
    net = np.bincount(row * n_samples + idx, weights=sign, minlength=n_rows * n_samples)
    return net.astype(np.int64).reshape(n_rows, n_samples)


@numba.njit(cache=True, nogil=True)
def _graded_events(x: np.ndarray, origin: np.ndarray, threshold: np.ndarray,
                   resolution: np.ndarray, levels: int, level: np.ndarray, sample: np.ndarray,
                   address: np.ndarray, polarity: np.ndarray) -> int:
    """The graded delta tracker over one block [channels, samples], sample by sample.

    ``level`` (int64 [channels], in ``resolution`` units above ``origin``) is the state, updated
    in place. Events go to ``sample``, ``address`` and ``polarity`` in stream order
    (sample, then channel, then address); the return value is their number. When that exceeds
    the buffers' length the surplus is counted but not written, so the caller can grow the
    buffers and run the block again from the saved state.

    The recurrence is sequential (where a move lands sets where the next one fires), so it runs
    compiled. The tracked value is ``origin + resolution * level``, the expression the decoder
    evaluates, so both hold bit-identical values (no fastmath: no fused multiply-add or
    reassociation that could make them differ).
    """
    n_ch, n_t = x.shape
    capacity = sample.size
    n = 0
    for t in range(n_t):
        for c in range(n_ch):
            error = x[c, t] - (origin[c] + resolution[c] * level[c])
            if abs(error) < threshold[c]:
                continue
            # Nearest whole number of units; >= 1 because resolution <= 2 * threshold.
            units = np.int64(np.floor(abs(error) / resolution[c] + 0.5))
            level[c] += units if error > 0 else -units
            # The remainder first, then full steps of `levels` units: addresses ascend.
            count = (units + levels - 1) // levels
            size = units - (count - 1) * levels
            for _ in range(count):
                if n < capacity:
                    sample[n] = t
                    address[n] = c * levels + size - 1
                    polarity[n] = UP if error > 0 else DOWN
                n += 1
                size = levels
    return n


@dataclass
class GradedDeltaEncoder:
    """Graded delta modulation: UP/DOWN events whose address carries the step size.

    Per channel a tracked level starts at ``origin``. When a sample lies ``threshold`` or more
    from it, the level moves to the sample rounded to whole ``resolution`` units, k of them, and
    one event says so: polarity UP (DOWN) for a rise (fall), address
    ``x = channel * levels + k - 1``. A move of more than ``levels`` units takes several
    events at the same timestamp (the remainder first, then full steps, so that addresses
    ascend). Between moves the level holds, so the decoded signal is within ``threshold`` of
    the input at every sample.

    Args:
        threshold: dead band in the signal's unit (> 0), scalar or one per channel.
        fs: sample rate in Hz (for the timestamps).
        resolution: step unit in the signal's unit, in (0, 2 * threshold]; None means
            threshold / 2 (a moved level then lands within threshold / 4 of the sample).
        levels: step sizes per channel, 1..levels units (the address space per channel).
        origin: the level each channel starts from, in the signal's unit; the decoder starts
            from it too.
    """

    threshold: float | np.ndarray
    fs: float
    resolution: float | np.ndarray | None = None
    levels: int = 64
    origin: float | np.ndarray = 0.0

    def __post_init__(self) -> None:
        _check_fs(self.fs)
        _check_graded(self.threshold, self.resolution, self.levels)
        self.reset()

    def reset(self) -> GradedDeltaEncoder:
        """Forget the stream: the next call starts at sample 0 from ``origin``."""
        self.n_channels_ = None
        self.samples_ = 0
        return self

    def _start(self, n_channels: int) -> None:
        check_address_space(n_channels, self.levels)
        self.n_channels_ = n_channels
        self.threshold_ = _per_channel(self.threshold, n_channels, "threshold")
        self.resolution_ = _graded_resolution(self.threshold, self.resolution, n_channels)
        self.origin_ = _per_channel(self.origin, n_channels, "origin")
        self.level_ = np.zeros(n_channels, np.int64)

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        """Events (``EVENT_DTYPE``) of the next chunk [channels, samples] of the stream."""
        x = as_signal(signal, self.n_channels_)
        if self.n_channels_ is None:
            self._start(x.shape[0])
        out = []
        # Blocks keep the event buffers (a slot per channel and sample) to a few MB.
        for s0 in range(0, x.shape[1], _BLOCK):
            block = np.ascontiguousarray(x[:, s0:s0 + _BLOCK])
            out.append(self._block(block, self.samples_ + s0))
        self.samples_ += x.shape[1]
        return np.concatenate(out) if out else np.empty(0, EVENT_DTYPE)

    def _block(self, block: np.ndarray, offset: int) -> np.ndarray:
        """Events of one block whose first sample is number ``offset`` of the stream."""
        # One event per channel and sample is room enough unless moves of more than `levels`
        # units outnumber the quiet samples; then run the block again with room for all.
        capacity, start = block.size, self.level_.copy()
        while True:
            sample = np.empty(capacity, np.int64)
            address = np.empty(capacity, np.int64)
            polarity = np.empty(capacity, np.int8)
            n = _graded_events(block, self.origin_, self.threshold_, self.resolution_,
                               int(self.levels), self.level_, sample, address, polarity)
            if n <= capacity:
                return make_events(sample_times_us(sample[:n] + offset, self.fs), address[:n],
                                   polarity[:n])
            capacity = n
            self.level_[:] = start


@dataclass
class GradedDeltaDecoder:
    """Reconstruct a :class:`GradedDeltaEncoder` stream: the tracked level, held.

    Takes the encoder's parameters; ``threshold`` only sets the default ``resolution``.
    """

    threshold: float | np.ndarray
    fs: float
    n_channels: int
    resolution: float | np.ndarray | None = None
    levels: int = 64
    origin: float | np.ndarray = 0.0

    def __post_init__(self) -> None:
        _check_fs(self.fs)
        _check_graded(self.threshold, self.resolution, self.levels)
        self.resolution_ = _graded_resolution(self.threshold, self.resolution, self.n_channels)
        self.origin_ = _per_channel(self.origin, self.n_channels, "origin")
        self.reset()

    def reset(self) -> GradedDeltaDecoder:
        """Start a new stream at sample 0, level ``origin``."""
        self.samples_ = 0
        self.level_ = np.zeros(self.n_channels, np.int64)
        return self

    def __call__(self, events: np.ndarray, n_samples: int) -> np.ndarray:
        """The next ``n_samples`` of the signal [channels, n_samples] from their events."""
        row, units = np.divmod(events["x"].astype(np.int64), self.levels)
        net = _net_steps(events, self.fs, self.samples_, n_samples, self.n_channels, row,
                         units + 1)
        level = np.cumsum(net, axis=1) + self.level_[:, None]
        if n_samples:
            self.level_ = level[:, -1].copy()
        self.samples_ += n_samples
        # The encoder's expression, element by element: the same float64 values.
        return self.origin_[:, None] + self.resolution_[:, None] * level


def _check_graded(threshold: float | np.ndarray, resolution: float | np.ndarray | None,
                  levels: int) -> None:
    if not np.all(np.asarray(threshold) > 0):
        raise ValueError(f"threshold must be > 0, got {threshold}")
    if resolution is not None and not (
            np.all(np.asarray(resolution) > 0)
            and np.all(np.asarray(resolution) <= 2 * np.asarray(threshold))):
        raise ValueError(f"resolution must lie in (0, 2 * threshold], got {resolution} for "
                         f"threshold {threshold}: a coarser unit could round a move to zero")
    if int(levels) != levels or levels < 1:
        raise ValueError(f"levels must be a whole number >= 1, got {levels}")


def _graded_resolution(threshold: float | np.ndarray, resolution: float | np.ndarray | None,
                       n_channels: int) -> np.ndarray:
    """The step unit per channel: ``resolution``, or half the threshold when None."""
    if resolution is None:
        return _per_channel(threshold, n_channels, "threshold") / 2
    return _per_channel(resolution, n_channels, "resolution")


@dataclass
class LevelCrossingEncoder:
    """Multi-level level-crossing sampling on a fixed ladder, one address per (channel, level).

    Address ``x = channel * len(levels) + j``. An UP event on level j means the tracked level
    rose to ``levels[j]`` (the signal reached it); DOWN means it fell to ``levels[j]``. Between
    levels the tracker holds (hysteresis of one level spacing); outside the ladder it stays at
    the end level.

    Args:
        levels: ascending levels in the signal's unit (at least 2; uniform or not).
        fs: sample rate in Hz.
        initial: index of the level each channel's tracker starts at.
    """

    levels: tuple[float, ...] | np.ndarray
    fs: float
    initial: int = 0

    def __post_init__(self) -> None:
        _check_fs(self.fs)
        lv = np.asarray(self.levels, dtype=np.float64)
        if lv.ndim != 1 or lv.size < 2 or not np.all(np.diff(lv) > 0) or not np.all(
                np.isfinite(lv)):
            raise ValueError(f"levels must be >= 2 finite, strictly ascending values, got {lv}")
        if not 0 <= self.initial < lv.size:
            raise ValueError(f"initial level {self.initial} outside 0..{lv.size - 1}")
        self.levels_ = lv
        spacing = np.diff(lv)
        # An evenly spaced ladder maps to level units by arithmetic instead of a search.
        self.spacing_ = float(spacing.mean()) if np.ptp(spacing) <= 1e-9 * spacing.mean() \
            else None
        self.reset()

    def reset(self) -> LevelCrossingEncoder:
        """Start a new stream at sample 0 with every tracker at level ``initial``."""
        self.n_channels_ = None
        self.samples_ = 0
        return self

    def _moves(self, y: np.ndarray) -> tuple[np.ndarray, ...]:
        """Moves of the tracker (sample, channel, step) with the level each starts from."""
        start = self.tracker_.level.copy()
        t, c, step = level_changes(y, self.tracker_)
        # Per channel, in time order: the block's start level plus the earlier steps.
        order = np.argsort(c, kind="stable")
        by_channel = c[order]
        earlier = np.cumsum(step[order]) - step[order]
        first = np.ones(order.size, bool)
        first[1:] = by_channel[1:] != by_channel[:-1]
        group = np.maximum.accumulate(np.where(first, np.arange(order.size), 0))
        before = np.empty_like(step)
        before[order] = start[by_channel] + earlier - earlier[group]
        return t, c, step, before

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        """Events of the next chunk [channels, samples]."""
        x = as_signal(signal, self.n_channels_)
        n_levels = self.levels_.size
        if self.n_channels_ is None:
            check_address_space(x.shape[0], n_levels)
            self.n_channels_ = x.shape[0]
            self.tracker_ = TrackerState.start(x.shape[0], self.initial)
        out = []
        index = np.arange(n_levels, dtype=np.float64)
        for s0 in range(0, x.shape[1], _BLOCK):
            block = x[:, s0:s0 + _BLOCK]
            y = (np.clip((block - self.levels_[0]) / self.spacing_, 0, n_levels - 1)
                 if self.spacing_ else np.interp(block, self.levels_, index))
            t, c, step, before = self._moves(y)
            k = np.abs(step)
            direction = np.sign(step)
            # Within a sample's group of k events the levels are before ± 1, ± 2, ... ± k.
            offset = np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k) + 1
            level = np.repeat(before, k) + np.repeat(direction, k) * offset
            out.append(make_events(
                sample_times_us(np.repeat(t + self.samples_ + s0, k), self.fs),
                np.repeat(c, k) * n_levels + level,
                np.repeat(np.where(step > 0, UP, DOWN), k)))
        self.samples_ += x.shape[1]
        return np.concatenate(out) if out else np.empty(0, EVENT_DTYPE)


@dataclass
class LevelCrossingDecoder:
    """Reconstruct a :class:`LevelCrossingEncoder` stream: the level last reached, held."""

    levels: tuple[float, ...] | np.ndarray
    fs: float
    n_channels: int
    initial: int = 0

    def __post_init__(self) -> None:
        _check_fs(self.fs)
        self.levels_ = np.asarray(self.levels, dtype=np.float64)
        self.reset()

    def reset(self) -> LevelCrossingDecoder:
        """Start a new stream at sample 0, every channel at level ``initial``."""
        self.samples_ = 0
        self.level_ = np.full(self.n_channels, self.initial, np.int64)
        return self

    def __call__(self, events: np.ndarray, n_samples: int) -> np.ndarray:
        """The next ``n_samples`` [channels, n_samples] from their events."""
        row = events["x"].astype(np.int64) // self.levels_.size
        net = _net_steps(events, self.fs, self.samples_, n_samples, self.n_channels, row)
        level = np.cumsum(net, axis=1) + self.level_[:, None]
        if n_samples:
            self.level_ = level[:, -1].copy()
        self.samples_ += n_samples
        return self.levels_[level]


@dataclass
class RateEncoder:
    """Bernoulli rate coding: per sample an ON event with probability r(x) / fs, where the rate
    r rises linearly from 0 at ``low`` to ``max_rate_hz`` at ``high`` (clipped).

    Each channel draws from its own child of ``random_state`` (``Generator.spawn``), so
    chunking does not change the draws.
    """

    low: float | np.ndarray
    high: float | np.ndarray
    fs: float
    max_rate_hz: float
    random_state: int | np.random.Generator | None = None

    def __post_init__(self) -> None:
        _check_fs(self.fs)
        if not 0 < self.max_rate_hz <= self.fs:
            raise ValueError(f"max_rate_hz must lie in (0, fs={self.fs}], got {self.max_rate_hz}")
        if not np.all(np.asarray(self.high) > np.asarray(self.low)):
            raise ValueError(f"high ({self.high}) must exceed low ({self.low})")
        self.rng0_ = copy.deepcopy(np.random.default_rng(self.random_state))
        self.reset()

    def reset(self) -> RateEncoder:
        """Start a new stream: sample 0 and the generators back in their state at
        construction."""
        self.n_channels_ = None
        self.samples_ = 0
        return self

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        """Events of the next chunk [channels, samples]."""
        if np.shape(signal)[-1] > _BLOCK:  # in cache-sized blocks: streams are chunk-invariant
            x = np.asarray(signal, dtype=np.float64)
            return np.concatenate([self(x[..., s0:s0 + _BLOCK])
                                   for s0 in range(0, x.shape[-1], _BLOCK)])
        x = as_signal(signal, self.n_channels_)
        n_ch, n_t = x.shape
        if self.n_channels_ is None:
            self.n_channels_ = n_ch
            # One child generator per channel: a chunk is one contiguous draw per channel.
            self.streams_ = copy.deepcopy(self.rng0_).spawn(n_ch)
        low = _per_channel(self.low, n_ch, "low")[:, None]
        high = _per_channel(self.high, n_ch, "high")[:, None]
        # draw < p(x) with p = clip((x - low) / (high - low)) * max_rate / fs, rewritten as
        # min(x, high) > low + (high - low) * draw * fs / max_rate.
        level = np.empty((n_ch, n_t))
        for row, stream in zip(level, self.streams_, strict=True):
            stream.random(out=row)
        level *= (high - low) * (self.fs / self.max_rate_hz)
        level += low
        flat = np.flatnonzero(np.minimum(x, high) > level)
        c, t = np.divmod(flat, n_t)
        order = np.argsort(t * n_ch + c, kind="stable")
        t, c = t[order], c[order]
        self.samples_ += n_t
        return make_events(sample_times_us(t + self.samples_ - n_t, self.fs), c,
                           np.full(t.size, UP))


@dataclass
class RateDecoder:
    """Reconstruct a :class:`RateEncoder` stream: event rate over a causal moving window."""

    low: float | np.ndarray
    high: float | np.ndarray
    fs: float
    max_rate_hz: float
    n_channels: int
    window_s: float = 0.05

    def __post_init__(self) -> None:
        _check_fs(self.fs)
        self.width_ = max(1, round(self.window_s * self.fs))
        self.reset()

    def reset(self) -> RateDecoder:
        """Start a new stream at sample 0 with an empty window."""
        self.samples_ = 0
        self.zi_ = np.zeros((self.n_channels, self.width_ - 1))
        return self

    def __call__(self, events: np.ndarray, n_samples: int) -> np.ndarray:
        """The next ``n_samples`` [channels, n_samples] from their events."""
        counts = _net_steps(events, self.fs, self.samples_, n_samples, self.n_channels,
                            events["x"].astype(np.int64)).astype(np.float64)
        self.samples_ += n_samples
        if self.width_ > 1 and n_samples:
            counts, self.zi_ = scipy.signal.lfilter(np.ones(self.width_), [1.0], counts,
                                                     axis=1, zi=self.zi_)
        rate = counts / self.width_ * self.fs
        low = _per_channel(self.low, self.n_channels, "low")[:, None]
        high = _per_channel(self.high, self.n_channels, "high")[:, None]
        return low + (high - low) * rate / self.max_rate_hz


@dataclass
class ThresholdEncoder:
    """Threshold coding with hysteresis: ON (p = UP) when a channel reaches ``high``, OFF
    (p = DOWN) when it falls to ``low``; address = channel. Channels start OFF."""

    low: float | np.ndarray
    high: float | np.ndarray
    fs: float

    def __post_init__(self) -> None:
        _check_fs(self.fs)
        if not np.all(np.asarray(self.high) > np.asarray(self.low)):
            raise ValueError(f"high ({self.high}) must exceed low ({self.low})")
        self.reset()

    def reset(self) -> ThresholdEncoder:
        """Start a new stream at sample 0 with every channel OFF."""
        self.n_channels_ = None
        self.samples_ = 0
        return self

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        """Events of the next chunk [channels, samples]."""
        if np.shape(signal)[-1] > _BLOCK:  # in cache-sized blocks: streams are chunk-invariant
            x = np.asarray(signal, dtype=np.float64)
            return np.concatenate([self(x[..., s0:s0 + _BLOCK])
                                   for s0 in range(0, x.shape[-1], _BLOCK)])
        x = as_signal(signal, self.n_channels_)
        if self.n_channels_ is None:
            self.n_channels_ = x.shape[0]
            self.on_ = np.zeros(x.shape[0], bool)
        state = threshold_state(x, _per_channel(self.low, x.shape[0], "low"),
                                _per_channel(self.high, x.shape[0], "high"), self.on_)
        change = np.diff(state.astype(np.int8), axis=1, prepend=self.on_[:, None])
        t, c = np.nonzero(change.T)
        self.on_ = state[:, -1].copy() if x.shape[1] else self.on_
        self.samples_ += x.shape[1]
        return make_events(sample_times_us(t + self.samples_ - x.shape[1], self.fs), c,
                           np.where(change[c, t] > 0, UP, DOWN))


def threshold_state(x: np.ndarray, low: np.ndarray, high: np.ndarray,
                    on0: np.ndarray) -> np.ndarray:
    """Schmitt-trigger state [channels, samples] (bool): set at >= high, cleared at <= low."""
    above = x >= high[:, None]
    forced = above | (x <= low[:, None])
    # Position of the last forcing sample with its value in bit 0; before any, -2 + on0.
    ramp = np.arange(0, 2 * x.shape[1], 2, dtype=np.int64)
    code = np.where(forced, ramp | above, (on0.astype(np.int64) - 2)[:, None])
    np.maximum.accumulate(code, axis=1, out=code)
    return (code & 1).astype(bool)


@dataclass
class ThresholdDecoder:
    """Reconstruct a :class:`ThresholdEncoder` stream as ``low`` (OFF) or ``high`` (ON)."""

    low: float | np.ndarray
    high: float | np.ndarray
    fs: float
    n_channels: int

    def __post_init__(self) -> None:
        _check_fs(self.fs)
        self.reset()

    def reset(self) -> ThresholdDecoder:
        """Start a new stream at sample 0, every channel OFF."""
        self.samples_ = 0
        self.on_ = np.zeros(self.n_channels, np.int64)
        return self

    def __call__(self, events: np.ndarray, n_samples: int) -> np.ndarray:
        """The next ``n_samples`` [channels, n_samples] from their events."""
        net = _net_steps(events, self.fs, self.samples_, n_samples, self.n_channels,
                         events["x"].astype(np.int64))
        on = np.cumsum(net, axis=1) + self.on_[:, None]
        if n_samples:
            self.on_ = on[:, -1].copy()
        self.samples_ += n_samples
        low = _per_channel(self.low, self.n_channels, "low")[:, None]
        high = _per_channel(self.high, self.n_channels, "high")[:, None]
        return np.where(on > 0, high, low)


def reconstruction_snr_db(signal: np.ndarray, decoded: np.ndarray) -> float:
    """10 log10 of signal power (about its mean) over error power, all channels pooled."""
    x = np.asarray(signal, dtype=np.float64)
    err = x - decoded
    power = np.mean((x - x.mean(axis=-1, keepdims=True)) ** 2)
    return float(10 * np.log10(power / np.mean(err**2))) if np.any(err) else float("inf")


ENCODERS: dict[str, str] = {
    "delta": "delta modulation: UP/DOWN per threshold step (address = channel)",
    "graded": "graded delta: UP/DOWN per move, step size in the address "
              "(channel * levels + units - 1)",
    "interp": "send-on-delta of piecewise-linear knots (first line that fails), change in "
              "the address (channel * levels + units); linear decoder, delay 32 samples "
              "(sensors.interp)",
    "knots": "piecewise-linear knots, each the best of 4 judged with the segment after it, "
             "events as interp; linear decoder, delay 79 samples (sensors.interp)",
    "level": "level crossing on a fixed ladder: address = channel * levels + level",
    "rate": "Bernoulli rate coding between low and high (seeded)",
    "threshold": "threshold coding with hysteresis: ON at high, OFF at low",
}
