"""Memristive device and periphery presets: plain data with the published figures they use.

A :class:`DevicePreset` holds what the crossbar model (:mod:`neuro.crossbar`) needs to know
about one device technology, and a :class:`Periphery` what it needs to know about the circuits
around the array (DAC, ADC, wires, calibration, energy and timing figures). Nothing here
executes: validation only, so that a contradictory or out-of-range value is refused when the
preset is built, with the parameter named.

Units: conductance in µS, voltage in V, time in s, resistance in Ω per cell segment, energy
in J. ``docs/crossbar.md`` lists every preset value with its source; values that no cited
work gives are marked there as assumptions.

User-defined presets are built in Python (``dataclasses.replace(PRESETS["hfox"], ...)``) or
read from a JSON file naming a ``base`` preset and the fields to change, for example::

    {"base": "hfox", "name": "my-hfox", "read_noise": 0.02, "periphery": {"adc_bits": 6}}
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neuro.network import NetworkError

# Larger arrays are not built: line resistance and capacitance make IR drop and read time
# grow with the square of the line length, and published analog arrays stay at or below
# 1024 lines (256 x 256 in NeuRRAM and IBM HERMES, 1024 x 512 in the largest RRAM macros).
MAX_TILE_SIZE = 1024

READ_NOISE_KINDS = ("white", "rtn", "1/f")
CALIBRATIONS = ("none", "tile", "column")

# Switchable non-idealities; :func:`only` and :func:`without` turn them on and off by name.
NON_IDEALITIES = (
    "levels", "programming_noise", "read_noise", "telegraph_noise", "d2d", "c2c",
    "stuck", "drift", "ir_drop", "dac", "adc",
)


class PresetError(NetworkError):
    """A device or periphery parameter that is out of range or contradicts another.

    A :class:`~neuro.network.NetworkError`, so that the command line reports it as one.
    """


def _check(cond: bool, where: str, name: str, message: str) -> None:
    if not cond:
        raise PresetError(f"{where}: {name} {message}")


def _law(where: str, name: str, value: float | tuple[float, ...]) -> tuple[float, ...]:
    """A state-dependent law ``clip(c0 + c1 ln(G/g_max), lo, hi)`` as a 4-tuple.

    A single number is a constant law.
    """
    if isinstance(value, int | float):
        return (float(value), 0.0, float(value), float(value))
    law = tuple(float(v) for v in value)
    _check(len(law) == 4, where, name,
           f"must be a number or (c0, c1, lo, hi) for clip(c0 + c1 ln(G/g_max), lo, hi), "
           f"got {value!r}")
    _check(law[2] <= law[3], where, name, f"has lo > hi in {law}")
    return law


@dataclass(frozen=True)
class Periphery:
    """The circuits around an array: tiles, DAC, ADC, wires, calibration, energy and timing.

    Attributes:
        tile_rows, tile_cols: array size in word lines (inputs) and weight columns (each a
            pair of bit lines); larger layers are split across tiles. At most 1024.
        v_read: read voltage of an active word line (V).
        t_read: read pulse length (s).
        dac_bits: input DAC resolution including sign for graded inputs; None is exact.
            Spikes need one level and are exact at any setting.
        adc_bits: ADC resolution including sign; None converts to the nearest weight unit
            with no range limit (an ideal converter).
        adc_full_scale: ADC range as a fraction of the tile's largest column weight sum
            (the current of a column when every input is active); 1.0 never clips the
            programmed targets.
        calibration: digital gain calibration after programming and at every device-state
            update, from an all-inputs reference read against its programmed value: per
            tile (global drift compensation), per column, or none.
        r_row, r_col: wire resistance of one cell segment of a word / bit line (Ω).
        adc_energy_8bit: energy of one 8-bit conversion (J); scaled by 2**(bits - 8).
        adc_time: time of one conversion (s).
        columns_per_adc: columns that share one ADC (conversions in series).
        dac_energy: energy of driving one word line for one read (J).
        digital_add_energy: energy of one digital accumulation of a partial sum (J).
        citations: sources of the figures.
    """

    tile_rows: int = 256
    tile_cols: int = 256
    v_read: float = 0.2
    t_read: float = 100e-9
    dac_bits: int | None = None
    adc_bits: int | None = 8
    adc_full_scale: float = 1.0
    calibration: str = "tile"
    r_row: float = 0.5
    r_col: float = 0.5
    adc_energy_8bit: float = 1.5625e-12
    adc_time: float = 1 / 1.28e9
    columns_per_adc: int = 128
    dac_energy: float = 0.39e-15
    digital_add_energy: float = 0.1e-12
    citations: tuple[str, ...] = (
        "Shafiee et al., ISAAC, ISCA 2016, Table 2: 8-bit ADC at 1.28 GS/s and 2 mW "
        "(1.56 pJ per conversion), one ADC per 128 columns, 1-bit DACs (0.39 fJ per row read), "
        "100 ns crossbar read",
        "Horowitz, ISSCC 2014: 32-bit integer add 0.1 pJ (45 nm)",
        "Wan et al., Nature 608, 504 (2022) (NeuRRAM) and Le Gallo et al., Nat. Electron. 6, "
        "680 (2023) (IBM HERMES): 256 x 256 arrays",
        "Joshi et al., Nat. Commun. 11, 2473 (2020): global drift compensation",
    )

    def __post_init__(self) -> None:
        where = "periphery"
        for name in ("tile_rows", "tile_cols"):
            value = getattr(self, name)
            _check(isinstance(value, int) and 1 <= value <= MAX_TILE_SIZE, where, name,
                   f"must be an integer in [1, {MAX_TILE_SIZE}] (largest array built), "
                   f"got {value!r}")
        for name in ("dac_bits", "adc_bits"):
            value = getattr(self, name)
            _check(value is None or (isinstance(value, int) and 2 <= value <= 24), where, name,
                   f"must be None (exact) or an integer in [2, 24] bits, got {value!r}")
        for name in ("v_read", "t_read", "adc_full_scale", "adc_time"):
            value = getattr(self, name)
            _check(math.isfinite(value) and value > 0, where, name,
                   f"must be a positive number, got {value!r}")
        for name in ("r_row", "r_col", "adc_energy_8bit", "dac_energy", "digital_add_energy"):
            value = getattr(self, name)
            _check(math.isfinite(value) and value >= 0, where, name,
                   f"must be a number >= 0, got {value!r}")
        _check(self.calibration in CALIBRATIONS, where, "calibration",
               f"must be one of {CALIBRATIONS}, got {self.calibration!r}")
        _check(isinstance(self.columns_per_adc, int) and self.columns_per_adc >= 1, where,
               "columns_per_adc", f"must be an integer >= 1, got {self.columns_per_adc!r}")
        object.__setattr__(self, "citations", tuple(self.citations))


@dataclass(frozen=True)
class DevicePreset:
    """One memristive device technology, as data.

    Conductance laws take the normalised state ``g = G / g_max``.

    Attributes:
        name: preset name.
        g_min, g_max: lowest and highest programmable conductance (µS).
        on_off_ratio: g_max / g_min as published, checked against them (None: not given).
        levels: distinct programmable conductances, evenly spaced in [g_min, g_max]
            (None: continuous).
        prog_noise: coefficients c_k (µS) of the programming-noise law
            ``sigma(G) = max(sum_k c_k g**k, 0)`` for one programming attempt.
        write_tolerance: write-verify acceptance band |G - target| (µS).
        write_max_iterations: write-verify attempts per device (1: single shot).
        read_noise: relative sigma of white read noise per read at g = 1.
        noise_exponent: state dependence of read and telegraph noise, whose relative
            sigma is multiplied by ``min(g**-noise_exponent, noise_cap)``.
        noise_cap: largest state factor of the relative read noise.
        read_noise_kind: "white" only, or also a time-correlated part: "rtn" (one random
            telegraph fluctuator per device) or "1/f" (fluctuators with log-spaced rates).
        telegraph_noise: relative sigma of the time-correlated part at g = 1.
        telegraph_band: (lowest, highest) corner frequency of the fluctuators (Hz); "rtn"
            uses the lowest as its switching rate.
        drift_nu: drift exponent nu of ``G(t) = G_prog (t / drift_t0)**-nu``: a number, or a
            state-dependent (c0, c1, lo, hi) meaning ``clip(c0 + c1 ln g, lo, hi)``.
        drift_nu_std: device-to-device sigma of nu, same forms.
        drift_t0: time after programming at which G equals the programmed value (s).
        d2d_g_max: device-to-device relative sigma of each device's own g_max.
        d2d_step: device-to-device relative sigma of each device's pulse step size.
        c2c_step: cycle-to-cycle relative sigma of each pulse's conductance step.
        stuck_on, stuck_off: fractions of devices stuck at g_max and at g_min.
        set_pulses, reset_pulses: SET (potentiation) / RESET (depression) pulses that take
            a nominal device across [g_min, g_max].
        set_a, reset_a: nonlinearity as NeuroSim's normalised A (A / pulses) of
            ``G(p) = g_min + B (1 - exp(-p / A))``; smaller is more nonlinear, None linear.
        endurance: pulses a device takes before it stops switching (None: unlimited).
        periphery: the circuits around the array.
        citations: sources of the figures (docs/crossbar.md maps each value to one).
    """

    name: str
    g_min: float
    g_max: float
    on_off_ratio: float | None = None
    levels: int | None = None
    prog_noise: tuple[float, ...] = (0.0,)
    write_tolerance: float = math.inf
    write_max_iterations: int = 1
    read_noise: float = 0.0
    noise_exponent: float = 0.0
    noise_cap: float = 1.0
    read_noise_kind: str = "white"
    telegraph_noise: float = 0.0
    telegraph_band: tuple[float, float] = (1.0, 1.0e3)
    drift_nu: float | tuple[float, ...] = 0.0
    drift_nu_std: float | tuple[float, ...] = 0.0
    drift_t0: float = 1.0
    d2d_g_max: float = 0.0
    d2d_step: float = 0.0
    c2c_step: float = 0.0
    stuck_on: float = 0.0
    stuck_off: float = 0.0
    set_pulses: int = 128
    reset_pulses: int = 128
    set_a: float | None = None
    reset_a: float | None = None
    endurance: float | None = None
    periphery: Periphery = field(default_factory=Periphery)
    citations: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        where = f"preset {self.name!r}"
        put = object.__setattr__
        _check(math.isfinite(self.g_min) and self.g_min >= 0, where, "g_min",
               f"must be a conductance >= 0 µS, got {self.g_min!r}")
        _check(math.isfinite(self.g_max) and self.g_max > self.g_min, where, "g_max",
               f"must be finite and above g_min = {self.g_min} µS, got {self.g_max!r}")
        if self.on_off_ratio is not None:
            ratio = self.g_max / self.g_min if self.g_min > 0 else math.inf
            _check(math.isclose(ratio, self.on_off_ratio, rel_tol=0.01), where, "on_off_ratio",
                   f"= {self.on_off_ratio} contradicts g_max / g_min = {self.g_max} / "
                   f"{self.g_min} = {ratio:.4g}")
        _check(self.levels is None or (isinstance(self.levels, int) and self.levels >= 2),
               where, "levels", f"must be None (continuous) or an integer >= 2, got "
               f"{self.levels!r}")
        put(self, "prog_noise", tuple(float(c) for c in self.prog_noise))
        _check(len(self.prog_noise) >= 1 and all(map(math.isfinite, self.prog_noise)), where,
               "prog_noise", "must be one or more finite polynomial coefficients (µS)")
        _check(self.write_tolerance > 0, where, "write_tolerance",
               f"must be > 0 µS (inf: accept any), got {self.write_tolerance!r}")
        _check(isinstance(self.write_max_iterations, int) and self.write_max_iterations >= 1,
               where, "write_max_iterations", f"must be an integer >= 1, got "
               f"{self.write_max_iterations!r}")
        _check(self.write_max_iterations == 1 or math.isfinite(self.write_tolerance), where,
               "write_max_iterations", f"= {self.write_max_iterations} needs a finite "
               "write_tolerance to verify against")
        for name in ("read_noise", "telegraph_noise", "noise_exponent", "d2d_g_max",
                     "d2d_step", "c2c_step"):
            value = getattr(self, name)
            _check(math.isfinite(value) and value >= 0, where, name,
                   f"must be a number >= 0, got {value!r}")
        _check(self.noise_cap >= 1, where, "noise_cap", f"must be >= 1, got {self.noise_cap!r}")
        _check(self.read_noise_kind in READ_NOISE_KINDS, where, "read_noise_kind",
               f"must be one of {READ_NOISE_KINDS}, got {self.read_noise_kind!r}")
        band = tuple(float(f) for f in self.telegraph_band)
        _check(len(band) == 2 and 0 < band[0] <= band[1] and math.isfinite(band[1]), where,
               "telegraph_band", f"must be (lowest, highest) Hz with 0 < lowest <= highest, "
               f"got {self.telegraph_band!r}")
        put(self, "telegraph_band", band)
        _check(self.telegraph_noise == 0 or self.read_noise_kind != "white", where,
               "telegraph_noise", f"= {self.telegraph_noise} contradicts read_noise_kind "
               "'white' (choose 'rtn' or '1/f', or set it to 0)")
        put(self, "drift_nu", _law(where, "drift_nu", self.drift_nu))
        put(self, "drift_nu_std", _law(where, "drift_nu_std", self.drift_nu_std))
        _check(self.drift_nu_std[2] >= 0, where, "drift_nu_std", "must not be negative")
        _check(math.isfinite(self.drift_t0) and self.drift_t0 > 0, where, "drift_t0",
               f"must be a positive time in s, got {self.drift_t0!r}")
        for name in ("stuck_on", "stuck_off"):
            value = getattr(self, name)
            _check(0 <= value <= 1, where, name, f"must be a fraction in [0, 1], got {value!r}")
        _check(self.stuck_on + self.stuck_off <= 1, where, "stuck_on",
               f"+ stuck_off = {self.stuck_on + self.stuck_off} exceeds 1")
        for name in ("set_pulses", "reset_pulses"):
            value = getattr(self, name)
            _check(isinstance(value, int) and value >= 1, where, name,
                   f"must be an integer >= 1, got {value!r}")
        for name in ("set_a", "reset_a"):
            value = getattr(self, name)
            _check(value is None or (math.isfinite(value) and value > 0), where, name,
                   f"must be None (linear) or a positive normalised A, got {value!r}")
        _check(self.endurance is None or self.endurance >= 1, where, "endurance",
               f"must be None or >= 1 pulse, got {self.endurance!r}")
        _check(isinstance(self.periphery, Periphery), where, "periphery",
               "must be a Periphery")
        put(self, "citations", tuple(self.citations))

    @property
    def unit_range(self) -> float:
        """g_max - g_min (µS)."""
        return self.g_max - self.g_min

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready; infinite tolerance becomes None)."""
        data = dataclasses.asdict(self)
        if math.isinf(data["write_tolerance"]):
            data["write_tolerance"] = None
        return data


