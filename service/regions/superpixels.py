"""Superpixels mode: SLIC (scikit-image) regions, their boxes and COCO run-length masks."""

import numpy as np
from pycocotools import mask as coco_mask
from scipy import ndimage
from skimage.segmentation import slic

from service.regions.picture import nearest_indices


def slic_superpixels(pixels: np.ndarray, area: int, compactness: float, limit: int) -> np.ndarray:
    """(H, W) int32 ids from 0, about `area` pixels each, at most `limit` of them."""
    count = min(max(round(pixels.shape[0] * pixels.shape[1] / area), 1), limit)
    ids = slic(pixels, n_segments=count, compactness=compactness, start_label=0)
    return np.asarray(ids, np.int32)


def feature_grid(ids: np.ndarray, stride: int) -> np.ndarray:
    """Ids at the centre of each stride x stride feature cell, as the model was trained."""
    height, width = ids.shape
    rows = np.minimum(np.arange(0, height, stride) + stride // 2, height - 1)
    cols = np.minimum(np.arange(0, width, stride) + stride // 2, width - 1)
    return ids[rows[:, None], cols[None, :]]


def masks(ids: np.ndarray, width: int, height: int) -> list[tuple[list[float], dict]]:
    """(box [x1, y1, x2, y2], COCO RLE mask) of each id 0..max, for the ids shown at
    width x height by nearest neighbour: computed from runs, never at that size."""
    rows, cols = nearest_indices(height, ids.shape[0]), nearest_indices(width, ids.shape[1])
    values, lengths = _column_runs(ids, rows, cols)
    ends = np.cumsum(lengths)
    starts = ends - lengths
    count = int(ids.max()) + 1
    by_id = np.argsort(values, kind="stable")  # runs grouped by id, in pixel order
    bounds = np.searchsorted(values[by_id], np.arange(count + 1))
    slices = ndimage.find_objects(ids + 1, max_label=count)
    out = []
    for s in range(count):
        runs = by_id[bounds[s] : bounds[s + 1]]
        gaps = starts[runs] - np.concatenate([[0], ends[runs][:-1]])
        counts = np.stack([gaps, lengths[runs]], axis=1).ravel().tolist()
        counts.append(int(width * height - (ends[runs][-1] if len(runs) else 0)))  # every pixel
        rle = coco_mask.frPyObjects({"size": [height, width], "counts": counts}, height, width)
        box = [0.0] * 4 if slices[s] is None else _full_box(slices[s], rows, cols)
        out.append((box, {"size": [height, width], "counts": rle["counts"].decode("ascii")}))
    return out


def _column_runs(
    ids: np.ndarray, rows: np.ndarray, cols: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(value, length) of each run of ids[rows][:, cols] read down its columns (COCO's
    order), from the runs of the small columns: a small row shown n times makes its runs
    n longer, a small column shown n times repeats its runs n times."""
    height, width = ids.shape
    assert len(rows) >= height and len(cols) >= width, "only ever enlarged"
    flat = ids.T.ravel()  # small, column-major
    new_run = np.ones(flat.size, bool)
    new_run[1:] = flat[1:] != flat[:-1]
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


def _full_box(found: tuple[slice, slice], rows: np.ndarray, cols: np.ndarray) -> list[float]:
    """A small bounding slice pair -> [x1, y1, x2, y2] in full pixels."""
    y1, y2 = np.searchsorted(rows, [found[0].start, found[0].stop])
    x1, x2 = np.searchsorted(cols, [found[1].start, found[1].stop])
    return [float(x1), float(y1), float(x2), float(y2)]
