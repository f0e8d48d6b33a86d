"""Memristive crossbar model: device laws, device arrays, tiles, read-out and estimates.

Each signed weight mantissa ``w`` is a differential pair of conductances in adjacent bit
lines, ``G+ = g_min + max(w, 0) u`` and ``G- = g_min + max(-w, 0) u`` with ``u`` (µS per
weight unit) chosen per tile so that its largest weight spans the device range. Layers larger
than a tile are split; each tile's columns are digitised by their own ADC and partial sums are
added digitally, in weight units, so that the ADC output lands on the fixed-point scale of the
Dense output (docs/fixed-point.md) and feeds the same CUBA-LIF neuron as every backend.

What is modelled, each switchable on its own through the preset (:mod:`neuro.crossbar_presets`):
finite levels, write-verify programming with state-dependent programming noise, read noise on
every read (white, plus random telegraph or 1/f fluctuators), device-to-device and
cycle-to-cycle variability, stuck-at faults, drift over simulated time, IR drop on word and
bit lines, DAC and ADC quantisation with gain calibration, in-situ SET/RESET pulses with a
bounded, nonlinear, asymmetric and noisy response, endurance, and energy and latency.

Everything is seeded (``numpy.random.Generator``) and vectorised over devices, tiles and
batch. Units: µS, V, s, Ω, J; currents inside the read path are in weight units (the current
of one weight unit at the read voltage), physical currents in µA where named.

Read noise of independent devices sums to a Gaussian per column whose variance is the
input-weighted sum of device variances, so one extra matrix product gives the exact column
noise of every read without drawing a number per device per read.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np
import scipy.sparse as sparse
import scipy.sparse.linalg as sparse_linalg
from scipy.special import ndtri

from neuro import fixed_point as fp
from neuro.crossbar_presets import DevicePreset, PresetError, get_preset
from neuro.network import FixedLayer, FixedNetwork
from neuro.record import Record

# Largest |weight mantissa| mapped onto the device range (the 8-bit minimum, -128).
WEIGHT_UNITS = -fp.WEIGHT_MIN
# Fluctuators per decade of the 1/f band: a sum of Lorentzians with corners this dense has
# a 1/f spectrum within a few per cent ripple (McWhorter's model).
FLUCTUATORS_PER_DECADE = 2
# Device state is updated per frame; a frame lasts at most this fraction of the device age,
# within which drift (nu <= 0.1) changes G by at most 0.1% ...
DRIFT_FRAME_FRACTION = 0.01
# ... or when the fastest telegraph fluctuator could flip with probability above ~10%.
TELEGRAPH_FRAME_FLIPS = 0.1
# A flip probability above this redraws a fluctuator densely; below it flips sparse indices.
_DENSE_FLIP = 0.02


# --- device laws -------------------------------------------------------------------------
# Written with operators and xp.clip / xp.log / xp.exp only, so that numpy (simulation) and
# torch (hardware-aware training, neuro.crossbar_training) evaluate the same laws.


def programming_sigma(preset: DevicePreset, g: Any, xp: ModuleType = np) -> Any:
    """Programming-noise sigma (µS) of one attempt at target ``g`` (µS).

    ``max(sum_k c_k (g / g_max)**k, 0)``, the polynomial law of the preset.
    """
    x = g / preset.g_max
    poly = 0 * x + preset.prog_noise[-1]
    for c in reversed(preset.prog_noise[:-1]):
        poly = poly * x + c
    return (poly + abs(poly)) / 2  # max(poly, 0) for numpy and torch alike


def _clip_law(law: tuple[float, ...], g: Any, g_max: float, xp: ModuleType) -> Any:
    c0, c1, lo, hi = law
    if c1 == 0:
        return 0 * g + min(max(c0, lo), hi)
    return xp.clip(c0 + c1 * xp.log(xp.clip(g / g_max, 1e-9, None)), lo, hi)


def drift_exponent(preset: DevicePreset, g: Any, xp: ModuleType = np) -> tuple[Any, Any]:
    """Mean and device-to-device sigma of the drift exponent nu at programmed state ``g``."""
    return (_clip_law(preset.drift_nu, g, preset.g_max, xp),
            _clip_law(preset.drift_nu_std, g, preset.g_max, xp))


def noise_state_factor(preset: DevicePreset, g: Any, xp: ModuleType = np) -> Any:
    """``min((g / g_max)**-noise_exponent, noise_cap)``: state dependence of read noise."""
    if preset.noise_exponent == 0:
        return 0 * g + 1.0
    return xp.clip(xp.clip(g / preset.g_max, 1e-9, None) ** -preset.noise_exponent,
                   None, preset.noise_cap)


def read_sigma(preset: DevicePreset, g: Any, xp: ModuleType = np) -> Any:
    """White read-noise sigma (µS) of one read of a device at conductance ``g`` (µS)."""
    return preset.read_noise * g * noise_state_factor(preset, g, xp)


def telegraph_sigma(preset: DevicePreset, g: Any, xp: ModuleType = np) -> Any:
    """Sigma (µS) of the time-correlated (telegraph or 1/f) part at conductance ``g``."""
    return preset.telegraph_noise * g * noise_state_factor(preset, g, xp)


def telegraph_rates(preset: DevicePreset) -> np.ndarray:
    """Switching rates (1/s, each direction) of the fluctuators of one device.

    "rtn": one fluctuator switching at the band's lowest frequency. "1/f": corner
    frequencies f_c log-spaced over the band, rate pi f_c, whose Lorentzians sum to 1/f.
    """
    lo, hi = preset.telegraph_band
    if preset.read_noise_kind == "rtn" or preset.telegraph_noise == 0:
        return np.array([lo])
    count = max(2, round(FLUCTUATORS_PER_DECADE * math.log10(hi / lo)) + 1)
    return math.pi * np.geomspace(lo, hi, count)


def _pulse_coefficients(preset: DevicePreset, span: Any, up: bool) -> tuple[Any, Any]:
    """(k, B): a pulse moves G by k (G_sat - G) with G_sat at B beyond the start bound.

    NeuroSim's form: ``G(p) = g_min + B (1 - exp(-p / A))`` for SET from g_min, mirrored for
    RESET from the device's own g_max, ``A = a * pulses`` and ``B = span / (1 - exp(-1/a))``
    so that ``pulses`` pulses cross the span exactly. A linear device (a = None) has k = 0
    and a constant step span / pulses.
    """
    a = preset.set_a if up else preset.reset_a
    pulses = preset.set_pulses if up else preset.reset_pulses
    if a is None:
        return 0.0, span / pulses
    k = -math.expm1(-1.0 / (a * pulses))
    return k, span / -math.expm1(-1.0 / a)


def pulse_step(preset: DevicePreset, g: Any, up: Any, g_max_dev: Any = None) -> Any:
    """Nominal conductance step (µS) of one SET (``up``) or RESET pulse at state ``g`` (µS).

    State dependent and asymmetric (different a and pulse counts up and down); the bounds
    g_min and the device's own ``g_max_dev`` (default g_max) are applied by the caller.
    """
    g = np.asarray(g, dtype=float)
    top = preset.g_max if g_max_dev is None else np.asarray(g_max_dev, dtype=float)
    span = top - preset.g_min
    k_up, b_up = _pulse_coefficients(preset, span, True)
    k_dn, b_dn = _pulse_coefficients(preset, span, False)
    step_up = b_up if preset.set_a is None else k_up * (preset.g_min + b_up - g)
    step_dn = b_dn if preset.reset_a is None else k_dn * (g - (top - b_dn))
    return np.where(up, step_up, -step_dn)


def pulse_response(preset: DevicePreset, set_pulses: int, reset_pulses: int) -> np.ndarray:
    """Nominal G (µS) after 0..set_pulses SET pulses from g_min, then reset_pulses RESETs.

    The curve that in-situ updates follow on average (docs/img/crossbar_pulse_response.png).
    """
    g = [preset.g_min]
    for i in range(set_pulses + reset_pulses):
        up = i < set_pulses
        step = float(pulse_step(preset, g[-1], up))
        g.append(min(max(g[-1] + step, preset.g_min), preset.g_max))
    return np.array(g)


# --- telegraph fluctuators ------------------------------------------------------------


class _Telegraph:
    """Symmetric two-state fluctuators, K per device, each switching at its own rate.

    The sampled process is exact for any step: over dt a fluctuator switching at rate lambda
    each way is found flipped with probability (1 - exp(-2 lambda dt)) / 2.
    """

    def __init__(self, shape: tuple[int, ...], rates: np.ndarray, rng: np.random.Generator):
        self.rates = np.asarray(rates, dtype=float)
        n = math.prod(shape)
        self.shape = shape
        self.states = rng.random((len(self.rates), n)) < 0.5
        # Sum over fluctuators of +-1, kept up to date on every flip.
        self.total = (2 * self.states.astype(np.int16) - 1).sum(axis=0, dtype=np.int16)

    def advance(self, dt: float, rng: np.random.Generator) -> None:
        """Let ``dt`` seconds pass."""
        if dt <= 0:
            return
        n = self.states.shape[1]
        for k, rate in enumerate(self.rates):
            p = 0.5 * -math.expm1(-2.0 * rate * dt)
            if p <= 0:
                continue
            if p > _DENSE_FLIP:
                flip = np.flatnonzero(rng.random(n) < p)
            else:
                flip = rng.choice(n, size=rng.binomial(n, p), replace=False)
            old = self.states[k, flip]
            self.total[flip] += np.where(old, -2, 2).astype(np.int16)
            self.states[k, flip] = ~old

    def value(self) -> np.ndarray:
        """Normalised fluctuation (unit variance), shaped as the devices."""
        return (self.total / math.sqrt(len(self.rates))).reshape(self.shape)


# --- device arrays ---------------------------------------------------------------------


def _check_conductance(preset: DevicePreset, targets: np.ndarray, name: str) -> None:
    if not np.all(np.isfinite(targets)):
        raise PresetError(f"{name}: conductances must be finite")
    slack = 1e-9 * preset.g_max
    lo, hi = float(targets.min(initial=preset.g_min)), float(targets.max(initial=preset.g_min))
    if lo < preset.g_min - slack or hi > preset.g_max + slack:
        raise PresetError(
            f"{name}: conductances must lie in the device range [{preset.g_min:g}, "
            f"{preset.g_max:g}] µS of preset {preset.name!r}, got values in [{lo:g}, {hi:g}] µS"
        )


class DeviceArray:
    """A block of devices of one preset, any shape: variability, state, time and pulses.

    Device-to-device draws (own g_max, pulse-step scale, stuck-at faults, drift-exponent
    deviate) are made once, at construction. Attributes ending in ``_`` change with use.

    Attributes:
        g_max_dev: each device's own highest conductance (µS).
        step_scale: each device's pulse-step multiplier.
        stuck: devices stuck at ``stuck_value`` (µS), which ignore programming and pulses.
        g_: programmed conductance (µS) at its programming time ``t_prog_`` (s).
        nu_: drift exponent of each device for its programmed state.
        pulses_: pulses each device has taken (write-verify attempts and in-situ pulses).
    """

    def __init__(self, preset: DevicePreset, shape: tuple[int, ...], rng: np.random.Generator):
        self.preset = preset
        self.shape = tuple(shape)
        self.rng = rng
        p = preset
        self.g_max_dev = np.maximum(
            p.g_max * (1 + p.d2d_g_max * rng.standard_normal(self.shape)) if p.d2d_g_max
            else np.full(self.shape, p.g_max),
            p.g_min + 0.01 * p.unit_range,
        )
        self.step_scale = (np.maximum(1 + p.d2d_step * rng.standard_normal(self.shape), 0.0)
                           if p.d2d_step else np.ones(self.shape))
        if p.stuck_on or p.stuck_off:
            u = rng.random(self.shape)
            stuck_on = u < p.stuck_on
            self.stuck = stuck_on | (u < p.stuck_on + p.stuck_off)
        else:
            stuck_on = self.stuck = np.zeros(self.shape, bool)
        self.stuck_value = np.where(stuck_on, p.g_max, p.g_min)
        self._nu_deviate = rng.standard_normal(self.shape)
        self.drifts = any(law[0] or law[1] or law[2] or law[3]
                          for law in (p.drift_nu, p.drift_nu_std))
        self.telegraph = (_Telegraph(self.shape, telegraph_rates(p), rng)
                          if p.telegraph_noise > 0 else None)
        self._telegraph_time = 0.0
        self.g_ = np.where(self.stuck, self.stuck_value, p.g_min).astype(float)
        self.t_prog_ = np.zeros(self.shape)
        # The programming time shared by every device that drifts, while there is one: drift
        # then needs one logarithm instead of one per device.
        self._t_prog_all: float | None = 0.0
        self.nu_ = np.zeros(self.shape)
        self.pulses_ = np.zeros(self.shape, np.int64)
        self._set_drift(np.ones(self.shape, bool))

    def _set_drift(self, where: np.ndarray) -> None:
        if not self.drifts:
            return
        mean, std = drift_exponent(self.preset, self.g_[where])
        self.nu_[where] = np.where(self.stuck[where], 0.0,
                                   mean + std * self._nu_deviate[where])

    def quantise_levels(self, targets: np.ndarray) -> np.ndarray:
        """Targets moved to the nearest of the preset's evenly spaced levels (µS)."""
        p = self.preset
        if p.levels is None:
            return targets
        step = p.unit_range / (p.levels - 1)
        return p.g_min + np.rint((targets - p.g_min) / step) * step

    def program(self, targets: np.ndarray, t: float = 0.0) -> np.ndarray:
        """Write-verify every device to ``targets`` (µS) at time ``t`` (s).

        Each attempt lands at the target plus programming noise sigma(target), within the
        device's own range; a verify read (with read noise) accepts it within the write
        tolerance, else the device is rewritten, up to the iteration limit. Returns the
        attempts per device.
        """
        p = self.preset
        targets = np.asarray(targets, dtype=float)
        if targets.shape != self.shape:
            raise PresetError(f"targets: shape {targets.shape} differs from the array's "
                              f"{self.shape}")
        _check_conductance(p, targets, "targets")
        goal = self.quantise_levels(targets).ravel()
        g = self.g_.ravel().copy()
        top = self.g_max_dev.ravel()
        todo = np.flatnonzero(~self.stuck.ravel())
        attempts = np.zeros(g.size, np.int64)
        for _ in range(p.write_max_iterations):
            if todo.size == 0:
                break
            want = goal[todo]
            got = want + programming_sigma(p, want) * self.rng.standard_normal(todo.size)
            got = np.clip(got, 0.0, top[todo])
            g[todo] = got
            attempts[todo] += 1
            if math.isinf(p.write_tolerance):
                break
            seen = got + read_sigma(p, got) * self.rng.standard_normal(todo.size)
            todo = todo[np.abs(seen - want) > p.write_tolerance]
        self.g_ = g.reshape(self.shape)
        self.t_prog_ = np.where(self.stuck, self.t_prog_, t)
        self._t_prog_all = t  # stuck devices do not drift, so their time does not matter
        self.pulses_ += attempts.reshape(self.shape)
        self._set_drift(~self.stuck)
        return attempts.reshape(self.shape)

    def drifted(self, t: float) -> np.ndarray:
        """Conductance (µS) at time ``t`` (s) after drift, without read or telegraph noise.

        ``G_prog (age / t0)**-nu`` with the age clipped below at t0 (the reference read).
        """
        if not self.drifts:
            return self.g_
        t0 = self.preset.drift_t0
        if self._t_prog_all is not None:
            return self.g_ * np.exp(-self.nu_ * math.log(max(t - self._t_prog_all, t0) / t0))
        age = np.maximum(t - self.t_prog_, t0) / t0
        return self.g_ * np.exp(-self.nu_ * np.log(age))

    def advance(self, t: float) -> None:
        """Advance the telegraph fluctuators to time ``t`` (s); earlier times do nothing."""
        if self.telegraph is not None and t > self._telegraph_time:
            self.telegraph.advance(t - self._telegraph_time, self.rng)
            self._telegraph_time = t

    def conductance(self, t: float) -> np.ndarray:
        """Conductance (µS) at time ``t``: drift plus the time-correlated read noise."""
        g = self.drifted(t)
        if self.telegraph is None:
            return g
        self.advance(t)
        return np.maximum(g + telegraph_sigma(self.preset, g) * self.telegraph.value(), 0.0)

    def read(self, t: float) -> np.ndarray:
        """One read of every device at time ``t`` (µS), with white read noise."""
        g = self.conductance(t)
        return g + read_sigma(self.preset, g) * self.rng.standard_normal(self.shape)

    def apply_pulses(self, pulses: np.ndarray, t: float = 0.0) -> None:
        """In-situ update at time ``t``: ``pulses`` SET (> 0) or RESET (< 0) pulses per device.

        Each pulse moves G by the state-dependent step of :func:`pulse_step`, scaled by the
        device's own step factor and by (1 + c2c sigma xi) per pulse, bounded to
        [g_min, own g_max]. Stuck devices and devices past their endurance do not move.
        """
        p = self.preset
        pulses = np.broadcast_to(np.asarray(pulses, np.int64), self.shape)
        count, up = np.abs(pulses), pulses > 0
        touched = (count > 0) & ~self.stuck
        self.g_ = np.where(touched, self.drifted(t), self.g_)
        for i in range(int(count.max(initial=0))):
            move = touched & (count > i)
            if p.endurance is not None:
                move &= self.pulses_ < p.endurance
            idx = np.flatnonzero(move)
            if idx.size == 0:
                break
            g, top = self.g_.flat[idx], self.g_max_dev.flat[idx]
            step = pulse_step(p, g, up.flat[idx], top) * self.step_scale.flat[idx]
            if p.c2c_step:
                step = step * (1 + p.c2c_step * self.rng.standard_normal(idx.size))
            self.g_.flat[idx] = np.clip(g + step, p.g_min, top)
            self.pulses_.flat[idx] += 1
        self.t_prog_ = np.where(touched, t, self.t_prog_)
        if touched.any():
            self._t_prog_all = t if np.array_equal(touched, ~self.stuck) else None
        self._set_drift(touched)


