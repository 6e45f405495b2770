"""The zoo: region classifiers as users write them, built small and untrained.

Each entry says how to export it (flags) and what the export must find (roles, stride).
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import keras
import numpy as np
from keras import layers

from model_export.layers import MaskedConv2D, RegionProposals, RoiPooling, SuperpixelPooling
from tests.model_export.zoo import backbones

CLASSES = ("background", "title", "price", "image", "text")
FLOAT_IMAGE_FLAGS = ["--image-scale", str(1 / 127.5), "--image-mean", "1", "1", "1"]


@dataclass(frozen=True)
class ZooModel:
    build: Callable[[], keras.Model]
    inputs: dict[str, str]  # role -> input name the export must find
    stride: int
    flags: list[str] = field(default_factory=list)


def _roi_scores(features: keras.KerasTensor, rois: keras.KerasTensor, stride: int) -> object:
    pooled = RoiPooling((2, 2), 1 / stride, name="roi_pool")([features, rois])
    if len(rois.shape) == 2:
        flat = layers.Flatten(name="roi_flatten")(pooled)
    else:  # (B, N, PH, PW, C) -> (B, N, PH * PW * C)
        flat = layers.Reshape((-1, 4 * pooled.shape[-1]), name="roi_flatten")(pooled)
    hidden = layers.Dense(16, activation="relu", name="roi_hidden")(flat)
    return layers.Dense(len(CLASSES), activation="softmax", name="scores")(hidden)


def randomise_batch_norm(model: keras.Model, seed: int = 0) -> keras.Model:
    """Moving statistics and affine terms away from the identity, so the BN layers matter."""
    rng = np.random.default_rng(seed)
    for layer in model._flatten_layers():
        if isinstance(layer, layers.BatchNormalization):
            shape = layer.moving_mean.shape
            layer.moving_mean.assign(rng.normal(0.0, 0.5, shape))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, shape))
            layer.gamma.assign(rng.uniform(0.5, 1.5, shape))
            layer.beta.assign(rng.normal(0.0, 0.2, shape))
    return model


def textmaps() -> keras.Model:
    """TextMaps: a screenshot and a text map (few channels here), RoI pooling at stride 8."""
    shot = keras.Input((None, None, 3), dtype="uint8", name="screenshot")
    text = keras.Input((None, None, 4), name="text_map")
    boxes = keras.Input((5,), name="boxes")
    x = layers.Rescaling(1 / 255, name="scale")(shot)
    x = layers.Conv2D(8, 11, strides=4, padding="same", activation="relu", name="conv1")(x)
    x = layers.BatchNormalization(name="bn1")(layers.MaxPooling2D(2, name="pool1")(x))
    t = layers.Conv2D(4, 11, strides=4, padding="same", activation="relu", name="text_conv")(text)
    t = layers.MaxPooling2D(2, name="text_pool")(t)
    x = layers.concatenate([x, t], name="joined")
    x = layers.ZeroPadding2D(1, name="pad")(x)
    x = layers.Conv2D(8, 3, activation="relu", name="conv2")(x)
    return keras.Model([shot, text, boxes], _roi_scores(x, boxes, 8), name="textmaps")


def fixed_page() -> keras.Model:
    """Fixed sizes, as most users write them: a 96x128 (height x width) page and its 12x16
    layout grid (one cell per 8 px: it follows the image), RoI pooling at 1/8."""
    page = keras.Input((96, 128, 3), dtype="uint8", name="page")
    layout = keras.Input((12, 16, 2), name="layout")
    boxes = keras.Input((5,), name="boxes")
    x = layers.Rescaling(1 / 255, name="scale")(page)
    for k in (1, 2, 3):
        x = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name=f"conv{k}")(x)
    x = layers.concatenate([x, layout], name="joined")
    return keras.Model([page, layout, boxes], _roi_scores(x, boxes, 8), name="fixed_page")


def mobilenet_v2_nested_s32() -> keras.Model:
    pixels = keras.Input((None, None, 3), name="pixels")
    regions = keras.Input((None, 4), name="regions")
    features = backbones.mobilenet_v2(32)(pixels)
    return keras.Model([pixels, regions], _roi_scores(features, regions, 32), name="mnv2_s32")


def resnet_flat_s16() -> keras.Model:
    image = keras.Input((None, None, 3), dtype="uint8", name="image")
    rois = keras.Input((5,), name="rois")
    x = layers.Rescaling(1 / 127.5, offset=-1, name="scale")(image)
    features = backbones.resnet_layers(x, 16)
    return keras.Model([image, rois], _roi_scores(features, rois, 16), name="resnet_s16")


def resnet_nested_s32() -> keras.Model:
    image = keras.Input((None, None, 3), name="photo")
    rois = keras.Input((None, 4), name="proposals")
    features = backbones.nested(backbones.resnet_layers, 32, "resnet")(image)
    return keras.Model([image, rois], _roi_scores(features, rois, 32), name="resnet_s32")


def vgg_nested_s16() -> keras.Model:
    image = keras.Input((None, None, 3), name="img")
    rois = keras.Input((5,), name="candidate_boxes")
    features = backbones.nested(backbones.vgg_layers, 16, "vgg")(image)
    return keras.Model([image, rois], _roi_scores(features, rois, 16), name="vgg_s16")


def vgg_flat_s32() -> keras.Model:
    image = keras.Input((None, None, 3), dtype="uint8", name="image")
    rois = keras.Input((None, 4), name="rois")
    features = backbones.vgg_layers(layers.Rescaling(1 / 255, name="scale")(image), 32)
    return keras.Model([image, rois], _roi_scores(features, rois, 32), name="vgg_s32")


def masked_conv_two_heads() -> keras.Model:
    """MaskedConv2D with its mask as a tensor input, RoI and max superpixel heads, dict outputs."""
    image = keras.Input((None, None, 3), dtype="uint8", name="image")
    mask = keras.Input(batch_shape=(3, 3), name="kernel_mask")
    rois = keras.Input((5,), name="rois")
    ids = keras.Input((None, None), dtype="int32", name="segments")
    x = layers.Rescaling(1 / 255, name="scale")(image)
    x = MaskedConv2D(8, 3, strides=2, padding="same", activation="relu", name="masked")([x, mask])
    x = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="conv")(x)
    box_scores = _roi_scores(x, rois, 4)
    regions = SuperpixelPooling("max", name="superpixel_pool")([x, ids])
    region_scores = layers.Dense(len(CLASSES), activation="softmax", name="region_scores")(regions)
    outputs = {"box_scores": box_scores, "region_scores": region_scores}
    return keras.Model([image, mask, rois, ids], outputs, name="masked_two_heads")


def superpixel_mean() -> keras.Model:
    image = keras.Input((None, None, 3), name="image")
    ids = keras.Input((None, None), dtype="int32", name="superpixels")
    x = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="conv")(image)
    regions = SuperpixelPooling("average", name="superpixel_pool")([x, ids])
    scores = layers.Dense(len(CLASSES), activation="softmax", name="scores")(regions)
    return keras.Model([image, ids], scores, name="superpixel_mean")


def modern_cnn() -> keras.Model:
    """Normalization, LayerNormalization, exact gelu, swish, depthwise and separable
    convolutions, a residual Add, and a Resizing + global pooling context branch."""
    image = keras.Input((None, None, 3), name="image")
    rois = keras.Input((None, 4), name="rois")
    x = layers.Normalization(mean=[120.0, 110.0, 100.0], variance=[3600.0, 3000.0, 3300.0])(image)
    x = layers.Conv2D(8, 3, strides=2, padding="same", name="stem")(x)
    x = layers.Activation("gelu", name="gelu")(layers.LayerNormalization(name="ln")(x))
    x = layers.DepthwiseConv2D(3, strides=2, padding="same", name="depthwise")(x)
    x = layers.Activation("swish", name="swish")(x)
    y = layers.SeparableConv2D(8, 3, padding="same", activation="relu", name="separable")(x)
    features = layers.Add(name="residual")([x, y])
    context = layers.Resizing(8, 8, name="resize")(features)
    context = layers.Dense(16, name="context")(layers.GlobalAveragePooling2D(name="gap")(context))
    pooled = RoiPooling((2, 2), 1 / 4, name="roi_pool")([features, rois])
    hidden = layers.Dense(16, name="roi_hidden")(layers.Reshape((-1, 32), name="flat")(pooled))
    joined = layers.Add(name="with_context")([hidden, layers.Reshape((1, 16))(context)])
    scores = layers.Dense(len(CLASSES), activation="softmax", name="scores")(joined)
    return keras.Model([image, rois], scores, name="modern_cnn")


def two_stage_s8() -> keras.Model:
    """Faster R-CNN in small: a backbone, a region proposal network (RegionProposals) and one
    RoI head applied to the client's rois and to the proposals, the backbone computed once."""
    image = keras.Input((None, None, 3), dtype="uint8", name="image")
    rois = keras.Input((5,), name="rois")
    x = layers.Rescaling(1 / 255, name="scale")(image)
    for k in (1, 2, 3):
        x = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name=f"conv{k}")(x)
    rpn = layers.Conv2D(8, 3, padding="same", activation="relu", name="rpn_conv")(x)
    objectness = layers.Conv2D(6, 1, name="rpn_objectness")(rpn)
    deltas = layers.Conv2D(24, 1, name="rpn_deltas")(rpn)
    propose = RegionProposals(
        (16.0, 32.0),
        (0.5, 1.0, 2.0),
        8,
        pre_nms=64,
        post_nms=12,
        iou_threshold=0.6,
        min_size=4.0,
        name="rpn",
    )
    proposals, objectness_scores = propose([objectness, deltas, image])
    pool = RoiPooling((2, 2), 1 / 8, name="roi_pool")
    flat, hidden = layers.Flatten(name="roi_flatten"), layers.Dense(16, activation="relu")
    classify = layers.Dense(len(CLASSES), activation="softmax", name="scores")
    outputs = {
        "scores": classify(hidden(flat(pool([x, rois])))),
        "proposals": proposals,
        "objectness": objectness_scores,
        "proposal_scores": classify(hidden(flat(pool([x, proposals])))),
    }
    return keras.Model([image, rois], outputs, name="two_stage_s8")


