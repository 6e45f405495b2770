"""SLIC superpixels and their labels by majority overlap with object masks."""

import numpy as np
from skimage.segmentation import slic

SUPERPIXEL_AREA = 324  # pixels per superpixel, on average (18 x 18)
COMPACTNESS = 10.0


def superpixels(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> (H, W) int32 ids from 0."""
    count = max(round(image.shape[0] * image.shape[1] / SUPERPIXEL_AREA), 1)
    ids = slic(image, n_segments=count, compactness=COMPACTNESS, start_label=0)
    return ids.astype(np.int32)


def majority_labels(ids: np.ndarray, masks: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Class of each superpixel: the object class covering over half its pixels, else 0.

    ids (H, W); masks (N, H, W) bool object masks; classes (N,) class ids (>= 1).
    """
    count = int(ids.max()) + 1
    sizes = np.bincount(ids.ravel(), minlength=count)
    labels = np.zeros(count, np.int32)
    for mask, cls in zip(masks, classes, strict=True):
        covered = np.bincount(ids[mask], minlength=count)
        labels[covered * 2 > sizes] = cls
    return labels
