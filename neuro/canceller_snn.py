"""The spiking artefact canceller: delta-coded inputs, crossbar taps, an error-neuron pair that
gates on-chip learning, all in the fixed-point contract (docs/fixed-point.md, docs/ppg.md).

Signal path, one step per sample (8 ms at 125 Hz):

1. Encoders. The primary (PPG) and each reference (accelerometer axis) are delta-modulated by
   :class:`sensors.encoders.DeltaEncoder`; per step a channel's signed event count is delivered
   on ``primary_events`` (``reference_events``) UP and as many DOWN addresses, a thermometer
   code (the AER link carries at most that many events per channel per step; a surplus waits
   for the next step, so no event is lost).
2. Tapped delay line. Tap k of reference r carries the events of r delayed by k
   ``tap_spacing`` steps; its synapse holds the learned 8-bit mantissa ``m[p, r, k]`` (on the
   crossbar backend, a differential conductance pair programmed by SET/RESET pulses).
3. Error neurons. Per primary p a pair of CUBA-LIF neurons in the contract: e+ receives the
   primary's events with the fixed weight ``+primary_weight`` and the taps with ``-m``; e- the
   negation. Their current u integrates the events (``du`` sets a leak of about one second, a
   0.15-Hz high-pass), so u of e+ is the primary minus the filtered references: the cleaned
   sample (docs/ppg.md gives the scale). ``dv = 4095`` makes v follow u, so e+ spikes when the
   error exceeds ``dead_zone`` and e- when it is below minus that: their spikes are the error's
   sign, with a dead zone, and they go downstream as events.
4. Learning unit (digital, beside the crossbar). Each reference has a presynaptic trace, the
   same leaky integral of its events as the neuron's current (a Loihi-style trace); per error
   spike every tap accumulates ``sign(error) * sign(trace at its delay)`` ("sign-sign") or
   ``sign(error) * trace`` ("sign-error") in a per-synapse counter, and when the counter
   reaches ``±update_threshold`` the synapse takes one programming pulse (mantissa ± 1) and
   the counter gives that much back. This is sign-sign (sign-error) LMS (Gersho, IEEE Trans.
   Inf. Theory 30(2), 1984; Haykin, Adaptive Filter Theory) with mixed-precision accumulation
   as in in-memory training (Nandakumar et al., Front. Neurosci. 14, 406, 2020): the devices
   see only whole pulses and the step size is one pulse per ``update_threshold`` agreeing
   error events.

Latency: the Dense stage delays by one step, so the cleaned sample of input sample n is the u
of step n + 1: one sample period.

Backends: ``reference`` runs the integer arithmetic exactly (numba-compiled; with learning off
it equals :func:`neuro.backends.reference.run` on :meth:`SpikingCanceller.to_network` and
:meth:`SpikingCanceller.raster` word for word). ``crossbar`` holds the taps on a simulated
memristive crossbar (:mod:`neuro.crossbar`): each step's signed event counts are read
bit-serially (one read per bit of the count, results shifted and added, as in ISAAC), the ADC
output feeds the same neurons, and the learning unit's pulses go to the devices through
:meth:`neuro.crossbar.CrossbarLayer.update`. For speed the crossbar is read and pulsed per
block of ``block`` steps (reads within a block see the weights of its start; pulses are
applied at its end, net per device); ``block=1`` is step-exact, and with the ``ideal`` device
it reproduces the reference bit for bit. ``rtl`` runs the step and its learning unit in
Verilog (``rtl/canceller/nt_canceller.v``) under Icarus or Verilator (``sim``) through cocotb,
:mod:`neuro.backends.canceller_rtl`: each chunk loads the stream's state into the unit and
reads it back after, so it gives the reference's output bit for bit, chunked or not.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numba
import numpy as np

from neuro import fixed_point as fp
from neuro.canceller import check_streams, check_taps
from neuro.network import FixedLayer, FixedNetwork
from sensors.encoders import DeltaEncoder
from sensors.events import UP, sample_index

RULES = ("sign-sign", "sign-error")
BACKENDS = ("reference", "crossbar", "rtl")
# Learned mantissas stay in [-127, 127] so that the e- neuron's negated weight is an int8 too.
M_LIMIT = fp.WEIGHT_MAX
# The presynaptic trace adds (count << 7) per step: one event moves it as a weight unit moves
# u (a Dense weight is 2 m and the LIF shifts its input by 6).
TRACE_SHIFT = fp.WEIGHT_LSB_SHIFT + fp.ACT_SHIFT
# Error neurons: v follows u (the largest 12-bit voltage decay).
ERROR_DV = fp.DECAY_MAX


@numba.njit(cache=True)
def _limit_rate(counts, limit, carry):
    """Deliver at most ``limit`` events per channel per step; a surplus waits (FIFO)."""
    n_c, n = counts.shape
    out = np.empty_like(counts)
    for c in range(n_c):
        queued = carry[c]
        for t in range(n):
            queued += counts[c, t]
            sent = min(max(queued, -limit), limit)
            out[c, t] = sent
            queued -= sent
        carry[c] = queued
    return out


@numba.njit(cache=True)
def _decay(x, d):
    """decay(x, d) of the contract: x (4096 - d) / 4096 rounded toward zero (int64)."""
    y = (abs(x) * (fp.DECAY_UNITY - d)) >> fp.DECAY_SHIFT
    return y if x >= 0 else -y


@numba.njit(cache=True)
def _wrap32(x):
    """Two's-complement wrap into 32 bits (Lava's int32 words)."""
    return x - (((x + (1 << 31)) >> 32) << 32)


@numba.njit(cache=True)
def _neuron(u, v, a, du, vth):
    """One CUBA-LIF step of the contract for input activation ``a``; returns u, v, spike."""
    u = _wrap32(_decay(u, du + fp.DU_OFFSET) + _wrap32(a << fp.ACT_SHIFT))
    if u > fp.STATE_LIMIT:
        u -= 2 * fp.STATE_LIMIT
    elif u <= -fp.STATE_LIMIT:
        u += 2 * fp.STATE_LIMIT
    v = _wrap32(_decay(v, ERROR_DV + fp.DV_OFFSET) + u)
    v = min(max(v, fp.V_MIN), fp.V_MAX)
    spike = v > (vth << fp.VTH_SHIFT)
    if spike:
        v = 0
    return u, v, spike


@numba.njit(cache=True)
def _dense(accumulated, weight_exp):
    """Dense output from the mantissa sum: 2 * sum scaled by 2**weight_exp (floor)."""
    x = accumulated << fp.WEIGHT_LSB_SHIFT
    return x << weight_exp if weight_exp >= 0 else x >> -weight_exp


@numba.njit(cache=True)
def _kernel(cp, cr, external, hist_c, hist_tr, ring, trace, u, v, m, acc, plus, minus,
            pulses, primary_weight, weight_exp, du, vth, threshold, limit, rule, learning, taps,
            spacing, u_rec, v_rec, s_rec):
    """Run the canceller over one chunk; every state array is updated in place.

    cp [P, n], cr [R, n]: delivered signed event counts. ``external`` [n, P]: Dense outputs
    read from a crossbar (used when it has n rows), else computed from ``m``. ``plus`` and
    ``minus`` [P, R * taps] collect the SET (> 0) / RESET (< 0) pulses of the crossbar weight
    -m's G+ and G- devices and ``pulses`` [P, R, taps] counts them per synapse. Records
    [n, P, 2] are u, v and spikes of (e+, e-). A synapse steps by one when its counter
    reaches ``threshold`` and stays within ``limit``.
    """
    n_p, n = cp.shape
    n_r = cr.shape[0]
    size = hist_c.shape[1]
    use_external = external.shape[0] == n
    for t in range(n):
        pos = (ring[0] + 1) % size
        ring[0] = pos
        for r in range(n_r):
            hist_c[r, pos] = cr[r, t]
            trace[r] = _decay(trace[r], du + fp.DU_OFFSET) + (cr[r, t] << TRACE_SHIFT)
            hist_tr[r, pos] = trace[r]
        for p in range(n_p):
            if use_external:
                a = external[t, p]
            else:
                total = primary_weight * cp[p, t]
                for r in range(n_r):
                    for k in range(taps):
                        total -= m[p, r, k] * hist_c[r, (pos - k * spacing) % size]
                a = _dense(total, weight_exp)
            sign = 0
            for j in range(2):
                uj, vj, spike = _neuron(u[p, j], v[p, j], a if j == 0 else -a, du, vth)
                u[p, j], v[p, j] = uj, vj
                u_rec[t, p, j], v_rec[t, p, j], s_rec[t, p, j] = uj, vj, spike
                if spike:
                    sign += 1 if j == 0 else -1
            if not learning or sign == 0:
                continue
            for r in range(n_r):
                for k in range(taps):
                    x = hist_tr[r, (pos - k * spacing) % size]
                    if rule == 0:
                        step = sign * (int(x > 0) - int(x < 0))
                    else:
                        step = sign * (x >> TRACE_SHIFT)
                    total = acc[p, r, k] + step
                    before = m[p, r, k]
                    move = 0
                    if total >= threshold:
                        total -= threshold
                        move = 1 if before < limit else 0
                    elif total <= -threshold:
                        total += threshold
                        move = -1 if before > -limit else 0
                    # A saturating counter: a surplus beyond one pulse per step is dropped.
                    acc[p, r, k] = min(max(total, -threshold), threshold)
                    if move == 0:
                        continue
                    m[p, r, k] = before + move
                    pulses[p, r, k] += 1
                    # The crossbar holds w = -m as G+ - G-: one device carries it, the other
                    # rests at g_min, so a pulse acts on the device that carries the sign.
                    i = r * taps + k
                    if move > 0:  # w falls
                        if before < 0:
                            plus[p, i] -= 1
                        else:
                            minus[p, i] += 1
                    else:  # w rises
                        if before <= 0:
                            plus[p, i] += 1
                        else:
                            minus[p, i] -= 1


def event_counts(encoder: DeltaEncoder, signal: np.ndarray, start: int) -> np.ndarray:
    """Signed delta-event counts per channel and sample [channels, samples] of the next chunk
    of ``encoder``'s stream, which begins at sample ``start``."""
    events = encoder(signal)
    n_c, n = signal.shape
    idx = sample_index(events, encoder.fs) - start
    sign = np.where(events["p"] == UP, 1, -1)
    flat = np.bincount(events["x"].astype(np.int64) * n + idx, weights=sign, minlength=n_c * n)
    return flat.astype(np.int64).reshape(n_c, n)