def preset_from_dict(data: Mapping[str, Any]) -> DevicePreset:
    """A preset from plain data: a full preset, or ``base`` plus the fields to change."""
    data = dict(data)
    base = data.pop("base", None)
    periphery = data.pop("periphery", None)
    if data.get("write_tolerance", 0) is None:
        data["write_tolerance"] = math.inf
    names = {f.name for f in dataclasses.fields(DevicePreset)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise PresetError(f"preset: unknown parameter(s) {unknown}; known: {sorted(names)}")
    if base is not None:
        start = get_preset(base)
        merged_periphery = dataclasses.replace(start.periphery, **(periphery or {}))
        data.setdefault("name", f"{start.name}+")
        return dataclasses.replace(start, periphery=merged_periphery, **data)
    if periphery is not None:
        data["periphery"] = Periphery(**periphery)
    if "name" not in data:
        raise PresetError("preset: name is required when no base preset is given")
    return DevicePreset(**data)


def get_preset(spec: str | Path | DevicePreset | Mapping[str, Any]) -> DevicePreset:
    """A preset by name (see :data:`PRESETS`), from a JSON file, a dict, or as given."""
    if isinstance(spec, DevicePreset):
        return spec
    if isinstance(spec, Mapping):
        return preset_from_dict(spec)
    text = str(spec)
    if text in PRESETS:
        return PRESETS[text]
    path = Path(text)
    if path.suffix == ".json":
        try:
            return preset_from_dict(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError) as exc:
            raise PresetError(f"device: cannot read preset file {path} ({exc})") from exc
    raise PresetError(
        f"device: unknown preset {text!r}; choose one of {', '.join(sorted(PRESETS))} or give "
        "a .json file"
    )


def without(preset: DevicePreset, *names: str) -> DevicePreset:
    """The preset with the named non-idealities (see :data:`NON_IDEALITIES`) switched off."""
    unknown = sorted(set(names) - set(NON_IDEALITIES))
    if unknown:
        raise PresetError(f"non-ideality: unknown {unknown}; known: {NON_IDEALITIES}")
    changes: dict[str, Any] = {}
    periphery: dict[str, Any] = {}
    if "levels" in names:
        changes["levels"] = None
    if "programming_noise" in names:
        changes.update(prog_noise=(0.0,), write_tolerance=math.inf, write_max_iterations=1)
    if "read_noise" in names:
        changes["read_noise"] = 0.0
    if "telegraph_noise" in names:
        changes.update(telegraph_noise=0.0, read_noise_kind="white")
    if "d2d" in names:
        changes.update(d2d_g_max=0.0, d2d_step=0.0)
    if "c2c" in names:
        changes["c2c_step"] = 0.0
    if "stuck" in names:
        changes.update(stuck_on=0.0, stuck_off=0.0)
    if "drift" in names:
        changes.update(drift_nu=0.0, drift_nu_std=0.0)
    if "ir_drop" in names:
        periphery.update(r_row=0.0, r_col=0.0)
    if "dac" in names:
        periphery["dac_bits"] = None
    if "adc" in names:
        periphery.update(adc_bits=None, calibration="none")
    return dataclasses.replace(
        preset, periphery=dataclasses.replace(preset.periphery, **periphery), **changes
    )


def only(preset: DevicePreset, *names: str) -> DevicePreset:
    """The preset with every non-ideality but the named ones switched off."""
    unknown = sorted(set(names) - set(NON_IDEALITIES))
    if unknown:
        raise PresetError(f"non-ideality: unknown {unknown}; known: {NON_IDEALITIES}")
    return without(preset, *(n for n in NON_IDEALITIES if n not in names))


def scale_variability(preset: DevicePreset, factor: float) -> DevicePreset:
    """The preset with every random spread multiplied by ``factor`` (>= 0).

    Scales programming noise, read and telegraph noise, the device-to-device and
    cycle-to-cycle spreads and the spread of the drift exponent; leaves means alone.
    """
    if not (math.isfinite(factor) and factor >= 0):
        raise PresetError(f"variability: factor must be a number >= 0, got {factor!r}")
    c0, c1, lo, hi = preset.drift_nu_std
    return dataclasses.replace(
        preset,
        name=f"{preset.name}x{factor:g}",
        prog_noise=tuple(c * factor for c in preset.prog_noise),
        read_noise=preset.read_noise * factor,
        telegraph_noise=preset.telegraph_noise * factor,
        d2d_g_max=preset.d2d_g_max * factor,
        d2d_step=preset.d2d_step * factor,
        c2c_step=preset.c2c_step * factor,
        drift_nu_std=(c0 * factor, c1 * factor, lo * factor, hi * factor),
    )


# The 1/f law S_G / G**2 = Q_s**2 / f (Joshi et al. 2020) integrated over a frequency band
# [f_lo, f_hi] gives a relative sigma Q_s sqrt(ln(f_hi / f_lo)). Above 1 kHz (faster than one
# network step) it acts as white noise per read, up to 1 / (2 t_read) with t_read = 250 ns;
# from 1 mHz to 1 kHz it is time-correlated and modelled by telegraph fluctuators.
_PCM_QS = 0.0088
_PCM_WHITE = _PCM_QS * math.sqrt(math.log(1 / (2 * 250e-9) / 1e3))
_PCM_FLICKER = _PCM_QS * math.sqrt(math.log(1e3 / 1e-3))

_IDEAL_PERIPHERY = Periphery(
    dac_bits=None, adc_bits=None, calibration="none", r_row=0.0, r_col=0.0
)

PRESETS: dict[str, DevicePreset] = {
    "ideal": DevicePreset(
        name="ideal",
        g_min=0.0,
        g_max=100.0,
        periphery=_IDEAL_PERIPHERY,
        citations=("Idealised device and periphery: every non-ideality off; reproduces the "
                   "reference simulator bit for bit",),
    ),
    "hfox": DevicePreset(
        name="hfox",
        g_min=40.0 / 4.43,
        g_max=40.0,
        on_off_ratio=4.43,
        levels=40,
        prog_noise=(1.0, 1.5),
        write_tolerance=1.0,
        write_max_iterations=20,
        read_noise=0.01,
        read_noise_kind="rtn",
        telegraph_noise=0.02,
        telegraph_band=(100.0, 100.0),
        drift_nu=0.0,
        drift_nu_std=0.01,
        drift_t0=1.0,
        d2d_g_max=0.1,
        d2d_step=0.2,
        c2c_step=0.05,
        stuck_on=0.001,
        stuck_off=0.005,
        set_pulses=40,
        reset_pulses=40,
        set_a=0.6292,
        reset_a=2.0633,
        endurance=1e6,
        citations=(
            "Woo et al., IEEE EDL 37, 994 (2016), AlOx/HfO2 bilayer RRAM, as tabulated in "
            "NeuroSim (Chen, Peng & Yu, IEEE TCAD 37, 3067 (2018)): 40 levels, on/off 4.43, "
            "nonlinearity 1.94 / -0.61 (normalised A 0.6292 / 2.0633), cycle-to-cycle 5%",
            "Gong et al., Nat. Commun. 9, 2102 (2018), HfO2 ReRAM, as fitted in IBM aihwkit "
            "(ReRamESPresetDevice): device-to-device spread of the pulse step 20%",
            "Wan et al., Nature 608, 504 (2022) (NeuRRAM): iterative write-verify of HfOx 1T1R "
            "cells and conductance relaxation that spreads after programming",
            "Ambrogio et al., IEEE TED 62, 3812 (2015): random telegraph noise in HfOx RRAM",
        ),
    ),
    "taox": DevicePreset(
        name="taox",
        g_min=10.0,
        g_max=100.0,
        on_off_ratio=10.0,
        levels=128,
        prog_noise=(1.0,),
        write_tolerance=1.0,
        write_max_iterations=10,
        read_noise=0.005,
        drift_nu=0.0,
        drift_nu_std=0.002,
        drift_t0=1.0,
        d2d_g_max=0.05,
        d2d_step=0.1,
        c2c_step=0.037,
        stuck_on=0.001,
        stuck_off=0.001,
        set_pulses=128,
        reset_pulses=128,
        set_a=31.5668,
        reset_a=1.9973,
        endurance=1e12,
        citations=(
            "Wu et al., Symp. VLSI Technology (2018), TaOx/HfOx RRAM, as tabulated in NeuroSim "
            "(Chen, Peng & Yu, IEEE TCAD 37, 3067 (2018)): 128 levels, on/off 10, nonlinearity "
            "0.04 / -0.63 (normalised A 31.5668 / 1.9973), cycle-to-cycle 3.7%",
            "Lee et al., Nat. Mater. 10, 625 (2011): Ta2O5-x/TaO2-x endurance above 1e12 cycles",
        ),
    ),
    "pcm": DevicePreset(
        name="pcm",
        g_min=0.1,
        g_max=25.0,
        prog_noise=(0.2635, 1.9650, -1.1731),
        read_noise=_PCM_WHITE,
        noise_exponent=0.65,
        noise_cap=0.2 / _PCM_QS,
        read_noise_kind="1/f",
        telegraph_noise=_PCM_FLICKER,
        telegraph_band=(1e-3, 1e3),
        drift_nu=(0.0244, -0.0155, 0.049, 0.1),
        drift_nu_std=(-0.0059, -0.0125, 0.008, 0.045),
        drift_t0=20.0,
        d2d_g_max=0.1,
        d2d_step=0.3,
        c2c_step=0.5,
        stuck_off=0.001,
        set_pulses=20,
        reset_pulses=1,
        set_a=0.5,
        endurance=1e8,
        periphery=Periphery(calibration="tile"),
        citations=(
            "Joshi et al., Nat. Commun. 11, 2473 (2020) and Nandakumar et al., ICECS 2019 "
            "(the statistical PCM model of IBM aihwkit): g_max 25 µS; programming noise "
            "sigma = max(-1.1731 g^2 + 1.9650 g + 0.2635, 0) µS after iterative programming; "
            "1/f read noise Q_s = min(0.0088 g^-0.65, 0.2) with t_read = 250 ns; drift "
            "nu = clip(-0.0155 ln g + 0.0244, 0.049, 0.1), sigma_nu = "
            "clip(-0.0125 ln g - 0.0059, 0.008, 0.045), t0 = 20 s",
            "Le Gallo et al., Adv. Electron. Mater. 4, 1700627 (2018): drift as structural "
            "relaxation, G ~ t^-nu",
            "Boybat et al., Nat. Commun. 9, 2514 (2018): gradual, saturating SET over ~20 "
            "pulses with large cycle-to-cycle randomness; abrupt RESET",
            "Burr et al., IEEE JETCAS 6, 146 (2016): PCM endurance of order 1e8-1e9 cycles",
        ),
    ),
}
