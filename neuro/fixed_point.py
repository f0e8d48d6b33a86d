"""The fixed-point contract shared by every backend (see docs/fixed-point.md).

Widths, shifts and rounding are those of Lava's bit-accurate models in lava-nc 0.10.0:
``lava/proc/lif/models.py`` (``AbstractPyLifModelFixed``, ``PyLifModelBitAcc``) and
``lava/proc/dense/models.py`` (``PyDenseModelBitAcc``) with ``lava/utils/weightutils.py``.
The reference simulator, the RTL and docs/fixed-point.md all follow this module.
"""

from __future__ import annotations

import numpy as np

# State variables u (current) and v (voltage) are 24-bit signed words.
STATE_BITS = 24
STATE_LIMIT = 2 ** (STATE_BITS - 1)  # Lava's max_uv_val
V_MIN = -STATE_LIMIT + 1
V_MAX = STATE_LIMIT - 1

# Decays are 12-bit unsigned fractions of 2**12. Lava adds a 1-bit offset to du (ds_offset)
# so that a current can decay fully in one step; dv has none (dm_offset = 0).
DECAY_SHIFT = 12
DECAY_UNITY = 2**DECAY_SHIFT
DECAY_MAX = DECAY_UNITY - 1
DU_OFFSET = 1
DV_OFFSET = 0

# Threshold and synaptic input are MSB-aligned with the 24-bit state by 6 bits.
VTH_SHIFT = 6
ACT_SHIFT = 6
VTH_MAX = 2**17 - 1

# Bias: 13-bit signed mantissa, 3-bit unsigned exponent.
BIAS_MANT_MIN = -(2**12)
BIAS_MANT_MAX = 2**12 - 1
BIAS_EXP_MAX = 7

# Weights: 8-bit signed mantissa with one exponent per layer. Lava's mixed-sign Dense keeps
# 8 bits of a 9-bit weight by dropping the LSB, so the weight it multiplies is 2 * mantissa.
WEIGHT_MIN = -(2**7)
WEIGHT_MAX = 2**7 - 1
WEIGHT_LSB_SHIFT = 1
WEIGHT_EXP_MIN = -8
WEIGHT_EXP_MAX = 7


# The reference simulator keeps integer words in float64 arrays: every value here stays below
# 2**36 in magnitude, far inside the 53-bit mantissa, so products, power-of-two scalings,
# truncation and floor are exact, and float64 runs faster than int64 shifts in numpy.


def decay(x: np.ndarray, d: int, offset: int) -> np.ndarray:
    """Multiply a state word by (2**12 - d - offset) / 2**12, rounding toward zero.

    Lava computes ``sign(x * k) * (|x * k| >> 12)`` in int64; truncation is the same rounding.
    """
    return np.trunc(x * ((DECAY_UNITY - d - offset) / DECAY_UNITY))


def wrap_current(u: np.ndarray) -> np.ndarray:
    """Lava's wrap of the current word: above 2**23 subtract 2**24, at or below -2**23 add it.

    Note the asymmetry that Lava has and we keep: +2**23 itself is not wrapped.
    """
    u = np.where(u > STATE_LIMIT, u - 2 * STATE_LIMIT, u)
    return np.where(u <= -STATE_LIMIT, u + 2 * STATE_LIMIT, u)


def wrap_int32(x: np.ndarray) -> np.ndarray:
    """Two's-complement wrap into 32 bits, as numpy's int32 arithmetic in Lava's models does.

    Lava keeps u, v and the Dense output in int32 words, so sums beyond 2**31 wrap there
    before the 24-bit rules apply; only networks whose input per step exceeds 2**24 get there.
    """
    return x - 2.0**32 * np.floor((x + 2.0**31) / 2.0**32)


def clip_voltage(v: np.ndarray) -> np.ndarray:
    """Voltage saturates symmetrically at +-(2**23 - 1)."""
    return np.clip(v, V_MIN, V_MAX)


def synaptic_input(accumulated: np.ndarray, weight_exp: int) -> np.ndarray:
    """Input added to u, from the sum of weight mantissas over the spiking inputs.

    Dense scales 2 * sum by 2**weight_exp (an arithmetic right shift, i.e. floor, for a
    negative exponent) and the LIF shifts that left by 6 bits, in an int32 word.
    """
    dense = np.floor(accumulated * 2.0 ** (WEIGHT_LSB_SHIFT + weight_exp))
    return wrap_int32(dense * 2.0**ACT_SHIFT)


def effective_bias(bias_mant: np.ndarray, bias_exp: np.ndarray) -> np.ndarray:
    """Bias added to v each step: mantissa << exponent (exponent 0..7)."""
    return np.left_shift(np.asarray(bias_mant, np.int64), np.asarray(bias_exp, np.int64))


def effective_threshold(vth: int) -> int:
    """Threshold compared with v: vth << 6; a neuron spikes when v is strictly above it."""
    return int(vth) << VTH_SHIFT
