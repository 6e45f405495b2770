"""The proposal head's training targets: anchors in the layer's order, deltas that decode back
to the object, Faster R-CNN's labelling rules and sampling, and the loss against NumPy."""

import numpy as np
import pytest
import tensorflow as tf

from model_export.layers import RegionProposals
from model_export.model import ModelSpec, ProposalSpec, build_region_classifier
from model_export.proposal_reference import anchor_grid as reference_grid
from model_export.proposal_reference import decode_box
from model_export.training.anchor_targets import (
    IGNORED,
    NEGATIVE,
    POSITIVE,
    SAMPLED,
    anchor_grid,
    anchor_targets,
    as_boxes,
    encode,
)
from model_export.training.command import train_only
from model_export.training.heads import DELTAS, OBJECTNESS, trained_heads
from model_export.training.losses import PROPOSAL_BOX_WEIGHT, proposal_losses

LAYER = RegionProposals((16.0, 40.0), (0.5, 2.0), stride=8)


def test_the_grid_is_the_layers_anchors_in_its_order() -> None:
    mine = anchor_grid(LAYER, 3, 5)
    want = reference_grid(LAYER.anchor_sizes, LAYER.anchor_ratios, LAYER.stride, 3, 5)
    np.testing.assert_array_equal(mine, want)


def test_deltas_decode_back_to_the_object() -> None:
    rng = np.random.default_rng(0)
    anchors = anchor_grid(LAYER, 6, 6)
    corner = rng.uniform(5, 40, (len(anchors), 2))
    boxes = np.concatenate([corner, corner + rng.uniform(8, 60, (len(anchors), 2))], axis=1)
    deltas = encode(anchors, boxes)
    decoded = [decode_box(a, d, 1000, 1000) for a, d in zip(anchors, deltas, strict=True)]
    inclusive = boxes - [0, 0, 1, 1]
    np.testing.assert_allclose(decoded, inclusive, rtol=0, atol=1e-3)


def labels_for(anchors: np.ndarray, objects: list, whole: list) -> np.ndarray:
    rng = np.random.default_rng(0)
    targets = anchor_targets(rng, anchors, np.asarray(objects, float), np.asarray(whole, bool))
    return targets.labels


def test_an_anchor_on_the_object_is_positive_far_ones_negative_near_ones_ignored() -> None:
    anchors = np.array(
        [
            [30.0, 30.0, 20.0, 20.0],  # exactly the object
            [32.0, 30.0, 20.0, 20.0],  # IoU 0.82
            [38.0, 30.0, 20.0, 20.0],  # IoU 0.43: between the thresholds
            [90.0, 90.0, 20.0, 20.0],  # no overlap
        ]
    )
    labels = labels_for(anchors, [[20, 20, 40, 40]], [True])
    assert list(labels) == [POSITIVE, POSITIVE, IGNORED, NEGATIVE]


def test_each_objects_best_anchor_is_positive_however_low_its_iou() -> None:
    anchors = np.array([[38.0, 30.0, 20.0, 20.0], [40.0, 30.0, 20.0, 20.0], [90, 90, 20, 20]])
    labels = labels_for(anchors, [[20, 20, 40, 40]], [True])
    assert list(labels) == [POSITIVE, IGNORED, NEGATIVE]


def test_anchors_on_an_object_the_crop_cuts_are_neither_positive_nor_negative() -> None:
    anchors = np.array([[30.0, 30.0, 20.0, 20.0], [90.0, 90.0, 20.0, 20.0]])
    labels = labels_for(anchors, [[20, 20, 40, 40]], [False])
    assert list(labels) == [IGNORED, NEGATIVE]


def test_sampling_keeps_at_most_half_positives_and_the_sampled_count() -> None:
    anchors = anchor_grid(LAYER, 40, 40)
    objects = as_boxes(anchors[::7][:300])  # 300 objects: plenty of positive anchors
    labels = labels_for(anchors, list(objects), [True] * len(objects))
    assert np.count_nonzero(labels == POSITIVE) == SAMPLED // 2
    assert np.count_nonzero(labels != IGNORED) == SAMPLED
    empty = labels_for(anchors, [], [])
    assert np.count_nonzero(empty == NEGATIVE) == SAMPLED


def test_the_proposal_loss_is_faster_rcnns() -> None:
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(2, 3, 3, 2)).astype(np.float32)
    deltas = rng.normal(size=(2, 3, 3, 8)).astype(np.float32)
    labels = rng.choice([IGNORED, NEGATIVE, POSITIVE], size=(2, 18)).astype(np.int8)
    targets = rng.normal(size=(2, 18, 4)).astype(np.float32)
    tensors = (tf.constant(v) for v in (logits, deltas, labels, targets))
    objectness, boxes = proposal_losses(*tensors)

    flat = logits.reshape(2, -1).astype(np.float64)
    positive, sampled = labels == POSITIVE, labels != IGNORED
    entropy = np.log1p(np.exp(-np.abs(flat))) + np.maximum(flat, 0) - flat * positive
    error = np.abs(deltas.reshape(2, -1, 4) - targets).sum(axis=-1)
    count = sampled.sum()
    assert float(objectness) == pytest.approx(entropy[sampled].sum() / count, rel=1e-5)
    want = PROPOSAL_BOX_WEIGHT * error[positive].sum() / count
    assert float(boxes) == pytest.approx(want, rel=1e-5)


def test_training_the_proposal_head_alone_computes_only_its_raw_outputs() -> None:
    spec = ModelSpec(classes=("background", "a"), widths=(4, 4, 4), proposals=ProposalSpec())
    model = build_region_classifier(spec)
    every_head = {"roi_scores", "superpixel_scores", OBJECTNESS, DELTAS}
    assert set(trained_heads(model).output) == every_head
    train_only(model, ["rpn"])
    assert set(trained_heads(model).output) == {OBJECTNESS, DELTAS}
