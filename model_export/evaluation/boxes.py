"""Boxes a person or another detector might draw around a digit, at a chosen IoU with its
tight box: loose (the tight box inside a larger one) and shifted (same size, moved)."""

import numpy as np

Rng = np.random.Generator


def loose_box(rng: Rng, tight: np.ndarray, iou: float) -> np.ndarray:
    """A box containing `tight` with area 1 / iou times larger, margins drawn at random."""
    size = tight[2:] - tight[:2]
    share = rng.uniform(0.25, 0.75)
    growth = np.array([iou**-share, iou ** -(1 - share)])
    extra = size * (growth - 1)
    before = extra * rng.uniform(0, 1, 2)
    return np.concatenate([tight[:2] - before, tight[2:] + extra - before])


def shifted_box(rng: Rng, tight: np.ndarray, iou: float) -> np.ndarray:
    """`tight` moved by (dx, dy) such that its IoU with itself is `iou`: the overlap
    (w - |dx|)(h - |dy|) must be 2 wh iou / (1 + iou)."""
    size = tight[2:] - tight[:2]
    kept = 2 * iou / (1 + iou)  # overlap as a share of the box's area
    share = rng.uniform(0, 1)
    fractions = 1 - np.array([kept**share, kept ** (1 - share)])
    shift = fractions * size * rng.choice([-1.0, 1.0], 2)
    return np.concatenate([tight[:2] + shift, tight[2:] + shift])


def iou(a: np.ndarray, b: np.ndarray) -> float:
    inter = np.prod(np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None))
    union = np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter
    return float(inter / union)
