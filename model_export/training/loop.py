"""The training loop: Adam on the losses of the heads being trained, fixed seed, progress."""

import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import keras
import numpy as np
import tensorflow as tf

from model_export.progress import Progress
from model_export.training.anchor_targets import anchor_grid, anchor_targets
from model_export.training.augment import Augmentation, draw_example
from model_export.training.boxes import boxes_to_rois
from model_export.training.heads import proposal_layer, trained_heads
from model_export.training.losses import head_losses
from model_export.training.samples import CROP, Samples

T = TypeVar("T")


def batch_inputs(
    rng: np.random.Generator,
    samples: Samples,
    index: np.ndarray,
    augmentation: Augmentation | None,
    anchors: np.ndarray | None,
) -> tuple[list[tf.Tensor], dict[str, tf.Tensor]]:
    """Model inputs and targets of freshly drawn crops `index`: roi and superpixel labels, and
    with `anchors` (a proposal head's, over a crop) each anchor's label and box deltas."""
    examples = [draw_example(rng, samples, int(i), augmentation) for i in index]
    boxes = np.concatenate([e.boxes for e in examples])
    image_index = np.repeat(np.arange(len(examples)), [len(e.boxes) for e in examples])
    inputs = [
        tf.constant(np.stack([e.image for e in examples])),
        tf.constant(boxes_to_rois(boxes, image_index)),
        tf.constant(np.stack([e.superpixels for e in examples])),
    ]
    targets = {
        "roi_labels": np.concatenate([e.labels for e in examples]),
        "superpixel_labels": np.stack([e.superpixel_labels for e in examples]),
    }
    if anchors is not None:
        found = [anchor_targets(rng, anchors, e.objects, e.whole) for e in examples]
        targets["anchor_labels"] = np.stack([t.labels for t in found])
        targets["anchor_deltas"] = np.stack([t.deltas for t in found])
    return inputs, {name: tf.constant(value) for name, value in targets.items()}


def make_train_step(
    model: keras.Model, optimizer: keras.optimizers.Optimizer
) -> tf.types.experimental.PolymorphicFunction:
    """One Adam step of `model` (its outputs: some of `head_losses`' heads) on their losses."""

    @tf.function(reduce_retracing=True)
    def step(inputs: list, targets: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        with tf.GradientTape() as tape:
            losses = head_losses(model(inputs, training=True), targets)
            loss = tf.add_n(list(losses.values()))
        variables = model.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return losses

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
    heads = trained_heads(model)
    step = make_train_step(heads, keras.optimizers.Adam(schedule))
    proposals = proposal_layer(model) if "rpn_objectness" in heads.output else None
    cells = -(-CROP // proposals.stride) if proposals else 0
    anchors = anchor_grid(proposals, cells, cells) if proposals else None
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(samples.images))
        progress = Progress(f"epoch {epoch}/{epochs}", steps, every_s=30.0)
        history: dict[str, list[float]] = {}
        start = time.monotonic()
        batches = (
            batch_inputs(
                rng, samples, order[i * batch_size : (i + 1) * batch_size], augmentation, anchors
            )
            for i in range(steps)
        )
        for batch in prefetched(batches):
            for name, value in step(*batch).items():
                history.setdefault(name, []).append(float(value))
            progress.step(note=f"loss {recent(history, 50):.3f}")
        parts = ", ".join(f"{name} {np.mean(values):.4f}" for name, values in history.items())
        print(
            f"epoch {epoch}/{epochs}: loss {recent(history, steps):.4f} ({parts}), "
            f"{time.monotonic() - start:.0f} s",
            file=sys.stderr,
            flush=True,
        )


def recent(history: dict[str, list[float]], steps: int) -> float:
    """The mean total loss of the last `steps` steps."""
    return float(sum(np.mean(values[-steps:]) for values in history.values()))
