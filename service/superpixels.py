"""Superpixels mode: SLIC (scikit-image) regions, their boxes and COCO run-length masks."""

import numpy as np
from pycocotools import mask as coco_mask
from scipy import ndimage
from skimage.segmentation import slic


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


def regions(ids: np.ndarray) -> list[tuple[list[float], dict]]:
    """(box [x1, y1, x2, y2], COCO RLE mask) of each id 0..max, in one pass over the pixels."""
    height, width = ids.shape
    count = int(ids.max()) + 1
    slices = ndimage.find_objects(ids + 1, max_label=count)
    flat = ids.T.ravel()  # COCO run-lengths run down the columns
    starts = np.concatenate([[0], np.flatnonzero(np.diff(flat)) + 1])
    ends = np.append(starts[1:], flat.size)
    by_id = np.argsort(flat[starts], kind="stable")  # runs grouped by id, in pixel order
    bounds = np.searchsorted(flat[starts][by_id], np.arange(count + 1))
    out = []
    for s in range(count):
        runs = by_id[bounds[s] : bounds[s + 1]]
        gaps = starts[runs] - np.concatenate([[0], ends[runs][:-1]])
        counts = np.stack([gaps, ends[runs] - starts[runs]], axis=1).ravel().tolist()
        counts.append(int(flat.size - (ends[runs][-1] if len(runs) else 0)))  # cover every pixel
        rle = coco_mask.frPyObjects({"size": [height, width], "counts": counts}, height, width)
        found = slices[s]
        box = (
            [0.0] * 4
            if found is None
            else [
                float(found[1].start),
                float(found[0].start),
                float(found[1].stop),
                float(found[0].stop),
            ]
        )
        out.append((box, {"size": [height, width], "counts": rle["counts"].decode("ascii")}))
    return out
