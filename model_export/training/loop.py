"""The training loop: Adam on box and superpixel cross-entropy, fixed seed, progress output."""

import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import keras
import numpy as np
import tensorflow as tf

from model_export.progress import Progress
from model_export.training.augment import Augmentation, draw_example
from model_export.training.boxes import boxes_to_rois
from model_export.training.samples import Samples

SUPERPIXEL_LOSS_WEIGHT = 0.5
OBJECT_SUPERPIXEL_WEIGHT = 2.0  # objects cover few superpixels: weigh them up against background
LABEL_SMOOTHING = 0.1
T = TypeVar("T")


def batch_inputs(
    rng: np.random.Generator,
    samples: Samples,
    index: np.ndarray,
    augmentation: Augmentation | None,
) -> tuple[list[tf.Tensor], tf.Tensor, tf.Tensor]:
    """Model inputs, roi labels and superpixel labels of freshly drawn crops `index`."""
    examples = [draw_example(rng, samples, int(i), augmentation) for i in index]
    boxes = np.concatenate([e.boxes for e in examples])
    image_index = np.repeat(np.arange(len(examples)), [len(e.boxes) for e in examples])
    inputs = [
        tf.constant(np.stack([e.image for e in examples])),
        tf.constant(boxes_to_rois(boxes, image_index)),
        tf.constant(np.stack([e.superpixels for e in examples])),
    ]
    return (
        inputs,
        tf.constant(np.concatenate([e.labels for e in examples])),
        tf.constant(np.stack([e.superpixel_labels for e in examples])),
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
            kept_labels = tf.boolean_mask(sp_labels, present)
            weights = tf.where(kept_labels > 0, OBJECT_SUPERPIXEL_WEIGHT, 1.0)
            sp_loss = cross_entropy(kept_labels, tf.boolean_mask(sp_scores, present), weights)
            loss = roi_loss + SUPERPIXEL_LOSS_WEIGHT * sp_loss
        variables = model.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        correct = tf.argmax(out["roi_scores"], axis=1, output_type=tf.int32) == roi_labels
        return loss, tf.reduce_mean(tf.cast(correct, tf.float32))

    return step


def prefetched(items: Iterator[T]) -> Iterator[T]:
    """`items`, each computed on a worker thread while the caller works on the one before."""
    with ThreadPoolExecutor(1) as worker:
        pending = worker.submit(next, items, None)
        while (item := pending.result()) is not None:
            pending = worker.submit(next, items, None)
            yield item


def train(
    model: keras.Model,
    samples: Samples,
    epochs: int,
    batch_size: int,
    seed: int,
    augmentation: Augmentation | None,
    learning_rate: float = 2e-3,
) -> None:
    rng = np.random.default_rng(seed)
    steps = len(samples.images) // batch_size
    schedule = keras.optimizers.schedules.CosineDecay(
        learning_rate, max(epochs * steps, 1), alpha=0.05
    )
    step = make_train_step(model, keras.optimizers.Adam(schedule))
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(samples.images))
        progress = Progress(f"epoch {epoch}/{epochs}", steps, every_s=30.0)
        losses, accuracies, start = [], [], time.monotonic()
        batches = (
            batch_inputs(rng, samples, order[i * batch_size : (i + 1) * batch_size], augmentation)
            for i in range(steps)
        )
        for batch in prefetched(batches):
            loss, accuracy = step(*batch)
            losses.append(float(loss))
            accuracies.append(float(accuracy))
            progress.step(note=f"loss {np.mean(losses[-50:]):.3f}")
        print(
            f"epoch {epoch}/{epochs}: loss {np.mean(losses):.4f}, "
            f"train roi accuracy {np.mean(accuracies):.4f}, {time.monotonic() - start:.0f} s",
            file=sys.stderr,
            flush=True,
        )
