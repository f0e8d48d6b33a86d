"""The arithmetic primitives of the contract, against values worked by hand from Lava's code."""

import numpy as np

from neuro import fixed_point as fp


def test_decay_rounds_toward_zero_for_both_signs():
    x = np.array([4097.0, -4097.0, 1.0, -1.0])
    # factor 4096 - 1 - 0 = 4095: 4097 * 4095 / 4096 = 4095.9998 -> 4095; -4095 likewise.
    assert fp.decay(x, 1, 0).tolist() == [4095, -4095, 0, 0]


def test_current_decay_offset_makes_4095_a_full_decay():
    assert fp.decay(np.array([123456.0]), 4095, fp.DU_OFFSET).tolist() == [0]
    assert fp.decay(np.array([4096.0]), 0, fp.DU_OFFSET).tolist() == [4095]
    assert fp.decay(np.array([4096.0]), 0, fp.DV_OFFSET).tolist() == [4096]


def test_current_wraps_like_lava_with_its_asymmetric_edge():
    u = np.array([2.0**23, 2.0**23 + 5, -(2.0**23), -(2.0**23) - 5])
    assert fp.wrap_current(u).tolist() == [2**23, -(2**23) + 5, 2**23, 2**23 - 5]


def test_voltage_saturates_symmetrically():
    assert fp.clip_voltage(np.array([2.0**30, -(2.0**30)])).tolist() == [2**23 - 1, -(2**23) + 1]


def test_synaptic_input_doubles_mantissas_and_floors_negative_exponents():
    acc = np.array([3.0, -3.0])
    assert fp.synaptic_input(acc, 0).tolist() == [6 * 64, -6 * 64]
    # 2 * 3 >> 2 = 1; 2 * -3 >> 2 = floor(-1.5) = -2
    assert fp.synaptic_input(acc, -2).tolist() == [64, -128]
    assert fp.synaptic_input(acc, 3).tolist() == [48 * 64, -48 * 64]


def test_bias_and_threshold_scaling():
    assert fp.effective_bias(np.array([-4096, 4095]), np.array([7, 0])).tolist() == [-524288, 4095]
    assert fp.effective_threshold(fp.VTH_MAX) == (2**17 - 1) * 64
