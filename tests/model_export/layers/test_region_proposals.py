from pathlib import Path

import keras
import numpy as np
import pytest

from model_export import proposal_reference as reference
from model_export.layers import RegionProposals
from tests.model_export.layers.round_trip import assert_round_trips

RNG = np.random.default_rng(11)
SIZES, RATIOS, STRIDE = (16.0, 32.0), (0.5, 1.0, 2.0), 8


def inputs(
    batch: int, height: int, width: int, spread: float = 0.3, anchors: int = 6
) -> list[np.ndarray]:
    objectness = RNG.normal(size=(batch, height, width, anchors)).astype(np.float32)
    deltas = (RNG.normal(size=(batch, height, width, 4 * anchors)) * spread).astype(np.float32)
    image = np.zeros((batch, height * STRIDE, width * STRIDE, 3), np.float32)
    return [objectness, deltas, image]


def expected(layer: RegionProposals, x: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    settings = (layer.pre_nms, layer.post_nms, layer.iou_threshold, layer.min_size)
    size = x[2].shape[1:3]
    sizes, ratios = layer.anchor_sizes, layer.anchor_ratios
    return reference.region_proposals(x[0], x[1], size, sizes, ratios, layer.stride, settings)


def assert_matches(layer: RegionProposals, x: list[np.ndarray]) -> np.ndarray:
    proposals, scores = (np.asarray(t) for t in layer(x))
    return assert_is_reference(layer, x, proposals, scores)


def assert_is_reference(
    layer: RegionProposals, x: list[np.ndarray], proposals: np.ndarray, scores: np.ndarray
) -> np.ndarray:
    """`proposals` and `scores` (the layer's, or a lowering's) are the reference's on `x`."""
    want_proposals, want_scores = expected(layer, x)
    assert proposals.shape == want_proposals.shape
    np.testing.assert_array_equal(proposals[:, 0], want_proposals[:, 0])
    # exp() may differ by an ulp between libraries: boxes of ~100 px to 1e-5
    np.testing.assert_allclose(proposals, want_proposals, rtol=0, atol=1e-4)
    np.testing.assert_allclose(scores, want_scores, rtol=0, atol=1e-6)
    return proposals


def test_anchors_known_answer() -> None:
    # stride 8: the first cell's centre is 3.5; size 16 ratio 2 (h / w) is 11.31 x 22.63
    grid = reference.anchor_grid((16.0,), (1.0, 2.0), 8, 1, 2)
    np.testing.assert_allclose(
        grid,
        [[3.5, 3.5, 16, 16], [3.5, 3.5, 16 / 2**0.5, 16 * 2**0.5],
         [11.5, 3.5, 16, 16], [11.5, 3.5, 16 / 2**0.5, 16 * 2**0.5]],
        rtol=1e-6,
    )  # fmt: skip


def test_zero_deltas_give_the_anchors_clipped_with_inclusive_ends() -> None:
    layer = RegionProposals((16.0,), (1.0,), 8, pre_nms=10, post_nms=10, iou_threshold=1.0)
    objectness = np.array([[[[2.0], [1.0]]]], np.float32)  # one row of two cells
    out, scores = layer([objectness, np.zeros((1, 1, 2, 4), np.float32), np.zeros((1, 8, 16, 3))])
    # anchor centres 3.5 and 11.5, half width 8: [-4.5, 11.5 - 1] and [3.5, 18.5], clipped
    np.testing.assert_array_equal(out, [[0, 0, 0, 10.5, 7], [0, 3.5, 0, 15, 7]])
    np.testing.assert_allclose(scores, 1 / (1 + np.exp([-2.0, -1.0])), rtol=1e-6)


@pytest.mark.parametrize("batch", [1, 3])
def test_random_batches_match_the_reference(batch: int) -> None:
    layer = RegionProposals(SIZES, RATIOS, STRIDE, pre_nms=80, post_nms=25, iou_threshold=0.5)
    proposals = assert_matches(layer, inputs(batch, 6, 7))
    assert sorted(set(proposals[:, 0])) == list(range(batch))  # image by image
    assert len(proposals) == 25 * batch


def test_equal_scores_rank_by_anchor_index_and_suppress_exactly_at_the_threshold() -> None:
    # Zero deltas: the boxes are the anchors. Inner cells (clear of the image's edges) share
    # one score; their 16 px anchors 8 px apart overlap by IoU 128 / 384, exactly
    # float32(1/3): not above that threshold, so all stay; above 0.333, every other one goes.
    x = inputs(2, 4, 5, anchors=1)
    x[0][:] = 0.0
    x[0][:, 0], x[0][:, :, 0] = -10.0, -10.0  # edge cells: clipped anchors, ranked last
    x[1][:] = 0.0
    x[2] = np.zeros((2, 48, 56, 3), np.float32)
    third = RegionProposals((16.0,), (1.0,), STRIDE, 100, 100, float(np.float32(1 / 3)))
    below = RegionProposals((16.0,), (1.0,), STRIDE, 100, 100, 0.333)
    kept_at, kept_below = assert_matches(third, x), assert_matches(below, x)
    inner_at = kept_at[(kept_at[:, 0] == 0) & (kept_at[:, 1] > 0) & (kept_at[:, 2] > 0)]
    assert len(inner_at) == 3 * 4
    assert inner_at[0].tolist() == [0, 3.5, 3.5, 18.5, 18.5]  # cell (1, 1) wins the tie
    inner_below = kept_below[(kept_below[:, 0] == 0) & (kept_below[:, 1] > 0)]
    assert [box[1:3].tolist() for box in inner_below[:4]] == [
        [3.5, 3.5], [19.5, 3.5], [11.5, 11.5], [27.5, 11.5]
    ]  # fmt: skip


def test_min_size_and_pre_nms_filter_and_nothing_left_is_empty() -> None:
    x = inputs(2, 5, 5, spread=1.0)
    layer = RegionProposals(SIZES, RATIOS, STRIDE, pre_nms=7, post_nms=50, min_size=12.0)
    assert len(assert_matches(layer, x)) <= 14
    none = RegionProposals(SIZES, RATIOS, STRIDE, min_size=1e6)
    proposals, scores = none(x)
    assert np.asarray(proposals).shape == (0, 5) and np.asarray(scores).shape == (0,)
    assert_matches(none, x)


def test_round_trips_through_config_and_keras_file(tmp_path: Path) -> None:
    objectness = keras.Input((None, None, 6))
    deltas = keras.Input((None, None, 24))
    image = keras.Input((None, None, 3))
    layer = RegionProposals(SIZES, RATIOS, STRIDE, 50, 10, 0.6, 2.0, name="rpn")
    model = keras.Model([objectness, deltas, image], layer([objectness, deltas, image])[0])
    assert_round_trips(model, inputs(2, 3, 4), tmp_path)


def test_rejects_bad_arguments_and_wrong_anchor_counts() -> None:
    with pytest.raises(ValueError, match="iou_threshold"):
        RegionProposals(iou_threshold=1.5)
    with pytest.raises(ValueError, match="positive"):
        RegionProposals(anchor_sizes=())
    with pytest.raises(ValueError, match="9 anchors"):
        RegionProposals().compute_output_shape([(1, 4, 4, 6), (1, 4, 4, 24), (1, 64, 64, 3)])
