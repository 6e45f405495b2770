"""Fast R-CNN RoI max pooling layer."""

from functools import partial
from typing import Any

import keras
import tensorflow as tf

from model_export.layers.roi_ops import roi_max_pool


@keras.saving.register_keras_serializable(package="regionserve")
class RoiPooling(keras.layers.Layer):
    """RoI max pooling with the exact semantics of Caffe's Fast R-CNN and ONNX MaxRoiPool.

    Args:
        pooled_size: output bins (PH, PW), or one int for both.
        spatial_scale: factor from input-image pixels to feature cells (1 / stride).

    Input shape:
        A list `[features, rois]`: features `(B, H, W, C)`, and rois either
        `(R, 5)` rows `[batch_index, x1, y1, x2, y2]` or `(B, N, 4)` rows `[x1, y1, x2, y2]`,
        in input-image pixels with inclusive ends.

    Output shape:
        `(R, PH, PW, C)` for `(R, 5)` rois, `(B, N, PH, PW, C)` for `(B, N, 4)` rois.

    Under any dtype policy the features are pooled in the compute dtype while the rois are
    binned in float32, as torchvision's autocast keeps them: in float16, x1 = 1031.9 would
    round to 1032 and move a bin at scale 1/16 by one column.
    """

    def __init__(
        self,
        pooled_size: int | tuple[int, int] = (7, 7),
        spatial_scale: float = 1.0 / 16.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.autocast = False  # Keras would cast the rois to the compute dtype; call casts
        size = (pooled_size, pooled_size) if isinstance(pooled_size, int) else tuple(pooled_size)
        if len(size) != 2 or min(size) < 1:
            raise ValueError(f"pooled_size must be two positive ints, got {pooled_size!r}")
        self.pooled_size = (int(size[0]), int(size[1]))
        if not spatial_scale > 0:
            raise ValueError(f"spatial_scale must be positive, got {spatial_scale!r}")
        self.spatial_scale = float(spatial_scale)

    def call(self, inputs: list[tf.Tensor], training: bool | None = None) -> tf.Tensor:
        features, rois = inputs
        features = tf.cast(features, self.compute_dtype)
        rois = tf.cast(rois, tf.float32)
        pool = partial(
            roi_max_pool,
            pooled_size=self.pooled_size,
            spatial_scale=self.spatial_scale,
            training=bool(training),
        )
        if rois.shape.rank == 2:
            return pool(features, rois)
        batch, count = tf.shape(rois)[0], tf.shape(rois)[1]
        image = tf.repeat(tf.range(batch), count)[:, None]
        flat = tf.concat([tf.cast(image, tf.float32), tf.reshape(rois, [-1, 4])], axis=1)
        pooled = pool(features, flat)
        return tf.reshape(pooled, tf.concat([[batch, count], tf.shape(pooled)[1:]], axis=0))

    def compute_output_shape(self, input_shape: list[tuple]) -> tuple:
        features_shape, rois_shape = input_shape
        row_length = {2: 5, 3: 4}.get(len(rois_shape))
        if row_length is None or rois_shape[-1] not in (None, row_length):
            raise ValueError(f"rois must be (R, 5) or (B, N, 4), got {rois_shape}")
        return (*rois_shape[:-1], *self.pooled_size, features_shape[-1])

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "pooled_size": self.pooled_size,
            "spatial_scale": self.spatial_scale,
        }
