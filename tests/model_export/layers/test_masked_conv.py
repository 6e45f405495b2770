from pathlib import Path

import keras
import numpy as np
import pytest

from model_export import reference
from model_export.layers import MaskedConv2D
from tests.model_export.layers.round_trip import assert_round_trips

MASK = [[1, 1, 0], [1, 1, 1], [0, 1, 1]]
RNG = np.random.default_rng(3)


def test_known_answer_from_design() -> None:
    layer = MaskedConv2D(2, 3, mask=MASK, kernel_initializer="ones", bias_initializer="zeros")
    out = np.asarray(layer(np.ones((1, 4, 4, 3), np.float32)))
    np.testing.assert_array_equal(out, np.full((1, 2, 2, 2), 21.0, np.float32))


def test_matches_reference_convolution() -> None:
    mask = RNG.integers(0, 2, size=(3, 5)).astype(np.float32)
    layer = MaskedConv2D(4, (3, 5), mask=mask)
    x = RNG.normal(size=(2, 9, 11, 3)).astype(np.float32)
    out = np.asarray(layer(x))
    kernel = np.asarray(layer.kernel)
    bias = np.asarray(layer.bias)
    expected = reference.masked_conv2d_valid(x, kernel, mask) + bias
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_mask_as_tensor_input_equals_mask_in_config() -> None:
    x = RNG.normal(size=(3, 7, 7, 2)).astype(np.float32)
    static = MaskedConv2D(5, 3, mask=MASK, padding="same", activation="relu")
    dynamic = MaskedConv2D(5, 3, padding="same", activation="relu")
    static(x)
    dynamic([x, np.asarray(MASK, np.float32)])
    dynamic.set_weights(static.get_weights())
    np.testing.assert_array_equal(
        np.asarray(dynamic([x, np.asarray(MASK, np.float32)])), np.asarray(static(x))
    )
    assert dynamic.compute_output_shape([(3, 7, 7, 2), (3, 3)]) == (3, 7, 7, 5)


def test_rejects_mask_of_wrong_shape() -> None:
    with pytest.raises(ValueError, match="mask shape"):
        MaskedConv2D(2, 3, mask=[[1, 0], [0, 1]])


@pytest.mark.parametrize("with_mask_input", [False, True])
def test_round_trips_through_keras_file(tmp_path: Path, with_mask_input: bool) -> None:
    x = keras.Input((None, None, 3))
    if with_mask_input:
        mask = keras.Input((3,), batch_size=3)
        model = keras.Model([x, mask], MaskedConv2D(4, 3, strides=2)([x, mask]))
        inputs = [RNG.normal(size=(2, 9, 9, 3)), np.asarray(MASK, np.float32)]
    else:
        model = keras.Model(x, MaskedConv2D(4, 3, mask=MASK, strides=2)(x))
        inputs = [RNG.normal(size=(2, 9, 9, 3))]
    assert_round_trips(model, [np.asarray(i, np.float32) for i in inputs], tmp_path)
