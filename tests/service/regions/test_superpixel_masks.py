"""Superpixel masks and boxes, encoded for all ids at once, against pycocotools on the
full-size id image."""

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from service.regions import rle
from service.regions.superpixels import masks


def column_counts(inside: np.ndarray) -> list[int]:
    """Zeros, ones, zeros, ... down the columns, always ending with zeros (the service's
    answers always have, where pycocotools' own encoder leaves out a final count of 0)."""
    flat = np.concatenate([[False], inside.T.ravel(), [False]])
    edges = np.flatnonzero(flat[1:] != flat[:-1])
    points = np.concatenate([[0], edges, [flat.size - 2]])
    return np.diff(points).tolist()


def reference(ids: np.ndarray, width: int, height: int) -> list[tuple[list[float], dict]]:
    """The ids shown at width x height (nearest), each id's mask encoded by pycocotools."""
    rows = np.minimum((np.arange(height) + 0.5) * ids.shape[0] / height, ids.shape[0] - 1)
    cols = np.minimum((np.arange(width) + 0.5) * ids.shape[1] / width, ids.shape[1] - 1)
    full = ids[rows.astype(int)][:, cols.astype(int)]
    out = []
    for s in range(int(ids.max()) + 1):
        inside = full == s
        encoded = coco_mask.frPyObjects(
            {"size": [height, width], "counts": column_counts(inside)}, height, width
        )
        ys, xs = np.nonzero(inside)
        box = [0.0] * 4
        if len(ys):
            box = [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]
        out.append((box, {"size": [height, width], "counts": encoded["counts"].decode()}))
    return out


@pytest.mark.parametrize(
    ("small", "full", "ids"),
    [
        ((12, 9), (12, 9), 5),  # same size
        ((12, 9), (31, 20), 7),  # enlarged, unevenly
        ((40, 30), (700, 1000), 60),  # runs longer than 2**15: many chunks per count
        ((6, 5), (6, 5), 1),  # one id: the whole image
    ],
)
def test_masks_are_pycocotools(small: tuple[int, int], full: tuple[int, int], ids: int) -> None:
    grid = np.random.default_rng(ids).integers(0, ids, small).astype(np.int32)
    grid[0, 0] = ids + 2  # ids ids..ids+1 have no pixel: empty masks, zero boxes
    height, width = full
    assert list(masks(grid, width, height)) == reference(grid, width, height)


def test_encode_all_matches_rle_to_string() -> None:
    """Counts with zeros, negatives after the difference, and large values."""
    per_mask = [[0, 3, 2, 0, 15], [7], [2, 100000, 1, 5, 3000000, 2, 1]]
    counts = np.array([c for m in per_mask for c in m], np.int64)
    texts = rle.encode_all((counts, np.array([len(m) for m in per_mask])))
    expected = [
        coco_mask.frPyObjects({"size": [1, sum(m)], "counts": m}, 1, sum(m))["counts"].decode()
        for m in per_mask
    ]
    assert texts == expected
