"""Superpixels mode: SLIC (scikit-image, at half the side, 4 iterations) regions, their boxes
and COCO run-length masks."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from skimage.segmentation import slic

from service.regions import rle
from service.regions.answer import MaskColumn
from service.regions.picture import nearest_indices

SLIC_SHRINK = 2  # SLIC runs at half the side: 4x fewer pixels, labels as good (README)
SLIC_MIN_SIDE = 64  # a smaller image is segmented at its own size
SLIC_ITERATIONS = 4  # of k-means: half the time of scikit-image's 10, labels as good


def slic_superpixels(
    pixels: np.ndarray,
    area: int,
    compactness: float,
    limit: int,
    *,
    iterations: int = SLIC_ITERATIONS,
    shrink: int = SLIC_SHRINK,
) -> np.ndarray:
    """(H, W) int32 ids from 0, about `area` pixels each, at most `limit` of them: SLIC
    (scikit-image, as the model was trained) with `iterations` iterations on the image shrunk
    `shrink` times by area averaging, its ids taken back to full size by nearest neighbour.
    Deterministic.

    The defaults were chosen by `python -m bench segmentation` (bench/RESULTS.md): on
    512x512 scenes 4 iterations take 0.52x the time of scikit-image's 10, with as many digit
    superpixels labelled right on the independent evaluation (0.727 against 0.705; 0.657
    against 0.664 on 20 more scenes). A third of the side is no faster and loses accuracy;
    OpenCV's SLIC is slower; OpenCV's SEEDS is faster still, but its superpixels are fewer and
    coarser than those the model was trained on (not adopted without a full evaluation)."""
    height, width = pixels.shape[:2]
    count = min(max(round(height * width / area), 1), limit)
    shrink = shrink if min(height, width) >= SLIC_MIN_SIDE else 1
    small = pixels
    if shrink > 1:
        size = (-(-width // shrink), -(-height // shrink))
        small = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
    ids = slic(
        small,
        n_segments=count,
        compactness=compactness,
        max_num_iter=iterations,
        start_label=0,
    )
    if shrink > 1:
        ids = cv2.resize(ids.astype(np.int32), (width, height), interpolation=cv2.INTER_NEAREST)
    return np.asarray(ids, np.int32)


def feature_grid(ids: np.ndarray, stride: int) -> np.ndarray:
    """Ids at the centre of each stride x stride feature cell, as the model was trained."""
    height, width = ids.shape
    rows = np.minimum(np.arange(0, height, stride) + stride // 2, height - 1)
    cols = np.minimum(np.arange(0, width, stride) + stride // 2, width - 1)
    return ids[rows[:, None], cols[None, :]]


@dataclass(frozen=True, slots=True, eq=False)
class SuperpixelMasks:
    """The box and COCO RLE mask of each id 0..N-1, as columns."""

    boxes: np.ndarray  # (N, 4) float64 [x1, y1, x2, y2]; zeros for an id with no pixel
    rle: MaskColumn

    @staticmethod
    def none() -> "SuperpixelMasks":
        nothing = np.zeros(0, np.int64)
        return SuperpixelMasks(np.zeros((0, 4)), MaskColumn((0, 0), "", nothing, nothing))

    def __len__(self) -> int:
        return len(self.boxes)

    def __getitem__(self, i: int) -> tuple[list[float], dict[str, Any]]:
        """(box, {"size": [h, w], "counts": ...}) of id i."""
        mask = self.rle.mask(i)
        return self.boxes[i].tolist(), {"size": list(mask.size), "counts": mask.counts}

    def __iter__(self) -> Iterator[tuple[list[float], dict[str, Any]]]:
        return (self[i] for i in range(len(self)))

    def take(self, ids: np.ndarray) -> "SuperpixelMasks":
        return SuperpixelMasks(self.boxes[ids], self.rle.take(ids))


def masks(ids: np.ndarray, width: int, height: int) -> SuperpixelMasks:
    """Box and COCO RLE mask of each id 0..max, for the ids shown at width x height by
    nearest neighbour: computed from runs, never at that size, and every id's counts encoded
    at once (service/regions/rle.py)."""
    rows, cols = nearest_indices(height, ids.shape[0]), nearest_indices(width, ids.shape[1])
    values, lengths = _column_runs(ids, rows, cols)
    count = int(ids.max()) + 1
    small = values.astype(np.uint16) if count <= 2**16 else values  # radix sort: 4x faster
    by_id = np.argsort(small, kind="stable")  # runs grouped by id, in pixel order
    bounds = np.searchsorted(values[by_id], np.arange(count + 1))
    ends = np.cumsum(lengths)[by_id]
    starts = ends - lengths[by_id]
    text, text_starts, text_ends = rle.encode_joined(
        rle.id_counts(starts, ends, bounds, width * height)
    )
    boxes = _run_boxes(starts, ends, bounds, height)
    return SuperpixelMasks(boxes, MaskColumn((height, width), text, text_starts, text_ends))


def _column_runs(
    ids: np.ndarray, rows: np.ndarray, cols: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(value, length) of each run of ids[rows][:, cols] read down its columns (COCO's
    order), from the runs of the small columns: a small row shown n times makes its runs
    n longer, a small column shown n times repeats its runs n times."""
    height, width = ids.shape
    assert len(rows) >= height and len(cols) >= width, "only ever enlarged"
    flat = cv2.transpose(ids).ravel()  # small, column-major (numpy's .T copy: 10x slower)
    new_run = np.ones(flat.size, bool)
    new_run[1:] = flat[1:] != flat[:-1]
    if len(rows) == height and len(cols) == width:  # shown at its own size: runs as they are
        first = np.flatnonzero(new_run)
        return flat[first], np.diff(np.append(first, flat.size))
    new_run[::height] = True  # each column starts its own runs here; merged again below
    first = np.flatnonzero(new_run)
    shown = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=height))])
    row_of = first % height
    last_row = np.append(row_of[1:], height)
    last_row[np.append(first[1:] % height == 0, True)] = height  # a column's last run
    run_lengths = shown[last_row] - shown[row_of]
    per_column = np.bincount(first // height, minlength=width)
    column_first = np.concatenate([[0], np.cumsum(per_column)[:-1]])
    # Column cols[c]'s runs, for each full column c in turn: a ragged arange.
    sizes = per_column[cols]
    offsets = np.repeat(column_first[cols] - np.concatenate([[0], np.cumsum(sizes)[:-1]]), sizes)
    picked = offsets + np.arange(sizes.sum())
    values, lengths = flat[first][picked], run_lengths[picked]
    keep = np.ones(values.size, bool)  # runs continue from one column into the next
    keep[1:] = values[1:] != values[:-1]
    merged = np.flatnonzero(keep)
    return values[merged], np.add.reduceat(lengths, merged)


def _run_boxes(starts: np.ndarray, ends: np.ndarray, bounds: np.ndarray, height: int) -> np.ndarray:
    """[x1, y1, x2, y2] of each id from its column-major runs (grouped by id, in pixel
    order, as bounds says); [0, 0, 0, 0] for an id with no pixel. A run that goes on into
    the next column covers the bottom row of one and the top row of the other."""
    first_column, last_column = starts // height, (ends - 1) // height
    spans = last_column > first_column
    top = np.where(spans, 0, starts % height)
    bottom = np.where(spans, height - 1, (ends - 1) % height)
    has_runs = bounds[1:] > bounds[:-1]
    first, last = bounds[:-1][has_runs], bounds[1:][has_runs] - 1
    boxes = np.zeros((len(has_runs), 4))
    boxes[has_runs] = np.stack(
        [
            first_column[first],
            np.minimum.reduceat(top, first),
            last_column[last] + 1,
            np.maximum.reduceat(bottom, first) + 1,
        ],
        axis=1,
    )
    return boxes
