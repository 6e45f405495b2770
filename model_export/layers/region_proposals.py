"""Region proposal layer: a region proposal network's anchors, decoding and NMS."""

from typing import Any

import keras
import tensorflow as tf

from model_export.layers.proposal_ops import base_anchors, propose


@keras.saving.register_keras_serializable(package="regionserve")
class RegionProposals(keras.layers.Layer):
    """Faster R-CNN proposals from objectness logits and box deltas over anchors.

    The user's own convolutions score each anchor of each feature cell; this layer holds the
    anchors and turns those scores into boxes in the rois form RoiPooling takes, so a second
    RoiPooling can pool the proposals from the same features (one pass, one ONNX file).

    Args:
        anchor_sizes: sqrt of each anchor's area, in input-image pixels.
        anchor_ratios: height / width of the anchors; A = len(ratios) * len(sizes), ratio-major.
        stride: input-image pixels per feature cell.
        pre_nms: best-scoring boxes kept before NMS, per image.
        post_nms: most proposals kept after NMS, per image.
        iou_threshold: a box overlapping a better one by more than this is dropped.
        min_size: boxes with a side (inclusive ends) below this many pixels are dropped.

    Input shape:
        A list `[objectness, deltas, image]`: objectness logits `(B, H, W, A)`, deltas
        `(B, H, W, A * 4)` as `[dx, dy, dw, dh]` per anchor, and the image `(B, IH, IW, ...)`
        (only its size is read: boxes are clipped to it).

    Output shape:
        `(proposals, scores)`: `(R, 5)` rows `[batch_index, x1, y1, x2, y2]` (inclusive ends)
        image by image, best first, and `(R,)` sigmoid objectness.
    """

    def __init__(
        self,
        anchor_sizes: tuple[float, ...] | list[float] = (32.0, 64.0, 128.0),
        anchor_ratios: tuple[float, ...] | list[float] = (0.5, 1.0, 2.0),
        stride: int = 16,
        pre_nms: int = 1000,
        post_nms: int = 300,
        iou_threshold: float = 0.7,
        min_size: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.autocast = False  # boxes are decoded in float32 whatever the policy
        if not anchor_sizes or not anchor_ratios or min(*anchor_sizes, *anchor_ratios) <= 0:
            raise ValueError("anchor_sizes and anchor_ratios must be non-empty and positive")
        if stride < 1 or pre_nms < 1 or post_nms < 1:
            raise ValueError("stride, pre_nms and post_nms must be at least 1")
        if not 0.0 <= iou_threshold <= 1.0:
            raise ValueError(f"iou_threshold must be in [0, 1], got {iou_threshold!r}")
        self.anchor_sizes = tuple(float(s) for s in anchor_sizes)
        self.anchor_ratios = tuple(float(r) for r in anchor_ratios)
        self.stride, self.pre_nms, self.post_nms = int(stride), int(pre_nms), int(post_nms)
        self.iou_threshold, self.min_size = float(iou_threshold), float(min_size)
        self.anchors = base_anchors(self.anchor_sizes, self.anchor_ratios, self.stride)

    @property
    def anchor_count(self) -> int:
        return len(self.anchors)

    def call(self, inputs: list[tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
        objectness, deltas, image = inputs
        size = tf.shape(image)[1], tf.shape(image)[2]
        settings = (self.pre_nms, self.post_nms, self.iou_threshold, self.min_size)
        return propose(objectness, deltas, size, self.anchors, self.stride, settings)

    def compute_output_shape(self, input_shape: list[tuple]) -> tuple[tuple, tuple]:
        objectness, deltas = input_shape[0], input_shape[1]
        if objectness[-1] not in (None, self.anchor_count) or deltas[-1] not in (
            None,
            4 * self.anchor_count,
        ):
            raise ValueError(
                f"{self.anchor_count} anchors need objectness (B, H, W, {self.anchor_count}) "
                f"and deltas (B, H, W, {4 * self.anchor_count}), got {objectness}, {deltas}"
            )
        return (None, 5), (None,)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "anchor_sizes": self.anchor_sizes,
            "anchor_ratios": self.anchor_ratios,
            "stride": self.stride,
            "pre_nms": self.pre_nms,
            "post_nms": self.post_nms,
            "iou_threshold": self.iou_threshold,
            "min_size": self.min_size,
        }
