"""Superpixel pooling layer."""

from typing import Any

import keras
import tensorflow as tf

from model_export.layers.superpixel_ops import superpixel_pool

MODES = ("average", "max")


@keras.saving.register_keras_serializable(package="regionserve")
class SuperpixelPooling(keras.layers.Layer):
    """Superpixel pooling (Kwak et al., "Weakly supervised semantic segmentation
    using superpixel pooling network", AAAI 2017).

    Args:
        mode: `"average"` or `"max"` over the pixels of each superpixel.

    Input shape:
        A list `[features, superpixels]`: features `(B, H, W, C)` and integer ids
        `(B, H, W)` of the same spatial size; an id < 0 marks a pixel to ignore.

    Output shape:
        `(B, S, C)` with S = 1 + the largest id in the batch; a superpixel with no
        pixels gives zeros.
    """

    def __init__(self, mode: str = "average", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.mode = mode

    def call(self, inputs: list[tf.Tensor]) -> tf.Tensor:
        features, superpixels = inputs
        return superpixel_pool(features, superpixels, self.mode)

    def compute_output_shape(self, input_shape: list[tuple]) -> tuple:
        features_shape, superpixels_shape = input_shape
        if len(superpixels_shape) != 3:
            raise ValueError(f"superpixels must be (B, H, W), got {superpixels_shape}")
        return (features_shape[0], None, features_shape[-1])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mode": self.mode}
