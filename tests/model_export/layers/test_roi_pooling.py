from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from model_export import reference
from model_export.layers import RoiPooling
from tests.model_export.layers.round_trip import assert_round_trips

RNG = np.random.default_rng(7)


def features(shape: tuple[int, ...] = (2, 12, 10, 3), offset: float = 0.0) -> np.ndarray:
    return (RNG.normal(size=shape) + offset).astype(np.float32)


def pool(x: np.ndarray, rois: np.ndarray, size: tuple[int, int], scale: float) -> np.ndarray:
    return np.asarray(RoiPooling(size, scale)([x, rois]))


@pytest.mark.parametrize(
    ("c", "expected"), [(0.5, 1), (-0.5, -1), (1.5, 2), (2.5, 3), (-2.5, -3), (2.4999, 2)]
)
def test_reference_rounds_half_away_from_zero(c: float, expected: int) -> None:
    assert reference.c_round(np.float32(c)) == expected


def test_known_answer_quadrant_maxima() -> None:
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    out = pool(x, np.array([[0, 0, 0, 3, 3]], np.float32), (2, 2), 1.0)
    np.testing.assert_array_equal(out[0, :, :, 0], [[5, 7], [13, 15]])


EDGE_ROIS = {
    "inside": [0, 16, 16, 96, 80],
    "partly outside": [1, -40, 100, 300, 260],
    "fully outside": [0, 400, 400, 500, 500],
    "fully outside negative": [1, -200, -200, -100, -100],
    "reversed": [0, 120, 90, 20, 10],
    "zero area": [1, 48, 48, 48, 48],
    "scaled to .5": [1, 8, 24, 40, 56],
    "negative .5": [0, -8, -24, 72, 40],
    "whole map": [1, 0, 0, 159, 191],
}


@pytest.mark.parametrize("name", EDGE_ROIS)
@pytest.mark.parametrize("size", [(7, 7), (2, 3), (1, 1)])
def test_edge_rois_match_reference(name: str, size: tuple[int, int]) -> None:
    x = features(offset=-10.0)  # all negative: an empty bin's 0 differs from any max
    assert (x < 0).all()
    rois = np.array([EDGE_ROIS[name]], np.float32)
    expected = reference.roi_pool(x, rois, size, 1 / 16)
    np.testing.assert_array_equal(pool(x, rois, size, 1 / 16), expected)


def random_rois(count: int, batch: int, extent: float) -> np.ndarray:
    corners = RNG.uniform(-0.2 * extent, 1.2 * extent, size=(count, 4))
    index = RNG.integers(0, batch, size=(count, 1))
    return np.concatenate([index, corners], axis=1).astype(np.float32)


@pytest.mark.parametrize("scale", [1 / 16, 1 / 4, 1.0, 0.3])
def test_random_rois_match_reference_exactly(scale: float) -> None:
    x = features((3, 20, 17, 4))
    rois = random_rois(300, 3, 20 / scale)
    np.testing.assert_array_equal(
        pool(x, rois, (7, 7), scale), reference.roi_pool(x, rois, (7, 7), scale)
    )


@pytest.mark.parametrize("training", [False, True])  # cells found by the backward / forward
@pytest.mark.parametrize("scale", [1 / 4, 1.0])
def test_gradient_goes_to_each_bins_maximum_as_in_caffe(scale: float, training: bool) -> None:
    x = features((3, 20, 17, 4))
    rois = random_rois(60, 3, 20 / scale)
    upstream = RNG.normal(size=(60, 7, 7, 4)).astype(np.float32)
    variable = tf.Variable(x)
    with tf.GradientTape() as tape:
        pooled = RoiPooling((7, 7), scale)([variable, rois], training=training)
        loss = tf.reduce_sum(pooled * upstream)
    expected = reference.roi_pool_gradient(x, rois, (7, 7), scale, upstream)
    np.testing.assert_allclose(tape.gradient(loss, variable), expected, rtol=1e-5, atol=1e-5)


def test_no_rois_gives_empty_output() -> None:
    assert pool(features(), np.zeros((0, 5), np.float32), (7, 7), 1 / 16).shape == (0, 7, 7, 3)


