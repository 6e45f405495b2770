"""The TextMaps network as its author wrote it in Keras (Gogar et al., 2016), with random
weights and narrower convolutions: a fixed 1280x1280 float32 screenshot and a fixed 160x160x128
text map, Conv2D 11x11/4, MaxPooling2D, BatchNormalization, concatenate, ZeroPadding2D(2), a 5x5
`same` Conv2D, RoiPooling 7x7 at 1/8 and a softmax over its four classes.

The padding makes the feature map 164x164 for the 1280 screenshot, 4 cells more than
1280 / 8: every roi pools 2 cells up and to the left of its box. That is the model as written,
so it exports only with `--allow-offset`.
"""

import keras
from keras import layers

from model_export.layers import RoiPooling

SIDE, TEXT_SIDE, TEXT_CHANNELS, STRIDE = 1280, 160, 128, 8
CLASSES = ("background", "price", "name", "image")
EXPORT_FLAGS = ["--image-scale", str(1 / 255), "--allow-offset"]


def textmaps_seed() -> keras.Model:
    screenshot = keras.Input((SIDE, SIDE, 3), name="screenshot")
    text_map = keras.Input((TEXT_SIDE, TEXT_SIDE, TEXT_CHANNELS), name="text_map")
    boxes = keras.Input((5,), name="boxes")
    x = layers.Conv2D(16, 11, strides=4, padding="same", activation="relu", name="conv1")(
        screenshot
    )
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.BatchNormalization(name="norm1")(x)
    x = layers.concatenate([x, text_map], name="with_text")
    x = layers.ZeroPadding2D(2, name="pad2")(x)
    x = layers.Conv2D(32, 5, padding="same", activation="relu", name="conv2")(x)
    pooled = RoiPooling((7, 7), 1 / STRIDE, name="roi_pool")([x, boxes])
    flat = layers.Flatten(name="flatten")(pooled)
    scores = layers.Dense(len(CLASSES), activation="softmax", name="scores")(flat)
    return keras.Model([screenshot, text_map, boxes], scores, name="textmaps")
