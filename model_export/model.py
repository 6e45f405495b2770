"""A Fast R-CNN-style region classifier with a box head and a superpixel head.

Serving-oriented inputs:
    image        (B, H, W, 3) uint8, any H and W; batches are padded with PAD_VALUE.
    rois         (R, 5) float32 rows [batch_index, x1, y1, x2, y2] in input pixels.
    superpixels  (B, ceil(H / STRIDE), ceil(W / STRIDE)) int32 ids sampled at the
                 centre of each feature cell (see `superpixel_grid`); -1 = ignore.
Outputs:
    roi_scores         (R, K) softmax over classes, class 0 = background.
    superpixel_scores  (B, S, K).
With a proposal head (`ModelSpec.proposals`), also the model's own regions (Faster R-CNN):
    proposals             (P, 5) rows [batch_index, x1, y1, x2, y2], best first per image.
    proposal_objectness   (P,) sigmoid objectness.
    proposal_scores       (P, K) the box head's softmax on the proposals.

Images keep their native resolution (up to MAX_IMAGE_SIDE): the backbone is fully
convolutional with stride 4, so a 16 px digit still covers 4x4 feature cells.
"""

from dataclasses import dataclass

import keras
import numpy as np

from model_export.layers import MaskedConv2D, RegionProposals, RoiPooling, SuperpixelPooling

STRIDE = 4
PAD_VALUE = 128  # maps to ~0 after rescaling, like the convolutions' zero padding
MAX_IMAGE_SIDE = 1024
DISC_5X5 = [[0, 1, 1, 1, 0], [1, 1, 1, 1, 1], [1, 1, 1, 1, 1], [1, 1, 1, 1, 1], [0, 1, 1, 1, 0]]


@dataclass(frozen=True)
class ProposalSpec:
    """A region proposal network on the backbone's features: 3x3 convolutions at the given
    dilation rates, then per anchor an objectness logit and box deltas (1x1 convolutions),
    decoded by `RegionProposals`. Each rate r widens what an anchor sees by 2 * r * STRIDE
    pixels: a box is only regressed well when the features see the whole object."""

    # sqrt of the area in pixels, and height / width: with these, 78 % of the digit scenes'
    # boxes have an anchor at IoU >= 0.7 and all but 0.3 % one at IoU >= 0.5.
    anchor_sizes: tuple[float, ...] = (12.0, 18.0, 26.0, 38.0, 56.0, 84.0)
    anchor_ratios: tuple[float, ...] = (1.5, 2.5)
    width: int = 32
    dilations: tuple[int, ...] = (1, 2, 4)
    pre_nms: int = 1000
    post_nms: int = 100
    iou_threshold: float = 0.7
    min_size: float = 8.0


@dataclass(frozen=True)
class ModelSpec:
    classes: tuple[str, ...]  # class 0 is the background
    widths: tuple[int, int, int] = (16, 48, 64)
    head_width: int = 32  # channels of the 3x3 conv on the pooled 7x7, before the dense layers
    embedding: int = 256
    pooled_size: tuple[int, int] = (7, 7)
    # Dilation rates of residual blocks between the backbone and the superpixel head (a
    # dilated 3x3 convolution to context_width channels, a 1x1 back): each adds
    # 2 * rate * STRIDE pixels of receptive field, so that a superpixel on a stroke sees the
    # whole object. The box head pools the backbone's own features: a box holds its object,
    # and context from beyond it (a neighbouring object) only misleads.
    context: tuple[int, ...] = (2, 4, 8)
    context_width: int = 32
    proposals: ProposalSpec | None = None


def superpixel_grid(superpixels: np.ndarray) -> np.ndarray:
    """(..., H, W) pixel ids -> (..., ceil(H / STRIDE), ceil(W / STRIDE)) ids at cell centres."""
    centre = STRIDE // 2
    height, width = superpixels.shape[-2:]
    rows = np.minimum(np.arange(0, height, STRIDE) + centre, height - 1)
    cols = np.minimum(np.arange(0, width, STRIDE) + centre, width - 1)
    return superpixels[..., rows[:, None], cols[None, :]]