def test_batched_form_equals_indexed_form() -> None:
    x = features((3, 16, 16, 2))
    boxes = RNG.uniform(0, 256, size=(3, 5, 4)).astype(np.float32)
    batched = np.asarray(RoiPooling((3, 3))([x, boxes]))
    index = np.repeat(np.arange(3, dtype=np.float32), 5)[:, None]
    flat = pool(x, np.concatenate([index, boxes.reshape(-1, 4)], 1), (3, 3), 1 / 16)
    assert batched.shape == (3, 5, 3, 3, 2)
    np.testing.assert_array_equal(batched.reshape(flat.shape), flat)


@pytest.mark.parametrize("batch", [1, 2])  # a static batch of 1 broadcasts: shapes must hold
def test_graph_mode_equals_eager(batch: int) -> None:
    layer = RoiPooling((7, 7), 1 / 16)
    x, rois = features((batch, 12, 10, 3)), random_rois(64, batch, 200)
    traced = tf.function(lambda a, b: layer([a, b]))
    np.testing.assert_array_equal(traced(x, rois).numpy(), np.asarray(layer([x, rois])))


def test_compute_output_shape() -> None:
    layer = RoiPooling((4, 5))
    assert layer.compute_output_shape([(2, 9, 9, 8), (None, 5)]) == (None, 4, 5, 8)
    assert layer.compute_output_shape([(2, 9, 9, 8), (2, 6, 4)]) == (2, 6, 4, 5, 8)
    with pytest.raises(ValueError, match="rois"):
        layer.compute_output_shape([(2, 9, 9, 8), (6, 4)])


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="pooled_size"):
        RoiPooling((0, 7))
    with pytest.raises(ValueError, match="spatial_scale"):
        RoiPooling(spatial_scale=0)


def test_round_trips_through_keras_file(tmp_path: Path) -> None:
    image = keras.Input((None, None, 3))
    rois = keras.Input((5,), batch_size=None)
    model = keras.Model([image, rois], RoiPooling((3, 2), 0.25)([image, rois]))
    assert_round_trips(model, [features(), random_rois(9, 2, 40)], tmp_path)


def test_gradient_of_tied_maxima_goes_to_the_row_major_first_cell() -> None:
    x = np.zeros((1, 4, 4, 1), np.float32)
    x[0, 1, 3, 0] = x[0, 3, 0, 0] = x[0, 2, 2, 0] = 5.0  # three equal maxima in one bin
    variable = tf.Variable(x)
    expected = np.zeros((4, 4), np.float32)
    expected[1, 3] = 1.0
    for training in (False, True):
        with tf.GradientTape() as tape:
            rois = np.array([[0, 0, 0, 3, 3]])
            loss = tf.reduce_sum(RoiPooling((1, 1), 1.0)([variable, rois], training=training))
        grad = np.asarray(tape.gradient(loss, variable))[0, :, :, 0]
        np.testing.assert_array_equal(grad, expected)


NON_FINITE_BINS = {  # a 2x2 bin of each kind -> what Caffe, torchvision and the reference give
    "all -inf": ([-np.inf] * 4, reference.LOWEST_FLOAT32),
    "all NaN": ([np.nan] * 4, reference.LOWEST_FLOAT32),
    "NaN beside numbers": ([np.nan, 1.0, 2.0, np.nan], 2.0),
    "+inf wins": ([np.inf, -np.inf, np.nan, 3.0], np.inf),
}


def non_finite_map() -> tuple[np.ndarray, np.ndarray]:
    """A (1, 4, 4, 1) map whose four 2x2 quadrants are the bins of NON_FINITE_BINS."""
    x = np.zeros((1, 4, 4, 1), np.float32)
    for k, (values, _) in enumerate(NON_FINITE_BINS.values()):
        y, x0 = divmod(k, 2)
        x[0, 2 * y : 2 * y + 2, 2 * x0 : 2 * x0 + 2, 0] = np.reshape(values, (2, 2))
    expected = np.array([v for _, v in NON_FINITE_BINS.values()], np.float32).reshape(1, 2, 2, 1)
    return x, expected


def test_non_finite_features_pool_as_caffe() -> None:
    x, expected = non_finite_map()
    rois = np.array([[0, 0, 0, 3, 3]], np.float32)
    np.testing.assert_array_equal(reference.roi_pool(x, rois, (2, 2), 1.0), expected)
    traced = tf.function(lambda a, b: RoiPooling((2, 2), 1.0)([a, b]))
    np.testing.assert_array_equal(traced(x, rois).numpy(), expected)
