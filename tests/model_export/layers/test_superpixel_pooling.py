from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from model_export import reference
from model_export.layers import SuperpixelPooling
from tests.model_export.layers.round_trip import assert_round_trips

RNG = np.random.default_rng(11)


def pool(x: np.ndarray, ids: np.ndarray, mode: str = "average") -> np.ndarray:
    return np.asarray(SuperpixelPooling(mode)([x, ids]))


def test_known_answer_from_design() -> None:
    x = np.array([[[[0.1], [0.2]], [[0.3], [0.4]]]], np.float32)
    out = pool(x, np.array([[[0, 0], [1, 2]]]))
    np.testing.assert_allclose(out, [[[0.15], [0.3], [0.4]]], rtol=1e-7)


def test_ignored_pixels_and_empty_ids_give_zero() -> None:
    x = np.array([[[[1.0], [5.0]], [[-3.0], [7.0]]]], np.float32)
    ids = np.array([[[-1, 0], [3, -2]]])  # ids 1 and 2 are empty
    np.testing.assert_array_equal(pool(x, ids), [[[5.0], [0.0], [0.0], [-3.0]]])
    np.testing.assert_array_equal(pool(x, ids, "max"), [[[5.0], [0.0], [0.0], [-3.0]]])


def test_all_pixels_ignored_gives_no_superpixels() -> None:
    assert pool(np.ones((2, 3, 3, 4), np.float32), -np.ones((2, 3, 3), int)).shape == (2, 0, 4)


@pytest.mark.parametrize("mode", ["average", "max"])
def test_random_batch_matches_reference(mode: str) -> None:
    x = (RNG.normal(size=(3, 16, 12, 5)) - 4.0).astype(np.float32)  # max over negatives
    ids = RNG.integers(-1, 30, size=(3, 16, 12))
    ids[1] = np.minimum(ids[1], 9)  # image 1 leaves ids 10..29 empty
    np.testing.assert_allclose(pool(x, ids, mode), reference.superpixel_pool(x, ids, mode), 1e-6)


def test_graph_mode_equals_eager() -> None:
    layer = SuperpixelPooling("max")
    x, ids = RNG.normal(size=(2, 8, 8, 3)).astype(np.float32), RNG.integers(0, 12, (2, 8, 8))
    traced = tf.function(lambda a, b: layer([a, b]))
    np.testing.assert_array_equal(traced(x, ids).numpy(), np.asarray(layer([x, ids])))


def test_rejects_unknown_mode() -> None:
    with pytest.raises(ValueError, match="mode"):
        SuperpixelPooling("median")


def test_round_trips_through_keras_file(tmp_path: Path) -> None:
    features = keras.Input((None, None, 4))
    ids = keras.Input((None, None), dtype="int32")
    model = keras.Model([features, ids], SuperpixelPooling("max")([features, ids]))
    inputs: list[np.ndarray] = [
        RNG.normal(size=(2, 6, 6, 4)).astype(np.float32),
        RNG.integers(-1, 5, (2, 6, 6)),
    ]
    assert_round_trips(model, inputs, tmp_path)
