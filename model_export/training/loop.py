"""The training loop: Adam on box and superpixel cross-entropy, fixed seed, progress output."""

import sys
import time

import keras
import numpy as np
import tensorflow as tf

from model_export.progress import Progress
from model_export.training.boxes import boxes_to_rois
from model_export.training.samples import Samples

SUPERPIXEL_LOSS_WEIGHT = 0.5
LABEL_SMOOTHING = 0.1


def batch_inputs(
    samples: Samples, index: np.ndarray
) -> tuple[list[tf.Tensor], tf.Tensor, tf.Tensor]:
    """Model inputs, roi labels and superpixel labels of the crops `index`."""
    count, per_crop = len(index), samples.boxes.shape[1]
    image_index = np.repeat(np.arange(count), per_crop)
    rois = boxes_to_rois(samples.boxes[index].reshape(-1, 4), image_index)
    inputs = [
        tf.constant(samples.images[index]),
        tf.constant(rois),
        tf.constant(samples.superpixels[index]),
    ]
    return (
        inputs,
        tf.constant(samples.labels[index].reshape(-1)),
        tf.constant(samples.superpixel_labels[index]),
    )


def make_train_step(
    model: keras.Model, optimizer: keras.optimizers.Optimizer
) -> tf.types.experimental.PolymorphicFunction:
    cross_entropy = keras.losses.SparseCategoricalCrossentropy()
    smoothed = keras.losses.CategoricalCrossentropy(label_smoothing=LABEL_SMOOTHING)

    @tf.function(reduce_retracing=True)
    def step(inputs: list, roi_labels: tf.Tensor, sp_labels: tf.Tensor) -> tuple:
        with tf.GradientTape() as tape:
            out = model(inputs, training=True)
            roi_scores = out["roi_scores"]
            roi_loss = smoothed(tf.one_hot(roi_labels, tf.shape(roi_scores)[1]), roi_scores)
            sp_scores = out["superpixel_scores"]
            sp_labels = sp_labels[:, : tf.shape(sp_scores)[1]]
            present = sp_labels >= 0
            sp_loss = cross_entropy(
                tf.boolean_mask(sp_labels, present), tf.boolean_mask(sp_scores, present)
            )
            loss = roi_loss + SUPERPIXEL_LOSS_WEIGHT * sp_loss
        variables = model.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        correct = tf.argmax(out["roi_scores"], axis=1, output_type=tf.int32) == roi_labels
        return loss, tf.reduce_mean(tf.cast(correct, tf.float32))

    return step


def train(model: keras.Model, samples: Samples, epochs: int, batch_size: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    steps = len(samples.images) // batch_size
    schedule = keras.optimizers.schedules.CosineDecay(2e-3, max(epochs * steps, 1), alpha=0.05)
    step = make_train_step(model, keras.optimizers.Adam(schedule))
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(samples.images))
        progress = Progress(f"epoch {epoch}/{epochs}", steps, every_s=30.0)
        losses, accuracies, start = [], [], time.monotonic()
        for i in range(steps):
            loss, accuracy = step(
                *batch_inputs(samples, order[i * batch_size : (i + 1) * batch_size])
            )
            losses.append(float(loss))
            accuracies.append(float(accuracy))
            progress.step(note=f"loss {np.mean(losses[-50:]):.3f}")
        print(
            f"epoch {epoch}/{epochs}: loss {np.mean(losses):.4f}, "
            f"train roi accuracy {np.mean(accuracies):.4f}, {time.monotonic() - start:.0f} s",
            file=sys.stderr,
            flush=True,
        )