# --- IR drop ---------------------------------------------------------------------------


def ir_drop_conductance(g: np.ndarray, r_row: float, r_col: float) -> np.ndarray:
    """Effective conductances (µS) of arrays ``g`` [..., rows, columns] with line resistance.

    Word lines are driven at column 0 and bit lines sensed at virtual ground below the last
    row, each through one more segment; ``r_row`` and ``r_col`` are one cell segment's
    resistance (Ω). A network of resistors is linear, so the array acts on the input
    voltages as one matrix. To first order each cell current is reduced by the drop its
    row carries up to it, ``r_row sum_l G_il (min(l, j) + 1) V_i``, and by the rise of its
    bit line, ``r_col sum_l (R - max(i, l)) G_lj V_l``; both are linear in V and give
    ``G x_ij`` with ``x = r_row (G A) + r_col (B G)``. Resumming the series of a cell in
    series with that load, ``G / (1 + x)``, keeps the error against an exact nodal solve
    below 1% up to drops of about 30% (tests/neuro/test_crossbar_laws.py). Cost: four
    cumulative sums, O(rows x columns).
    """
    if r_row == 0 and r_col == 0:
        return g
    gs = g * 1e-6
    # (G A)_ij = sum_k<=j sum_l>=k G_il: a reverse cumulative sum, then a forward one.
    row_load = np.cumsum(np.cumsum(gs[..., ::-1], axis=-1)[..., ::-1], axis=-1)
    # (B G)_ij = sum_k>=i sum_l<=k G_lj.
    col_load = np.cumsum(np.cumsum(gs, axis=-2)[..., ::-1, :], axis=-2)[..., ::-1, :]
    return g / (1 + r_row * row_load + r_col * col_load)