def build_region_classifier(spec: ModelSpec) -> keras.Model:
    image = keras.Input((None, None, 3), dtype="uint8", name="image")
    rois = keras.Input((5,), dtype="float32", name="rois")
    superpixels = keras.Input((None, None), dtype="int32", name="superpixels")

    first, second, third = spec.widths
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="rescale")(image)
    x = MaskedConv2D(first, 5, mask=DISC_5X5, padding="same", activation="relu", name="conv1")(x)
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = keras.layers.Conv2D(second, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D(2, name="pool2")(x)
    features = keras.layers.Conv2D(third, 3, padding="same", activation="relu", name="conv3")(x)
    surroundings = features
    for rate in spec.context:
        context = keras.layers.Conv2D(
            spec.context_width,
            3,
            padding="same",
            dilation_rate=rate,
            activation="relu",
            name=f"context{rate}",
        )(surroundings)
        context = keras.layers.Conv2D(third, 1, name=f"context{rate}_out")(context)
        surroundings = keras.layers.Add(name=f"context{rate}_add")([surroundings, context])
        surroundings = keras.layers.ReLU(name=f"context{rate}_relu")(surroundings)

    classifier = keras.layers.Dense(len(spec.classes), activation="softmax", name="classifier")
    box_head = [
        RoiPooling(spec.pooled_size, 1.0 / STRIDE, name="roi_pool"),
        keras.layers.Conv2D(spec.head_width, 3, padding="same", activation="relu", name="roi_conv"),
        keras.layers.Flatten(name="roi_flatten"),
        keras.layers.Dense(spec.embedding, activation="relu", name="roi_embed"),
        classifier,
    ]

    def classify_boxes(boxes: keras.KerasTensor) -> keras.KerasTensor:
        scores = box_head[0]([features, boxes])
        for layer in box_head[1:]:
            scores = layer(scores)
        return scores

    regions = SuperpixelPooling("average", name="superpixel_pool")([surroundings, superpixels])
    sp_embedding = keras.layers.Dense(spec.embedding, activation="relu", name="sp_embed")(regions)
    outputs = {"roi_scores": classify_boxes(rois), "superpixel_scores": classifier(sp_embedding)}

    if spec.proposals is not None:
        proposals, objectness = region_proposals(spec.proposals, features, image)
        outputs |= {
            "proposals": proposals,
            "proposal_objectness": objectness,
            "proposal_scores": classify_boxes(proposals),
        }
    return keras.Model([image, rois, superpixels], outputs, name="region_classifier")


def region_proposals(
    spec: ProposalSpec, features: keras.KerasTensor, image: keras.KerasTensor
) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """The proposal network's layers (names start with `rpn`, for `train --train-only rpn`)."""
    anchors = len(spec.anchor_sizes) * len(spec.anchor_ratios)
    shared = features
    for k, rate in enumerate(spec.dilations, start=1):
        shared = keras.layers.Conv2D(
            spec.width,
            3,
            padding="same",
            dilation_rate=rate,
            activation="relu",
            name=f"rpn_conv{k}",
        )(shared)
    objectness = keras.layers.Conv2D(anchors, 1, name="rpn_objectness")(shared)
    deltas = keras.layers.Conv2D(
        4 * anchors,
        1,
        kernel_initializer=keras.initializers.RandomNormal(stddev=0.001),
        name="rpn_deltas",
    )(shared)
    return RegionProposals(
        spec.anchor_sizes,
        spec.anchor_ratios,
        STRIDE,
        pre_nms=spec.pre_nms,
        post_nms=spec.post_nms,
        iou_threshold=spec.iou_threshold,
        min_size=spec.min_size,
        name="rpn",
    )([objectness, deltas, image])