class SpikingCanceller:
    """Spiking adaptive noise canceller with on-chip learning (see the module docstring).

    Args:
        taps: taps per reference channel.
        tap_spacing: steps between taps.
        primary_threshold: delta step of the primary, in its units (docs/ppg.md: the PPG
            front end scales the resting pulse to unit rms).
        reference_threshold: delta step of the references, in their units (g).
        primary_events, reference_events: most events a channel delivers per step (the
            width of its thermometer code; a bit-serial crossbar read takes one read per bit).
        primary_weight: fixed mantissa of the primary's synapse, 1..127; sets the filter's
            resolution: one tap unit is ``reference_threshold / (primary_weight *
            primary_threshold)`` primary units per reference unit.
        weight_exp: the layer's shared weight exponent.
        du: current decay of the error neurons (12 bits): the integrator's leak.
        dead_zone: error neurons spike when |error| exceeds this many primary units.
        update_threshold: counter value at which a synapse takes a pulse (the inverse step
            size, in agreeing error events).
        rule: "sign-sign" or "sign-error".
        learning: adapt the taps (False freezes them: a plain network of the contract).
        backend: "reference" (exact integers), "crossbar" or "rtl" (the Verilog unit,
            simulated; bit-exact with "reference").
        device: crossbar device preset (name, .json path, dict or DevicePreset).
        periphery: crossbar periphery fields to override (default: calibration off, since
            the learning loop itself corrects gain errors that a calibration read-back of
            the programmed weights would misjudge once the weights learn).
        block: crossbar steps per read-and-pulse block (1: step-exact).
        coef_init: starting taps [primaries, references, taps] in [-127, 127] (e.g. taps
            learned on an earlier stream); default zeros. Reference and RTL backends.
        fs: sample rate, Hz (event timestamps and simulated device time).
        random_state: seed of the crossbar's devices and noise.
        sim: HDL simulator of the RTL backend, "icarus" or "verilator".

    Attributes (after ``fit``):
        coef_: learned mantissas m [primaries, references, taps]; on the crossbar the learning
            unit's ledger of net pulses per synapse (the weights there are analog:
            ``crossbar_.layer.effective_weights(t)``).
        cleaned_: cleaned primaries of the last chunk, in the primary's units.
        current_, voltage_: u and v [samples, primaries, 2] (e+, e-) of the last chunk, the
            contract's state words; u of e+ is the cleaned sample.
        spikes_: error spikes [samples, primaries, 2] (e+, e-) of the last chunk.
        events_: delivered signed event counts of the last chunk (primary [P, n],
            reference [R, n]), the input of :meth:`raster`.
        pulses_: programming pulses issued so far; ``pulse_counts_`` per synapse.
        estimate_: crossbar energy and latency estimate (crossbar backend).
        cycles_: clocks [samples] from the unit accepting each step of the last chunk to its
            output (RTL backend; one step per sample, so at f_clk a step takes cycles_ / f_clk
            of the sample period 1 / fs).
    """

    def __init__(self, taps: int = 16, tap_spacing: int = 5, primary_threshold: float = 0.5,
                 reference_threshold: float = 0.05, primary_events: int = 16,
                 reference_events: int = 8, primary_weight: int = 64, weight_exp: int = 0,
                 du: int = 31, dead_zone: float = 0.0, update_threshold: int = 128,
                 rule: str = "sign-sign", learning: bool = True, backend: str = "reference",
                 device: Any = "taox", periphery: dict | None = None, block: int = 10,
                 coef_init: np.ndarray | None = None, fs: float = 125.0,
                 random_state: int | None = 0, sim: str = "icarus"):
        self.taps = taps
        self.tap_spacing = tap_spacing
        self.primary_threshold = primary_threshold
        self.reference_threshold = reference_threshold
        self.primary_events = primary_events
        self.reference_events = reference_events
        self.primary_weight = primary_weight
        self.weight_exp = weight_exp
        self.du = du
        self.dead_zone = dead_zone
        self.update_threshold = update_threshold
        self.rule = rule
        self.learning = learning
        self.backend = backend
        self.device = device
        self.periphery = periphery
        self.block = block
        self.coef_init = coef_init
        self.fs = fs
        self.random_state = random_state
        self.sim = sim

    # --- parameters ---------------------------------------------------------------------

    def _validate(self) -> None:
        check_taps(self.taps, self.tap_spacing)
        for name in ("primary_threshold", "reference_threshold", "fs"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("primary_events", "reference_events", "update_threshold", "block"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not (isinstance(self.primary_weight, int | np.integer)
                and 1 <= self.primary_weight <= M_LIMIT):
            raise ValueError(f"primary_weight must be an integer in [1, {M_LIMIT}], got "
                             f"{self.primary_weight!r}")
        if not fp.WEIGHT_EXP_MIN <= self.weight_exp <= fp.WEIGHT_EXP_MAX:
            raise ValueError(f"weight_exp must lie in [{fp.WEIGHT_EXP_MIN}, "
                             f"{fp.WEIGHT_EXP_MAX}], got {self.weight_exp!r}")
        if not 0 <= self.du <= fp.DECAY_MAX:
            raise ValueError(f"du must lie in [0, {fp.DECAY_MAX}], got {self.du!r}")
        if self.rule not in RULES:
            raise ValueError(f"rule must be one of {RULES}, got {self.rule!r}")
        if self.backend not in BACKENDS:
            raise ValueError(f"the spiking canceller runs on {', '.join(BACKENDS)}, not "
                             f"{self.backend!r}")
        if self.backend == "rtl":
            self._validate_rtl()
        if not (self.dead_zone >= 0 and self.vth <= fp.VTH_MAX):
            raise ValueError(f"dead_zone must be >= 0 and give a threshold within 17 bits "
                             f"(<= {fp.VTH_MAX}), got {self.dead_zone!r}")

    def _validate_rtl(self) -> None:
        """The RTL's simulator and the widths of its ports and counters."""
        from neuro.backends import canceller_rtl, rtl_sim

        if self.sim not in rtl_sim.SIMULATORS:
            raise ValueError(f"unknown simulator {self.sim!r}; choose one of "
                             f"{', '.join(rtl_sim.SIMULATORS)}")
        for name, most in (("primary_events", canceller_rtl.COUNT_MAX),
                           ("reference_events", canceller_rtl.COUNT_MAX),
                           ("update_threshold", canceller_rtl.THRESHOLD_MAX)):
            if getattr(self, name) > most:
                raise ValueError(f"{name} must be <= {most} on the RTL backend, got "
                                 f"{getattr(self, name)!r}")

    @property
    def output_scale(self) -> float:
        """Primary units per unit of the error neuron's current u."""
        scale = 2.0 ** (fp.WEIGHT_LSB_SHIFT + self.weight_exp + fp.ACT_SHIFT)
        return self.primary_threshold / (scale * self.primary_weight)

    @property
    def pulses_(self) -> int:
        """Programming pulses issued since ``fit`` (one per mantissa step)."""
        return int(self.pulse_counts_.sum())

    @property
    def vth(self) -> int:
        """The error neurons' 17-bit threshold for ``dead_zone``."""
        return math.floor(self.dead_zone / self.output_scale) >> fp.VTH_SHIFT

    def _history(self) -> int:
        return (self.taps - 1) * self.tap_spacing + 1

    # --- streams ------------------------------------------------------------------------

    def _start(self, n_primary: int, n_reference: int) -> None:
        p, r, h = n_primary, n_reference, self._history()
        self.primary_encoder_ = DeltaEncoder(self.primary_threshold, self.fs)
        self.reference_encoder_ = DeltaEncoder(self.reference_threshold, self.fs)
        self.carry_ = (np.zeros(p, np.int64), np.zeros(r, np.int64))
        self.hist_c_ = np.zeros((r, h), np.int64)
        self.hist_tr_ = np.zeros((r, h), np.int64)
        self.ring_ = np.zeros(1, np.int64)
        self.trace_ = np.zeros(r, np.int64)
        self.u_ = np.zeros((p, 2), np.int64)
        self.v_ = np.zeros((p, 2), np.int64)
        self.coef_ = self._initial_coef(p, r)
        self.accumulator_ = np.zeros((p, r, self.taps), np.int64)
        self.pulse_counts_ = np.zeros((p, r, self.taps), np.int64)
        self.n_samples_ = 0
        self.estimate_ = None
        self.cycles_ = np.zeros(0, np.int64)
        self.crossbar_ = _CrossbarTaps(self, p, r) if self.backend == "crossbar" else None

    def _initial_coef(self, n_primary: int, n_reference: int) -> np.ndarray:
        shape = (n_primary, n_reference, self.taps)
        if self.coef_init is None:
            return np.zeros(shape, np.int64)
        if self.backend == "crossbar":
            raise ValueError("coef_init applies to the reference and RTL backends (a crossbar "
                             "starts from programmed zeros)")
        coef = np.asarray(self.coef_init)
        if coef.shape != shape or coef.dtype.kind not in "iu" or np.abs(coef).max(
                initial=0) > M_LIMIT:
            raise ValueError(f"coef_init must be integers in [-{M_LIMIT}, {M_LIMIT}] of shape "
                             f"{shape}, got {coef.dtype} {coef.shape}")
        return coef.astype(np.int64)

    def fit(self, primary: np.ndarray, reference: np.ndarray) -> SpikingCanceller:
        """Start a new stream and adapt over it."""
        self._validate()
        p, r = check_streams(primary, reference)
        self._start(p.shape[0], r.shape[0])
        return self.partial_fit(p, r)

    def partial_fit(self, primary: np.ndarray, reference: np.ndarray) -> SpikingCanceller:
        """Continue the stream with the next chunk (identical to one call over the whole)."""
        p, r = check_streams(primary, reference)
        if not hasattr(self, "coef_"):
            return self.fit(p, r)
        if (p.shape[0], r.shape[0]) != self.coef_.shape[:2]:
            raise ValueError(f"this stream has {self.coef_.shape[0]} primaries and "
                             f"{self.coef_.shape[1]} references, got {p.shape[0]} and "
                             f"{r.shape[0]}; call fit to start a new one")
        cp, cr = self.counts(p, r)
        self.events_ = (cp, cr)
        records = self._run(cp, cr)
        self.current_, self.voltage_, self.spikes_ = records
        self.cleaned_ = self.current_[:, :, 0].T * self.output_scale
        self.n_samples_ += p.shape[1]
        return self

    def fit_transform(self, primary: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """The cleaned primaries [primaries, samples] of a new stream."""
        return self.fit(primary, reference).cleaned_

    def counts(self, primary: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, ...]:
        """Delivered signed event counts of the next chunk: primary [P, n], reference [R, n]."""
        start = self.n_samples_
        cp = event_counts(self.primary_encoder_, primary, start)
        cr = event_counts(self.reference_encoder_, reference, start)
        return (_limit_rate(cp, self.primary_events, self.carry_[0]),
                _limit_rate(cr, self.reference_events, self.carry_[1]))

    def _step_size(self) -> tuple[int, int]:
        """Counter threshold and pulse limit. A crossbar pulse moves a weight by
        ``lsb_per_pulse`` mantissa units on average, so the counter waits that many times
        longer: the step size per error event stays the reference's."""
        per = 1.0 if self.crossbar_ is None else self.crossbar_.lsb_per_pulse
        return max(1, round(self.update_threshold * per)), int(M_LIMIT // per)

    def _records(self, n: int) -> tuple[np.ndarray, ...]:
        n_p = self.coef_.shape[0]
        return (np.zeros((n, n_p, 2), np.int64), np.zeros((n, n_p, 2), np.int64),
                np.zeros((n, n_p, 2), np.uint8))

    def _step(self, cp: np.ndarray, cr: np.ndarray, external: np.ndarray,
              records: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
        n_p, n_r, taps = self.coef_.shape
        plus = np.zeros((n_p, n_r * taps), np.int64)
        minus = np.zeros((n_p, n_r * taps), np.int64)
        _kernel(cp, cr, external, self.hist_c_, self.hist_tr_, self.ring_, self.trace_,
                self.u_, self.v_, self.coef_, self.accumulator_, plus, minus, self.pulse_counts_,
                int(self.primary_weight), int(self.weight_exp), int(self.du), self.vth,
                *self._step_size(), RULES.index(self.rule), bool(self.learning),
                taps, int(self.tap_spacing), *records)
        return plus, minus

    def _run(self, cp: np.ndarray, cr: np.ndarray) -> tuple[np.ndarray, ...]:
        records = self._records(cp.shape[1])
        if self.backend == "rtl":
            return self._run_rtl(cp, cr) if cp.shape[1] else records
        if self.crossbar_ is None:
            self._step(cp, cr, np.zeros((0, cp.shape[0]), np.int64), records)
            return records
        self.crossbar_.run(cp, cr, records)
        self.estimate_ = self.crossbar_.estimate
        return records

    def _run_rtl(self, cp: np.ndarray, cr: np.ndarray) -> tuple[np.ndarray, ...]:
        """One chunk on the Verilog unit, from and back into this stream's state."""
        from neuro.backends import canceller_rtl

        n_p, n_r, taps = self.coef_.shape
        config = canceller_rtl.UnitConfig(
            n_p, n_r, taps, int(self.tap_spacing), int(self.primary_weight),
            int(self.weight_exp), int(self.du), self.vth, *self._step_size(),
            RULES.index(self.rule), bool(self.learning))
        # The reference kernel's state arrays are the unit's memories in the same layout.
        state = {"m": self.coef_, "acc": self.accumulator_, "hc": self.hist_c_,
                 "ht": self.hist_tr_, "tr": self.trace_, "u": self.u_, "v": self.v_,
                 "pos": self.ring_}
        result = canceller_rtl.run_chunk(config, state, cp, cr, self.sim)
        for name, array in state.items():
            array[...] = result.state[name]
        self.pulse_counts_ += result.pulses
        self.cycles_ = result.cycles
        return result.u, result.v, result.spikes

    # --- the contract's view ------------------------------------------------------------

    def to_network(self) -> FixedNetwork:
        """The canceller with its current taps as a plain network of the contract.

        One layer of 2 x primaries neurons (e+, e- per primary) over the thermometer inputs
        of :meth:`raster`. With learning off, running it on the reference backend gives the
        canceller's u, v and spikes one step later (the Dense delay), word for word.
        """
        if not hasattr(self, "coef_"):
            raise ValueError("fit the canceller first (the network needs its channel counts)")
        n_p, n_r, taps = self.coef_.shape
        kp, kr = self.primary_events, self.reference_events
        weights = np.zeros((2 * n_p, n_p * 2 * kp + n_r * taps * 2 * kr), np.int64)
        for p in range(n_p):
            row = np.zeros(weights.shape[1], np.int64)
            row[p * 2 * kp: p * 2 * kp + kp] = self.primary_weight
            row[p * 2 * kp + kp: (p + 1) * 2 * kp] = -self.primary_weight
            tap = -self.coef_[p].reshape(-1)  # [references x taps]
            block = np.concatenate([np.repeat(tap[:, None], kr, 1),
                                    np.repeat(-tap[:, None], kr, 1)], axis=1)
            row[n_p * 2 * kp:] = block.reshape(-1)
            weights[2 * p], weights[2 * p + 1] = row, -row
        layer = FixedLayer(weights, weight_exp=self.weight_exp, du=self.du, dv=ERROR_DV,
                           vth=self.vth, name="error_neurons")
        return FixedNetwork((layer,), dt=1.0 / self.fs)

    def raster(self, cp: np.ndarray, cr: np.ndarray) -> np.ndarray:
        """Thermometer spikes [steps, inputs] (uint8) of delivered counts of a whole stream,
        in the input order of :meth:`to_network` (taps delayed by their spacing)."""
        n = cp.shape[1]
        kp, kr = self.primary_events, self.reference_events

        def thermometer(counts: np.ndarray, k: int) -> np.ndarray:  # [C, n] -> [n, C, 2k]
            level = np.arange(1, k + 1)
            up = counts[:, :, None] >= level
            down = -counts[:, :, None] >= level
            return np.concatenate([up, down], axis=2).transpose(1, 0, 2)

        delay = self.tap_spacing * np.arange(self.taps)
        shifted = np.zeros((cr.shape[0], self.taps, n), np.int64)
        for k, d in enumerate(delay):
            shifted[:, k, d:] = cr[:, : n - d] if d < n else 0
        parts = [thermometer(cp, kp).reshape(n, -1),
                 thermometer(shifted.reshape(-1, n), kr).reshape(n, -1)]
        return np.concatenate(parts, axis=1).astype(np.uint8)


class _CrossbarTaps:
    """The canceller's synapses on a crossbar tile, read bit-serially and pulsed in blocks.

    Rows: one pinning row that holds -128 and is never driven (it fixes the conductance unit
    at the device range over the 8-bit mantissa range, so that the taps can learn up to it;
    a tile otherwise scales to its largest programmed weight, 0 before learning); two rows
    per primary, a main and a spare, both +primary_weight in its column; one row per tap
    (-m). Columns: one per primary; e- reads the same column negated.

    Stuck devices are mapped out after programming, as a march test (program, pulse, read
    back; not simulated here, its outcome is the array's stuck map) would find them: a row
    with a stuck device is never driven and takes no pulses. A primary whose main row is
    faulty uses its spare; a faulty tap is lost (the others adapt around it). Without this, a
    device stuck at g_max weighs 128 units that the learning needs minutes of pulses to
    cancel.
    """

    def __init__(self, canceller: SpikingCanceller, n_primary: int, n_reference: int):
        from neuro.crossbar import CrossbarLayer, Estimate
        from neuro.crossbar_presets import get_preset

        self.c = canceller
        preset = get_preset(canceller.device)
        changes = {"calibration": "none", **(canceller.periphery or {})}
        self.preset = dataclasses.replace(
            preset, periphery=dataclasses.replace(preset.periphery, **changes))
        self.first_tap = 1 + 2 * n_primary
        n_in = self.first_tap + n_reference * canceller.taps
        weights = np.zeros((n_primary, n_in), np.int64)
        weights[:, 0] = fp.WEIGHT_MIN
        for p in range(n_primary):
            weights[p, 1 + 2 * p: 3 + 2 * p] = canceller.primary_weight
        self.layer = CrossbarLayer(weights, self.preset,
                                   np.random.default_rng(canceller.random_state))
        faulty = self._stuck_rows(n_primary, n_in)
        main = 1 + 2 * np.arange(n_primary)
        self.primary_rows = np.where(faulty[main], main + 1, main)
        self.tap_ok = ~faulty[self.first_tap:]
        # The pinned unit maps 128 mantissa units onto the device range, which set_pulses
        # pulses cross (on average: the steps are state dependent).
        self.lsb_per_pulse = -fp.WEIGHT_MIN / self.preset.set_pulses
        self.estimate = Estimate(inferences=1)
        self.estimate.latency_per_step = self.layer.tile_latency()
        self.n_primary, self.n_in = n_primary, n_in
        self.bits = max(int(canceller.primary_events).bit_length(),
                        int(canceller.reference_events).bit_length())
        self.t = self.preset.drift_t0
        self.history = np.zeros((n_reference, (canceller.taps - 1) * canceller.tap_spacing),
                                np.int64)

    def _stuck_rows(self, n_out: int, n_in: int) -> np.ndarray:
        """Rows [inputs] with a stuck device in any column (the tile grid unfolded)."""
        layer = self.layer
        ti, to = layer.tiles
        stuck = layer.devices.stuck.any(axis=-1).transpose(0, 2, 1, 3)
        full = stuck.reshape(ti * layer.rows, to * layer.cols)[:n_in, :n_out]
        return full.any(axis=1)

    def _inputs(self, cp: np.ndarray, cr: np.ndarray) -> np.ndarray:
        """Word-line inputs [steps, rows] (signed counts) of a chunk, taps delayed."""
        c = self.c
        ext = np.concatenate([self.history, cr], axis=1)
        n = cp.shape[1]
        offset = self.history.shape[1]
        delays = c.tap_spacing * np.arange(c.taps)
        index = offset + np.arange(n)[:, None] - delays[None, :]  # [n, taps]
        taps = ext[:, index].transpose(1, 0, 2).reshape(n, -1)  # [n, references x taps]
        self.history = ext[:, ext.shape[1] - offset:] if offset else self.history
        x = np.zeros((n, self.n_in), np.int64)
        x[:, self.primary_rows] = cp.T
        x[:, self.first_tap:] = taps * self.tap_ok
        return x

    def _read(self, x: np.ndarray) -> np.ndarray:
        """Dense outputs a [steps, primaries] of signed counts ``x`` [steps, rows]: one read
        per bit of |count| with inputs in {-1, 0, 1}, shifted and added."""
        frame = self.layer.frame(self.t)
        magnitude, sign = np.abs(x), np.sign(x)
        planes = np.stack([sign * ((magnitude >> b) & 1) for b in range(self.bits)], axis=1)
        flat = planes.reshape(-1, x.shape[1]).astype(np.float64)
        partial = self.layer.read(flat, frame, self.estimate)
        total = (partial.reshape(x.shape[0], self.bits, -1)
                 * (2.0 ** np.arange(self.bits))[None, :, None]).sum(axis=1)
        scale = 2.0 ** (fp.WEIGHT_LSB_SHIFT + self.c.weight_exp)
        return np.floor(total * scale).astype(np.int64)

    def run(self, cp: np.ndarray, cr: np.ndarray, records: tuple[np.ndarray, ...]) -> None:
        """Run a chunk block by block: read, step the neurons and the learning unit, pulse."""
        c = self.c
        x = self._inputs(cp, cr)
        dt = 1.0 / c.fs
        for start in range(0, cp.shape[1], c.block):
            stop = min(start + c.block, cp.shape[1])
            external = self._read(x[start:stop])
            plus, minus = c._step(cp[:, start:stop], cr[:, start:stop], external,
                                  tuple(r[start:stop] for r in records))
            self.t += (stop - start) * dt
            self.estimate.steps += stop - start
            if plus.any() or minus.any():
                grid = np.zeros((2, self.n_primary, self.n_in), np.int64)
                grid[0, :, self.first_tap:] = plus * self.tap_ok
                grid[1, :, self.first_tap:] = minus * self.tap_ok
                self.layer.update(grid[0], grid[1], self.t)