def ir_drop_exact(g: np.ndarray, v: np.ndarray, r_row: float, r_col: float) -> np.ndarray:
    """Bit-line currents (µA) of one array ``g`` [rows, columns] (µS) at word-line voltages
    ``v`` [rows] (V), by an exact nodal (sparse linear) solve of the resistor network.

    Unknowns are the word-line and bit-line node voltages at every cell; the drivers sit
    before column 0 and the virtual grounds below the last row, one segment away. Both
    resistances must be > 0 (Ω).
    """
    rows, cols = g.shape
    if r_row <= 0 or r_col <= 0:
        raise PresetError("r_row: the exact solve needs r_row > 0 and r_col > 0 Ω")
    n = rows * cols
    word = np.arange(n).reshape(rows, cols)
    bit = word + n
    gr, gc, gd = 1.0 / r_row, 1.0 / r_col, g.ravel() * 1e-6
    r_idx: list[np.ndarray] = []
    c_idx: list[np.ndarray] = []
    vals: list[np.ndarray] = []

    def link(a: np.ndarray, b: np.ndarray, cond: np.ndarray | float) -> None:
        cond = np.broadcast_to(cond, a.shape)
        r_idx.extend([a, b, a, b])
        c_idx.extend([a, b, b, a])
        vals.extend([cond, cond, -cond, -cond])

    def ground(a: np.ndarray, cond: float) -> None:
        r_idx.append(a)
        c_idx.append(a)
        vals.append(np.full(a.shape, cond))

    link(word.ravel(), bit.ravel(), gd)
    link(word[:, :-1].ravel(), word[:, 1:].ravel(), gr)
    link(bit[:-1].ravel(), bit[1:].ravel(), gc)
    ground(word[:, 0], gr)
    ground(bit[-1], gc)
    matrix = sparse.csc_matrix(
        (np.concatenate(vals), (np.concatenate(r_idx), np.concatenate(c_idx))),
        shape=(2 * n, 2 * n),
    )
    rhs = np.zeros(2 * n)
    rhs[word[:, 0]] = gr * np.asarray(v, dtype=float)
    nodes = sparse_linalg.spsolve(matrix, rhs)
    return nodes[bit[-1]] * gc * 1e6


