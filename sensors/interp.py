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

:class:`KnotEncoder` sends the same events but places the knots with lookahead: every ``hop``
samples it finds, by dynamic programming, the knots on samples (values: the samples rounded to
whole units) that minimise squared error plus ``penalty`` per event from its last committed
knot to the newest sample, and commits those more than ``lookahead`` samples old. The first
line that fails puts a knot wherever one noisy sample leaves the corridor; the least-cost path
spends knots where they remove the most error (about 3 dB more on MIT-BIH ECG at 0.2 events
per sample, docs/sensors.md), at some 12 times the compute.

Timing: an event's ``t`` is the instant of its knot; :class:`InterpDeltaEncoder` emits it one
sample later (when the next sample shows that the segment cannot go on), :class:`KnotEncoder`
up to ``hop + lookahead`` samples later. The decoder needs the knot that ends a segment before
it can draw the segment, so it answers with a fixed delay, the encoder's ``delay``: ``max_gap``
samples for :class:`InterpDeltaEncoder` (89 ms at 360 Hz for the default 32),
``hop + lookahead + max_gap - 1`` for :class:`KnotEncoder` (79 samples, 219 ms at 360 Hz, by
default). Each decoder call returns as many samples as it was given, the stream's samples
``delay`` earlier (the first ``delay`` are the origin). At the end of a stream ``flush()`` on the
encoder gives the last knots, and ``flush(events)`` on the decoder the last ``delay`` samples;
:func:`decode_stream` decodes a whole stream's events (a file's) in one call.

Rate control: with ``target_rate`` set, each channel's threshold (penalty) follows its own
event rate, causally. At fixed points of the stream (every ``window`` samples, or every
decision for :class:`KnotEncoder`; counted from the start of the stream, so chunking does not
move them) it is multiplied by exp(``gain`` * (events - target * samples) / (target *
window)) over the samples since the last update: integral control, so it settles where the
channel sends ``target_rate`` events per sample on average. The decoder needs neither the
threshold nor its updates: the knots carry everything it draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from numba.core import types
from numba.extending import intrinsic

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
    capacity = sample.size
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
                change = units - units0
                size = abs(change)
                events = 1 if size == 0 else (size + levels - 2) // (levels - 1)
                size -= (events - 1) * (levels - 1)
                for _ in range(events):
                    if n < capacity:
                        sample[n] = g - 1
                        address[n] = c * levels + size
                        polarity[n] = UP if change >= 0 else DOWN
                    n += 1
                    size = levels - 1
                events_in_window += events
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