ZOO: dict[str, ZooModel] = {
    "textmaps": ZooModel(
        textmaps, {"image": "screenshot", "rois": "boxes", "extra": "text_map"}, 8
    ),
    "mobilenet_v2_nested_s32": ZooModel(
        mobilenet_v2_nested_s32, {"image": "pixels", "rois": "regions"}, 32, FLOAT_IMAGE_FLAGS
    ),
    "resnet_flat_s16": ZooModel(resnet_flat_s16, {"image": "image", "rois": "rois"}, 16),
    "resnet_nested_s32": ZooModel(
        resnet_nested_s32, {"image": "photo", "rois": "proposals"}, 32, FLOAT_IMAGE_FLAGS
    ),
    "vgg_nested_s16": ZooModel(vgg_nested_s16, {"image": "img", "rois": "candidate_boxes"}, 16),
    "vgg_flat_s32": ZooModel(vgg_flat_s32, {"image": "image", "rois": "rois"}, 32),
    "masked_conv_two_heads": ZooModel(
        masked_conv_two_heads,
        {"image": "image", "rois": "rois", "superpixels": "segments", "extra": "kernel_mask"},
        4,
    ),
    "superpixel_mean": ZooModel(
        superpixel_mean, {"image": "image", "superpixels": "superpixels"}, 2
    ),
    "modern_cnn": ZooModel(modern_cnn, {"image": "image", "rois": "rois"}, 4, FLOAT_IMAGE_FLAGS),
    "fixed_page": ZooModel(fixed_page, {"image": "page", "rois": "boxes", "extra": "layout"}, 8),
}
# Exported once through the export command (every gate, both files) by
# tests/service/own_models/test_two_stage.py, which serves it: not in ZOO's export loop twice.
PROPOSING: dict[str, ZooModel] = {
    "two_stage_s8": ZooModel(two_stage_s8, {"image": "image", "rois": "rois"}, 8),
}


def build(name: str, seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return randomise_batch_norm({**ZOO, **PROPOSING}[name].build(), seed)
