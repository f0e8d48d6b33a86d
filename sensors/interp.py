"""Send-on-delta with an interpolating decoder: knots of a piecewise-linear signal as events.

:class:`InterpDeltaEncoder` keeps, per channel, the last knot (sample t0, value v0) and the
range of slopes s for which the line v0 + s (t - t0) stays within ``threshold`` of every sample
since t0 (the feasible-space window of piecewise-linear approximation; Liu et al., "Novel
online methods for time series segmentation", IEEE TKDE 20(12), 2008). Each sample narrows the
range by one O(1) update. When a sample empties it, or the segment would grow longer than
``max_gap`` samples, the segment ends at the previous sample: that sample becomes a knot whose
value is the line's, with the slope in range that comes nearest the sample, rounded to whole
``resolution`` units. Its events carry the change from the previous knot's value in units:
polarity UP for a rise or no change, DOWN for a fall, address ``channel * levels + units``
(0 <= units < levels); a change of ``levels`` units or more takes several events at the knot's
timestamp, the remainder first, then ``levels - 1`` units each. Where graded delta holds a
level between events, the decoder (:class:`InterpDeltaDecoder`) draws the straight line
between consecutive knots, so between knots it follows slopes instead of a staircase; with a
fixed threshold every decoded sample is within ``threshold + resolution / 2`` of the input.

:class:`KnotEncoder` sends the same events but places the knots with lookahead: from its
last knot it takes the few segment ends with the least squared error plus ``penalty`` per
sample (each line from the last knot fitted by least squares), judges each together with the
best segment that would follow it, and puts the knot where the pair costs least per sample,
its value the line's end rounded to whole units. The first line that fails puts a knot
wherever one noisy sample leaves the corridor; the lookahead spends knots where they remove
the most error (about 4 dB more on MIT-BIH ECG at 0.2 events per sample, docs/sensors.md), at
some 5 times the compute.

Timing: an event's ``t`` is the instant of its knot; :class:`InterpDeltaEncoder` emits it one
sample later (when the next sample shows that the segment cannot go on), :class:`KnotEncoder`
``max_gap + horizon - 1`` samples later (when it is final in every channel). The decoder
needs the knot that ends a segment before it can draw the segment, so it answers with a fixed
delay, the encoder's ``delay``: ``max_gap`` samples for :class:`InterpDeltaEncoder` (89 ms
at 360 Hz for the default 32), ``2 max_gap + horizon - 1`` for :class:`KnotEncoder` (79
samples, 219 ms at 360 Hz, by default). Each decoder call returns as many samples as it was
given, the stream's samples ``delay`` earlier (the first ``delay`` are the origin). At the end
of a stream ``flush()`` on the encoder gives the last knots, and ``flush(events)`` on the
decoder the last ``delay`` samples; :func:`decode_stream` decodes a whole stream's events (a
file's) in one call.

Rate control: with ``target_rate`` set, each channel's threshold (penalty) follows its own
event rate, causally. At fixed points of the stream (every ``window`` samples, or every
knot for :class:`KnotEncoder`; counted from the start of the stream, so chunking does not
move them) it is multiplied by exp(``gain`` * (events - target * samples) / (target *
window)) over the samples since the last update: integral control, so it settles where the
channel sends ``target_rate`` events per sample on average. The decoder needs neither the
threshold nor its updates: the knots carry everything it draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from sensors.encoders import _BLOCK, _check_fs, _per_channel, check_address_space
from sensors.events import DOWN, EVENT_DTYPE, UP, make_events, sample_index, sample_times_us
from sensors.signals import as_signal


@numba.njit(cache=True, nogil=True)
def _knot_events(x: np.ndarray, offset: int, origin: np.ndarray, resolution: np.ndarray,
                 levels: int, max_gap: int, target: float, window: int, gain: float,
                 delta: np.ndarray, t0: np.ndarray, n0: np.ndarray, s_min: np.ndarray,
                 s_max: np.ndarray, last: np.ndarray, count: np.ndarray, sample: np.ndarray,
                 address: np.ndarray, polarity: np.ndarray) -> int:
    """The knot finder over one block [channels, samples] whose first sample is number
    ``offset`` of the stream, channel by channel (the caller puts the events in stream order).

    State per channel, updated in place: ``delta`` (threshold), ``t0`` (last knot's sample),
    ``n0`` (its value in units above ``origin``), ``s_min``/``s_max`` (slopes, signal unit per
    sample, that keep the segment within ``delta``), ``last`` (the previous sample's value)
    and ``count`` (events in the current rate window). Events go to ``sample`` (the knot's
    stream sample), ``address`` and ``polarity``, each channel's in time order; returns their
    number. When that exceeds the buffers the surplus is counted but not written, so the
    caller can grow them and rerun the block from saved state.
    """
    n_ch, n_t = x.shape
    n = 0
    # Channels are independent (the controller too), so each runs with its state in locals.
    for c in range(n_ch):
        th, start, units0 = delta[c], t0[c], n0[c]
        low, high, previous, events_in_window = s_min[c], s_max[c], last[c], count[c]
        v0 = origin[c] + resolution[c] * units0
        # The next sample after which the controller updates (a comparison per sample, not a
        # modulo).
        update = (offset // window + 1) * window - 1
        for i in range(n_t):
            g = offset + i
            value = x[c, i]
            inverse = 1.0 / (g - start)  # one division per sample instead of two
            lo = (value - th - v0) * inverse
            hi = (value + th - v0) * inverse
            if max(low, lo) > min(high, hi) or g - start > max_gap:
                # The segment ends at the previous sample (g - start >= 2 here: at 1 the range
                # is never empty and max_gap >= 1).
                span = g - 1 - start
                slope = min(max((previous - v0) / span, low), high)
                units = np.int64(np.floor((v0 + slope * span - origin[c]) / resolution[c]
                                          + 0.5))
                before = n
                n = _put_knot(g - 1, units, units0, c, levels, n, sample, address, polarity)
                events_in_window += n - before
                start, units0 = g - 1, units
                v0 = origin[c] + resolution[c] * units
                low, high = value - th - v0, value + th - v0
            else:
                low, high = max(low, lo), min(high, hi)
            previous = value
            if g == update:
                update += window
                if target > 0:
                    th *= np.exp(gain * (events_in_window - target * window)
                                 / (target * window))
                    events_in_window = 0
        delta[c], t0[c], n0[c] = th, start, units0
        s_min[c], s_max[c], last[c], count[c] = low, high, previous, events_in_window
    return n


@numba.njit(cache=True, nogil=True)
def _stream_order(sample: np.ndarray, address: np.ndarray, polarity: np.ndarray, first: int,
                  n_samples: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Events written channel by channel, each channel's in time order, put in stream order
    (by sample, then channel) by a counting sort on the sample, which is stable: within a
    sample the channels stay in order and a knot's events stay together. Samples lie in
    [first, first + n_samples)."""
    start = np.zeros(n_samples + 1, np.int64)
    for k in range(sample.size):
        start[sample[k] - first + 1] += 1
    for j in range(n_samples):
        start[j + 1] += start[j]
    out_sample = np.empty_like(sample)
    out_address = np.empty_like(address)
    out_polarity = np.empty_like(polarity)
    for k in range(sample.size):
        j = sample[k] - first
        out_sample[start[j]] = sample[k]
        out_address[start[j]] = address[k]
        out_polarity[start[j]] = polarity[k]
        start[j] += 1
    return out_sample, out_address, out_polarity


@numba.njit(cache=True, nogil=True)
def _lookahead_events(x: np.ndarray, offset: int, flush: bool, origin: np.ndarray,
                      resolution: np.ndarray, levels: int, max_gap: int, horizon: int,
                      candidates: int, cut: float, target: float, window: int, gain: float,
                      ring: np.ndarray, penalty: np.ndarray, c: np.ndarray, nc: np.ndarray,
                      pend_t: np.ndarray, pend_u: np.ndarray, pend_n: np.ndarray,
                      sent: np.ndarray, sample: np.ndarray, address: np.ndarray,
                      polarity: np.ndarray) -> int:
    """The knot placer over one block [channels, samples] whose first sample is number
    ``offset`` of the stream (with ``flush``, after the block: end the stream on its last
    sample).

    From its last knot (sample ``c``, value ``nc`` units) a channel decides its next knot once
    it holds ``max_gap + horizon`` samples after it. A row from a knot (t0, v0) holds, for each
    length d, the least squared error e(d) of a line from v0 over the d samples after t0 (its
    free end: running sums of y = x - v0 and r y, e = sum y^2 - (sum r y)^2 / sum r^2) and that
    line's end value; it stops at the first d whose error passes ``cut`` penalties (longer
    segments cost more than a knot saves) or at its horizon. The ``candidates`` ends d1 with
    the least (e(d1) + penalty) / d1 on the row from the last knot (horizon ``max_gap``) are
    each scored with their best next segment: the least (e(d1) + e'(d2) + 2 penalty) /
    (d1 + d2) over the row from (t0 + d1, the end value rounded to whole units) (horizon
    ``horizon``), or (e(d1) + penalty) / d1 at the end of the stream. The least wins (among
    equals the nearest); its row is the next decision's. The controller multiplies
    ``penalty`` by exp(gain (events - target d1) / (target window)) at every knot.

    Knots are sent once final in every channel, on samples up to the block's last sample
    minus ``max_gap + horizon - 1`` (all with ``flush``), so that events leave in stream order;
    the others wait in ``pend_t``/``pend_u`` (``pend_n`` per channel), ``sent`` being the
    units of the last knot sent. ``ring`` (a power-of-two ring indexed by stream sample) keeps
    each channel's samples after its last knot between blocks. Events go out channel by
    channel, each channel's in time order (the caller puts them in stream order); returns
    their number (buffers as in :func:`_knot_events`).
    """
    n_ch, n_t = x.shape
    size_ring = ring.shape[1]
    mask = size_ring - 1
    end = offset + n_t
    release = end - 1 if flush else end - max_gap - horizon
    reach = max(max_gap, horizon)
    inv = np.empty(max_gap + horizon + 1)
    for d in range(1, max_gap + horizon + 1):
        inv[d] = 1.0 / d
    # 1 / sum of r^2 for r = 1..d, and d as a float: tables, not divisions or conversions.
    isr2 = np.zeros(reach + 1)
    fd = np.zeros(reach + 1)
    total = 0.0
    for d in range(1, reach + 1):
        total += d * d
        isr2[d] = 1.0 / total
        fd[d] = d
    # Rows (error, sum r y) in slots: the last knot's in slot ``slot[k_max]``, the
    # candidates' in the others.
    width = reach + 1
    err = np.empty((candidates + 1) * width)
    sry = np.empty((candidates + 1) * width)
    filled = np.zeros(candidates + 1, np.int64)
    sum_y2 = np.zeros(candidates + 1)
    sum_ry = np.zeros(candidates + 1)
    slot = np.arange(candidates + 1)
    top_s = np.empty(candidates)
    top_d = np.empty(candidates, np.int64)
    top_u = np.empty(candidates, np.int64)
    xs = np.empty(size_ring + n_t)
    n = 0
    for ch in range(n_ch):
        o, res, pen, cc, ncc = origin[ch], resolution[ch], penalty[ch], c[ch], nc[ch]
        # The channel's samples from its last knot on: sample k at k - base.
        base = cc + 1
        held = offset - base
        for k in range(held):
            xs[k] = ring[ch, (base + k) & mask]
        xs[held:held + n_t] = x[ch]
        waiting = pend_n[ch]
        last = sent[ch]
        # Knots that earlier blocks decided and this one makes final.
        j = 0
        while j < waiting and pend_t[ch, j] <= release:
            n = _put_knot(pend_t[ch, j], pend_u[ch, j], last, ch, levels, n, sample, address,
                          polarity)
            last = pend_u[ch, j]
            j += 1
        for i in range(j, waiting):
            pend_t[ch, i - j], pend_u[ch, i - j] = pend_t[ch, i], pend_u[ch, i]
        waiting -= j
        k_max = candidates
        filled[slot[k_max]] = 0
        sum_y2[slot[k_max]] = 0.0
        sum_ry[slot[k_max]] = 0.0
        while True:
            avail = end - 1 - cc
            if avail == 0 or (avail < max_gap + horizon and not flush):
                break
            h1 = min(max_gap, avail)
            v0 = o + res * ncc
            bound = cut * pen
            # The one-step scan over the last knot's row, extended where it is short.
            row = slot[k_max] * width
            have = filled[slot[k_max]]
            a2, a1 = sum_y2[slot[k_max]], sum_ry[slot[k_max]]
            nk = 0
            d = 0
            while d < h1:
                d += 1
                if d > have:
                    y = xs[cc + d - base] - v0
                    a2 += y * y
                    a1 += fd[d] * y
                    err[row + d] = a2 - a1 * a1 * isr2[d]
                    sry[row + d] = a1
                    have = d
                e = err[row + d]
                score = (e + pen) * inv[d]
                if nk < candidates or score < top_s[nk - 1]:
                    i = nk if nk < candidates else candidates - 1
                    while i > 0 and score < top_s[i - 1]:
                        top_s[i], top_d[i] = top_s[i - 1], top_d[i - 1]
                        i -= 1
                    top_s[i], top_d[i] = score, d
                    if nk < candidates:
                        nk += 1
                if e > bound:
                    break
            filled[slot[k_max]] = have
            sum_y2[slot[k_max]], sum_ry[slot[k_max]] = a2, a1
            # Each candidate scored with its best next segment.
            best = np.inf
            pick = 0
            for k in range(nk):
                d1 = top_d[k]
                u = np.int64(np.floor((v0 + sry[row + d1] * isr2[d1] * fd[d1] - o) / res
                                      + 0.5))
                top_u[k] = u
                h2 = min(horizon, avail - d1)
                first_cost = err[row + d1] + 2.0 * pen
                s = slot[k]
                q = s * width
                a2 = 0.0
                a1 = 0.0
                d2 = 0
                if h2 == 0:
                    cost = (err[row + d1] + pen) * inv[d1]
                else:
                    cost = np.inf
                    v1 = o + res * u
                    p = cc + d1 - base
                    while d2 < h2:
                        d2 += 1
                        y = xs[p + d2] - v1
                        a2 += y * y
                        a1 += fd[d2] * y
                        e = a2 - a1 * a1 * isr2[d2]
                        err[q + d2] = e
                        sry[q + d2] = a1
                        cost = min(cost, (first_cost + e) * inv[d1 + d2])
                        if e > bound:
                            break
                filled[s] = d2
                sum_y2[s], sum_ry[s] = a2, a1
                if cost < best or (cost == best and d1 < top_d[pick]):
                    best, pick = cost, k
            d1, u = top_d[pick], top_u[pick]
            t = cc + d1
            if waiting == 0 and t <= release:
                n = _put_knot(t, u, last, ch, levels, n, sample, address, polarity)
                last = u
            else:
                pend_t[ch, waiting], pend_u[ch, waiting] = t, u
                waiting += 1
            if target > 0:
                size = abs(u - ncc)
                events = 1 if size == 0 else (size + levels - 2) // (levels - 1)
                pen *= np.exp(gain * (events - target * d1) / (target * window))
            cc, ncc = t, u
            slot[k_max], slot[pick] = slot[pick], slot[k_max]
        for k in range(cc + 1, end):
            ring[ch, k & mask] = xs[k - base]
        penalty[ch], c[ch], nc[ch], pend_n[ch], sent[ch] = pen, cc, ncc, waiting, last
    return n


@numba.njit(cache=True, nogil=True)
def _put_knot(t: int, units: int, last: int, ch: int, levels: int, n: int,
              sample: np.ndarray, address: np.ndarray, polarity: np.ndarray) -> int:
    """Write the events of a knot on sample ``t`` at ``units`` after one at ``last`` (a change
    of ``levels`` units or more takes several, the remainder first); returns the new count
    (events beyond the buffers are counted, not written)."""
    change = units - last
    size = abs(change)
    events = 1 if size == 0 else (size + levels - 2) // (levels - 1)
    size -= (events - 1) * (levels - 1)
    for _ in range(events):
        if n < sample.size:
            sample[n] = t
            address[n] = ch * levels + size
            polarity[n] = UP if change >= 0 else DOWN
        n += 1
        size = levels - 1
    return n


def _knots_of(events: np.ndarray, levels: int, fs: float) -> tuple[np.ndarray, ...]:
    """The knots in a stream-ordered event array: channel, sample index, signed change in
    units."""
    row, size = np.divmod(events["x"].astype(np.int64), levels)
    change = np.where(events["p"] == UP, size, -size)
    at = sample_index(events, fs)
    # The events of one knot share (sample, channel) and are adjacent in stream order.
    start = np.ones(events.size, bool)
    start[1:] = (at[1:] != at[:-1]) | (row[1:] != row[:-1])
    first = np.flatnonzero(start)
    return row[first], at[first], np.add.reduceat(change, first) if first.size else change


@dataclass
class InterpDeltaEncoder:
    """Send-on-delta of piecewise-linear knots (see the module docstring).

    Args:
        threshold: largest distance (signal unit) of a sample from its segment's line; with
            ``target_rate`` the starting value, adapted per channel.
        fs: sample rate in Hz (for the timestamps).
        resolution: unit of the knot values, signal unit (> 0), scalar or per channel; None
            means threshold / 4.
        levels: addresses per channel (changes of 0..levels - 1 units in one event; >= 2).
        max_gap: longest segment, samples (>= 1): the decoder's delay.
        origin: value of the knot before the stream (sample -1), signal unit.
        target_rate: events per sample per channel that the rate controller holds; 0 keeps
            ``threshold`` fixed.
        window: samples between threshold updates.
        gain: integral gain of the controller (log-threshold change per unit relative rate
            error per window).
    """

    threshold: float | np.ndarray
    fs: float
    resolution: float | np.ndarray | None = None
    levels: int = 256
    max_gap: int = 32
    origin: float | np.ndarray = 0.0
    target_rate: float = 0.0
    window: int = 1024
    gain: float = 0.1

    def __post_init__(self) -> None:
        _check_fs(self.fs)
        _check_interp(self.threshold, self.resolution, self.levels, self.max_gap)
        _check_control(self.target_rate, self.window, self.gain)
        self.reset()

    def reset(self) -> InterpDeltaEncoder:
        """Forget the stream: the next call starts at sample 0 from the knot (-1, origin)."""
        self.n_channels_ = None
        self.samples_ = 0
        return self

    def _start(self, n_channels: int) -> None:
        check_address_space(n_channels, self.levels)
        self.n_channels_ = n_channels
        self.threshold_ = _per_channel(self.threshold, n_channels, "threshold")
        self.resolution_ = _interp_resolution(self.threshold, self.resolution, n_channels)
        self.origin_ = _per_channel(self.origin, n_channels, "origin")
        self.t0_ = np.full(n_channels, -1, np.int64)
        self.n0_ = np.zeros(n_channels, np.int64)
        self.s_min_ = np.full(n_channels, -np.inf)
        self.s_max_ = np.full(n_channels, np.inf)
        self.last_ = self.origin_.copy()
        self.count_ = np.zeros(n_channels, np.int64)

    @property
    def delay(self) -> int:
        """Samples by which the decoder lags: the longest segment."""
        return int(self.max_gap)

    def _state(self) -> tuple[np.ndarray, ...]:
        return (self.threshold_, self.t0_, self.n0_, self.s_min_, self.s_max_, self.last_,
                self.count_)

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        """Events of the knots that the next chunk [channels, samples] completes."""
        x = as_signal(signal, self.n_channels_)
        if self.n_channels_ is None:
            self._start(x.shape[0])
        out = []
        for s0 in range(0, x.shape[1], _BLOCK):
            # A view: the kernel reads each channel's row in order, so no copy is needed.
            out.append(self._block(x[:, s0:s0 + _BLOCK], self.samples_ + s0))
        self.samples_ += x.shape[1]
        return np.concatenate(out) if out else np.empty(0, EVENT_DTYPE)

    def _block(self, block: np.ndarray, offset: int) -> np.ndarray:
        # A knot per channel and sample, plus splits of large changes: grow and rerun from the
        # saved state in the rare block that needs more.
        capacity, saved = block.size + 16, [a.copy() for a in self._state()]
        while True:
            sample = np.empty(capacity, np.int64)
            address = np.empty(capacity, np.int64)
            polarity = np.empty(capacity, np.int8)
            n = _knot_events(block, offset, self.origin_, self.resolution_, int(self.levels),
                             int(self.max_gap), float(self.target_rate), int(self.window),
                             float(self.gain), *self._state(), sample, address, polarity)
            if n <= capacity:
                break
            capacity = n
            for a, b in zip(self._state(), saved, strict=True):
                a[:] = b
        # Knots lie from the sample before the block (a segment ended by its first sample) to
        # its last.
        sample, address, polarity = _stream_order(sample[:n], address[:n], polarity[:n],
                                                  offset - 1, block.shape[1] + 1)
        return make_events(sample_times_us(sample, self.fs), address, polarity)

    def flush(self) -> np.ndarray:
        """End the stream: a knot on its last sample for every channel that has none there.
        Call :meth:`reset` before encoding another stream."""
        if self.n_channels_ is None or self.samples_ == 0:
            return np.empty(0, EVENT_DTYPE)
        # A sample that no slope can reach (beyond every bound) ends each open segment.
        block = np.full((self.n_channels_, 1), np.inf)
        open_ = self.t0_ < self.samples_ - 1
        block[~open_, 0] = self.last_[~open_]
        saved = [a.copy() for a in self._state()]
        events = self._block(block, self.samples_)
        for a, b in zip(self._state(), saved, strict=True):
            a[:] = b
        return events


@dataclass
class KnotEncoder:
    """Piecewise-linear knots placed with lookahead: the best of a few next knots, each judged
    with the segment that would follow it, not the first line that fails (see the module
    docstring for the events and the decoder, :func:`_lookahead_events` for the rule).

    From its last knot a channel weighs the ``candidates`` segment ends of least (squared
    error + ``penalty``) per sample within ``max_gap`` samples, each together with its best
    next segment within ``horizon`` samples, and puts its next knot on the end whose two
    segments cost least per sample; the knot's value is that line's end, rounded to whole
    ``resolution`` units. Segments whose own error passes ``cut`` penalties are not weighed
    (a knot would save more). The decoder lags by ``delay`` = 2 max_gap + horizon - 1
    samples: a knot is decided when max_gap + horizon samples follow the one before, and sent
    when final in every channel (stream order), and the knot after any sample lies at most
    max_gap samples later.

    Args:
        penalty: squared error (signal unit squared) that one knot must save to be sent;
            with ``target_rate`` the starting value, adapted per channel.
        fs: sample rate in Hz (for the timestamps).
        resolution: unit of the knot values, signal unit (> 0), scalar or per channel.
        levels: addresses per channel (changes of 0..levels - 1 units in one event; >= 2).
        max_gap: longest segment, samples (>= 1).
        horizon: samples over which each candidate's next segment is judged (>= 1).
        candidates: segment ends judged with their next segment (>= 1).
        cut: segments whose squared error passes ``cut`` penalties end the scan (> 0).
        origin: value of the knot before the stream (sample -1), signal unit.
        target_rate: events per sample per channel that the rate controller holds; 0 keeps
            ``penalty`` fixed.
        window: samples over which the controller's gain is defined (as for
            :class:`InterpDeltaEncoder`; it updates at every knot).
        gain: integral gain of the controller; 3 times the threshold's, as the rate goes
            about as the inverse square root of the penalty (a squared error) where it goes as
            the inverse of the threshold.
    """

    penalty: float | np.ndarray
    fs: float
    resolution: float | np.ndarray
    levels: int = 256
    max_gap: int = 32
    horizon: int = 16
    candidates: int = 4
    cut: float = 4.0
    origin: float | np.ndarray = 0.0
    target_rate: float = 0.0
    window: int = 1024
    gain: float = 0.3

    def __post_init__(self) -> None:
        _check_fs(self.fs)
        if not np.all(np.asarray(self.penalty) > 0):
            raise ValueError(f"penalty must be > 0, got {self.penalty}")
        _check_interp(1.0, self.resolution, self.levels, self.max_gap)
        for name in ("horizon", "candidates"):
            value = getattr(self, name)
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {value}")
        if not self.cut > 0:
            raise ValueError(f"cut must be > 0 (penalties), got {self.cut}")
        _check_control(self.target_rate, self.window, self.gain)
        self.reset()

    @property
    def delay(self) -> int:
        """Samples by which the decoder lags (see the class docstring)."""
        return int(2 * self.max_gap + self.horizon - 1)

    def reset(self) -> KnotEncoder:
        """Forget the stream: the next call starts at sample 0 from the knot (-1, origin)."""
        self.n_channels_ = None
        self.samples_ = 0
        return self

    def _start(self, n_channels: int) -> None:
        check_address_space(n_channels, self.levels)
        self.n_channels_ = n_channels
        self.penalty_ = _per_channel(self.penalty, n_channels, "penalty")
        self.resolution_ = _per_channel(self.resolution, n_channels, "resolution")
        self.origin_ = _per_channel(self.origin, n_channels, "origin")
        # The ring holds a channel's samples after its last knot: fewer than
        # max_gap + horizon between calls; as many knots wait to be sent.
        span = int(self.max_gap + self.horizon)
        self.ring_ = np.zeros((n_channels, 1 << int(np.ceil(np.log2(span)))))
        self.c_ = np.full(n_channels, -1, np.int64)
        self.nc_ = np.zeros(n_channels, np.int64)
        self.pend_t_ = np.zeros((n_channels, span), np.int64)
        self.pend_u_ = np.zeros((n_channels, span), np.int64)
        self.pend_n_ = np.zeros(n_channels, np.int64)
        self.sent_ = np.zeros(n_channels, np.int64)

    def _state(self) -> tuple[np.ndarray, ...]:
        return (self.ring_, self.penalty_, self.c_, self.nc_, self.pend_t_, self.pend_u_,
                self.pend_n_, self.sent_)

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        """Events of the knots that become final while the next chunk [channels, samples]
        arrives."""
        x = as_signal(signal, self.n_channels_)
        if self.n_channels_ is None:
            self._start(x.shape[0])
        out = []
        for s0 in range(0, x.shape[1], _BLOCK):
            block = np.ascontiguousarray(x[:, s0:s0 + _BLOCK])
            out.append(self._block(block, self.samples_ + s0, False))
        self.samples_ += x.shape[1]
        return np.concatenate(out) if out else np.empty(0, EVENT_DTYPE)

    def _block(self, block: np.ndarray, offset: int, flush: bool) -> np.ndarray:
        capacity, saved = block.size + 4 * self.n_channels_ * self.delay, \
            [a.copy() for a in self._state()]
        while True:
            sample = np.empty(capacity, np.int64)
            address = np.empty(capacity, np.int64)
            polarity = np.empty(capacity, np.int8)
            n = _lookahead_events(block, offset, flush, self.origin_, self.resolution_,
                                  int(self.levels), int(self.max_gap), int(self.horizon),
                                  int(self.candidates), float(self.cut),
                                  float(self.target_rate), int(self.window), float(self.gain),
                                  *self._state(), sample, address, polarity)
            if n <= capacity:
                # Knots sent now lie after those final at the block's start.
                first = offset - int(self.max_gap + self.horizon) + 1
                sample, address, polarity = _stream_order(
                    sample[:n], address[:n], polarity[:n], first,
                    offset + block.shape[1] - first)
                return make_events(sample_times_us(sample, self.fs), address, polarity)
            capacity = n
            for a, b in zip(self._state(), saved, strict=True):
                a[:] = b

    def flush(self) -> np.ndarray:
        """End the stream: decide and send every knot still to come, the last on the last
        sample. Call :meth:`reset` before encoding another stream."""
        if self.n_channels_ is None or self.samples_ == 0:
            return np.empty(0, EVENT_DTYPE)
        saved = [a.copy() for a in self._state()]
        events = self._block(np.empty((self.n_channels_, 0)), self.samples_, True)
        for a, b in zip(self._state(), saved, strict=True):
            a[:] = b
        return events


@dataclass
class InterpDeltaDecoder:
    """Reconstruct an :class:`InterpDeltaEncoder` or :class:`KnotEncoder` stream: straight
    lines between knots, with a fixed delay of ``delay`` samples, the encoder's ``delay``
    (each call returns the stream's samples ``delay`` before those it was given; :meth:`flush`
    the last ones).

    Takes the encoder's parameters; ``threshold`` only sets the default ``resolution``.
    """

    threshold: float | np.ndarray
    fs: float
    n_channels: int
    resolution: float | np.ndarray | None = None
    levels: int = 256
    delay: int = 32
    origin: float | np.ndarray = 0.0

    def __post_init__(self) -> None:
        _check_fs(self.fs)
        _check_interp(self.threshold, self.resolution, self.levels, self.delay, "delay")
        self.resolution_ = _interp_resolution(self.threshold, self.resolution, self.n_channels)
        self.origin_ = _per_channel(self.origin, self.n_channels, "origin")
        self.reset()

    def reset(self) -> InterpDeltaDecoder:
        """Start a new stream at sample 0 from the knot (-1, origin)."""
        self.samples_ = 0
        # Per channel the knots still needed (sample, units): the last one at or before the
        # next output sample and those after it.
        self.knots_ = [(np.array([-1], np.int64), np.zeros(1, np.int64))
                       for _ in range(self.n_channels)]
        return self

    def __call__(self, events: np.ndarray, n_samples: int) -> np.ndarray:
        """Samples [start - delay, start - delay + n_samples) of the stream, where start is the
        number of samples that earlier calls covered, from the events of the next ``n_samples``
        [channels, n_samples]."""
        out = self._decode(events, self.samples_ + n_samples, self.samples_ - self.delay,
                           n_samples)
        self.samples_ += n_samples
        return out

    def flush(self, events: np.ndarray) -> np.ndarray:
        """The last ``delay`` samples of the stream [channels, delay], given the events of the
        encoder's ``flush()``."""
        return self._decode(events, self.samples_ + 1, self.samples_ - self.delay, self.delay)

    def _decode(self, events: np.ndarray, seen: int, first: int, n_out: int) -> np.ndarray:
        """Add the knots of ``events``, sent while the encoder read samples up to ``seen`` - 1,
        and draw samples [first, first + n_out)."""
        row, at, change = _knots_of(events, self.levels, self.fs)
        # A knot is sent at least one sample after its own.
        if at.size and at.max() > seen - 2:
            raise ValueError(f"a knot on sample {at.max()} comes with samples up to {seen - 1}:"
                             " knots are sent at least one sample after their own")
        if row.size and row.max() >= self.n_channels:
            raise ValueError(f"event addresses map to channel {row.max()}, the decoder has "
                             f"{self.n_channels}")
        out = np.empty((self.n_channels, n_out))
        query = np.arange(first, first + n_out)
        order = np.argsort(row, kind="stable")
        bounds = np.searchsorted(row[order], np.arange(self.n_channels + 1))
        for c in range(self.n_channels):
            mine = order[bounds[c]:bounds[c + 1]]
            kt, kn = self.knots_[c]
            if mine.size and at[mine[0]] <= kt[-1]:
                raise ValueError(f"channel {c}: knot at sample {at[mine[0]]} does not follow "
                                 f"the one at {kt[-1]}")
            kt = np.concatenate([kt, at[mine]])
            kn = np.concatenate([kn, kn[-1] + np.cumsum(change[mine])])
            if n_out and query[-1] > kt[-1]:
                raise ValueError(f"channel {c}: no knot after sample {kt[-1]} to draw sample "
                                 f"{query[-1]} (the encoder's delay exceeds {self.delay})")
            # Before the first knot (sample -1) the signal is the origin.
            j = np.maximum(np.searchsorted(kt, query, side="right") - 1, 0)
            nxt = np.minimum(j + 1, kt.size - 1)
            on = query <= kt[j]
            span = np.where(on, 1, kt[nxt] - kt[j])
            frac = np.where(on, 0.0, (query - kt[j]) / span)
            units = kn[j] + (kn[nxt] - kn[j]) * frac
            out[c] = self.origin_[c] + self.resolution_[c] * units
            keep = max(int(np.searchsorted(kt, first + n_out, side="right")) - 1, 0)
            self.knots_[c] = (kt[keep:], kn[keep:])
        return out


def decode_stream(decoder: InterpDeltaDecoder, events: np.ndarray,
                  n_samples: int) -> np.ndarray:
    """A whole stream of ``n_samples`` [channels, n_samples], aligned with the input, from all
    its events (those of the encoder's calls and of its flush, as a file holds them).

    The knots on the last sample come only from the flush, so they are what it is given.
    """
    final = sample_index(events, decoder.fs) == n_samples - 1
    decoded = np.concatenate([decoder(events[~final], n_samples), decoder.flush(events[final])],
                             axis=1)
    return decoded[:, decoder.delay:]


def _check_interp(threshold: float | np.ndarray, resolution: float | np.ndarray | None,
                  levels: int, max_gap: int, gap_name: str = "max_gap") -> None:
    if not np.all(np.asarray(threshold) > 0):
        raise ValueError(f"threshold must be > 0, got {threshold}")
    if resolution is not None and not np.all(np.asarray(resolution) > 0):
        raise ValueError(f"resolution must be > 0, got {resolution}")
    if int(levels) != levels or levels < 2:
        raise ValueError(f"levels must be a whole number >= 2, got {levels}")
    if int(max_gap) != max_gap or max_gap < 1:
        raise ValueError(f"{gap_name} must be a whole number of samples >= 1, got {max_gap}")


def _check_control(target_rate: float, window: int, gain: float) -> None:
    if not 0 <= target_rate < 1 or int(window) != window or window < 1 or gain <= 0:
        raise ValueError(f"target_rate must lie in [0, 1), window be a whole number >= 1 and "
                         f"gain > 0; got {target_rate}, {window}, {gain}")


def _interp_resolution(threshold: float | np.ndarray, resolution: float | np.ndarray | None,
                       n_channels: int) -> np.ndarray:
    """The knot value unit per channel: ``resolution``, or a quarter of the threshold."""
    if resolution is None:
        return _per_channel(threshold, n_channels, "threshold") / 4
    return _per_channel(resolution, n_channels, "resolution")