@intrinsic
def _fma(typingctx, a, b, c):
    """a * b + c with one rounding (the llvm.fma intrinsic: one instruction where the CPU has
    FMA)."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        return builder.fma(*args)

    return sig, codegen


@numba.njit(cache=True, nogil=True)
def _divide(a: float, b: float, y: float) -> float:
    """a / b, correctly rounded like the division, with ``y`` = 1 / b (rounded): without a
    division instruction, which is slow and does not pipeline. The first correction makes the
    quotient faithful (within an ulp), the second rounds it correctly (Markstein, "Computation
    of elementary functions on the IBM RISC System/6000 processor", IBM J. Res. Dev. 34(1),
    1990: with y within half an ulp of 1 / b and q within an ulp of a / b, the remainder
    a - b q is exact and q + (a - b q) y rounds to a / b), barring underflow (the caller keeps
    a to magnitudes where it cannot happen)."""
    q = a * y
    q = _fma(_fma(-q, b, a), y, q)
    return _fma(_fma(-q, b, a), y, q)


@numba.njit(cache=True, nogil=True)
def _segment_rows(xs: np.ndarray, units: np.ndarray, base: int, t_first: int, n: int,
                  origin: float, resolution: float, levels: int, max_gap: int,
                  exact: bool, tables: np.ndarray, work: np.ndarray, err: np.ndarray,
                  steps: np.ndarray, col: int) -> None:
    """The part of the cost of every segment that ends on one of the ``n`` samples from
    ``t_first`` that depends on the samples alone. Sample k is ``xs[k - base]``; ``units``,
    indexed alike, gets the knot value on each t (the sample rounded to whole units, as a
    float) and must hold those on the samples before (0 on -1: the origin).

    For t = t_first + i and each length d <= ``max_gap`` (from the knot on s = t - d >= -1):
    ``err[d, col + i]``, the squared error of the line between the two knots over the samples
    strictly between them plus the rounding error of the sample on t, and ``steps[d, col + i]``,
    the events that the knot on t takes after the one on s. The sums are accumulated as s
    steps back from t, in terms of y = x - v(t) and r = t - k: sum e^2 = sum y^2
    - 2 dv sum r y + dv^2 sum r^2, with dv = (v(s) - v(t)) / (t - s) and sum r^2 from
    ``tables[0]`` (``tables[1]``: 1 / d), the expression and order of operations of the
    reference loop that tried each segment in turn. The loops run over t innermost, so they
    vectorise; each t's sums still add up in the same order. ``exact``: divide by d with
    :func:`_divide` and count the events in floating point (else with the division
    instruction and whole numbers; the caller sets it where the first is exact). ``work``:
    scratch, [4, n] at least.
    """
    k0 = t_first - base
    vt, own, sum_y2, sum_ry = work[0, :n], work[1, :n], work[2, :n], work[3, :n]
    un = units[k0:k0 + n]
    xt = xs[k0:k0 + n]
    for i in range(n):
        nt = np.floor((xt[i] - origin) / resolution + 0.5)
        un[i] = nt
        vt[i] = origin + resolution * nt
        own[i] = (xt[i] - vt[i]) * (xt[i] - vt[i])
        sum_y2[i] = 0.0
        sum_ry[i] = 0.0
    # Changes of at least ``levels`` units take ceil(size / (levels - 1)) events: with
    # h = 1 / (levels - 1) rounded, ceil(size h - h / 2) is that for sizes below 2^50.
    h = 1.0 / (levels - 1)
    for d in range(1, max_gap + 1):
        if d > 1:
            xa = xs[k0 - d + 1:k0 - d + 1 + n]
            r = float(d - 1)
            for i in range(n):
                y = xa[i] - vt[i]
                sum_y2[i] += y * y
                sum_ry[i] += r * y
        us = units[k0 - d:k0 - d + n]
        e_d, s_d = err[d, col:col + n], steps[d, col:col + n]
        r2, inverse, span = tables[0, d], tables[1, d], float(d)
        # (Loops over few arrays each: the compiler vectorises them only when it can check
        # at run time that they do not overlap, and it checks a few pairs at most.)
        if exact:
            for i in range(n):
                dv = _divide(resolution * (us[i] - un[i]), span, inverse)
                e_d[i] = sum_y2[i] - 2.0 * dv * sum_ry[i] + dv * dv * r2 + own[i]
        else:
            for i in range(n):
                dv = resolution * (us[i] - un[i]) / span
                e_d[i] = sum_y2[i] - 2.0 * dv * sum_ry[i] + dv * dv * r2 + own[i]
        if exact:
            for i in range(n):
                size = abs(us[i] - un[i])
                s_d[i] = 1.0 if size < levels else max(1.0, np.ceil(size * h - 0.5 * h))
        else:
            for i in range(n):
                size = abs(us[i] - un[i])
                s_d[i] = 1.0 if size < levels else float(
                    (np.int64(size) + levels - 2) // (levels - 1))


@numba.njit(cache=True, nogil=True)
def _knot_dp_events(x: np.ndarray, offset: int, flush: bool, origin: np.ndarray,
                    resolution: np.ndarray, levels: int, max_gap: int, hop: int,
                    lookahead: int, target: float, window: int, gain: float, ring: np.ndarray,
                    penalty: np.ndarray, c: np.ndarray, nc: np.ndarray, b_prev: np.ndarray,
                    sample: np.ndarray, address: np.ndarray, polarity: np.ndarray) -> int:
    """The knot placer over one block [channels, samples] whose first sample is number
    ``offset`` of the stream (with ``flush``, after the block: end the stream on its last
    sample).

    ``ring`` (a power-of-two ring indexed by stream sample) keeps each channel's last samples
    between blocks. Every ``hop`` samples, when sample g arrives, each channel's least-cost
    path from its committed knot to a knot on g is found by dynamic programming over t in
    (b_prev, g], every knot after b_prev; its knots up to g - ``lookahead`` are committed and
    sent; later knots wait for more lookahead (the next path may move them). A segment
    s -> t costs ``err`` plus ``penalty`` times ``steps`` (:func:`_segment_rows`: computed
    once per t, ``batch`` samples ahead, though each sample takes part in about
    (hop + lookahead) / hop decisions). State per
    channel: ``penalty``, ``c`` and ``nc`` (last committed knot, its units); ``b_prev[0]``: the
    sample up to which knots are committed. Channels are independent, so each runs through
    the block in turn with its state in locals; events go out channel by channel, each
    channel's in time order (the caller puts them in stream order). Returns the number of
    events (buffers as in :func:`_knot_events`).

    Each cost is computed with the same expression as in the reference loop (the cost to s
    plus (err + penalty * steps), 0 for the committed knot), and the choice is the same: the
    least, among equals the knot nearest t, the committed knot only if strictly cheaper (the
    loop tried s = t - 1, t - 2, ..., then the committed knot, keeping each strictly cheaper
    one). So the events are bit for bit those of that loop (tests/sensors/test_interp.py).
    """
    n_ch, n_t = x.shape
    size_ring = ring.shape[1]
    mask = size_ring - 1
    width_max = hop + lookahead
    # Per length d, per t (modulo n_row columns): the err and steps of the segment that ends
    # on t. Computed ``batch`` samples at a time, ahead of the decisions that need them, so
    # that their loops are long.
    batch = 256
    n_row = 1 << int(np.ceil(np.log2(batch + size_ring)))
    row_mask = n_row - 1
    # (rows padded by a cache line: rows 4 KiB apart would share cache sets, and the
    # decisions read down the columns)
    err = np.zeros((max_gap + 1, n_row + 8))
    steps = np.ones((max_gap + 1, n_row + 8))
    work = np.empty((4, batch))
    tables = np.zeros((2, max_gap + 1))
    for d in range(1, max_gap + 1):
        tables[0, d] = (d - 1) * d * (2 * d - 1) / 6.0
        tables[1, d] = 1.0 / d
    # The path's cost to t = b_prev + 1 + j and the knot before t, at j.
    best = np.empty(width_max)
    prev = np.empty(width_max, np.int64)
    stack = np.empty(width_max, np.int64)
    # The channel's samples from offset - size_ring on (the ring, then the block), and the
    # knot values on them: sample k at k - base.
    base = offset - size_ring
    xs = np.empty(size_ring + n_t)
    units = np.zeros(size_ring + n_t)
    # The first decision point at or after the block's first sample: every sample g with
    # (g + 1) % hop == 0, once g - lookahead is past the committed boundary.
    first = (offset + hop) // hop * hop - 1
    capacity = sample.size
    n = 0
    b_start = b_prev[0]
    b = b_start
    for ch in range(n_ch):
        o, res = origin[ch], resolution[ch]
        pen, cc, ncc = penalty[ch], c[ch], nc[ch]
        for k in range(size_ring):
            xs[k] = ring[ch, (base + k) & mask]
        xs[size_ring:] = x[ch]
        b = b_start
        # Knot values on the samples that the first rows reach back to (0 on -1 and before).
        for k in range(b + 1 - max_gap, b + 1):
            units[k - base] = np.floor((xs[k - base] - o) / res + 0.5) if k >= 0 else 0.0
        # The division without the division instruction is exact while the numerators,
        # resolution times a whole number, stay far from underflow and overflow, and the
        # event counts in floating point while the changes stay below 2^50 units.
        big = 0.0
        for k in range(size_ring + n_t):
            big = max(big, abs(xs[k] - o))
        exact = res > 1e-250 and big / res < 2.0 ** 46 and max_gap < 2 ** 20
        done = b  # rows computed up to this sample
        g_dec = first
        while True:
            if g_dec < offset + n_t:
                g = g_dec
                g_dec += hop
                if g - lookahead <= b:
                    continue
                end, b_new = g, g - lookahead
            elif flush:
                g = offset + n_t
                end = b_new = g - 1
                if end <= b:
                    break
            else:
                break
            while done < end:
                # (split where the ring of columns wraps)
                m = min(batch, offset + n_t - 1 - done, n_row - ((done + 1) & row_mask))
                _segment_rows(xs, units, base, done + 1, m, o, res, levels, max_gap, exact,
                              tables, work, err, steps, (done + 1) & row_mask)
                done += m
            # The least-cost path from (cc, ncc) to each t in (b, end]: four running minima
            # over d = 1, 5, 9, ..., 2, 6, ..., 3, ..., 4, ... (independent, so they overlap),
            # each keeping its first (nearest) knot among equals, then the least of them with
            # the nearest knot among equals, then the committed knot if strictly cheaper.
            for j in range(end - b):
                t = b + 1 + j
                k = t & row_mask
                reach = min(max_gap, j)
                l0 = l1 = l2 = l3 = np.inf
                a0 = a1 = a2 = a3 = 0
                d = 1
                while d + 3 <= reach:
                    v0 = best[j - d] + (err[d, k] + pen * steps[d, k])
                    v1 = best[j - d - 1] + (err[d + 1, k] + pen * steps[d + 1, k])
                    v2 = best[j - d - 2] + (err[d + 2, k] + pen * steps[d + 2, k])
                    v3 = best[j - d - 3] + (err[d + 3, k] + pen * steps[d + 3, k])
                    if v0 < l0:
                        l0, a0 = v0, d
                    if v1 < l1:
                        l1, a1 = v1, d + 1
                    if v2 < l2:
                        l2, a2 = v2, d + 2
                    if v3 < l3:
                        l3, a3 = v3, d + 3
                    d += 4
                if d <= reach:
                    v0 = best[j - d] + (err[d, k] + pen * steps[d, k])
                    if v0 < l0:
                        l0, a0 = v0, d
                if d + 1 <= reach:
                    v1 = best[j - d - 1] + (err[d + 1, k] + pen * steps[d + 1, k])
                    if v1 < l1:
                        l1, a1 = v1, d + 1
                if d + 2 <= reach:
                    v2 = best[j - d - 2] + (err[d + 2, k] + pen * steps[d + 2, k])
                    if v2 < l2:
                        l2, a2 = v2, d + 2
                low, near = l0, a0
                if l1 < low or (l1 == low and a1 != 0 and (near == 0 or a1 < near)):
                    low, near = l1, a1
                if l2 < low or (l2 == low and a2 != 0 and (near == 0 or a2 < near)):
                    low, near = l2, a2
                if l3 < low or (l3 == low and a3 != 0 and (near == 0 or a3 < near)):
                    low, near = l3, a3
                arg = t - near if near != 0 else -1
                if t - cc <= max_gap:
                    d = t - cc
                    value = 0.0 + (err[d, k] + pen * steps[d, k])
                    if value < low:
                        low, arg = value, cc
                best[j] = low
                prev[j] = arg
            # Commit the path's knots up to b_new, in time order.
            m = 0
            t = end
            while t > cc:
                if t <= b_new:
                    stack[m] = t
                    m += 1
                t = prev[t - b - 1]
            count = 0
            for k in range(m - 1, -1, -1):
                t = stack[k]
                nt = np.int64(units[t - base])
                change = nt - ncc
                size = abs(change)
                events = 1 if size == 0 else (size + levels - 2) // (levels - 1)
                size -= (events - 1) * (levels - 1)
                for _ in range(events):
                    if n < capacity:
                        sample[n] = t
                        address[n] = ch * levels + size
                        polarity[n] = UP if change >= 0 else DOWN
                    n += 1
                    size = levels - 1
                count += events
                cc, ncc = t, nt
            if target > 0 and g < offset + n_t:
                pen *= np.exp(gain * (count - target * (b_new - b)) / (target * window))
            b = b_new
            if g >= offset + n_t:
                break
        for k in range(n_t, size_ring + n_t):
            ring[ch, (base + k) & mask] = xs[k]
        penalty[ch], c[ch], nc[ch] = pen, cc, ncc
    b_prev[0] = b
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
    """Piecewise-linear knots placed with lookahead: the least-cost path, not the first
    line that fails (see the module docstring for the events and the decoder).

    Every ``hop`` samples each channel's knots are chosen by dynamic programming over the
    samples since its last committed knot: a knot may sit on any sample (its value the sample
    rounded to whole ``resolution`` units), segments are at most ``max_gap`` long, and a path
    costs its squared error plus ``penalty`` per event. Knots more than ``lookahead`` samples
    old are committed and sent; the rest are chosen again with the next samples in view. The
    decoder lags by ``delay`` = hop + lookahead + max_gap - 1 samples: once the encoder has
    read sample g, every knot up to g + 1 - hop - lookahead is sent, and the last of them lies
    less than max_gap samples before that point (segments are at most max_gap long), so the
    decoder can draw up to g - delay.

    Args:
        penalty: squared error (signal unit squared) that one event must save to be sent;
            with ``target_rate`` the starting value, adapted per channel.
        fs: sample rate in Hz (for the timestamps).
        resolution: unit of the knot values, signal unit (> 0), scalar or per channel.
        levels: addresses per channel (changes of 0..levels - 1 units in one event; >= 2).
        max_gap: longest segment, samples (>= 1).
        hop: samples between decisions (>= 1).
        lookahead: samples a knot waits before it is committed (>= 1).
        origin: value of the knot before the stream (sample -1), signal unit.
        target_rate: events per sample per channel that the rate controller holds; 0 keeps
            ``penalty`` fixed.
        window: samples over which the controller's gain is defined (as for
            :class:`InterpDeltaEncoder`; it updates at every decision).
        gain: integral gain of the controller; 3 times the threshold's, as the rate goes
            about as the inverse square root of the penalty (a squared error) where it goes as
            the inverse of the threshold.
    """

    penalty: float | np.ndarray
    fs: float
    resolution: float | np.ndarray
    levels: int = 256
    max_gap: int = 32
    hop: int = 16
    lookahead: int = 32
    origin: float | np.ndarray = 0.0
    target_rate: float = 0.0
    window: int = 1024
    gain: float = 0.3

    def __post_init__(self) -> None:
        _check_fs(self.fs)
        if not np.all(np.asarray(self.penalty) > 0):
            raise ValueError(f"penalty must be > 0, got {self.penalty}")
        _check_interp(1.0, self.resolution, self.levels, self.max_gap)
        for name in ("hop", "lookahead"):
            value = getattr(self, name)
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be a whole number of samples >= 1, got {value}")
        _check_control(self.target_rate, self.window, self.gain)
        self.reset()

    @property
    def delay(self) -> int:
        """Samples by which the decoder lags (see the class docstring)."""
        return int(self.hop + self.lookahead + self.max_gap - 1)

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
        # The ring holds every sample a decision reads: back to one segment before the
        # committed boundary.
        size = 1 << int(np.ceil(np.log2(self.hop + self.lookahead + self.max_gap + 1)))
        self.ring_ = np.zeros((n_channels, size))
        self.c_ = np.full(n_channels, -1, np.int64)
        self.nc_ = np.zeros(n_channels, np.int64)
        self.committed_ = np.full(1, -1, np.int64)

    def _state(self) -> tuple[np.ndarray, ...]:
        return self.ring_, self.penalty_, self.c_, self.nc_, self.committed_

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        """Events of the knots committed while the next chunk [channels, samples] arrives."""
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
            n = _knot_dp_events(block, offset, flush, self.origin_, self.resolution_,
                                int(self.levels), int(self.max_gap), int(self.hop),
                                int(self.lookahead), float(self.target_rate), int(self.window),
                                float(self.gain), *self._state(), sample, address, polarity)
            if n <= capacity:
                # Knots lie after the committed boundary at the block's start, up to its last
                # sample.
                first = int(saved[4][0]) + 1
                sample, address, polarity = _stream_order(
                    sample[:n], address[:n], polarity[:n], first,
                    offset + block.shape[1] - first)
                return make_events(sample_times_us(sample, self.fs), address, polarity)
            capacity = n
            for a, b in zip(self._state(), saved, strict=True):
                a[:] = b

    def flush(self) -> np.ndarray:
        """End the stream: commit every knot still waiting, the last on the last sample.
        Call :meth:`reset` before encoding another stream."""
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
