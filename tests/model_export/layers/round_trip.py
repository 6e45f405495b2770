"""Shared check: a layer survives get_config/from_config and a .keras file unchanged."""

from pathlib import Path

import keras
import numpy as np


def assert_round_trips(model: keras.Model, inputs: list[np.ndarray], tmp_path: Path) -> None:
    expected = model(inputs)
    for layer in model.layers[len(model.inputs) :]:
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_array_equal(np.asarray(restored(inputs)), np.asarray(expected))