# --- read-out and estimates ------------------------------------------------------------


@functools.cache
def _gaussian_table(dtype: type) -> np.ndarray:
    table = ndtri((np.arange(2**16) + 0.5) / 2**16)
    return (table / table.std()).astype(dtype)


def gaussian(rng: np.random.Generator, shape: tuple[int, ...], dtype: type = np.float64
             ) -> np.ndarray:
    """Standard normal deviates for per-read noise, by inverse transform of 16-bit uniforms.

    Ten times faster than ``rng.standard_normal`` (a table look-up per deviate from a quarter
    of a 64-bit draw), which is what keeps noisy reads near matmul speed. The table of 2**16
    quantiles is scaled to unit variance; it clips tails beyond 4.4 sigma (probability 1e-5)
    and is otherwise Gaussian to 16-bit resolution.
    """
    n = math.prod(shape)
    raw = rng.bit_generator.random_raw(-(-n // 4)).view(np.uint16)[:n]
    return np.take(_gaussian_table(dtype), raw).reshape(shape)


def adc_levels(bits: int | None) -> float:
    """Largest ADC code magnitude, 2**(bits - 1) - 1 (inf for an ideal converter)."""
    return math.inf if bits is None else float(2 ** (bits - 1) - 1)


def adc_convert(current: np.ndarray, lsb: Any, bits: int | None) -> np.ndarray:
    """ADC codes of ``current`` (any unit) with step ``lsb`` (same unit): round and saturate."""
    code = np.rint(current / lsb)
    top = adc_levels(bits)
    return code if math.isinf(top) else np.clip(code, -top, top, out=code)


def dac_convert(x: np.ndarray, bits: int | None) -> np.ndarray:
    """Input DAC: ``x`` in [-1, 1] to 2**(bits - 1) - 1 levels a side; spikes are exact."""
    if bits is None or x.dtype.kind in "biu":
        return x
    top = adc_levels(bits)
    return np.rint(np.clip(x, -1.0, 1.0) * top) / top


@dataclass
class Estimate:
    """Energy and latency of a run, from the periphery figures and the actual conductances.

    Attributes:
        energy: J per run by part: ``device`` (V**2 G t_read of every active cell),
            ``dac`` (word-line drives), ``adc`` (conversions), ``digital`` (partial sums).
        synaptic_ops: spikes delivered through synapses (active word line x used column).
        inferences: streams in the batch.
        steps: time steps per stream.
        latency_per_step: s per time step: every layer's tiles read in parallel, as the
            one-step Dense delay lets them, each in t_read plus its ADCs' conversions.
    """

    energy: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(("device", "dac", "adc", "digital"), 0.0))
    synaptic_ops: int = 0
    inferences: int = 0
    steps: int = 0
    latency_per_step: float = 0.0

    @property
    def energy_total(self) -> float:
        """J per run."""
        return float(sum(self.energy.values()))

    @property
    def energy_per_inference(self) -> float:
        """J per stream of ``steps`` steps."""
        return self.energy_total / max(self.inferences, 1)

    @property
    def energy_per_synaptic_op(self) -> float:
        """J per synaptic operation."""
        return self.energy_total / max(self.synaptic_ops, 1)

    @property
    def latency_per_inference(self) -> float:
        """s per stream."""
        return self.latency_per_step * self.steps

    def summary(self) -> str:
        """One line for people."""
        return (f"{self.energy_per_inference * 1e9:.4g} nJ per inference, "
                f"{self.energy_per_synaptic_op * 1e12:.4g} pJ per synaptic op "
                f"({self.synaptic_ops} ops), {self.latency_per_inference * 1e6:.4g} µs per "
                f"inference ({self.latency_per_step * 1e9:.4g} ns per step)")


@dataclass
class _Frame:
    """Read matrices of one device state (one frame of simulated time)."""

    matrix: np.ndarray  # [tiles_in, rows, (1 or 2) x tiles_out x cols]: mean | variance
    noisy: bool
    gain: np.ndarray  # [tiles_in, 1, tiles_out x cols] digital gain x LSB (weight units)
    row_load: np.ndarray  # [tiles_in, rows, tiles_out]: sum of a row's G in each tile (µS)


class CrossbarLayer:
    """One Dense layer's integer weights programmed onto crossbar tiles.

    Args:
        weights: int mantissas [neurons, inputs] in [-128, 127].
        preset: device and periphery.
        rng: source of every random draw of this layer.
        t_program: time at which the layer is programmed (s).
        dtype: float type of the read path. Both keep the ideal device exact: the read
            matrix holds whole weight units and a tile's column sums stay below
            1024 x 128, far inside float32's 24-bit mantissa; float32 reads faster.

    Attributes:
        devices: the :class:`DeviceArray` of shape [tiles_in, tiles_out, rows, cols, 2].
        unit: µS per weight unit of each tile [tiles_in, tiles_out].
        lsb: ADC step of each tile in weight units (a power of two).
        attempts: write-verify attempts per device at programming.
    """

    def __init__(
        self,
        weights: np.ndarray,
        preset: DevicePreset,
        rng: np.random.Generator,
        t_program: float = 0.0,
        dtype: type = np.float64,
    ):
        w = np.asarray(weights)
        if w.ndim != 2 or w.dtype.kind not in "iu" or (
                w.size and (w.min() < fp.WEIGHT_MIN or w.max() > fp.WEIGHT_MAX)):
            raise PresetError(f"weights: must be integer mantissas [neurons, inputs] in "
                              f"[{fp.WEIGHT_MIN}, {fp.WEIGHT_MAX}]")
        self.preset, self.rng, self.dtype = preset, rng, dtype
        per = preset.periphery
        self.n_out, self.n_in = w.shape
        # A layer smaller than a tile uses a sub-array of it; the cells it leaves unused
        # carry no current, so the model holds only the used part.
        rows, cols = min(per.tile_rows, self.n_in), min(per.tile_cols, self.n_out)
        self.rows, self.cols = rows, cols
        ti, to = -(-self.n_in // rows), -(-self.n_out // cols)
        self.tiles = (ti, to)
        padded = np.zeros((ti * rows, to * cols))
        padded[: self.n_in, : self.n_out] = w.T
        tw = padded.reshape(ti, rows, to, cols).transpose(0, 2, 1, 3)  # [ti, to, rows, cols]
        peak = np.abs(tw).max(axis=(2, 3))
        self.unit = preset.unit_range / np.maximum(peak, 1.0)
        pair = np.stack([np.maximum(tw, 0), np.maximum(-tw, 0)], axis=-1)
        self.targets = preset.g_min + pair * self.unit[:, :, None, None, None]
        self.devices = DeviceArray(preset, self.targets.shape, rng)
        self.attempts = self.devices.program(self.targets, t_program)
        # ADC range: the largest column weight sum of the tile (all inputs active) x the
        # full-scale fraction, covered by 2**(bits-1)-1 codes of a power-of-two step, so that
        # codes scale to weight units by a shift.
        full = np.maximum(np.abs(tw).sum(axis=2).max(axis=2) * per.adc_full_scale, 1.0)
        top = adc_levels(per.adc_bits)
        self.lsb = (np.ones_like(full) if math.isinf(top)
                    else 2.0 ** np.ceil(np.log2(full / top)))
        self.used_cols = np.minimum(cols, self.n_out - cols * np.arange(to))
        self._expected = self._reference(self.targets)

    def _reference(self, g: np.ndarray) -> np.ndarray:
        """All-inputs reference read of each column (or tile) for gain calibration (µS)."""
        mode = self.preset.periphery.calibration
        col = g.sum(axis=(2, 4))  # [ti, to, cols]
        if mode == "tile":
            return np.broadcast_to(col.sum(axis=2, keepdims=True), col.shape)
        return col

    def frame(self, t: float) -> _Frame:
        """Read matrices of the device state at time ``t`` (s)."""
        per, p = self.preset.periphery, self.preset
        ti, to = self.tiles
        g = self.devices.conductance(t)
        eff = ir_drop_conductance(
            g.reshape(*g.shape[:3], -1), per.r_row, per.r_col).reshape(g.shape)
        # Weight units: the current of one weight unit at the read voltage.
        scale = 1.0 / self.unit[:, :, None, None]
        mean = (eff[..., 0] - eff[..., 1]) * scale
        gain = np.ones((ti, to, self.cols))
        if per.calibration != "none":
            gain = self._expected / np.maximum(self._reference(eff), 1e-30)
        gain = (gain * self.lsb[:, :, None]).reshape(ti, 1, to * self.cols)
        blocks = [mean / self.lsb[:, :, None, None]]
        noisy = p.read_noise > 0
        if noisy:
            var = (read_sigma(p, g) ** 2).sum(axis=-1) * scale**2
            blocks.append(var / self.lsb[:, :, None, None] ** 2)
        # [ti, to, rows, cols] blocks -> [ti, rows, to x cols], mean then variance.
        matrix = np.concatenate(
            [b.transpose(0, 2, 1, 3).reshape(ti, self.rows, to * self.cols)
             for b in blocks], axis=-1).astype(self.dtype)
        row_load = g.sum(axis=(3, 4)).transpose(0, 2, 1)
        return _Frame(matrix, noisy, gain.astype(self.dtype), row_load)

    def read(self, x: np.ndarray, frame: _Frame, estimate: Estimate | None = None) -> np.ndarray:
        """Partial sums in weight units [N, neurons] of inputs ``x`` [N, inputs].

        ``x``: spikes (0/1 integers or bool, exact) or graded inputs in [-1, 1] through the
        DAC. One matrix product per tile row gives mean and noise variance of every column;
        the ADC rounds and saturates; codes times LSB and calibration gain add up over tiles.
        """
        per = self.preset.periphery
        ti, to = self.tiles
        rows, n = self.rows, x.shape[0]
        q = dac_convert(x, per.dac_bits)
        binary = q.dtype.kind in "biu"
        if ti * rows == self.n_in:
            xt = np.ascontiguousarray(q.reshape(n, ti, rows).transpose(1, 0, 2), self.dtype)
        else:
            xin = np.zeros((n, ti * rows), self.dtype)
            xin[:, : self.n_in] = q
            xt = np.ascontiguousarray(xin.reshape(n, ti, rows).transpose(1, 0, 2))
        width = to * self.cols
        if frame.noisy and not binary:
            out = np.matmul(xt, frame.matrix[..., :width])
            var = np.matmul(xt * xt, frame.matrix[..., width:])
        else:  # x * x == x for spikes: one product gives mean and variance
            both = np.matmul(xt, frame.matrix)
            out, var = both[..., :width], both[..., width:]
        if frame.noisy:
            sigma = np.sqrt(var, out=var)
            sigma *= gaussian(self.rng, sigma.shape, self.dtype)
            out += sigma
        # ADC in place (the matrix is already in LSB units): round, saturate, then scale by
        # LSB and calibration gain in digital.
        code = np.rint(out, out=out)
        top = adc_levels(per.adc_bits)
        if not math.isinf(top):
            np.clip(code, -top, top, out=code)
        code *= frame.gain
        acc = (code[0] if ti == 1 else code.sum(axis=0))[:, : self.n_out]
        if estimate is not None:
            self._account(xt, frame, estimate)
        return acc

    def _account(self, xt: np.ndarray, frame: _Frame, estimate: Estimate) -> None:
        per = self.preset.periphery
        active = xt != 0
        rows_on = active.sum(axis=2)  # [ti, N]
        reading = rows_on > 0
        volts2 = (xt * xt) * per.v_read**2
        cell = np.matmul(volts2, frame.row_load).sum() * 1e-6 * per.t_read
        conversions = int(reading.sum(axis=1) @ np.full(self.tiles[0], self.used_cols.sum()))
        adc_e = per.adc_energy_8bit * 2.0 ** ((per.adc_bits or 8) - 8)
        estimate.energy["device"] += float(cell)
        estimate.energy["dac"] += float(rows_on.sum()) * per.dac_energy
        estimate.energy["adc"] += conversions * adc_e
        estimate.energy["digital"] += conversions * per.digital_add_energy
        estimate.synaptic_ops += int(rows_on.sum() * self.used_cols.sum())

    def tile_latency(self) -> float:
        """s per read of this layer: one read pulse, then each ADC's share of columns."""
        per = self.preset.periphery
        return per.t_read + min(per.columns_per_adc, self.cols) * per.adc_time

    def effective_weights(self, t: float) -> np.ndarray:
        """Noise-free weights in units of the mantissa that the array holds at ``t`` [n, in].

        The differential conductance over the tile's unit, after drift and IR drop: what an
        on-chip learner reads back after in-situ updates.
        """
        per = self.preset.periphery
        g = self.devices.drifted(t)
        eff = ir_drop_conductance(
            g.reshape(*g.shape[:3], -1), per.r_row, per.r_col).reshape(g.shape)
        w = (eff[..., 0] - eff[..., 1]) / self.unit[:, :, None, None]
        ti, to = self.tiles
        full = w.transpose(0, 2, 1, 3).reshape(ti * self.rows, to * self.cols)
        return full[: self.n_in, : self.n_out].T

    def update(self, pulses_plus: np.ndarray, pulses_minus: np.ndarray, t: float) -> None:
        """In-situ update: SET (> 0) / RESET (< 0) pulses for each G+ and G- [neurons, inputs]."""
        ti, to = self.tiles
        grid = np.zeros(self.devices.shape, np.int64)
        for side, pulses in enumerate((pulses_plus, pulses_minus)):
            padded = np.zeros((ti * self.rows, to * self.cols), np.int64)
            padded[: self.n_in, : self.n_out] = np.asarray(pulses, np.int64).T
            grid[..., side] = padded.reshape(ti, self.rows, to, self.cols).transpose(0, 2, 1, 3)
        self.devices.apply_pulses(grid, t)


def frame_bounds(steps: int, dt: float, t_start: float, preset: DevicePreset,
                 t_program: float = 0.0) -> list[tuple[int, int]]:
    """Split read steps 1..steps-1 into frames that share one device state.

    A frame lasts at most ``DRIFT_FRAME_FRACTION`` of the device age when devices drift
    (frames grow with the age, log-spaced) and at most ``TELEGRAPH_FRAME_FLIPS`` over the
    fastest fluctuator's rate when they fluctuate; without either, the run is one frame.
    """
    limit = math.inf
    if preset.telegraph_noise > 0:
        limit = TELEGRAPH_FRAME_FLIPS / float(telegraph_rates(preset).max())
    drifts = any(any(law) for law in (preset.drift_nu, preset.drift_nu_std))
    bounds, start = [], 1
    while start < steps:
        t0 = t_start + start * dt
        span = limit
        if drifts:
            span = min(span, DRIFT_FRAME_FRACTION * max(t0 - t_program, preset.drift_t0))
        length = max(1, int(span // dt)) if math.isfinite(span) else steps
        end = min(steps, start + length)
        bounds.append((start, end))
        start = end
    return bounds


@dataclass
class CrossbarRun:
    """A crossbar run: the record every backend returns, plus what only a crossbar knows.

    Attributes:
        record: spikes, u and v per layer, identical in form to the reference's.
        activations: per layer, the integer Dense outputs a [batch, steps, neurons] that the
            ADCs delivered (the LIF adds ``a << 6``; the RTL's activation port takes a).
        estimate: energy and latency.
    """

    record: Record
    activations: tuple[np.ndarray, ...]
    estimate: Estimate


class CrossbarNetwork:
    """A :class:`~neuro.network.FixedNetwork` with every layer programmed onto crossbars.

    Programmed once, at ``t_program``; :meth:`run` may then be called at any later time
    (drift and fluctuators carry on from one run to the next).

    Args:
        network: the fixed-point network.
        device: preset name, JSON path, dict or :class:`DevicePreset`.
        seed: seed of every random draw (programming, variability, noise).
        t_program: programming time (s).
        dtype: float type of the read path.
    """

    def __init__(self, network: FixedNetwork, device: Any = "ideal", seed: int | None = 0,
                 t_program: float = 0.0, dtype: type = np.float64):
        self.network = network
        self.preset = get_preset(device)
        self.t_program = t_program
        streams = np.random.SeedSequence(seed).spawn(len(network.layers))
        self.layers = [
            CrossbarLayer(layer.weights, self.preset, np.random.default_rng(s), t_program, dtype)
            for layer, s in zip(network.layers, streams, strict=True)
        ]

    def drive(self, index: int, spikes: np.ndarray, t_start: float,
              estimate: Estimate) -> tuple[np.ndarray, np.ndarray]:
        """Dense output of layer ``index`` for its input spikes [batch, steps, inputs].

        Returns the integer activations a and the LIF input ``a << 6`` (int32 wrap), both
        float64 [batch, steps, neurons]; step 0 is 0 and step t reads the spikes of t - 1.
        """
        layer, xbar = self.network.layers[index], self.layers[index]
        batch, steps, n_in = spikes.shape
        acc = np.zeros((batch, steps, layer.n_neurons))
        for start, end in frame_bounds(steps, self.network.dt, t_start, self.preset,
                                       self.t_program):
            frame = xbar.frame(t_start + start * self.network.dt)
            x = spikes[:, start - 1: end - 1].reshape(-1, n_in)
            acc[:, start:end] = xbar.read(x, frame, estimate).reshape(batch, end - start, -1)
        activation = np.floor(acc * 2.0 ** (fp.WEIGHT_LSB_SHIFT + layer.weight_exp))
        return activation, fp.synaptic_input(acc, layer.weight_exp)

    def run(self, spikes: np.ndarray, t_start: float | None = None) -> CrossbarRun:
        """Run uint8 spikes [batch, steps, inputs] starting at time ``t_start`` (s).

        Default start: the drift reference time t0 after programming. Each layer's synaptic
        input comes from its crossbar; the neuron is the reference's own fixed-point CUBA-LIF.
        """
        from neuro.backends import reference

        t_start = self.t_program + self.preset.drift_t0 if t_start is None else t_start
        batch, steps, _ = spikes.shape
        estimate = Estimate(inferences=batch, steps=steps)
        estimate.latency_per_step = max(x.tile_latency() for x in self.layers)
        layer_in = spikes
        out_s, out_u, out_v, acts = [], [], [], []
        for i, layer in enumerate(self.network.layers):
            activation, drive = self.drive(i, layer_in, t_start, estimate)
            s, u, v = reference.integrate(layer, drive)
            out_s.append(s)
            out_u.append(u)
            out_v.append(v)
            acts.append(activation.astype(np.int64))
            layer_in = s
        return CrossbarRun(Record(tuple(out_s), tuple(out_u), tuple(out_v)), tuple(acts),
                           estimate)


def layer_to_crossbar(layer: FixedLayer, device: Any = "ideal", seed: int | None = 0,
                      t_program: float = 0.0) -> CrossbarLayer:
    """One layer's weights on crossbar tiles (a shortcut for tests and on-chip learning)."""
    return CrossbarLayer(layer.weights, get_preset(device), np.random.default_rng(seed),
                         t_program)
