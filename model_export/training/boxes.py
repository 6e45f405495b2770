"""Box geometry shared by sampling and evaluation. Boxes are [x1, y1, x2, y2], exclusive ends."""

import numpy as np


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, 4) x (M, 4) -> (N, M) intersection over union."""
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def boxes_to_rois(boxes: np.ndarray, image_index: np.ndarray) -> np.ndarray:
    """Boxes with exclusive ends -> (R, 5) roi rows [image, x1, y1, x2, y2] with inclusive ends."""
    rois = np.asarray(boxes, np.float32).copy()
    rois[:, 2:] -= 1.0
    return np.concatenate([np.asarray(image_index, np.float32)[:, None], rois], axis=1)
