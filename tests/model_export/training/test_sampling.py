import numpy as np

from model_export.training.boxes import box_iou, boxes_to_rois
from model_export.training.samples import (
    CROP,
    MIN_POSITIVE_IOU,
    ROIS_PER_CROP,
    VIEWS_PER_OBJECT,
    background_boxes,
    crop_rois,
    jitter,
    positive_views,
)
from model_export.training.superpixels import majority_labels

RNG = np.random.default_rng(0)


def test_box_iou_known_values() -> None:
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], np.float32)
    np.testing.assert_allclose(box_iou(a, b), [[1.0, 50 / 150, 0.0]])


def test_boxes_to_rois_uses_inclusive_ends() -> None:
    rois = boxes_to_rois(np.array([[2, 3, 10, 20]]), np.array([4]))
    np.testing.assert_array_equal(rois, [[4, 2, 3, 9, 19]])


def test_background_boxes_avoid_objects() -> None:
    objects = np.array([[10, 10, 60, 70], [70, 20, 120, 100]], np.float32)
    boxes = background_boxes(RNG, objects, 200)
    assert boxes.shape == (200, 4)
    assert box_iou(boxes, objects).max() < 0.3
    assert (boxes >= 0).all() and (boxes <= CROP).all()


def test_jitter_keeps_overlap() -> None:
    box = np.array([30, 30, 60, 80], np.float32)
    jittered = np.stack([jitter(RNG, box) for _ in range(100)])
    assert box_iou(jittered, box[None]).min() >= 0.7
    assert len({tuple(j) for j in jittered}) > 50


def test_positive_views_reach_loose_boxes_and_square_cells() -> None:
    box = np.array([30, 20, 54, 60], np.float32)  # a tall object, 24 x 40
    views = np.stack([v for _ in range(200) for v in positive_views(RNG, box)])
    assert len(views) == 200 * VIEWS_PER_OBJECT
    overlap = box_iou(views, box[None])[:, 0]
    assert overlap.min() >= MIN_POSITIVE_IOU
    assert overlap.min() < 0.55  # loose views, as others draw boxes, not only tight ones
    sides = views[:, 2:] - views[:, :2]
    squares = np.isclose(sides[:, 0], sides[:, 1]) & (sides[:, 0] >= 40)
    assert squares.sum() >= 100  # a square cell in most draws (else a loose jitter)


def test_crop_rois_label_whole_objects_only() -> None:
    boxes = np.array([[10, 10, 40, 50], [100, 100, 128, 128]], np.float32)  # 2nd is cut
    rois, labels = crop_rois(RNG, boxes, np.array([3, 7]), np.array([True, False]))
    views = VIEWS_PER_OBJECT
    assert rois.shape == (ROIS_PER_CROP, 4) and list(labels[:views]) == [3] * views
    assert (labels[views:] == 0).all()
    assert box_iou(rois[views:], boxes).max() < 0.3  # no background roi on the cut object


def test_majority_labels() -> None:
    ids = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 2, 2]])
    masks = np.zeros((2, 3, 4), bool)
    masks[0, :2, :3] = True  # all of superpixel 0, half of superpixel 1
    masks[1, 2, 1:] = True  # 3 of the 4 pixels of superpixel 2
    np.testing.assert_array_equal(majority_labels(ids, masks, np.array([5, 9])), [5, 0, 9])
