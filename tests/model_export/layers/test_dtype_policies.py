"""The custom layers under every Keras dtype policy, traced with tf.function, against NumPy."""

from collections.abc import Iterator

import keras
import numpy as np
import pytest
import tensorflow as tf

from model_export import reference
from model_export.layers import MaskedConv2D, RoiPooling, SuperpixelPooling
from tests.model_export.layers.test_roi_pooling import random_rois

POLICIES = ["float16", "bfloat16", "float64", "mixed_float16", "mixed_bfloat16"]
BFLOAT16 = tf.bfloat16.as_numpy_dtype
COMPUTE = {"float16": np.float16, "bfloat16": BFLOAT16, "float64": np.float64}
COMPUTE |= {"mixed_float16": np.float16, "mixed_bfloat16": BFLOAT16}
RNG = np.random.default_rng(21)


@pytest.fixture(params=POLICIES)
def policy(request: pytest.FixtureRequest) -> Iterator[str]:
    keras.config.set_dtype_policy(request.param)
    yield request.param
    keras.config.set_dtype_policy("float32")


def rounded(x: np.ndarray, policy: str) -> np.ndarray:
    """x as the policy's compute dtype holds it, back in float32 for the reference."""
    return x.astype(COMPUTE[policy]).astype(np.float32)


def relative_tolerance(policy: str) -> float:
    """A few units in the last place of the compute dtype (float64 is checked in float32)."""
    return {np.float16: 4 * 2.0**-11, BFLOAT16: 4 * 2.0**-8}.get(COMPUTE[policy], 1e-6)


def traced(layer: keras.layers.Layer) -> tf.types.experimental.PolymorphicFunction:
    return tf.function(lambda inputs: layer(inputs))


def test_roi_pooling_matches_reference(policy: str) -> None:
    x = RNG.normal(size=(2, 20, 17, 4)).astype(np.float32)
    rois = random_rois(120, 2, 20 * 16)
    out = traced(RoiPooling((7, 7), 1 / 16))([x, rois])
    assert out.dtype == COMPUTE[policy]
    expected = reference.roi_pool(rounded(x, policy), rois, (7, 7), 1 / 16)
    np.testing.assert_array_equal(np.asarray(out, np.float32), expected)  # a max is exact


@pytest.mark.parametrize("training", [False, True])
def test_roi_pooling_gradient_matches_reference(policy: str, training: bool) -> None:
    x = rounded(RNG.normal(size=(2, 12, 10, 3)).astype(np.float32), policy)
    rois = random_rois(40, 2, 12 * 4)
    upstream = rounded(RNG.normal(size=(40, 3, 3, 3)).astype(np.float32), policy)
    layer = RoiPooling((3, 3), 1 / 4)

    @tf.function
    def gradient(features: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            tape.watch(features)
            pooled = layer([features, rois], training=training)
            loss = tf.reduce_sum(pooled * tf.cast(upstream, pooled.dtype))
        return tape.gradient(loss, features)

    grad = gradient(tf.constant(x, COMPUTE[policy]))
    expected = reference.roi_pool_gradient(x, rois, (3, 3), 1 / 4, upstream)
    tolerance = relative_tolerance(policy)
    np.testing.assert_allclose(np.asarray(grad, np.float32), expected, tolerance, tolerance)


def test_mixed_float16_bins_rois_in_float32() -> None:
    """x1 = 1031.9 at scale 1/16 is cell 64 (64.49 rounds down); in float16 it is 1032 -> 65."""
    assert np.float16(1031.9) == 1032.0
    columns = np.broadcast_to(np.arange(70, dtype=np.float32), (1, 4, 70))[..., None]
    keras.config.set_dtype_policy("mixed_float16")
    try:
        features = keras.Input((4, 70, 1))
        rois = keras.Input((5,))
        model = keras.Model([features, rois], RoiPooling((1, 1), 1 / 16)([features, rois]))
        roi = np.array([[0, 1031.9, 0, 1031.9, 40]], np.float32)
        out = tf.function(lambda a, b: model([a, b]))(columns, roi)
    finally:
        keras.config.set_dtype_policy("float32")
    np.testing.assert_array_equal(np.asarray(out, np.float32).ravel(), [64.0])
    np.testing.assert_array_equal(reference.roi_pool(columns, roi, (1, 1), 1 / 16).ravel(), [64])


@pytest.mark.parametrize("mode", ["average", "max"])
def test_superpixel_pooling_matches_reference(policy: str, mode: str) -> None:
    x = rounded(RNG.normal(size=(2, 24, 20, 5)).astype(np.float32) + 3.0, policy)
    ids = RNG.integers(-1, 12, size=(2, 24, 20))
    ids[1] = np.minimum(ids[1], 4)  # image 1 leaves ids 5..11 empty
    out = traced(SuperpixelPooling(mode))([x, ids])
    assert out.dtype == COMPUTE[policy]
    expected = reference.superpixel_pool(x, ids, mode)
    if mode == "max":
        np.testing.assert_array_equal(np.asarray(out, np.float32), expected)
    else:
        tolerance = relative_tolerance(policy)
        np.testing.assert_allclose(np.asarray(out, np.float32), expected, tolerance)


def test_superpixel_mean_of_many_half_pixels_does_not_overflow() -> None:
    """4096 pixels of 100 sum to 409600, past float16's 65504: the sum runs in float32."""
    keras.config.set_dtype_policy("mixed_float16")
    try:
        out = traced(SuperpixelPooling("average"))(
            [np.full((1, 64, 64, 2), 100.0, np.float32), np.zeros((1, 64, 64), np.int32)]
        )
    finally:
        keras.config.set_dtype_policy("float32")
    np.testing.assert_array_equal(np.asarray(out, np.float32), [[[100.0, 100.0]]])


def test_masked_conv_matches_reference(policy: str) -> None:
    mask = np.array([[1, 1, 0], [1, 1, 1], [0, 1, 1]], np.float32)
    layer = MaskedConv2D(4, 3, mask=mask)
    x = rounded(RNG.normal(size=(2, 9, 8, 3)).astype(np.float32), policy)
    out = traced(layer)(x)
    assert out.dtype == COMPUTE[policy]
    kernel = rounded(np.asarray(layer.kernel, np.float32), policy)
    bias = rounded(np.asarray(layer.bias, np.float32), policy)
    expected = reference.masked_conv2d_valid(x, kernel, mask) + bias
    # A sum of 21 products: error grows with the sum of magnitudes, not the (cancelling) result.
    magnitude = reference.masked_conv2d_valid(np.abs(x), np.abs(kernel), mask) + np.abs(bias)
    error = np.abs(np.asarray(out, np.float32) - expected)
    assert (error <= relative_tolerance(policy) * magnitude + 1e-6).all(), error.max()
