"""Network construction: every bad parameter names its field and allowed range."""

import numpy as np
import pytest

from neuro import FixedLayer, FixedNetwork, FloatLayer, NetworkError

W = np.zeros((3, 2), int)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("weight_exp", 8, r"weight_exp must lie in \[-8, 7\]"),
        ("du", -1, r"du must lie in \[0, 4095\]"),
        ("dv", 4096, r"dv must lie in \[0, 4095\]"),
        ("vth", 2**17, r"vth must lie in \[0, 131071\]"),
        ("bias_mant", 5000, r"bias_mant must lie in \[-4096, 4095\]"),
        ("bias_exp", 8, r"bias_exp must lie in \[0, 7\]"),
        ("du", 1.5, r"du must be integers in \[0, 4095\]"),
    ],
)
def test_out_of_range_parameter_names_field_and_range(field, value, message):
    with pytest.raises(NetworkError, match=message):
        FixedLayer(W, **{field: value})


def test_weights_out_of_8_bit_range():
    with pytest.raises(NetworkError, match=r"weights must lie in \[-128, 127\]"):
        FixedLayer(np.full((2, 2), 200))


def test_bias_shape_must_match_neurons():
    with pytest.raises(NetworkError, match=r"bias_mant must have shape \(3,\)"):
        FixedLayer(W, bias_mant=np.zeros(4, int))


def test_mismatched_layer_shapes():
    with pytest.raises(NetworkError, match="layer 1: weights have 4 inputs but layer 0 has 3"):
        FixedNetwork((FixedLayer(W), FixedLayer(np.zeros((1, 4), int))))


def test_float_reading_is_in_state_units():
    layer = FixedLayer(np.array([[1, -2]]), weight_exp=-1, du=4095, dv=0, vth=3,
                       bias_mant=5, bias_exp=2)
    flt = FixedNetwork((layer,)).to_float().layers[0]
    np.testing.assert_array_equal(flt.weights, [[64, -128]])
    assert (flt.du, flt.dv, flt.vth) == (1.0, 0.0, 192.0)
    assert flt.bias.tolist() == [20.0]


def test_float_layer_rejects_bad_decay():
    with pytest.raises(NetworkError, match=r"du must lie in \[0, 1\]"):
        FloatLayer(np.ones((1, 1)), du=1.5)
