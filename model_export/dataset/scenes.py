"""Scenes of digits 16 to 96 px tall, in many colours, over varied backgrounds."""

from dataclasses import dataclass

import numpy as np

from model_export.dataset.backgrounds import Rng, random_background, random_colour
from model_export.dataset.digits import DigitPool, render_alpha


@dataclass(frozen=True)
class PlacedDigit:
    label: int
    box: tuple[int, int, int, int]  # x1, y1, x2, y2, exclusive ends
    mask: np.ndarray  # (H, W) bool, ink pixels in image coordinates


@dataclass(frozen=True)
class Scene:
    image: np.ndarray  # (H, W, 3) uint8
    digits: list[PlacedDigit]


def contrasting_colour(rng: Rng, under: np.ndarray) -> np.ndarray:
    """A colour at least 120 (RGB distance) away from the mean colour it is drawn over."""
    mean = under.reshape(-1, 3).mean(axis=0)
    for _ in range(20):
        colour = random_colour(rng)
        if np.linalg.norm(colour - mean) >= 120:
            return colour
    return np.where(mean > 127, 0.0, 255.0).astype(np.float32)


def free_spot(
    rng: Rng, taken: list[tuple[int, int, int, int]], size: tuple[int, int], extent: tuple[int, int]
) -> tuple[int, int] | None:
    """Top-left corner of a box of `size` (h, w) inside `extent` that overlaps no taken box."""
    (h, w), (height, width) = size, extent
    for _ in range(30):
        top, left = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
        if all(
            left >= x2 or left + w <= x1 or top >= y2 or top + h <= y1 for x1, y1, x2, y2 in taken
        ):
            return top, left
    return None


def compose_scene(
    rng: Rng,
    pool: DigitPool,
    min_side: int = 128,
    max_side: int = 1024,
    min_digit: int = 16,
    max_digit: int = 96,
    distort: bool = False,
) -> Scene:
    """One scene with 1 to 12 non-overlapping digits of `pool`, rotated and sheared a
    little when `distort` (training scenes)."""
    height, width = (int(v) for v in rng.integers(min_side, max_side + 1, size=2))
    canvas = random_background(rng, height, width)
    count = int(rng.integers(1, min(12, height * width // 12000 + 2) + 1))
    digits: list[PlacedDigit] = []
    for _ in range(count):
        if distort:  # training scenes: log-uniform heights, so small digits are common too
            digit_h = round(float(np.exp(rng.uniform(np.log(min_digit), np.log(max_digit)))))
        else:
            digit_h = int(rng.integers(min_digit, max_digit + 1))
        digit_w = max(round(digit_h * rng.uniform(0.6, 1.0)), 8)
        spot = free_spot(rng, [d.box for d in digits], (digit_h, digit_w), (height, width))
        if spot is None:
            continue
        top, left = spot
        index = int(rng.integers(len(pool.labels)))
        alpha = render_alpha(pool.glyphs[index], digit_h, digit_w, rng if distort else None)
        region = canvas[top : top + digit_h, left : left + digit_w]
        colour = contrasting_colour(rng, region)
        region[:] = region * (1 - alpha[..., None]) + colour * alpha[..., None]
        ink = np.zeros((height, width), bool)
        ink[top : top + digit_h, left : left + digit_w] = alpha >= 0.5
        ys, xs = np.nonzero(ink)
        box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
        digits.append(PlacedDigit(int(pool.labels[index]), box, ink))
    return Scene(np.clip(np.rint(canvas), 0, 255).astype(np.uint8), digits)
