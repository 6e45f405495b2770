"""The loss of each head, for the heads a training step computes (see `heads.trained_heads`).

- boxes: cross-entropy with label smoothing on the sampled rois;
- superpixels: cross-entropy, object superpixels weighed up;
- proposals (Faster R-CNN's RPN loss): binary cross-entropy on the sampled anchors' objectness
  and L1 on the positive anchors' box deltas (Detectron2's default, smooth L1 with beta 0),
  both normalised by the sampled count; the box term weighs PROPOSAL_BOX_WEIGHT, as proposals
  mode returns the proposals' own boxes (no second regression) and a loose box loses the label.
"""

import keras
import tensorflow as tf

from model_export.training.anchor_targets import IGNORED, POSITIVE
from model_export.training.heads import DELTAS, OBJECTNESS

SUPERPIXEL_LOSS_WEIGHT = 0.5
OBJECT_SUPERPIXEL_WEIGHT = 2.0  # objects cover few superpixels: weigh them up against background
LABEL_SMOOTHING = 0.1
PROPOSAL_BOX_WEIGHT = 5.0


def box_loss(scores: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    smoothed = keras.losses.CategoricalCrossentropy(label_smoothing=LABEL_SMOOTHING)
    return smoothed(tf.one_hot(labels, tf.shape(scores)[1]), scores)


def superpixel_loss(scores: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    labels = labels[:, : tf.shape(scores)[1]]
    present = labels >= 0
    kept = tf.boolean_mask(labels, present)
    weights = tf.where(kept > 0, OBJECT_SUPERPIXEL_WEIGHT, 1.0)
    cross_entropy = keras.losses.SparseCategoricalCrossentropy()
    return SUPERPIXEL_LOSS_WEIGHT * cross_entropy(kept, tf.boolean_mask(scores, present), weights)


def proposal_losses(
    objectness: tf.Tensor, deltas: tf.Tensor, labels: tf.Tensor, targets: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    """(B, H, W, A) logits and (B, H, W, 4A) deltas against (B, N) anchor labels and (B, N, 4)
    delta targets, anchors in the (y, x, anchor) order of both -> (objectness, box) losses."""
    batch = tf.shape(objectness)[0]
    logits = tf.reshape(tf.cast(objectness, tf.float32), [batch, -1])
    deltas = tf.reshape(tf.cast(deltas, tf.float32), [batch, -1, 4])
    sampled = tf.cast(labels != IGNORED, tf.float32)
    positive = tf.cast(labels == POSITIVE, tf.float32)
    count = tf.maximum(tf.reduce_sum(sampled), 1.0)
    entropy = tf.nn.sigmoid_cross_entropy_with_logits(labels=positive, logits=logits)
    regression = tf.reduce_sum(tf.abs(deltas - targets), axis=-1)
    return (
        tf.reduce_sum(entropy * sampled) / count,
        PROPOSAL_BOX_WEIGHT * tf.reduce_sum(regression * positive) / count,
    )


def head_losses(out: dict[str, tf.Tensor], targets: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """The loss of every head in `out`, by name."""
    losses = {}
    if "roi_scores" in out:
        losses["boxes"] = box_loss(out["roi_scores"], targets["roi_labels"])
    if "superpixel_scores" in out:
        losses["superpixels"] = superpixel_loss(
            out["superpixel_scores"], targets["superpixel_labels"]
        )
    if OBJECTNESS in out:
        losses["objectness"], losses["proposal boxes"] = proposal_losses(
            out[OBJECTNESS], out[DELTAS], targets["anchor_labels"], targets["anchor_deltas"]
        )
    return losses
