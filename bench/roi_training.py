"""RoI pooling in a training step (forward and Caffe gradient) at the size `train` feeds it:
the cells of each bin's maximum found by the backward pass (a second range-max table) or by
the forward pass (`training=True`, one table for both)."""

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from bench.report import table, write_section
from bench.timing import measure_contenders
from model_export.model import STRIDE
from model_export.training.samples import CROP, ROIS_PER_CROP

BATCH = 16  # `train`'s default batch of 128 px crops, 16 rois each
CHANNELS = 64
CONTENDERS = ("cells found in the backward pass", "cells found in the forward pass")


def inputs() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    side = CROP // STRIDE
    features = rng.normal(size=(BATCH, side, side, CHANNELS)).astype(np.float32)
    count = BATCH * ROIS_PER_CROP
    corners = np.sort(rng.uniform(0, CROP - 1, size=(count, 2, 2)), axis=1)
    image = np.repeat(np.arange(BATCH), ROIS_PER_CROP)[:, None]
    rois = np.concatenate([image, corners[:, 0], corners[:, 1]], axis=1).astype(np.float32)
    return features, rois


def setup(contender: str, _: int) -> Callable[[], Any]:
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import tensorflow as tf

    from model_export.layers import RoiPooling

    layer = RoiPooling((7, 7), 1 / STRIDE)
    training = contender == CONTENDERS[1]
    features, rois = (tf.constant(x) for x in inputs())

    @tf.function
    def step(features: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            tape.watch(features)
            pooled = layer([features, rois], training=training)
            loss = tf.reduce_sum(pooled * pooled)
        return tape.gradient(loss, features)

    return lambda: step(features).numpy()


def main(repeats: int = 30) -> None:
    results = measure_contenders(setup, CONTENDERS, 0, repeats)
    baseline = results[CONTENDERS[0]].median_ms
    rows = [
        [c, f"{m.median_ms:.1f}", f"{m.p90_ms:.1f}", f"{m.median_ms / baseline:.2f}x"]
        for c, m in results.items()
    ]
    note = (
        f"{BATCH}x{CROP // STRIDE}x{CROP // STRIDE}x{CHANNELS} features, {BATCH * ROIS_PER_CROP} "
        f"random rois inside the {CROP} px crops, pooled 7x7 at scale 1/{STRIDE}: forward and "
        f"gradient in one tf.function, {repeats} timed runs after 2 warm-up runs, each in a fresh "
        "process."
    )
    body = table(["gradient", "median ms", "p90 ms", "time vs backward-pass cells"], rows)
    write_section(
        "roi-training", "RoI pooling in a training step (TensorFlow, CPU)", f"{note}\n\n{body}\n"
    )
