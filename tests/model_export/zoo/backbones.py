"""Tiny backbones in the styles of MobileNetV2, ResNet and VGG (untrained, CI-sized)."""

import keras
from keras import layers


def mobilenet_v2(stride: int) -> keras.Model:
    """keras.applications' MobileNetV2 itself, narrow (alpha 0.35), cut at `stride` (16 or 32)."""
    full = keras.applications.MobileNetV2(
        input_shape=(None, None, 3), alpha=0.35, include_top=False, weights=None
    )
    cut = {16: "block_12_add", 32: "out_relu"}[stride]
    return keras.Model(full.input, full.get_layer(cut).output, name=f"mobilenet_v2_s{stride}")


def _residual(x: keras.KerasTensor, width: int, stride: int, name: str) -> keras.KerasTensor:
    shortcut = layers.Conv2D(width, 1, strides=stride, name=f"{name}_proj")(x)
    shortcut = layers.BatchNormalization(name=f"{name}_proj_bn")(shortcut)
    y = layers.Conv2D(width, 3, strides=stride, padding="same", name=f"{name}_conv1")(x)
    y = layers.Activation("relu")(layers.BatchNormalization(name=f"{name}_bn1")(y))
    y = layers.Conv2D(width, 3, padding="same", name=f"{name}_conv2")(y)
    y = layers.BatchNormalization(name=f"{name}_bn2")(y)
    return layers.Activation("relu")(layers.Add(name=f"{name}_add")([shortcut, y]))


def resnet_layers(x: keras.KerasTensor, stride: int) -> keras.KerasTensor:
    """ResNet's stem (pad 3, 7x7/2, pad 1, max pool 3/2) then residual stages of stride 2."""
    x = layers.ZeroPadding2D(3, name="stem_pad")(x)
    x = layers.Conv2D(8, 7, strides=2, name="stem_conv")(x)
    x = layers.Activation("relu")(layers.BatchNormalization(name="stem_bn")(x))
    x = layers.ZeroPadding2D(1, name="pool_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="stem_pool")(x)
    x = _residual(x, 8, 1, "stage1")
    for k in range(1, {16: 3, 32: 4}[stride]):
        x = _residual(x, 8 * 2**k, 2, f"stage{k + 1}")
    return x


def vgg_layers(x: keras.KerasTensor, stride: int) -> keras.KerasTensor:
    """VGG blocks: two 3x3 convolutions, then a 2x2 max pool, until `stride`."""
    for k in range({16: 4, 32: 5}[stride]):
        for j in (1, 2):
            name = f"block{k + 1}_conv{j}"
            x = layers.Conv2D(4 * 2 ** min(k, 2), 3, padding="same", activation="relu", name=name)(
                x
            )
        x = layers.MaxPooling2D(2, name=f"block{k + 1}_pool")(x)
    return x


def nested(build: object, stride: int, name: str) -> keras.Model:
    """A backbone as its own Functional model, to be called as one layer."""
    image = keras.Input((None, None, 3))
    return keras.Model(image, build(image, stride), name=name)  # type: ignore[operator]
